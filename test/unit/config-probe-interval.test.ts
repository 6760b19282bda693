import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError, envName, flagName } from '../../src/config/schema.js';
import { START_LIMIT_MS } from '../helpers/relay-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
const base = { smartHost: 'h' };

describe('config: probeInterval', () => {
  it('defaults to 250 ms', () => {
    assert.equal(loadConfig({ cwd: os.tmpdir(), env: {}, flags: base }).probeInterval, 250);
  });

  it('is named --probe-interval and MAILROOT_PROBE_INTERVAL', () => {
    assert.equal(flagName('probeInterval'), 'probe-interval');
    assert.equal(envName('probeInterval'), 'MAILROOT_PROBE_INTERVAL');
  });

  it('takes a duration from a flag, the environment or the file, flag over environment over file', async () => {
    const cwd = await tempDir('mailroot-config-');
    assert.equal(loadConfig({ cwd: os.tmpdir(), env: {}, flags: { ...base, probeInterval: '2s' } }).probeInterval, 2_000);
    assert.equal(loadConfig({ cwd: os.tmpdir(), env: { MAILROOT_PROBE_INTERVAL: '500ms' }, flags: base }).probeInterval, 500);
    await fs.writeFile(path.join(cwd, 'mailroot.json'), JSON.stringify({ smartHost: 'h', probeInterval: '1m' }));
    assert.equal(loadConfig({ cwd, env: {} }).probeInterval, 60_000);
    assert.equal(loadConfig({ cwd, env: { MAILROOT_PROBE_INTERVAL: '750ms' } }).probeInterval, 750);
    assert.equal(loadConfig({ cwd, env: { MAILROOT_PROBE_INTERVAL: '750ms' }, flags: { probeInterval: '100ms' } }).probeInterval, 100);
  });

  it('is independent of the retry schedule', () => {
    const config = loadConfig({ cwd: os.tmpdir(), env: {}, flags: { ...base, retry: ['1s', '60s'], probeInterval: '40ms' } });
    assert.deepEqual(config.retry, [1_000, 60_000]);
    assert.equal(config.probeInterval, 40);
  });

  it('refuses a value that is not a positive duration, naming the key and where it came from', async () => {
    const cases: Array<[Record<string, unknown>, Record<string, string>, RegExp]> = [
      [{ probeInterval: '0' }, {}, /probeInterval must be a duration above zero .*\(got "0"\) \[from flag --probe-interval\]/],
      [{ probeInterval: 'soon' }, {}, /probeInterval must be a duration above zero .*"soon".*\[from flag --probe-interval\]/],
      [{ probeInterval: '-5s' }, {}, /probeInterval must be a duration above zero/],
      [{}, { MAILROOT_PROBE_INTERVAL: '' }, /probeInterval must be a duration above zero .*\[from environment MAILROOT_PROBE_INTERVAL\]/],
      [{}, { MAILROOT_PROBE_INTERVAL: '0ms' }, /probeInterval must be a duration above zero .*\[from environment MAILROOT_PROBE_INTERVAL\]/],
    ];
    for (const [flags, env, expected] of cases) {
      assert.throws(() => loadConfig({ cwd: os.tmpdir(), env, flags: { ...base, ...flags } }), (err: unknown) => {
        assert.ok(err instanceof ConfigError, `a ConfigError for ${JSON.stringify({ flags, env })}`);
        assert.match(err.message, expected);
        return true;
      });
    }
    const cwd = await tempDir('mailroot-config-');
    await fs.writeFile(path.join(cwd, 'mailroot.json'), JSON.stringify({ smartHost: 'h', probeInterval: 0 }));
    assert.throws(() => loadConfig({ cwd, env: {} }), /probeInterval must be a duration above zero .*mailroot\.json/);
  });

  it('is a command-line flag: a bad --probe-interval exits 2 naming the key', async () => {
    const cwd = await tempDir('mailroot-config-');
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MAILROOT_')));
    const run = spawnSync(process.execPath, [MAIN, 'serve', '--smart-host', 'h:25', '--probe-interval', 'never'], { cwd, env, encoding: 'utf8', timeout: START_LIMIT_MS });
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /probeInterval must be a duration above zero .*"never".*flag --probe-interval/);
  });
});
