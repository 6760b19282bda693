import assert from 'node:assert/strict';
import os from 'node:os';
import { describe, it } from 'node:test';
import { isFullyQualified, isValidHostname, machineFqdn, type FqdnSources } from '../../src/config/hostname.js';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/schema.js';
import { startLoggedRelay } from '../helpers/inbound.js';
import { unusedPort } from '../helpers/ports.js';

/** The answers a machine's own tools give; `commands` maps "file args" to its output. */
function machine(hostname: string, platform: NodeJS.Platform, commands: Record<string, string>): FqdnSources {
  return { hostname: () => hostname, platform, run: (file, args) => commands[[file, ...args].join(' ')] };
}

const REG = 'reg query HKLM\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters /v';

describe('hostname', () => {
  it('accepts host names and address literals, nothing that could reach the wire as more', () => {
    for (const good of ['relay.corp.example', 'vm', 'relay.corp.example.', 'a-b.c1.example', '[192.0.2.1]', '[IPv6:2001:db8::1]']) {
      assert.ok(isValidHostname(good), good);
    }
    for (const bad of ['relay.example\r\nX-Injected: yes', 'relay example', '-relay.example', 'relay..example', 'relay_.example',
      '[192.0.2.1', '[2001:db8::1]', '[IPv6:192.0.2.1]', 'a'.repeat(64) + '.example', '', 'relay.example>']) {
      assert.ok(!isValidHostname(bad), JSON.stringify(bad));
    }
    assert.ok(isFullyQualified('relay.corp.example') && isFullyQualified('[192.0.2.1]') && !isFullyQualified('vm'));
  });

  it('refuses a hostname with CRLF (or any non-host-name) from a flag, naming the key', () => {
    assert.throws(
      () => loadConfig({ cwd: os.tmpdir(), env: {}, flags: { smartHost: 'h', hostname: 'relay.example\r\nX-Injected: yes' } }),
      (err: Error) => err instanceof ConfigError && /hostname/.test(err.message) && /host name/.test(err.message),
    );
    assert.throws(() => loadConfig({ cwd: os.tmpdir(), env: { MAILROOT_HOSTNAME: 'relay example' }, flags: { smartHost: 'h' } }), ConfigError);
    assert.throws(() => loadConfig({ cwd: os.tmpdir(), env: {}, flags: { smartHost: 'smart\u0000host:25' } }), /smartHost/);
    assert.throws(() => loadConfig({ cwd: os.tmpdir(), env: {}, flags: { smartHost: 'h', ndrCopyTo: ['a\u0007@example.com'] } }), /ndrCopyTo/);
    assert.equal(loadConfig({ cwd: os.tmpdir(), env: {}, flags: { smartHost: 'h', hostname: 'Relay.Example.' } }).hostname, 'Relay.Example');
  });

  it('defaults to the fully qualified name: the resolver\'s canonical name, or the computer name and primary DNS suffix on Windows', () => {
    assert.equal(machineFqdn(machine('vm', 'linux', { 'getent hosts vm': '127.0.1.1       vm.corp.example vm\n' })), 'vm.corp.example');
    assert.equal(machineFqdn(machine('vm', 'linux', { 'getent hosts vm': '127.0.0.1 vm\n', 'hostname -f': 'vm.lan.example\n' })), 'vm.lan.example');
    assert.equal(machineFqdn(machine('box.corp.example', 'linux', {})), 'box.corp.example');
    const reg = `\r\nHKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters\r\n    Domain    REG_SZ    corp.example\r\n\r\n`;
    assert.equal(machineFqdn(machine('CA01', 'win32', { [`${REG} Domain`]: reg })), 'ca01.corp.example');
    assert.equal(machineFqdn(machine('CA01', 'win32', { [`${REG} Domain`]: reg.replace('corp.example', '') , [`${REG} NV Domain`]: reg.replace('Domain ', 'NV Domain ') })), 'ca01.corp.example');
    // Only a short name anywhere: the short name (the relay warns at start).
    assert.equal(machineFqdn(machine('vm', 'linux', { 'getent hosts vm': '127.0.0.1 vm\n', 'hostname -f': 'vm\n' })), 'vm');
    assert.equal(machineFqdn(machine('CA01', 'win32', {})), 'ca01');
    // This machine, for real: a valid host name, fully qualified whenever the machine has such a name.
    const real = machineFqdn();
    assert.ok(isValidHostname(real), real);
    assert.equal(loadConfig({ cwd: os.tmpdir(), env: {}, flags: { smartHost: 'h' } }).hostname, real);
  });

  it('warns at start when the hostname is not fully qualified, naming the key', async () => {
    const smartHost = `127.0.0.1:${await unusedPort()}`;
    const short = await startLoggedRelay(smartHost, { hostname: 'vm' });
    const full = await startLoggedRelay(smartHost, { hostname: 'relay.corp.example' });
    try {
      const warned = (logs: typeof short.logs) => logs.some((l) => l.level === 'warn' && /hostname "vm" is not fully qualified/.test(l.message));
      assert.ok(warned(short.logs));
      assert.ok(!full.logs.some((l) => /not fully qualified/.test(l.message)));
    } finally {
      await short.relay.stop();
      await full.relay.stop();
    }
  });
});
