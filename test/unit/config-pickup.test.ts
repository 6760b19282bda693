// The Pickup keys, and the README's config table against the schema it documents.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { CONFIG_KEYS, KEY_NAMES, envName, flagName } from '../../src/config/schema.js';
import { tempDir } from '../helpers/temp-dir.js';

const load = (flags: Record<string, unknown>, env: Record<string, string> = {}) =>
  loadConfig({ cwd: os.tmpdir(), env, flags: { smartHost: 'h', ...flags } });

describe('Pickup config keys', () => {
  it('defaults to IIS behaviour: dot-stuffed files, 2 s to settle', () => {
    const config = load({});
    assert.equal(config.pickupDotStuffed, true);
    assert.equal(config.pickupSettleTime, 2000);
  });

  it('reads booleans and durations from flags, the environment and the file', async () => {
    assert.equal(load({ pickupDotStuffed: 'false' }).pickupDotStuffed, false);
    assert.equal(load({}, { MAILROOT_PICKUP_DOT_STUFFED: 'no' }).pickupDotStuffed, false);
    assert.equal(load({}, { MAILROOT_PICKUP_DOT_STUFFED: 'ON' }).pickupDotStuffed, true);
    assert.equal(load({ pickupSettleTime: '100ms' }).pickupSettleTime, 100);
    assert.equal(load({}, { MAILROOT_PICKUP_SETTLE_TIME: '500ms' }).pickupSettleTime, 500);
    const cwd = await tempDir('mailroot-config-');
    await fs.writeFile(path.join(cwd, 'mailroot.json'), JSON.stringify({ smartHost: 'h', pickupDotStuffed: false, pickupSettleTime: '5s' }));
    const fromFile = loadConfig({ cwd, env: {} });
    assert.equal(fromFile.pickupDotStuffed, false);
    assert.equal(fromFile.pickupSettleTime, 5000);
  });

  it('names the key and the source of a bad value', () => {
    assert.throws(() => load({ pickupDotStuffed: 'maybe' }), /pickupDotStuffed must be true or false \(got "maybe"\) \[from flag --pickup-dot-stuffed\]/);
    assert.throws(() => load({}, { MAILROOT_PICKUP_SETTLE_TIME: 'soon' }), /pickupSettleTime must be a duration above zero .* \[from environment MAILROOT_PICKUP_SETTLE_TIME\]/);
    assert.throws(() => load({ pickupSettleTime: '0s' }), /pickupSettleTime must be a duration above zero/);
  });
});

describe('README config table', () => {
  it('has one row per key, with its flag, environment variable and default', async () => {
    const readme = await fs.readFile(path.resolve(import.meta.dirname, '../../../README.md'), 'utf8');
    const rows = new Map(
      [...readme.matchAll(/^\| `(\w+)` \| `([^`]+)` \| `([^`]+)` \| (.+?) \| .+ \|$/gm)].map((m) => [m[1]!, { flag: m[2], env: m[3], default: m[4] }]),
    );
    for (const key of KEY_NAMES) {
      const row = rows.get(key);
      assert.ok(row, `README documents ${key}`);
      assert.equal(row.flag, `--${flagName(key)}`, key);
      assert.equal(row.env, envName(key), key);
      const defaultText = CONFIG_KEYS[key].defaultText;
      assert.equal(row.default.replace(/^`|`$/g, ''), defaultText, `${key} default`);
    }
    assert.deepEqual([...rows.keys()].filter((k) => !(KEY_NAMES as string[]).includes(k)), [], 'no row for a key that does not exist');
  });
});
