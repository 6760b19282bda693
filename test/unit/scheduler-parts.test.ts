// The scheduler's two pure parts on their own: the queue of names (ready line, timers, in flight) and route
// health (down, next probe, held messages), each on Node's mock clock.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { systemClock } from '../../src/delivery/clock.js';
import { MessageQueue } from '../../src/delivery/message-queue.js';
import { RouteHealth } from '../../src/delivery/route-health.js';

describe('message queue', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 }));
  afterEach(() => mock.timers.reset());

  it('hands out ready names in arrival order, each once; a waiting one comes back on its timer', () => {
    let due = 0;
    const queue = new MessageQueue(systemClock, () => due++);
    assert.equal(queue.add('a'), true);
    assert.equal(queue.add('b'), true);
    assert.equal(queue.add('a'), false, 'known');
    assert.deepEqual(queue.take(), { name: 'a', force: false });
    assert.deepEqual(queue.inFlightNames(), ['a']);
    queue.wait('a', Date.now() + 500);
    assert.equal(queue.isWaiting('a'), true);
    assert.deepEqual(queue.take(), { name: 'b', force: false });
    assert.equal(queue.take(), undefined);
    mock.timers.tick(499);
    assert.equal(due, 0);
    mock.timers.tick(1);
    assert.equal(due, 1);
    assert.deepEqual(queue.take(), { name: 'a', force: false });
  });

  it('release() makes a waiting name ready now (forced), and its old timer is ignored', () => {
    let due = 0;
    const queue = new MessageQueue(systemClock, () => due++);
    queue.add('a');
    queue.take();
    queue.wait('a', Date.now() + 1_000);
    assert.equal(queue.release('a', { force: true }), true);
    assert.deepEqual(queue.take(), { name: 'a', force: true });
    mock.timers.tick(1_000);
    assert.equal(due, 0, 'the stale timer entry does not make it ready again');
    assert.equal(queue.take(), undefined);
    assert.equal(queue.takeWaiting('a'), false, 'in flight, not waiting');
  });

  it('force belongs to one release: a name that waits again and comes due on its timer is not forced', () => {
    const queue = new MessageQueue(systemClock, () => undefined);
    queue.add('a');
    queue.take();
    queue.wait('a', Date.now() + 1_000);
    queue.release('a', { force: true });
    assert.deepEqual(queue.take(), { name: 'a', force: true });
    queue.wait('a', Date.now() + 2_000);
    mock.timers.tick(2_000);
    assert.deepEqual(queue.take(), { name: 'a', force: false });
  });

  it('retainOnly() forgets what a listing no longer shows, except names in flight or added since', () => {
    const queue = new MessageQueue(systemClock, () => undefined);
    queue.add('old');
    queue.add('busy');
    queue.take();
    queue.take();
    queue.wait('old', Date.now() + 1_000);
    mock.timers.tick(1);
    const listedAt = Date.now();
    mock.timers.tick(1);
    queue.add('new');
    assert.deepEqual(queue.retainOnly(new Set(), listedAt), ['old']);
    assert.equal(queue.size, 2);
  });
});

describe('route health', () => {
  const clock = { at: 0, now: () => clock.at };
  const health = () => new RouteHealth({ probeInterval: 100, slowRetry: 5_000, clock });

  it('down: probed after probeInterval, or slowRetry when the host answered (421); only once a message is held', () => {
    const routes = health();
    assert.equal(routes.failed('A', 'ECONNREFUSED'), true, 'news');
    assert.equal(routes.failed('A', 'ECONNREFUSED'), false);
    assert.equal(routes.nextProbeAt(), undefined, 'nothing to probe with');
    routes.hold('m1', 'A');
    assert.equal(routes.nextProbeAt(), 100);
    routes.failed('A', '421 4.3.2 closing');
    assert.equal(routes.nextProbeAt(), 5_000);
    assert.deepEqual([...routes.dueProbes()], []);
    clock.at = 5_000;
    assert.deepEqual([...routes.dueProbes()].map((p) => [p.route, [...p.candidates]]), [['A', ['m1']]]);
    routes.probeStarted('A', 'm1');
    assert.deepEqual([...routes.dueProbes()], [], 'one probe at a time');
    assert.equal(routes.nextProbeAt(), undefined);
    routes.probeEnded('A');
    routes.inconclusive('A');
    assert.equal(routes.nextProbeAt(), 5_100);
    clock.at = 0;
  });

  it('untried: down if it was thought up, without moving the probe time of a route known down', () => {
    const routes = health();
    assert.equal(routes.untried('A', 'ECONNREFUSED'), true);
    routes.hold('m1', 'A');
    clock.at = 50;
    assert.equal(routes.untried('A', 'ECONNREFUSED'), false);
    assert.equal(routes.nextProbeAt(), 100);
    clock.at = 0;
  });

  it('up: releases the messages held for that route only; a message is held by one route at a time', () => {
    const routes = health();
    routes.failed('A', 'x');
    routes.failed('B', 'y');
    routes.hold('a1', 'A');
    routes.hold('a2', 'A');
    routes.hold('b1', 'B');
    routes.hold('moved', 'B');
    routes.hold('moved', 'A');
    routes.hold('gone', 'A');
    routes.drop('gone');
    assert.deepEqual(routes.succeeded('A'), { released: ['a1', 'a2', 'moved'], wasDown: true });
    assert.deepEqual(routes.succeeded('A'), { released: [], wasDown: false });
    assert.equal(routes.isDown('B'), true);
    assert.deepEqual(routes.states().map((s) => [s.route, s.down, s.held]), [['A', false, 0], ['B', true, 1]]);
  });
});
