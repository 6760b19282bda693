// The scheduler's rules, on Node's mock clock: the concurrency limit, per-route probes (spacing, one at a time,
// beside the limit), the backlog released when a route is back, one route down not holding back another, local
// errors, stop(). The agent here is scripted: each attempt waits until the test settles it, so every step is an
// event, never a sleep. End-to-end tests (test/e2e/route-outage.test.ts and others) run the real parts.
import assert from 'node:assert/strict';
import { setImmediate as turn } from 'node:timers/promises';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import type { AttemptOptions, AttemptOutcome } from '../../src/delivery/agent.js';
import { Scheduler } from '../../src/delivery/scheduler.js';
import { silentLogger } from '../../src/log/logger.js';
import { MailEvents, type HostStateEvent } from '../../src/log/mail-events.js';
import type { RouteReport } from '../../src/transport/transport.js';

interface Call {
  name: string;
  options: AttemptOptions;
  settle: (outcome: AttemptOutcome) => void;
  fail: (err: Error) => void;
}

class ScriptedAgent {
  readonly calls: Call[] = [];
  attempt(name: string, options: AttemptOptions = {}): Promise<AttemptOutcome> {
    return new Promise((settle, fail) => this.calls.push({ name, options, settle, fail }));
  }
  /** Attempts started and not yet settled, by name. */
  pending(): string[] {
    return this.calls.filter((c) => !settled.has(c)).map((c) => c.name);
  }
  last(name: string): Call {
    const call = [...this.calls].reverse().find((c) => c.name === name);
    assert.ok(call, `an attempt of ${name}`);
    return call;
  }
  /** Settles the latest attempt of `name` and lets the scheduler react. */
  async answer(name: string, outcome: AttemptOutcome): Promise<void> {
    const call = this.last(name);
    settled.add(call);
    call.settle(outcome);
    await flush();
  }
  async throwIn(name: string, err: Error): Promise<void> {
    const call = this.last(name);
    settled.add(call);
    call.fail(err);
    await flush();
  }
  started(name: string): number {
    return this.calls.filter((c) => c.name === name).length;
  }
}
const settled = new WeakSet<Call>();

/** Lets promise callbacks run (setImmediate is not mocked). */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await turn();
}

const down = (route: string, reply = 'ECONNREFUSED'): RouteReport => ({ route, state: 'down', reply });
const untried = (route: string, reply = 'ECONNREFUSED'): RouteReport => ({ route, state: 'untried', reply });
const up = (route: string): RouteReport => ({ route, state: 'up' });
const deferred = (routes: RouteReport[], retryIn = 60_000, reply = 'ECONNREFUSED'): AttemptOutcome => ({ kind: 'deferred', retryAt: new Date(Date.now() + retryIn), reply, routes });
const delivered = (route: string): AttemptOutcome => ({ kind: 'delivered', routes: [up(route)] });

function setup(concurrency = 4) {
  const agent = new ScriptedAgent();
  const log = silentLogger();
  const events = new MailEvents(log);
  const hostEvents: HostStateEvent[] = [];
  events.observe({ hostState: (e) => hostEvents.push(e) });
  const scheduler = new Scheduler({ agent, concurrency, probeInterval: 100, slowRetry: 5_000, log, events });
  return { agent, scheduler, hostEvents };
}

