// The hold of a message queued while the smart host was down is its first failed attempt, written to its .rtr
// later (Scheduler: min(retry[0], 60 s) after the hold). What gets written depends on when: before the message's
// first retry time, the hold exactly as it was; after it, the hold plus this failure. Real spool and agent, a
// clock the test sets, and a smart host port on loopback where nothing listens.
import assert from 'node:assert/strict';
import net from 'node:net';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { Bouncer } from '../../src/delivery/bouncer.js';
import { DeliveryAgent } from '../../src/delivery/agent.js';
import { silentLogger } from '../../src/log/logger.js';
import { MailEvents } from '../../src/log/mail-events.js';
import { Spool } from '../../src/spool/spool.js';
import { SmartHostTransport } from '../../src/transport/smart-host.js';
import { tempMailroot } from '../helpers/relay.js';

const MINUTE = 60_000;
const HELD_AT = Date.parse('2026-11-30T06:00:00.000Z');
const REPLY = 'ESOCKET: connect ECONNREFUSED 127.0.0.1:9';

/** A loopback port nothing listens on: a connection there is refused at once. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function setup(now: () => Date) {
  const spool = await Spool.open(await tempMailroot(), { lock: false });
  const log = silentLogger();
  const policy = { retry: [15 * MINUTE, 30 * MINUTE, 60 * MINUTE], expire: 2 * 24 * 60 * MINUTE };
  const agent = new DeliveryAgent({
    spool,
    transport: new SmartHostTransport({ smartHost: { host: '127.0.0.1', port: await closedPort() }, hostname: 'relay.test', timeout: 1_000, log }),
    policy,
    events: new MailEvents(log),
    bouncer: new Bouncer({ spool, hostname: 'relay.test', copyTo: [], limitPerHour: 10, log, now }),
    maxHopCount: 15,
    delayNotify: 0,
    now,
  });
  const { id } = await spool.accept({ sender: 'ca@example.com', recipients: ['ops@example.net'] }, Readable.from([Buffer.from('Subject: held\r\n\r\nbody\r\n')]));
  return { spool, agent, name: `${id}.eml` };
}

describe('a held message written to its .rtr', () => {
  it('a minute after the hold: the hold as it was, Next-Attempt at the hold + retry[0]', async () => {
    const { spool, agent, name } = await setup(() => new Date(HELD_AT + MINUTE));
    const outcome = await agent.deferUnattempted(name, REPLY, HELD_AT);
    assert.equal(outcome.kind, 'deferred');
    assert.ok(outcome.kind === 'deferred' && outcome.recorded);
    assert.equal(outcome.kind === 'deferred' && outcome.retryAt.getTime(), HELD_AT + 15 * MINUTE);
    const state = (await spool.readRetryState(name))!;
    assert.equal(state.attempts, 1);
    assert.equal(state.firstQueued.getTime(), HELD_AT);
    assert.equal(state.firstAttempt?.getTime(), HELD_AT);
    assert.equal(state.lastAttempt?.getTime(), HELD_AT);
    assert.equal(state.nextAttempt?.getTime(), HELD_AT + 15 * MINUTE);
    assert.equal(state.hostDeferred, true);
    assert.equal(state.lastReply, REPLY);
    await spool.close();
  });

  it('after its first retry time: the hold and this failure, the clock still from the hold', async () => {
    const now = HELD_AT + 16 * MINUTE;
    const { spool, agent, name } = await setup(() => new Date(now));
    const outcome = await agent.deferUnattempted(name, REPLY, HELD_AT);
    assert.equal(outcome.kind === 'deferred' && outcome.retryAt.getTime(), now + 30 * MINUTE, 'retry[1] after the second attempt');
    const state = (await spool.readRetryState(name))!;
    assert.equal(state.attempts, 2);
    assert.equal(state.firstQueued.getTime(), HELD_AT);
    assert.equal(state.lastAttempt?.getTime(), now);
    await spool.close();
  });

  it('an .rtr that appeared since the listing is read and continued, not overwritten', async () => {
    const now = HELD_AT + 20 * MINUTE;
    const { spool, agent, name } = await setup(() => new Date(now));
    const earlier = {
      firstQueued: new Date(HELD_AT - 60 * MINUTE),
      firstAttempt: new Date(HELD_AT - 60 * MINUTE),
      attempts: 3,
      lastAttempt: new Date(HELD_AT - 5 * MINUTE),
      nextAttempt: new Date(HELD_AT),
      hostDeferred: false,
      delayNotified: true,
      lastReply: '451 4.3.0 try again later',
    };
    await spool.writeRetryState(name, earlier);
    // Listed without an .rtr (fresh: no lookup before the attempt); an operator moved its .rtr in since. The
    // attempt is refused; the failure continues the .rtr it finds instead of starting a new one.
    const outcome = await agent.attempt(name, { fresh: true, force: true });
    assert.equal(outcome.kind, 'deferred');
    const state = (await spool.readRetryState(name))!;
    assert.equal(state.attempts, 4);
    assert.equal(state.firstQueued.getTime(), earlier.firstQueued.getTime());
    assert.equal(state.delayNotified, true, 'a delay notice already sent is not sent again');
    await spool.close();
  });
});
