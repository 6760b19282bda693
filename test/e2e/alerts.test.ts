import assert from 'node:assert/strict';
import http from 'node:http';
import { before, describe, it } from 'node:test';
import type { Alert } from '../../src/ops/alerts.js';
import { sendMail } from '../helpers/client.js';
import { dropFile } from '../helpers/pickup.js';
import { dropIntoQueue, eventually, filesIn, relayPort, startRelay } from '../helpers/relay.js';
import { SecureUpstream } from '../helpers/secure-upstream.js';
import { makeTestCa, type TestCa } from '../helpers/test-ca.js';
import { TokenEndpoint } from '../helpers/token-endpoint.js';
import { Upstream } from '../helpers/upstream.js';
import { unusedPort } from '../helpers/ports.js';
import { FETCH_TO_LOOPBACK_UNDER_WINE } from '../helpers/wine.js';

/** A webhook receiver on loopback. */
async function webhook(): Promise<{ url: string; alerts: Alert[]; close: () => Promise<void> }> {
  const alerts: Alert[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      alerts.push(JSON.parse(body) as Alert);
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return { url: `http://127.0.0.1:${address.port}/hook`, alerts, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('operator alerts', { skip: FETCH_TO_LOOPBACK_UNDER_WINE && `the tests watch alerts through the webhook: ${FETCH_TO_LOOPBACK_UNDER_WINE}` }, () => {
  it('smart host unreachable: error log, listener, webhook and a mail sent around the outage (not queued)', { timeout: 180_000 }, async () => {
    const smartHost = await new Upstream().start();
    const adminRoute = await new Upstream().start();
    const hook = await webhook();
    await smartHost.stop();
    const relay = await startRelay({
      smartHost: smartHost.address,
      settings: {
        alertSmartHostDown: '300ms',
        alertMailTo: ['admin@example.org'],
        alertMailVia: adminRoute.address,
        alertWebhook: hook.url,
        retry: ['10m'],
      },
    });
    const heard: Alert[] = [];
    relay.alerts.onAlert((alert) => heard.push(alert));
    try {
      await sendMail({ port: relayPort(relay), from: 'ca@example.com', to: ['user@example.net'] });
      const [mail] = await adminRoute.waitFor(1, 15_000);
      assert.deepEqual(mail!.to, ['admin@example.org']);
      assert.match(mail!.data.toString().replace(/\r\n[ \t]+/g, ' '), /Subject: \[mailroot relay\.test\] smart-host-unreachable: the smart host 127\.0\.0\.1:\d+ has been unreachable/);
      await eventually(() => hook.alerts.length === 1, 10_000, 'the webhook call');
      assert.equal(hook.alerts[0]!.kind, 'smart-host-unreachable');
      assert.equal(hook.alerts[0]!.hostname, 'relay.test');
      assert.deepEqual(heard.map((a) => a.kind), ['smart-host-unreachable']);
      // Only the user's message is queued: the alert went around the queue.
      assert.equal((await filesIn(relay.spool.layout.queue, '.eml')).length, 1);
    } finally {
      await relay.stop();
      await adminRoute.stop();
      await hook.close();
    }
  });

  it('Badmail: one alert for the first file of the day, not one per file; old queue: one alert per interval', { timeout: 180_000 }, async () => {
    const upstream = await new Upstream().start();
    const hook = await webhook();
    upstream.rcptScript = (rcpt) => (rcpt.startsWith('nobody') ? [550, '5.1.1 No such user'] : undefined);
    upstream.dataScript = () => [451, '4.3.0 Try later'];
    const relay = await startRelay({
      smartHost: upstream.address,
      settings: { alertWebhook: hook.url, alertQueueAge: '500ms', alertInterval: '1h', retry: ['10m'] }, // checked every 250 ms
    });
    try {
      // A message that waits (451) with an old arrival time in its id: the oldest in Queue from the start, so the
      // one alert of the interval is about it, whatever else has waited 500 ms by then.
      const old = '20200101T000000000Z-0001-0123456789';
      await dropIntoQueue(relay.spool.layout.queue, `${old}.eml`, 'a@example.com', ['b@example.net'], '\r\nold\r\n');
      for (const to of ['nobody1@example.net', 'nobody2@example.net']) {
        await sendMail({ port: relayPort(relay), from: 'ca@example.com', to: [to] });
      }
      await eventually(async () => (await filesIn(relay.spool.layout.badmail, '.bad')).length === 2, 15_000, 'two files in Badmail');
      await eventually(() => hook.alerts.some((a) => a.kind === 'queue-age'), 15_000, 'the queue-age alert');
      // Three more checks, run now and awaited, still make one alert (interval 1h): none is raised.
      const raised: string[] = [];
      relay.alerts.onAlert((alert) => raised.push(alert.kind));
      for (let i = 0; i < 3; i++) await relay.alerts.checkQueueAge();
      assert.deepEqual(raised, []);
      assert.deepEqual(hook.alerts.map((a) => a.kind).sort(), ['badmail', 'queue-age']);
      assert.match(hook.alerts.find((a) => a.kind === 'queue-age')!.message, /since 2020-01-01T00:00:00\.000Z/);
    } finally {
      await relay.stop();
      await upstream.stop();
      await hook.close();
    }
  });
});

// Alert mail through a smart host that wants TLS and AUTH (Microsoft 365, SendGrid): the host's own settings are
// used, as for queued mail. A Badmail file from Pickup raises the alert; mailVia is down, so the smart host carries it.
describe('alert mail through a smart host with TLS and AUTH', () => {
  let ca: TestCa | string;
  before(async () => {
    ca = await makeTestCa();
  });

  async function raiseBadmailAlert(smartHost: Record<string, unknown>): Promise<Awaited<ReturnType<typeof startRelay>>> {
    // alertMailVia, tried first, refuses the connection (nothing listens there): the alert goes through the smart host.
    const relay = await startRelay({
      smartHost: 'unused:25',
      settings: { smartHost: [smartHost], alertMailTo: ['admin@example.org'], alertMailVia: `127.0.0.1:${await unusedPort()}`, pickupSettleTime: '100ms', retry: ['10m'] },
    });
    await dropFile(relay.spool.layout.pickup, 'no-recipients.eml', 'From: a@example.com\r\nSubject: no recipients\r\n\r\nbody\r\n');
    return relay;
  }

  it('signs in with the smart host\'s password over verified STARTTLS (tls: required, caFile)', async (t) => {
    if (typeof ca === 'string') return t.skip(ca);
    const upstream = await new SecureUpstream({ ...ca.server, password: { user: 'apikey', pass: 'alert-secret' } }).start();
    const host = { host: '127.0.0.1', port: upstream.port, tls: 'required', caFile: ca.caFile, auth: { type: 'plain', user: 'apikey', password: 'alert-secret' } };
    const relay = await raiseBadmailAlert(host);
    try {
      await eventually(() => upstream.received.length === 1, 20_000, 'the alert mail at the smart host');
      const mail = upstream.received[0]!;
      assert.deepEqual(mail.to, ['admin@example.org']);
      assert.equal(mail.from, 'mailroot@relay.test');
      assert.match(mail.data.replace(/\r\n[ \t]+/g, ' '), /Subject: \[mailroot relay\.test\] badmail: Badmail received its first file today/);
      assert.equal(mail.secure, true);
      assert.equal(mail.user, 'apikey');
      assert.deepEqual(upstream.logins.map((l) => [l.method, l.user, l.ok, l.secure]), [['PLAIN', 'apikey', true, true]]);
      assert.ok(upstream.mailFrom.every((m) => m.secure), 'nothing sent before TLS');
    } finally {
      await relay.stop();
      await upstream.stop();
    }
  });

  it('signs in with XOAUTH2 and a token from the account\'s token endpoint (Microsoft 365 style)', {
    skip: FETCH_TO_LOOPBACK_UNDER_WINE && `the token endpoint is reached with fetch(): ${FETCH_TO_LOOPBACK_UNDER_WINE}`,
  }, async (t) => {
    if (typeof ca === 'string') return t.skip(ca);
    const endpoint = await new TokenEndpoint({ clientId: 'app-1', clientSecret: 'app-secret', lifetime: 3600 }).start();
    const upstream = await new SecureUpstream({ ...ca.server, xoauth2Refusal: 'microsoft', token: (user, token) => user === 'relay@contoso.test' && endpoint.isValid(token) }).start();
    const host = {
      host: '127.0.0.1', port: upstream.port, tls: 'required', caFile: ca.caFile,
      auth: { type: 'xoauth2', provider: 'microsoft', user: 'relay@contoso.test', tokenUrl: endpoint.url, clientId: 'app-1', clientSecret: 'app-secret' },
    };
    const relay = await raiseBadmailAlert(host);
    try {
      await eventually(() => upstream.received.length === 1, 20_000, 'the alert mail at the smart host');
      assert.deepEqual(upstream.received[0]!.to, ['admin@example.org']);
      assert.equal(upstream.received[0]!.user, 'relay@contoso.test');
      assert.deepEqual(upstream.logins.map((l) => [l.method, l.ok, l.secure]), [['XOAUTH2', true, true]]);
      assert.equal(endpoint.requests.length, 1);
    } finally {
      await relay.stop();
      await upstream.stop();
      await endpoint.stop();
    }
  });
});
