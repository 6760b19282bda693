// A real Postfix as the smart host: STARTTLS with a certificate from the test's CA, SMTP AUTH (Cyrus sasldb)
// required to relay, relaying to a sink on loopback. mailroot with tls "required", the CA file and the account
// delivers through it; with a wrong password the message stays queued (never bounced) and the host is marked
// down for authentication. A private Postfix instance (test/helpers/postfix-instance.ts), not the system's.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { sendMail } from '../helpers/client.js';
import { portOf, startLoggedRelay, type LoggedRelay } from '../helpers/inbound.js';
import { PostfixInstance, postfixSkipReason } from '../helpers/postfix-instance.js';
import { eventually, filesIn } from '../helpers/relay.js';
import { makeTestCa, type TestCa } from '../helpers/test-ca.js';
import { Upstream } from '../helpers/upstream.js';

const USER = 'mailroot-relay';
const PASSWORD = 'postfix-relay-secret';

const skip = postfixSkipReason();
if (skip) console.log(`# skipping the Postfix upstream test: ${skip}`);

describe('relay through a real Postfix with STARTTLS and AUTH', { skip: skip ?? false }, () => {
  let ca: TestCa | string;
  let sink: Upstream;
  let postfix: PostfixInstance | undefined;

  before(async () => {
    ca = await makeTestCa();
    sink = await new Upstream().start();
    if (typeof ca === 'string') return;
    postfix = await PostfixInstance.start({ relayTo: { host: '127.0.0.1', port: sink.port }, cert: ca.server.cert, key: ca.server.key, user: USER, password: PASSWORD });
  });

  after(async () => {
    await postfix?.stop();
    await sink?.stop();
    if (typeof ca !== 'string') await fs.rm(ca.dir, { recursive: true, force: true });
  });

  async function relayWith(password: string): Promise<LoggedRelay> {
    const host = { host: '127.0.0.1', port: postfix!.port, tls: 'required', caFile: (ca as TestCa).caFile, auth: { type: 'password', user: USER, password } };
    return startLoggedRelay('unused:25', { smartHost: [host], retry: ['10m'] });
  }

  it('delivers through Postfix: verified STARTTLS, AUTH, the envelope intact at the sink', { timeout: 30_000 }, async (t) => {
    if (typeof ca === 'string') return t.skip(ca);
    const logged = await relayWith(PASSWORD);
    try {
      const { response } = await sendMail({ port: portOf(logged.relay), from: 'ca@example.com', to: ['ops@example.net', 'audit@example.org'], subject: 'through postfix' });
      assert.match(response, /^250 /);
      const [mail] = await sink.waitFor(1, 20_000);
      assert.equal(mail!.from, 'ca@example.com');
      assert.deepEqual([...mail!.to].sort(), ['audit@example.org', 'ops@example.net']);
      const text = mail!.data.toString('utf8');
      assert.match(text, /^Subject: through postfix\r?$/m);
      // Postfix's own Received: line: the client signed in (Cyrus adds the realm), and "ESMTPSA" is ESMTP with TLS and AUTH.
      assert.match(text.replace(/\r\n[ \t]+/g, ' '), new RegExp(`Received: from relay\\.test .*\\(Authenticated sender: ${USER}(@postfix-upstream\\.test)?\\) by postfix-upstream\\.test \\(Postfix\\) with ESMTPSA`));
      await eventually(() => new RegExp(`sasl_method=PLAIN, sasl_username=${USER}`).test(postfix!.log()), 10_000, 'Postfix to log the authenticated client');
      await eventually(() => /relay=127\.0\.0\.1\[127\.0\.0\.1\]:\d+, .*status=sent/.test(postfix!.log()), 10_000, 'Postfix to log its delivery to the sink');
      assert.match(postfix!.log(), /Anonymous TLS connection established from|TLS connection established from/);
      await eventually(async () => (await filesIn(logged.relay.spool.layout.queue, '.eml')).length === 0, 10_000, 'Queue to empty');
      assert.equal(logged.relay.hostStates()[0]!.condition, 'up');
    } finally {
      await logged.relay.stop();
    }
  });

  it('a wrong password keeps the message queued (not bounced) and marks the host down for authentication', { timeout: 30_000 }, async (t) => {
    if (typeof ca === 'string') return t.skip(ca);
    const before = sink.received.length;
    const logged = await relayWith('not-the-password');
    try {
      const { response } = await sendMail({ port: portOf(logged.relay), from: 'ca@example.com', to: ['ops@example.net'], subject: 'refused login' });
      assert.match(response, /^250 /);
      const queue = logged.relay.spool.layout.queue;
      await eventually(async () => (await filesIn(queue, '.rtr')).length === 1, 20_000, 'the refused login recorded in an .rtr');
      assert.equal((await filesIn(queue, '.eml')).length, 1, 'the message stays queued');
      assert.deepEqual(await filesIn(logged.relay.spool.layout.badmail), [], 'nothing in Badmail');
      const state = logged.relay.hostStates()[0]!;
      assert.equal(state.condition, 'down');
      assert.equal(state.problem, 'authentication');
      assert.match(state.reason ?? '', /535/);
      assert.ok(logged.logs.some((l) => l.level === 'error'), 'the operator is told at error level');
      assert.ok(!JSON.stringify(logged.logs).includes('not-the-password'), 'the password is not logged');
      await eventually(() => /SASL PLAIN authentication failed/.test(postfix!.log()), 10_000, 'Postfix to log the failed login');
      assert.equal(sink.received.length, before, 'nothing reached the sink');
    } finally {
      await logged.relay.stop();
    }
  });
});
