// The .rtr a failed attempt writes: the first one dated from the accept time in the message id, a later one
// continuing what it finds. Real spool and agent, a clock the test sets (relative to the id's real accept time),
// and a smart host port on loopback where nothing listens.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { Bouncer } from '../../src/delivery/bouncer.js';
import { DeliveryAgent } from '../../src/delivery/agent.js';
import { silentLogger, type Logger } from '../../src/log/logger.js';
import { MailEvents } from '../../src/log/mail-events.js';
import { timeOfId } from '../../src/spool/ids.js';
import { Spool } from '../../src/spool/spool.js';
import { RoutingTransport } from '../../src/transport/routing.js';
import { SmartHostTransport } from '../../src/transport/smart-host.js';
import type { Transport } from '../../src/transport/transport.js';
import { tempMailroot } from '../helpers/relay.js';
import { unusedPort } from '../helpers/ports.js';

const MINUTE = 60_000;

/**
 * An agent on a temporary spool with one message, and a clock the test moves: `at` ms after the message was
 * accepted (as its id says). The transport is a smart host where nothing listens, unless `makeTransport` says.
 */
async function setup<T extends Transport = SmartHostTransport>(makeTransport?: (log: Logger) => Promise<T>) {
  const clock = { queuedAt: 0, at: 0 };
  const now = () => new Date(clock.queuedAt + clock.at);
  const spool = await Spool.open(await tempMailroot(), { lock: false });
  const log = silentLogger();
  const policy = { retry: [15 * MINUTE, 30 * MINUTE, 60 * MINUTE], expire: 2 * 24 * 60 * MINUTE };
  const transport = makeTransport
    ? await makeTransport(log)
    : new SmartHostTransport({ smartHost: { host: '127.0.0.1', port: await unusedPort() }, hostname: 'relay.test', timeout: 1_000, log });
  const agent = new DeliveryAgent({
    spool,
    transport,
    policy,
    events: new MailEvents(log),
    bouncer: new Bouncer({ spool, hostname: 'relay.test', copyTo: [], limitPerHour: 10, log, now }),
    maxHopCount: 15,
    delayNotify: 0,
    now,
  });
  const { id } = await spool.accept({ sender: 'ca@example.com', recipients: ['ops@example.net'] }, Readable.from([Buffer.from('Subject: held\r\n\r\nbody\r\n')]));
  clock.queuedAt = timeOfId(id)!.getTime();
  return { spool, agent, transport: transport as T, name: `${id}.eml`, clock };
}

describe('the retry state a failed attempt writes', () => {
  it('a message without an .rtr for a route known down: no connection, its first .rtr, First-Queued from its id', async () => {
    const { spool, agent, transport, name, clock } = await setup(
      async (log) => new RoutingTransport({ smartHosts: [{ host: '127.0.0.1', port: await unusedPort() }], routes: [], hostname: 'relay.test', timeout: 1_000, downTime: 60 * MINUTE, log }),
    );
    // Another message finds the only host refusing connections: the route is down.
    const { id: other } = await spool.accept({ sender: 'ca@example.com', recipients: ['ops@example.net'] }, Readable.from([Buffer.from('Subject: first\r\n\r\nbody\r\n')]));
    const first = await agent.attempt(`${other}.eml`);
    assert.deepEqual(first.kind === 'deferred' && first.routes?.map((r) => r.state), ['down']);
    const reply = transport.hostStates()[0]!.reason;

    clock.at = MINUTE;
    const outcome = await agent.attempt(name);
    assert.equal(outcome.kind, 'deferred');
    assert.deepEqual(outcome.kind === 'deferred' && outcome.routes, [{ route: 'default', state: 'untried', reply }], 'no host tried');
    assert.equal(outcome.kind === 'deferred' && outcome.retryAt.getTime(), clock.queuedAt + MINUTE + 15 * MINUTE);
    const state = (await spool.readRetryState(name))!;
    assert.equal(state.attempts, 1);
    assert.equal(state.firstQueued.getTime(), clock.queuedAt, 'dated from the accept time in its id');
    assert.equal(state.firstAttempt?.getTime(), clock.queuedAt + MINUTE);
    assert.equal(state.lastAttempt?.getTime(), clock.queuedAt + MINUTE);
    assert.equal(state.nextAttempt?.getTime(), clock.queuedAt + 16 * MINUTE);
    assert.equal(state.hostDeferred, true);
    assert.match(state.lastReply, /ECONNREFUSED/);
    assert.equal(state.lastReply, reply, 'the reason the host is down');
    await transport.close();
    await spool.close();
  });

  it('a real attempt without an .rtr: written only after it, First-Queued from its id', async () => {
    const { spool, agent, name, clock } = await setup();
    clock.at = 16 * MINUTE;
    assert.equal(await spool.readRetryState(name), undefined, 'no .rtr before the attempt');
    const outcome = await agent.attempt(name);
    assert.equal(outcome.kind === 'deferred' && outcome.retryAt.getTime(), clock.queuedAt + 16 * MINUTE + 15 * MINUTE);
    const state = (await spool.readRetryState(name))!;
    assert.equal(state.attempts, 1);
    assert.equal(state.firstQueued.getTime(), clock.queuedAt);
    assert.equal(state.lastAttempt?.getTime(), clock.queuedAt + 16 * MINUTE);
    await spool.close();
  });

  it('an id older than the expiry (a file replayed into Queue) starts its clock at the first failure, not expired', async () => {
    const { spool, agent, name, clock } = await setup();
    clock.at = 3 * 24 * 60 * MINUTE;
    const outcome = await agent.attempt(name);
    assert.equal(outcome.kind, 'deferred');
    const state = (await spool.readRetryState(name))!;
    assert.equal(state.firstQueued.getTime(), clock.queuedAt + clock.at);
    await spool.close();
  });

  it('an .rtr that appeared since the message was listed is read and continued, not overwritten', async () => {
    const { spool, agent, name, clock } = await setup();
    clock.at = 80 * MINUTE;
    const earlier = {
      firstQueued: new Date(clock.queuedAt - 60 * MINUTE),
      firstAttempt: new Date(clock.queuedAt - 60 * MINUTE),
      attempts: 3,
      lastAttempt: new Date(clock.queuedAt - 5 * MINUTE),
      nextAttempt: new Date(clock.queuedAt),
      hostDeferred: false,
      delayNotified: true,
      lastReply: '451 4.3.0 try again later',
    };
    await spool.writeRetryState(name, earlier);
    // An operator moved its .rtr in after the message was listed. The attempt is refused; the failure continues
    // the .rtr it finds instead of starting a new one.
    const outcome = await agent.attempt(name, { force: true });
    assert.equal(outcome.kind, 'deferred');
    const state = (await spool.readRetryState(name))!;
    assert.equal(state.attempts, 4);
    assert.equal(state.firstQueued.getTime(), earlier.firstQueued.getTime());
    assert.equal(state.delayNotified, true, 'a delay notice already sent is not sent again');
    await spool.close();
  });
});
