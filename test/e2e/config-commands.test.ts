import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { hashPassword } from '../../src/smtp/auth.js';
import { FIXTURES, runCliHere } from '../helpers/cli.js';
import { tempMailroot } from '../helpers/relay.js';

describe('mailroot init and check-config', () => {
  it('init creates the mailroot folders and a starter config that check-config accepts, and never overwrites it', { timeout: 180_000 }, async () => {
    const cwd = await tempMailroot();
    const init = await runCliHere(['init', '--mailroot', 'root', '--smart-host', '10.0.0.5:2525'], { cwd });
    assert.equal(init.code, 0, init.stderr);
    assert.deepEqual((await fs.readdir(path.join(cwd, 'root'))).sort(), ['Badmail', 'Drop', 'Hold', 'Pickup', 'Queue', 'SortTemp']);
    const config = JSON.parse(await fs.readFile(path.join(cwd, 'mailroot.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(config.smartHost, '10.0.0.5:2525');
    assert.equal(config.mailroot, path.join(cwd, 'root'));

    const check = await runCliHere(['check-config'], { cwd });
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /smartHost +"10\.0\.0\.5:2525" +\[.*mailroot\.json\]/);
    assert.match(check.stdout, /retry +\["15m", "30m", "60m", "240m"\] +\[default\]/);

    const again = await runCliHere(['init', '--smart-host', 'other:25'], { cwd });
    assert.equal(again.code, 2);
    assert.match(again.stderr, /mailroot\.json exists; pass --force/);
    assert.equal(JSON.parse(await fs.readFile(path.join(cwd, 'mailroot.json'), 'utf8')).smartHost, '10.0.0.5:2525');

    const badHost = await runCliHere(['init', '--config', 'x.json', '--smart-host', 'a:b:c'], { cwd });
    assert.equal(badHost.code, 2);
    assert.match(badHost.stderr, /--smart-host must put an IPv6 address in brackets/);
  });

  it('check-config shows each origin (file, environment, default) and masks secrets', { timeout: 180_000 }, async () => {
    const cwd = await tempMailroot();
    const hash = await hashPassword('s3cret', { logN: 10, r: 8, p: 1 });
    await fs.writeFile(
      path.join(cwd, 'relay.json'),
      JSON.stringify({ smartHost: 'mail.example:25', authUsers: [`ca:${hash}`], allowInsecureAuth: true, tlsPassphrase: 'hunter2' }),
    );
    const check = await runCliHere(['check-config', '--config', 'relay.json', '--json'], { cwd, env: { MAILROOT_MAX_RECIPIENTS: '7' } });
    assert.equal(check.code, 0, check.stderr);
    assert.ok(!check.stdout.includes('hunter2') && !check.stdout.includes(hash), 'secrets never printed');
    const json = JSON.parse(check.stdout) as { valid: boolean; settings: Array<{ key: string; value: unknown; origin: string }> };
    const byKey = new Map(json.settings.map((s) => [s.key, s]));
    assert.equal(byKey.get('maxRecipients')!.origin, 'environment MAILROOT_MAX_RECIPIENTS');
    assert.equal(byKey.get('maxRecipients')!.value, '7');
    assert.match(byKey.get('smartHost')!.origin, /relay\.json$/);
    assert.deepEqual(byKey.get('authUsers')!.value, ['ca:********']);
    assert.equal(byKey.get('tlsPassphrase')!.value, '********');
    assert.equal(byKey.get('expire')!.origin, 'default');
  });

  it('check-config exits 2 and names the key and its origin for a bad value', { timeout: 180_000 }, async () => {
    const cwd = await tempMailroot();
    await fs.writeFile(path.join(cwd, 'mailroot.json'), JSON.stringify({ smartHost: 'h:25', retry: ['15m', 'soon'] }));
    const check = await runCliHere(['check-config'], { cwd });
    assert.equal(check.code, 2);
    assert.match(check.stderr, /retry must be a duration .*"soon".*mailroot\.json/);
  });

  it('a config written by import-iis passes check-config', { timeout: 180_000 }, async () => {
    const cwd = await tempMailroot();
    const imported = await runCliHere(['import-iis', path.join(FIXTURES, 'iis', 'relay-list.xml')], { cwd });
    assert.equal(imported.code, 0, imported.stderr);
    const check = await runCliHere(['check-config'], { cwd });
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /allowRelay +\["127\.0\.0\.1"\]/);
  });
});
