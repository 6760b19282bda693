// The smartHost list, per-host settings, routes and secrets as the config loader reads them: defaults that keep
// credentials off cleartext, errors that name the key and entry, secrets from env and files never printed.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { loadConfig } from '../../src/config/load.js';
import { tempMailroot } from '../helpers/relay.js';

const load = (flags: Record<string, unknown>, env: Record<string, string> = {}, cwd = os.tmpdir()) => loadConfig({ cwd, env, flags: { smartHost: 'h', ...flags } });

describe('smart host config', () => {
  it('reads a list of hosts, IIS literals and per-host settings, with TLS defaults that keep credentials encrypted', () => {
    const config = load({
      smartHost: ['[10.0.0.5]', 'smtp.example:465', { host: 'smtp.office365.com', port: 587, auth: { user: 'u', password: 'p' } }, { host: 'b', tls: 'none' }],
    });
    assert.deepEqual(
      config.smartHost.map((h) => [h.host, h.port, h.tls]),
      [['10.0.0.5', 25, 'opportunistic'], ['smtp.example', 465, 'implicit'], ['smtp.office365.com', 587, 'required'], ['b', 25, 'none']],
    );
    assert.equal(load({ smartHost: 'a, b:2525', smartHostTls: 'required' }).smartHost[1]!.tls, 'required', 'comma list from a flag or env');
  });

  it('applies smartHostUser and the password from the environment to every host, and never prints it', () => {
    const config = load({ smartHost: ['a:587', 'b:587'], smartHostUser: 'apikey' }, { MAILROOT_SMART_HOST_PASSWORD: 'SG.secret-key' });
    for (const host of config.smartHost) {
      assert.equal(host.auth?.type, 'password');
      assert.equal(host.tls, 'required');
    }
    const auth = config.smartHost[0]!.auth!;
    assert.equal(auth.type === 'password' && auth.password.reveal(), 'SG.secret-key');
    assert.ok(!JSON.stringify(config).includes('SG.secret-key'));
    assert.ok(!inspect(config, { depth: 10 }).includes('SG.secret-key'));
  });

  it('reads OAuth2 settings: Microsoft token URL from the tenant, secret from a file', async () => {
    const dir = await tempMailroot();
    await fs.writeFile(path.join(dir, 'secret.txt'), 'client-secret\n');
    const config = load(
      { smartHost: [{ host: 'smtp.office365.com:587', auth: { type: 'xoauth2', user: 'relay@contoso.com', tenantId: 'contoso.onmicrosoft.com', clientId: 'app', clientSecretFile: 'secret.txt' } }] },
      {},
      dir,
    );
    const auth = config.smartHost[0]!.auth!;
    assert.ok(auth.type === 'xoauth2');
    assert.equal(auth.tokenUrl, 'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token');
    assert.equal(auth.scope, 'https://outlook.office365.com/.default');
    assert.equal(auth.clientSecret!.reveal(), 'client-secret');
    assert.equal(config.smartHost[0]!.tls, 'required');
  });

  it('reads routes for a domain and its subdomains', () => {
    const config = load({ routes: '{"Corp.Example": "[10.0.0.5]", "*.corp.example": ["a:25", {"host": "b", "port": 2525}]}' });
    assert.deepEqual(config.routes.map((r) => [r.domain, r.hosts.map((h) => `${h.host}:${h.port}`)]), [
      ['corp.example', ['10.0.0.5:25']],
      ['*.corp.example', ['a:25', 'b:2525']],
    ]);
  });

  it('reads "mx" (direct delivery) as a host, the DNS servers and the outbound port', () => {
    const config = load({ smartHost: ['MX', 'relay.example:587'], smartHostUser: 'u', smartHostPassword: 'p', dnsServers: '127.0.0.1:5353, 10.0.0.1', outboundPort: '2525' });
    assert.equal(config.smartHost[0]!.mx, true);
    assert.equal(config.smartHost[0]!.auth, undefined, 'no AUTH at mail exchangers');
    assert.equal(config.smartHost[0]!.tls, 'opportunistic');
    assert.equal(config.smartHost[1]!.auth?.type, 'password');
    assert.deepEqual(config.dnsServers, [{ host: '127.0.0.1', port: 5353 }, { host: '10.0.0.1', port: 53 }]);
    assert.equal(config.outboundPort, 2525);
    assert.throws(() => load({ dnsServers: 'dns.example' }), /dnsServers must be IP addresses/);
    assert.throws(() => load({ outboundPort: '0' }), /outboundPort must be a port number/);
  });

  it('names the key and the entry of every bad value', () => {
    const cases: Array<[Record<string, unknown>, Record<string, string>, RegExp]> = [
      [{ smartHost: ['a', { host: 'b', tls: 'always' }] }, {}, /smartHost\[1\]\.tls must be one of opportunistic, required, implicit, none/],
      [{ smartHost: [{ host: 'b', colour: 'red' }] }, {}, /smartHost has an unknown setting "colour"/],
      [{ smartHost: [{ host: 'b', auth: { type: 'xoauth2', user: 'u', clientId: 'c', clientSecret: 's' } }] }, {}, /smartHost\.auth\.tenantId is required for provider "microsoft"/],
      [{ smartHost: [{ host: 'b', auth: { type: 'xoauth2', user: 'u', tenantId: 't', clientId: 'c' } }] }, {}, /smartHost\.auth: set either a client secret/],
      [{ smartHost: [{ host: 'b', auth: { user: 'u', password: 'p', passwordFile: 'f' } }] }, {}, /set one of password, passwordFile and passwordEnv/],
      [{ smartHost: [{ host: 'b', auth: { user: 'u', passwordEnv: 'NOPE_PW' } }] }, {}, /smartHost\.auth\.passwordEnv: environment variable NOPE_PW is not set/],
      [{ smartHost: [{ host: 'b', auth: { user: 'u', passwordFile: 'no-such-file' } }] }, {}, /smartHost\.auth\.passwordFile: cannot read .*no-such-file: ENOENT/],
      [{ smartHostUser: 'u' }, {}, /smartHostUser and smartHostPassword \(or smartHostPasswordFile\) go together/],
      [{ smartHostTls: 'maybe' }, {}, /smartHostTls must be one of/],
      [{ routes: { 'not a domain': 'a' } }, {}, /routes "not a domain" must be a domain/],
      [{ routes: { 'corp.example': [] } }, {}, /routes\["corp.example"\] must list at least one host/],
    ];
    for (const [flags, env, expected] of cases) assert.throws(() => load(flags, env), expected);
  });
});
