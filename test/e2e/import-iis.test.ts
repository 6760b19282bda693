import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { FIXTURES, runCliHere } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-dir.js';

const IIS = path.join(FIXTURES, 'iis');

async function importFixture(name: string, extra: string[] = []) {
  const dir = await tempDir('mailroot-import-');
  const out = path.join(dir, 'mailroot.json');
  const run = await runCliHere(['import-iis', path.join(IIS, name), '--out', out, ...extra], { cwd: dir });
  const written = await fs.readFile(out, 'utf8').then((text) => JSON.parse(text) as Record<string, unknown>, () => undefined);
  return { ...run, dir, out, written };
}

describe('mailroot import-iis', () => {
  it('carries over a virtual server: smart host, retry, limits, folders, bindings, relay and connection lists', { timeout: 180_000 }, async () => {
    const run = await importFixture('relay-list.xml');
    assert.equal(run.code, 0, run.stderr + run.stdout);
    assert.deepEqual(run.written, {
      mailroot: 'C:\\Inetpub\\mailroot',
      listen: ['10.20.0.5:25'],
      hostname: 'relay01.example.com',
      smartHost: '10.0.0.25:25',
      smartHostTimeout: '10m',
      retry: ['15m', '30m', '1h', '4h'],
      expire: '2d',
      maxMessageSize: '2097152',
      allowConnect: ['10.20.0.0/16', '127.0.0.1'],
      allowRelay: ['127.0.0.1'],
      localDomains: ['relay01.example.com', 'corp.example'],
      maxSessionSize: '10485760',
      maxRecipients: 100,
      idleTimeout: '10m',
      maxHopCount: 15,
      delayNotify: '12h',
      ndrCopyTo: ['postmaster@example.com'],
      protocolLog: true,
      protocolLogDir: 'C:\\WINDOWS\\System32\\LogFiles\\SMTPSVC1',
      maxMessagesPerConnection: 20,
      routes: { 'partner.example': '192.0.2.10:25' },
    });
    // The report names each setting and what became of it.
    assert.match(run.stdout, /RelayIpList = 18000080.* -> allowRelay: "only the list below": 127\.0\.0\.1/);
    assert.match(run.stdout, /Domain partner\.example = RouteAction=4098 -> routes: remote domain: forwarded to \[192\.0\.2\.10\] \(routes\)/);
    assert.match(run.stdout, /NOT SUPPORTED[\s\S]*Domain partner\.example = RouteAction=4098: remote domain: relay to this domain allowed from anyone/);
    assert.match(run.stdout, /SmtpLocalNDRExpireMinutes = 2880: mailroot writes local mail to Drop/);
    assert.match(run.stdout, /IGNORED[\s\S]*ServerComment = \[SMTP Virtual Server #1\]/);
    // The file loads as a config, every value valid.
    const config = loadConfig({ configFile: run.out, env: {} });
    assert.deepEqual(config.allowRelay, [{ address: '127.0.0.1', prefix: 32, family: 'ipv4' }]);
    assert.equal(config.maxMessageSize, 2 * 1024 * 1024);
    assert.deepEqual(config.retry, [900_000, 1_800_000, 3_600_000, 14_400_000]);
  });

  it('resolves inheritance from /LM/SmtpSvc, <Custom> properties and upper-case paths; flags what needs a person', { timeout: 180_000 }, async () => {
    const run = await importFixture('inherited.xml');
    assert.equal(run.code, 1, 'exit 1: written, but needs review (Basic auth users)');
    const written = run.written!;
    assert.deepEqual(written.smartHost, ['mx', 'mail.corp.example:2525'], 'SmartHostType 1: MX first, then the smart host');
    assert.deepEqual(written.allowRelay, ['127.0.0.1', '10.20.30.40', '192.168.10.0/24']);
    assert.equal(written.hostname, 'ca01.corp.example');
    assert.equal(written.maxHopCount, 20);
    assert.equal(written.idleTimeout, '5m');
    assert.deepEqual(written.listen, ['0.0.0.0:25']);
    assert.deepEqual(written.ndrCopyTo, ['pki-admins@corp.example']);
    assert.equal(written.mailroot, 'D:\\Mail');
    assert.match(run.stdout, /HopCount = 20 \(inherited from \/LM\/SmtpSvc\) -> maxHopCount/);
    assert.match(run.stdout, /NEEDS REVIEW[\s\S]*AuthFlags = AuthBasic \| AuthAnonymous \| AuthNTLM .*-> authUsers: .*hash-password/);
    assert.match(run.stdout, /PickupDirectory = E:\\Drops\\In: mailroot keeps Pickup inside the mailroot \(D:\\Mail\\Pickup\)/);
    assert.match(run.stdout, /SmartHost, SmartHostType, RemoteSmtpPort = mail\.corp\.example, type 1, port 2525.* -> smartHost: IIS's "attempt direct delivery before sending to smart host"/);
    assert.match(run.stdout, /UnknownName_61537 \(on \/LM\/SmtpSvc\) = 0: not a setting/);
    loadConfig({ configFile: run.out, env: {} });
  });

  it('refuses the malformed RelayIpList some Windows builds ship: nobody may relay, and it says so', { timeout: 180_000 }, async () => {
    const run = await importFixture('server2022-malformed-relay.xml');
    assert.equal(run.code, 1);
    assert.deepEqual(run.written!.allowRelay, ['none']);
    assert.match(run.stdout, /NEEDS REVIEW[\s\S]*RelayIpList = .*malformed \(grant list sublist 1 address array points past the end/);
    const config = loadConfig({ configFile: run.out, env: {} });
    assert.deepEqual(config.allowRelay, []);
  });

  it('does not carry over an open relay (the empty RelayIpList workaround, "all except") without --accept-open-relay', { timeout: 180_000 }, async () => {
    for (const fixture of ['server2022-empty-relay.xml', 'all-except.xml']) {
      const run = await importFixture(fixture);
      assert.equal(run.code, 1, fixture);
      assert.deepEqual(run.written!.allowRelay, ['none'], fixture);
      assert.match(run.stdout, /All except the list below.*open relay.*--accept-open-relay/, fixture);
    }
    const accepted = await importFixture('server2022-empty-relay.xml', ['--accept-open-relay']);
    assert.deepEqual(accepted.written!.allowRelay, ['0.0.0.0/0', '::/0']);
    assert.equal(accepted.written!.allowOpenRelay, true);
    loadConfig({ configFile: accepted.out, env: {} });
    // A deny list cannot be expressed in mailroot: even with the flag, nothing is widened.
    const except = await importFixture('all-except.xml', ['--accept-open-relay']);
    assert.deepEqual(except.written!.allowRelay, ['none']);
    assert.match(except.stdout, /except 10\.9\.9\.9: mailroot cannot list exceptions/);
  });

  it('never overwrites a config without --force; a file that is not a metabase gets exit 2 and a reason', { timeout: 180_000 }, async () => {
    const first = await importFixture('relay-list.xml');
    const again = await runCliHere(['import-iis', path.join(IIS, 'relay-list.xml'), '--out', first.out], { cwd: first.dir });
    assert.equal(again.code, 2);
    assert.match(again.stderr, /exists; pass --force/);
    const forced = await runCliHere(['import-iis', path.join(IIS, 'inherited.xml'), '--out', first.out, '--force'], { cwd: first.dir });
    assert.equal(forced.code, 1);
    assert.match(await fs.readFile(first.out, 'utf8'), /ca01\.corp\.example/);

    const bogus = path.join(first.dir, 'not.xml');
    await fs.writeFile(bogus, '<html><body>hello</body></html>');
    const notMetabase = await runCliHere(['import-iis', bogus, '--out', path.join(first.dir, 'x.json')], { cwd: first.dir });
    assert.equal(notMetabase.code, 2);
    assert.match(notMetabase.stderr, /no <configuration> element/);
    const noServer = await runCliHere(['import-iis', bogus.replace('not.xml', 'missing.xml')], { cwd: first.dir });
    assert.equal(noServer.code, 2);
    assert.match(noServer.stderr, /cannot read/);
  });

  it('prints the config and report as JSON with --json', { timeout: 180_000 }, async () => {
    const run = await importFixture('relay-list.xml', ['--json']);
    const json = JSON.parse(run.stdout) as { server: string; config: Record<string, unknown>; report: Array<{ property: string; status: string; key?: string }> };
    assert.equal(json.server, '1');
    assert.equal(json.config.smartHost, '10.0.0.25:25');
    assert.ok(json.report.some((item) => item.property === 'RelayIpList' && item.status === 'mapped' && item.key === 'allowRelay'));
  });
});
