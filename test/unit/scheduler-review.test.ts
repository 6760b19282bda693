// Scheduler edge cases found in review, on a hand-driven clock (Node's mock timers would loop for ever
// inside tick() on the very defect the first test shows: a 0 ms timer re-armed from its own callback).
import assert from 'node:assert/strict';
import { setImmediate as turn } from 'node:timers/promises';
import { describe, it } from 'node:test';
import type { AttemptOptions, AttemptOutcome } from '../../src/delivery/agent.js';
import type { Clock } from '../../src/delivery/clock.js';
import { Scheduler } from '../../src/delivery/scheduler.js';
import { silentLogger } from '../../src/log/logger.js';
import { MailEvents } from '../../src/log/mail-events.js';

class ManualClock implements Clock {
  t = 1_000_000;
  timers = new Map<number, { at: number; fn: () => void }>();
  #id = 0;
  /** setTimer calls, with their delay. */
  armed: number[] = [];
  now(): number {
    return this.t;
  }
  setTimer(fn: () => void, ms: number): unknown {
    const id = ++this.#id;
    this.armed.push(ms);
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  }
  clearTimer(timer: unknown): void {
    this.timers.delete(timer as number);
  }
  /** Moves time to t+ms, running each timer due by then once (those it arms run on a later call). */
  advance(ms: number): void {
    this.t += ms;
    const due = [...this.timers].filter(([, timer]) => timer.at <= this.t).sort((a, b) => a[1].at - b[1].at);
    for (const [id, timer] of due) {
      this.timers.delete(id);
      timer.fn();
    }
  }
}

interface Call { name: string; options: AttemptOptions; settle: (o: AttemptOutcome) => void }
class ScriptedAgent {
  calls: Call[] = [];
  attempt(name: string, options: AttemptOptions = {}): Promise<AttemptOutcome> {
    return new Promise((settle) => this.calls.push({ name, options, settle }));
  }
}
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await turn();
}

describe('scheduler review', () => {
  it('a due probe whose only held message is not waiting (ready behind a full line, or in flight) does not spin a 0 ms timer', async () => {
    const clock = new ManualClock();
    const agent = new ScriptedAgent();
    const log = silentLogger();
    const scheduler = new Scheduler({ agent, concurrency: 1, probeInterval: 100, slowRetry: 5_000, log, events: new MailEvents(log), clock });
    scheduler.notify('a1');
    await flush();
    // Route A down; a1 held for it, its own retry time at the same moment as the route's next probe.
    agent.calls[0]!.settle({ kind: 'deferred', retryAt: new Date(clock.now() + 100), reply: 'ECONNREFUSED', routes: [{ route: 'A', state: 'down', reply: 'ECONNREFUSED' }] });
    await flush();
    scheduler.notify('b1'); // the one ordinary slot: a long delivery for another route
    await flush();
    assert.deepEqual(agent.calls.map((c) => c.name), ['a1', 'b1']);
    clock.advance(100); // a1's own timer: ready, but the line is full; A's probe is due, with no candidate waiting
    await flush();
    clock.armed.length = 0;
    for (let i = 0; i < 50; i++) {
      clock.advance(1);
      await flush();
    }
    const zero = clock.armed.filter((ms) => ms <= 0).length;
    assert.ok(zero < 5, `the scheduler armed ${zero} timers of 0 ms in 50 ms while nothing could start`);
  });
});
