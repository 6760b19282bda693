import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { parseHostPort } from '../../src/config/schema.js';
import { ok } from '../../src/result.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('config loading', () => {
  it('takes flag over environment over file over default', async () => {
    const cwd = await tempDir('mailroot-config-');
    await fs.writeFile(path.join(cwd, 'mailroot.json'), '\uFEFF' + JSON.stringify({ smartHost: 'file:25', concurrency: 3, expire: '1d', retry: ['1m'] }));
    const config = loadConfig({ cwd, env: { MAILROOT_CONCURRENCY: '4', MAILROOT_EXPIRE: '3h' }, flags: { expire: '90m' } });
    assert.deepEqual(config.smartHost.map(({ host, port }) => ({ host, port })), [{ host: 'file', port: 25 }]);
    assert.equal(config.smartHost[0]!.tls, 'opportunistic');
    assert.equal(config.concurrency, 4);
    assert.equal(config.expire, 90 * 60_000);
    assert.deepEqual(config.retry, [60_000]);
    assert.equal(config.maxMessageSize, 2 * 1024 * 1024);
    assert.equal(config.mailroot, path.join(cwd, 'spool'));
    assert.deepEqual(config.listen, [{ host: '127.0.0.1', port: 25 }, { host: '::1', port: 25 }]);
    assert.ok(Object.isFrozen(config));
  });

  it('splits list values given as text', () => {
    const config = loadConfig({ cwd: os.tmpdir(), env: { MAILROOT_LISTEN: '127.0.0.1:2525, [::1]:2525' }, flags: { smartHost: 'h', retry: '["2s","5s"]' } });
    assert.deepEqual(config.listen, [{ host: '127.0.0.1', port: 2525 }, { host: '::1', port: 2525 }]);
    assert.deepEqual(config.retry, [2000, 5000]);
  });

  it('names the key and the source of every bad value', () => {
    const cases: Array<[Record<string, unknown>, Record<string, string>, RegExp]> = [
      [{ listen: ['localhost:25'] }, {}, /listen must be an IP address/],
      [{ listen: ['127.0.0.1'] }, {}, /listen must include a port/],
      [{ listen: ['::1:25'] }, {}, /listen must put an IPv6 address in brackets/],
      [{ smartHost: 'h:99999' }, {}, /smartHost has an invalid port/],
      [{ concurrency: '0' }, {}, /concurrency must be a whole number above zero \(got "0"\) \[from flag --concurrency\]/],
      [{}, { MAILROOT_LOG_LEVEL: 'loud' }, /logLevel must be one of .* \[from environment MAILROOT_LOG_LEVEL\]/],
      [{}, { MAILROOT_SMARTHOST: 'x' }, /unknown environment variable MAILROOT_SMARTHOST/],
      [{ retry: [] }, {}, /retry must list at least 1/],
    ];
    for (const [flags, env, expected] of cases) {
      assert.throws(() => loadConfig({ cwd: os.tmpdir(), env, flags: { smartHost: 'h', ...flags } }), expected);
    }
  });

  it('reads the IIS smart-host forms', () => {
    assert.deepEqual(parseHostPort('[10.0.0.5]', 25), ok({ host: '10.0.0.5', port: 25 }));
    assert.deepEqual(parseHostPort('[::1]:2525', 25), ok({ host: '::1', port: 2525 }));
    assert.deepEqual(parseHostPort('mail.example.com', 25), ok({ host: 'mail.example.com', port: 25 }));
  });
});
