import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { isLoopbackIp } from '../../src/config/schema.js';

const HASH = 'scrypt$15$8$1$q7EStYZWH7YYuCD6NzEGeA==$ZMGOO0aXonYRChqOGF1bcSg5PjBO0Zpg8YrXmUUPNTI=';

function load(flags: Record<string, unknown>, env: Record<string, string> = {}) {
  return loadConfig({ cwd: os.tmpdir(), env, flags: { smartHost: 'h', ...flags } });
}

describe('inbound config keys', () => {
  it('defaults to loopback relaying, everyone connecting and IIS limits', () => {
    const config = load({});
    assert.deepEqual(config.allowRelay, [
      { address: '127.0.0.0', prefix: 8, family: 'ipv4' },
      { address: '::1', prefix: 128, family: 'ipv6' },
    ]);
    assert.equal(config.allowConnect.length, 2);
    assert.equal(config.maxMessageSize, 2048 * 1024);
    assert.equal(config.maxSessionSize, 10_240 * 1024);
    assert.equal(config.maxRecipients, 100);
    assert.equal(config.idleTimeout, 10 * 60_000);
    assert.equal(config.tlsMinVersion, 'TLSv1.2');
    assert.equal(config.requireTls, false);
    assert.deepEqual(config.authUsers, []);
    assert.deepEqual(config.localDomains, []);
  });

  it('reads lists and booleans from flags and the environment', () => {
    const config = load(
      { allowRelay: '10.0.0.0/8, ::1', requireTls: '', tlsCert: 'c.pem', tlsKey: 'k.pem' },
      { MAILROOT_LOCAL_DOMAINS: 'Corp.Example,bücher.example', MAILROOT_ALLOW_INSECURE_AUTH: 'yes' },
    );
    assert.deepEqual(config.allowRelay.map((c) => `${c.address}/${c.prefix}`), ['10.0.0.0/8', '::1/128']);
    assert.deepEqual(config.localDomains, ['corp.example', 'xn--bcher-kva.example']);
    assert.equal(config.requireTls, true, 'a flag given alone means true');
    assert.equal(config.allowInsecureAuth, true);
    assert.equal(config.tlsCert, path.join(os.tmpdir(), 'c.pem'), 'certificate paths are resolved like the mailroot');
    assert.deepEqual(load({ allowRelay: ['none'] }).allowRelay, []);
    assert.equal(load({ minFreeSpace: '0' }).minFreeSpace, 0);
    assert.equal(load({ authUsers: [`CA-Exit:${HASH}`], allowInsecureAuth: true }).authUsers[0]!.name, 'CA-Exit');
  });

  it('names the key and the source of every bad value', () => {
    const cases: Array<[Record<string, unknown>, Record<string, string>, RegExp]> = [
      [{ allowRelay: ['127.1'] }, {}, /allowRelay has "127\.1", which is not an IP address/],
      [{ allowConnect: ['10.0.0.0/33'] }, {}, /allowConnect has "10\.0\.0\.0\/33": the prefix length must be/],
      [{ allowRelay: ['10.1.2.3/8'] }, {}, /allowRelay has "10\.1\.2\.3\/8": the address has bits set/],
      [{}, { MAILROOT_ALLOW_RELAY: '' }, /allowRelay must list at least 1 value.*\[from environment MAILROOT_ALLOW_RELAY\]/],
      [{ allowRelay: ['none', '127.0.0.1'] }, {}, /allowRelay cannot mix "none"/],
      [{ localDomains: ['[127.0.0.1]'] }, {}, /localDomains cannot hold an IP literal/],
      [{ localDomains: ['*.corp.example'] }, {}, /localDomains must hold domain names/],
      [{ requireTls: 'maybe' }, {}, /requireTls must be true or false \(got "maybe"\) \[from flag --require-tls\]/],
      [{ tlsMinVersion: 'SSLv3' }, {}, /tlsMinVersion must be one of TLSv1, TLSv1\.1, TLSv1\.2, TLSv1\.3/],
      [{ authUsers: ['alice'] }, {}, /authUsers must be "name:hash" entries/],
      [{ authUsers: ['alice:plaintext'] }, {}, /authUsers user "alice" must be a password hash made by "mailroot hash-password"/],
      [{ maxRecipients: '0' }, {}, /maxRecipients must be a whole number above zero/],
      [{ dataTimeout: 'forever' }, {}, /dataTimeout must be a duration/],
    ];
    for (const [flags, env, expected] of cases) assert.throws(() => load(flags, env), expected);
  });

  it('checks the keys that go together', () => {
    assert.throws(() => load({ tlsCert: 'c.pem' }), /tlsCert and tlsKey go together/);
    assert.throws(() => load({ tlsPfx: 'a.pfx', tlsCert: 'c.pem', tlsKey: 'k.pem' }), /either tlsPfx or tlsCert/);
    assert.throws(() => load({ requireTls: true }), /requireTls needs a certificate/);
    assert.throws(() => load({ authUsers: [`a:${HASH}`] }), /authUsers is set but AUTH is offered only over TLS/);
    assert.throws(() => load({ authUsers: [`a:${HASH}`, `A:${HASH}`], allowInsecureAuth: true }), /lists user "A" twice/);
    assert.doesNotThrow(() => load({ authUsers: [`a:${HASH}`], tlsPfx: 'a.pfx' }));
  });

  it('needs allowOpenRelay to relay for everyone on a listener others can reach', () => {
    assert.throws(() => load({ listen: ['0.0.0.0:25'], allowRelay: ['0.0.0.0/0'] }), /allowRelay 0\.0\.0\.0\/0 with listen 0\.0\.0\.0 makes an open relay/);
    assert.throws(() => load({ listen: ['[::]:25'], allowRelay: ['::/0'] }), /open relay/);
    assert.throws(() => load({ listen: ['192.0.2.1:25'], allowRelay: ['::ffff:0:0/96'] }), /open relay/);
    assert.doesNotThrow(() => load({ listen: ['0.0.0.0:25'], allowRelay: ['0.0.0.0/0'], allowOpenRelay: true }));
    assert.doesNotThrow(() => load({ listen: ['127.0.0.1:25', '[::1]:25'], allowRelay: ['0.0.0.0/0'] }), 'loopback only: nobody else can reach it');
    assert.doesNotThrow(() => load({ listen: ['0.0.0.0:25'], allowRelay: ['10.0.0.0/8'] }));
  });

  it('knows loopback addresses, including IPv4-mapped ones', () => {
    for (const ip of ['127.0.0.1', '127.9.9.9', '::1', '::ffff:127.0.0.1']) assert.ok(isLoopbackIp(ip), ip);
    for (const ip of ['0.0.0.0', '::', '10.0.0.1', '::ffff:10.0.0.1']) assert.ok(!isLoopbackIp(ip), ip);
  });
});