describe('scheduler', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 }));
  afterEach(() => mock.timers.reset());

  it('attempts at most `concurrency` messages at once, in arrival order, the next as one ends', async () => {
    const { agent, scheduler } = setup(2);
    for (const name of ['m1', 'm2', 'm3', 'm4']) scheduler.notify(name);
    scheduler.notify('m1'); // known: no second attempt
    assert.deepEqual(agent.pending(), ['m1', 'm2']);
    await agent.answer('m1', delivered('default'));
    assert.deepEqual(agent.pending(), ['m2', 'm3']);
    await agent.answer('m2', { kind: 'gone' });
    await agent.answer('m3', delivered('default'));
    await agent.answer('m4', delivered('default'));
    assert.equal(scheduler.size, 0);
    assert.deepEqual(agent.calls.map((c) => c.options), [{ force: false }, { force: false }, { force: false }, { force: false }]);
  });

  it('a message waits for its retry time, then is attempted again', async () => {
    const { agent, scheduler } = setup();
    scheduler.notify('m1');
    await agent.answer('m1', { kind: 'deferred', retryAt: new Date(Date.now() + 1_000), reply: '451 4.2.0 busy', routes: [up('default')] });
    assert.ok(scheduler.isWaiting('m1'));
    mock.timers.tick(999);
    await flush();
    assert.equal(agent.started('m1'), 1);
    mock.timers.tick(1);
    await flush();
    assert.equal(agent.started('m1'), 2);
  });

  it('a route that is down does not hold back mail for another route', async () => {
    const { agent, scheduler, hostEvents } = setup(2);
    scheduler.notify('a1');
    await agent.answer('a1', deferred([down('corp.example')]));
    assert.equal(scheduler.isRouteDown('corp.example'), true);
    assert.deepEqual(hostEvents, [{ host: 'corp.example', route: 'corp.example', up: false, reply: 'ECONNREFUSED' }]);
    // New mail: for the other route and for the down one (whose attempt connects nowhere). All at full speed.
    for (const name of ['b1', 'a2', 'b2']) scheduler.notify(name);
    assert.deepEqual(agent.pending(), ['b1', 'a2']);
    await agent.answer('a2', deferred([untried('corp.example')]));
    await agent.answer('b1', delivered('default'));
    assert.deepEqual(agent.pending(), ['b2']);
    await agent.answer('b2', delivered('default'));
    assert.equal(scheduler.isRouteDown('corp.example'), true, 'still down: the other route says nothing about it');
    assert.equal(scheduler.isRouteDown('default'), false);
    assert.deepEqual(scheduler.routeStates().find((r) => r.route === 'corp.example')?.held, 2);
  });

  it('probes a route that does not answer every probeInterval, one message at a time, keeping its own schedule', async () => {
    const { agent, scheduler } = setup();
    scheduler.notify('a1');
    scheduler.notify('a2');
    await agent.answer('a1', deferred([down('A')]));
    await agent.answer('a2', deferred([untried('A')]));
    mock.timers.tick(99);
    await flush();
    assert.deepEqual(agent.pending(), [], 'not before probeInterval');
    mock.timers.tick(1);
    await flush();
    assert.equal(agent.pending().length, 1, 'one probe');
    const probe = agent.calls.at(-1)!;
    assert.deepEqual(probe.options, { force: true, probe: 'A' });
    mock.timers.tick(500);
    await flush();
    assert.equal(agent.pending().length, 1, 'no second probe while the first is out, however long it takes');
    await agent.answer(probe.name, deferred([down('A')]));
    mock.timers.tick(99);
    await flush();
    assert.equal(agent.pending().length, 0);
    mock.timers.tick(1);
    await flush();
    assert.equal(agent.pending().length, 1, 'the next probe probeInterval after the failed one ended');
  });

  it('probes a route whose host answers 421 only every slowRetry', async () => {
    const { agent, scheduler } = setup();
    scheduler.notify('a1');
    await agent.answer('a1', deferred([down('A', '421 4.3.2 Service not available')]));
    mock.timers.tick(4_999);
    await flush();
    assert.equal(agent.calls.length, 1, 'not every probeInterval');
    mock.timers.tick(1);
    await flush();
    assert.equal(agent.calls.length, 2);
    assert.deepEqual(agent.calls[1]!.options, { force: true, probe: 'A' });
  });

  it('releases every message held for a route at once when its probe succeeds', async () => {
    const { agent, scheduler, hostEvents } = setup(10);
    for (const name of ['a1', 'a2', 'a3', 'b1']) scheduler.notify(name);
    await agent.answer('a1', deferred([down('A')]));
    await agent.answer('a2', deferred([untried('A')]));
    await agent.answer('a3', deferred([untried('A')]));
    await agent.answer('b1', deferred([up('B')], 60_000, '451 4.2.0 mailbox busy')); // its own reason: not held
    mock.timers.tick(100);
    await flush();
    const probe = agent.calls.at(-1)!;
    assert.ok(['a1', 'a2', 'a3'].includes(probe.name));
    await agent.answer(probe.name, delivered('A'));
    const released = ['a1', 'a2', 'a3'].filter((n) => n !== probe.name);
    assert.deepEqual(agent.pending().sort(), released, 'the rest at once, not at their retry time (60 s away)');
    for (const name of released) assert.deepEqual(agent.last(name).options, { force: true });
    assert.equal(agent.started('b1'), 1, 'a message deferred for its own reasons keeps its time');
    assert.deepEqual(hostEvents.map((e) => e.up), [false, true]);
    assert.equal(scheduler.isRouteDown('A'), false);
  });

  it('a probe that hangs (a host that never greets) holds back neither the line nor other routes, even at concurrency 1', async () => {
    const { agent, scheduler } = setup(1);
    scheduler.notify('a1');
    await agent.answer('a1', deferred([down('A', 'ETIMEDOUT: Greeting never received')]));
    mock.timers.tick(100);
    await flush();
    assert.deepEqual(agent.pending(), ['a1'], 'the probe, hanging');
    for (const name of ['b1', 'b2']) scheduler.notify(name);
    assert.deepEqual(agent.pending(), ['a1', 'b1'], 'b1 starts beside the probe');
    await agent.answer('b1', delivered('B'));
    assert.deepEqual(agent.pending(), ['a1', 'b2']);
    await agent.answer('b2', delivered('B'));
    await agent.answer('a1', deferred([down('A', 'ETIMEDOUT: Greeting never received')]));
    assert.equal(scheduler.isRouteDown('A'), true);
  });

  it('waits slowRetry after a local error, and a probe that ended so is the next one after probeInterval', async () => {
    const { agent, scheduler } = setup();
    scheduler.notify('m1');
    await agent.throwIn('m1', new Error('ENOSPC: no space left on device'));
    mock.timers.tick(4_999);
    await flush();
    assert.equal(agent.started('m1'), 1, 'not every probeInterval');
    mock.timers.tick(1);
    await flush();
    assert.equal(agent.started('m1'), 2);

    scheduler.notify('a1');
    scheduler.notify('a2');
    await agent.answer('a1', deferred([down('A')]));
    await agent.answer('a2', deferred([untried('A')]));
    mock.timers.tick(100);
    await flush();
    const probe = agent.calls.at(-1)!.name;
    await agent.throwIn(probe, new Error('EACCES'));
    mock.timers.tick(99);
    await flush();
    const before = agent.calls.length;
    mock.timers.tick(1);
    await flush();
    assert.equal(agent.calls.length, before + 1, 'the other held message is the next probe');
  });

  it('stop(): starts nothing more, and waits at most `grace` for attempts in flight', async () => {
    const { agent, scheduler } = setup(1);
    scheduler.notify('m1');
    scheduler.notify('m2');
    let stopped = false;
    const stopping = scheduler.stop(1_000).then(() => (stopped = true));
    await agent.answer('m1', deferred([up('default')], 10));
    scheduler.notify('m3');
    mock.timers.tick(10);
    await flush();
    assert.deepEqual(agent.calls.map((c) => c.name), ['m1'], 'nothing started after stop()');
    assert.equal(stopped, true, 'the one in flight ended: stop() returns');
    await stopping;

    const other = setup(1);
    other.scheduler.notify('h1');
    let done = false;
    const hanging = other.scheduler.stop(1_000).then(() => (done = true));
    mock.timers.tick(999);
    await flush();
    assert.equal(done, false);
    mock.timers.tick(1);
    await flush();
    assert.equal(done, true, 'a hanging attempt is left after grace');
    await hanging;
  });

  it('an operator\'s "retry now" of a message held for a route that is down makes it that route\'s next probe, at once', async () => {
    const { agent, scheduler } = setup();
    scheduler.notify('a1');
    scheduler.notify('a2');
    await agent.answer('a1', deferred([down('A', '421 4.3.2 busy')])); // next probe in slowRetry (5 s)
    await agent.answer('a2', deferred([untried('A')]));
    scheduler.dueNow('a2');
    await flush();
    assert.deepEqual(agent.pending(), ['a2']);
    assert.deepEqual(agent.last('a2').options, { force: true, probe: 'A' });
    scheduler.notify('b1');
    scheduler.dueNow('b1'); // not waiting: nothing changes
    await agent.answer('b1', deferred([up('B')], 1_000, '451 4.2.0 busy'));
    scheduler.dueNow('b1');
    await flush();
    assert.deepEqual(agent.last('b1').options, { force: false }, 'a message of a route that is up just joins the line');
  });
});
