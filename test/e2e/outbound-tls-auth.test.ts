// The relay forwarding to smart hosts that need TLS and AUTH, all real: smtp-server upstreams with certificates
// from a CA the test makes, an OAuth2 token endpoint on loopback, an upstream that checks XOAUTH2 tokens against
// it, one that strips STARTTLS and one that presents the wrong name. Failures of credentials or certificates keep
// the mail queued (never Badmail, never cleartext) and are logged at error, without the secret.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { sendMail } from '../helpers/client.js';
import { portOf, startLoggedRelay, type LoggedRelay } from '../helpers/inbound.js';
import { eventually, filesIn } from '../helpers/relay.js';
import { SecureUpstream } from '../helpers/secure-upstream.js';
import { makeTestCa, type TestCa } from '../helpers/test-ca.js';
import { TokenEndpoint } from '../helpers/token-endpoint.js';
import { FETCH_TO_LOOPBACK_UNDER_WINE } from '../helpers/wine.js';

const SECRET = 'pa55-word-never-logged';

async function send(logged: LoggedRelay, subject: string, to = 'ops@example.net'): Promise<void> {
  const { response } = await sendMail({ port: portOf(logged.relay), from: 'ca@example.com', to: [to], subject });
  assert.match(response, /^250 /);
}

/** Waits for the message to be deferred, then returns its .rtr text; it must still be queued, not in Badmail. */
async function deferredState(logged: LoggedRelay): Promise<string> {
  const queue = logged.relay.spool.layout.queue;
  await eventually(async () => (await filesIn(queue, '.rtr')).length > 0, 20_000, 'the failure recorded in an .rtr');
  const [rtr] = await filesIn(queue, '.rtr');
  assert.equal((await filesIn(queue, '.eml')).length, 1, 'the message stays queued');
  assert.deepEqual(await filesIn(logged.relay.spool.layout.badmail), [], 'nothing goes to Badmail');
  return fs.readFile(path.join(queue, rtr!), 'utf8');
}

function assertNoSecret(logged: LoggedRelay, rtr: string, secret: string): void {
  assert.ok(!JSON.stringify(logged.logs).includes(secret), 'the secret is not in the log');
  assert.ok(!rtr.includes(secret), 'the secret is not in the .rtr');
}

