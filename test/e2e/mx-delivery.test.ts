// Delivery by MX without a smart host ("mx" in smartHost), resolved by a DNS server on loopback (dnsServers):
// preference order, the next exchanger when the first is down, implicit MX, and a null MX or a missing domain
// answered with a non-delivery (Badmail) rather than retried.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { sendMail } from '../helpers/client.js';
import { DnsServer } from '../helpers/dns-server.js';
import { eventually, filesIn, relayPort, startRelay } from '../helpers/relay.js';
import { SecureUpstream } from '../helpers/secure-upstream.js';
import { makeTestCa, type TestCa } from '../helpers/test-ca.js';

describe('delivery by MX', () => {
  let ca: TestCa | string;
  before(async () => {
    ca = await makeTestCa();
  });

  it('follows MX preference, fails over to the next exchanger, uses the domain itself without MX, and bounces a null MX or unknown domain', async (t) => {
    if (typeof ca === 'string') return t.skip(ca);
    const dns = await new DnsServer().start();
    const mx1 = await new SecureUpstream({ ...ca.server, listen: { host: '127.0.0.2', port: 0 } }).start();
    const port = mx1.port;
    const mx2 = await new SecureUpstream({ ...ca.server, listen: { host: '127.0.0.3', port } }).start();
    dns
      .set('example.test', { mx: [[20, 'mx2.example.test'], [10, 'mx1.example.test']] })
      .set('mx1.example.test', { a: ['127.0.0.2'] })
      .set('mx2.example.test', { a: ['127.0.0.3'] })
      .set('implicit.test', { a: ['127.0.0.3'] })
      .set('nomail.test', { mx: [[0, '.']] });
    const relay = await startRelay({ smartHost: 'mx', settings: { dnsServers: [dns.address], outboundPort: String(port), hostDownTime: '1m', retry: ['200ms'] } });
    const send = async (to: string) => {
      const { response } = await sendMail({ port: relayPort(relay), from: 'ca@example.com', to: [to], subject: to });
      assert.match(response, /^250 /);
    };
    try {
      await send('a@example.test');
      await eventually(() => mx1.received.length === 1, 20_000, 'delivery to the preferred exchanger');
      assert.equal(mx2.received.length, 0);

      await send('b@implicit.test');
      await eventually(() => mx2.received.length === 1, 20_000, 'implicit MX');
      assert.deepEqual(mx2.received[0]!.to, ['b@implicit.test']);

      await mx1.stop();
      await send('c@example.test');
      await eventually(() => mx2.received.length === 2, 20_000, 'the second exchanger when the first is down');
      assert.equal(relay.hostStates().find((s) => s.host.startsWith('mx1.example.test'))!.condition, 'down');

      await send('d@nomail.test');
      await send('e@missing.test');
      const badmail = relay.spool.layout.badmail;
      // (The reports to ca@example.com fail too: example.com is not in the test's DNS. They land in Badmail as well.)
      const reportsIn = async () => Promise.all((await filesIn(badmail, '.bdr')).map((name) => fs.readFile(path.join(badmail, name), 'utf8')));
      await eventually(async () => (await reportsIn()).filter((r) => /nomail\.test|missing\.test/.test(r)).length >= 2, 20_000, 'both messages in Badmail');
      const reports = await reportsIn();
      assert.ok(reports.some((r) => /556 5\.1\.10 nomail\.test accepts no mail/.test(r)), reports.join('\n'));
      assert.ok(reports.some((r) => /550 5\.1\.2 missing\.test: no such domain/.test(r)), reports.join('\n'));
      assert.ok(dns.queries > 0);
    } finally {
      await relay.stop();
      await mx2.stop();
      await dns.stop();
    }
  });
});