describe('outbound TLS and AUTH', () => {
  let ca: TestCa | string;
  before(async () => {
    ca = await makeTestCa();
  });

  it('verifies the host against a CA file over STARTTLS and signs in with PLAIN (smartHostUser/smartHostPassword)', async (t) => {
    if (typeof ca === 'string') return t.skip(ca);
    const upstream = await new SecureUpstream({ ...ca.server, password: { user: 'apikey', pass: SECRET } }).start();
    const logged = await startLoggedRelay(`127.0.0.1:${upstream.port}`, { smartHostUser: 'apikey', smartHostPassword: SECRET, smartHostCaFile: ca.caFile });
    try {
      await send(logged, 'plain over starttls');
      await eventually(() => upstream.received.length === 1, 20_000, 'delivery');
      assert.equal(upstream.received[0]!.secure, true);
      assert.equal(upstream.received[0]!.user, 'apikey');
      assert.deepEqual(upstream.logins.map((l) => [l.method, l.secure]), [['PLAIN', true]]);
      assertNoSecret(logged, '', SECRET);
    } finally {
      await logged.relay.stop();
      await upstream.stop();
    }
  });

  it('uses TLS from the first byte (implicit) and AUTH LOGIN with the password from a file', async (t) => {
    if (typeof ca === 'string') return t.skip(ca);
    const upstream = await new SecureUpstream({ ...ca.server, implicit: true, password: { user: 'relay', pass: SECRET } }).start();
    const passwordFile = path.join(ca.dir, 'password.txt');
    await fs.writeFile(passwordFile, `${SECRET}\r\n`);
    const host = { host: '127.0.0.1', port: upstream.port, tls: 'implicit', caFile: ca.caFile, auth: { type: 'login', user: 'relay', passwordFile } };
    const logged = await startLoggedRelay('unused:25', { smartHost: [host] });
    try {
      await send(logged, 'login over implicit tls');
      await eventually(() => upstream.received.length === 1, 20_000, 'delivery');
      assert.deepEqual(upstream.logins.map((l) => [l.method, l.user, l.secure]), [['LOGIN', 'relay', true]]);
    } finally {
      await logged.relay.stop();
      await upstream.stop();
    }
  });

  for (const refusal of ['microsoft', 'google'] as const) {
    it(`XOAUTH2 (${refusal} refusal style): one token for many connections, a new one after the host rejects it`, { skip: FETCH_TO_LOOPBACK_UNDER_WINE }, async (t) => {
      if (typeof ca === 'string') return t.skip(ca);
      const endpoint = await new TokenEndpoint({ clientId: 'app-1', clientSecret: SECRET, lifetime: 3600 }).start();
      const upstream = await new SecureUpstream({
        ...ca.server,
        xoauth2Refusal: refusal,
        token: (user, token) => user === 'relay@contoso.test' && endpoint.isValid(token),
      }).start();
      const host = {
        host: '127.0.0.1', port: upstream.port, tls: 'required', caFile: ca.caFile,
        maxMessagesPerConnection: 1, // a new connection, and a new AUTH, per message
        auth: { type: 'xoauth2', provider: 'microsoft', user: 'relay@contoso.test', tokenUrl: endpoint.url, clientId: 'app-1', clientSecretFile: path.join(ca.dir, 'client-secret.txt') },
      };
      await fs.writeFile(host.auth.clientSecretFile, SECRET);
      let logged: LoggedRelay | undefined;
      try {
        logged = await startLoggedRelay('unused:25', { smartHost: [host] });
        for (let i = 0; i < 3; i++) await send(logged, `oauth ${i}`);
        await eventually(() => upstream.received.length === 3, 20_000, 'three deliveries');
        assert.equal(endpoint.requests.length, 1, 'three connections, one token request');
        assert.ok(upstream.logins.every((l) => l.method === 'XOAUTH2' && l.ok && l.secure));

        endpoint.revokeAll(); // the held token is no longer good
        await send(logged, 'after revocation');
        await eventually(() => upstream.received.length === 4, 20_000, 'delivery with a new token');
        assert.equal(endpoint.requests.length, 2, 'one new token after the rejection');
        assert.deepEqual(upstream.logins.slice(-2).map((l) => l.ok), [false, true]);
        assertNoSecret(logged, '', SECRET);
        assert.equal(logged.relay.hostStates()[0]!.condition, 'up');
      } finally {
        await logged?.relay.stop();
        await upstream.stop();
        await endpoint.stop();
      }
    });
  }

  it('keeps mail queued and logs an error when the token endpoint refuses the app (no secret in log or .rtr)', { skip: FETCH_TO_LOOPBACK_UNDER_WINE }, async (t) => {
    if (typeof ca === 'string') return t.skip(ca);
    const endpoint = await new TokenEndpoint({ clientId: 'app-1', clientSecret: 'the-right-one' }).start();
    const upstream = await new SecureUpstream({ ...ca.server, token: () => true }).start();
    const host = {
      host: '127.0.0.1', port: upstream.port, caFile: ca.caFile,
      auth: { type: 'xoauth2', provider: 'microsoft', user: 'relay@contoso.test', tokenUrl: endpoint.url, clientId: 'app-1', clientSecret: SECRET },
    };
    const logged = await startLoggedRelay('unused:25', { smartHost: [host] });
    try {
      await send(logged, 'bad app secret');
      const rtr = await deferredState(logged);
      assert.match(rtr, /^Last-Reply: .*AADSTS7000215/m);
      assert.ok(logged.logs.some((l) => l.level === 'error' && /credentials/.test(l.message) && /AADSTS7000215/.test(String(l.reason))));
      const [state] = logged.relay.hostStates();
      assert.equal(state!.condition, 'down');
      assert.equal(state!.problem, 'authentication');
      assert.equal(upstream.mailFrom.length, 0);
      assertNoSecret(logged, rtr, SECRET);
    } finally {
      await logged.relay.stop();
      await upstream.stop();
      await endpoint.stop();
    }
  });

  it('keeps mail queued when the host refuses the password (535): host down for authentication, error logged', async (t) => {
    if (typeof ca === 'string') return t.skip(ca);
    const upstream = await new SecureUpstream({ ...ca.server, password: { user: 'relay', pass: 'another' } }).start();
    const logged = await startLoggedRelay(`127.0.0.1:${upstream.port}`, { smartHostUser: 'relay', smartHostPassword: SECRET, smartHostCaFile: ca.caFile });
    try {
      await send(logged, 'bad password');
      const rtr = await deferredState(logged);
      assert.match(rtr, /^Last-Reply: 535 5\.7\.3 Authentication unsuccessful/m);
      assert.ok(logged.logs.some((l) => l.level === 'error' && /credentials/.test(l.message)));
      assert.equal(logged.relay.hostStates()[0]!.problem, 'authentication');
      assertNoSecret(logged, rtr, SECRET);
    } finally {
      await logged.relay.stop();
      await upstream.stop();
    }
  });

  it('never sends in clear when STARTTLS is required and the host does not offer it (stripped)', async (t) => {
    if (typeof ca === 'string') return t.skip(ca);
    const upstream = await new SecureUpstream({ ...ca.server, stripStartTls: true }).start();
    const logged = await startLoggedRelay(`127.0.0.1:${upstream.port}`, { smartHostTls: 'required', smartHostCaFile: ca.caFile });
    try {
      await send(logged, 'stripped');
      const rtr = await deferredState(logged);
      assert.match(rtr, /^Last-Reply: .*STARTTLS/m);
      assert.equal(upstream.mailFrom.length, 0, 'no MAIL FROM was ever sent');
      assert.equal(logged.relay.hostStates()[0]!.problem, 'tls');
      assert.ok(logged.logs.some((l) => l.level === 'error' && /TLS/.test(l.message)));
    } finally {
      await logged.relay.stop();
      await upstream.stop();
    }
  });

  it('refuses a host whose certificate names another host, and one signed by an unknown CA', async (t) => {
    if (typeof ca === 'string') return t.skip(ca);
    const wrongName = await new SecureUpstream({ ...ca.wrongName }).start();
    const logged = await startLoggedRelay(`127.0.0.1:${wrongName.port}`, { smartHostTls: 'required', smartHostCaFile: ca.caFile });
    try {
      await send(logged, 'wrong name');
      const rtr = await deferredState(logged);
      assert.match(rtr, /^Last-Reply: .*(not in the cert's list|altnames)/m);
      assert.equal(wrongName.mailFrom.length, 0);
    } finally {
      await logged.relay.stop();
    }
    // The right name, but no caFile: the system's CAs do not know the test CA.
    const right = await new SecureUpstream({ ...ca.server }).start();
    const unknownCa = await startLoggedRelay(`127.0.0.1:${right.port}`, { smartHostTls: 'required' });
    try {
      await send(unknownCa, 'unknown ca');
      const rtr = await deferredState(unknownCa);
      assert.match(rtr, /^Last-Reply: .*(self.signed|unable to (get|verify)|local issuer)/im);
      assert.equal(right.mailFrom.length, 0);
    } finally {
      await unknownCa.relay.stop();
      await right.stop();
    }
    // Opportunistic TLS (the default) still delivers to it: encrypted, unverified, as before.
    const lenient = await startLoggedRelay(`127.0.0.1:${wrongName.port}`);
    try {
      await send(lenient, 'opportunistic');
      await eventually(() => wrongName.received.length === 1, 20_000, 'opportunistic delivery');
      assert.equal(wrongName.received[0]!.secure, true);
    } finally {
      await lenient.relay.stop();
      await wrongName.stop();
    }
  });
});
