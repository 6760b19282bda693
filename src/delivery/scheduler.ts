// Decides which queued message is tried when. Watch events and rescans only tell it a file name exists; the
// files themselves (and their .rtr state) are the truth, read when a message's turn comes.
//
// Smart-host health: after a failure to reach the smart host, it is "down". While down, one probe at a time is
// sent, every probeInterval; when a probe fails, every message waiting its turn is deferred without a connection
// of its own. The first success marks the host up and makes every message that was deferred because of the
// host due at once, so the backlog drains without waiting out each timer.
import TinyQueue from 'tinyqueue';
import type { Logger } from '../log/logger.js';
import type { MailEvents } from '../log/mail-events.js';
import type { AttemptOutcome, DeliveryAgent } from './agent.js';

type ItemStatus = 'ready' | 'waiting' | 'in-flight';

/** State files written at once when a failed probe is recorded on every message waiting its turn. */
const DEFERRAL_CONCURRENCY = 8;

interface Item {
  status: ItemStatus;
  dueAt: number;
  /** Skip the .rtr next-attempt check: it is a probe, or its wait was cut short because the host came back. */
  force: boolean;
  /** When notify() first saw it: a listing that began earlier may not show it (see retainOnly). */
  seenAt: number;
}

interface TimerEntry {
  at: number;
  name: string;
}

export interface SchedulerOptions {
  agent: DeliveryAgent;
  concurrency: number;
  /** How often the smart host is probed while it is down and not answering (refused, timed out). */
  probeInterval: number;
  /**
   * How often instead when it answers but refuses service (421): it is up and busy, so it is not asked 4 times a
   * second. Also the wait after a local error (disk full, a file that cannot be removed), which must not repeat a
   * delivery every probeInterval.
   */
  slowRetry: number;
  hostDescription: string;
  log: Logger;
  events: MailEvents;
}

export class Scheduler {
  readonly #options: SchedulerOptions;
  readonly #items = new Map<string, Item>();
  #ready: string[] = [];
  #readyHead = 0;
  readonly #timers = new TinyQueue<TimerEntry>([], (a, b) => a.at - b.at);
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #hostDeferred = new Set<string>();
  #hostDown = false;
  #nextProbeAt = 0;
  #probeTimer: NodeJS.Timeout | undefined;
  #deferringWaiting = false;
  #stopped = false;

  constructor(options: SchedulerOptions) {
    this.#options = options;
  }

  get size(): number {
    return this.#items.size;
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }

  get hostDown(): boolean {
    return this.#hostDown;
  }

  /**
   * A queue file exists (the spool queued it, a watch event, a rescan). Unknown names become due now; a known
   * name is a no-op, so whoever reports a file first, and however often, does not matter.
   */
  notify(name: string): void {
    if (this.#stopped || this.#items.has(name)) return;
    this.#items.set(name, { status: 'ready', dueAt: 0, force: false, seenAt: Date.now() });
    this.#pushReady(name);
    this.#pump();
  }

  /**
   * Forgets names a full listing no longer shows (moved out by an operator), unless they are being worked on or
   * were reported after the listing began (`listedAt`): those may simply be missing from it.
   */
  retainOnly(present: Set<string>, listedAt: number): void {
    for (const [name, item] of this.#items) {
      if (!present.has(name) && item.status !== 'in-flight' && item.seenAt < listedAt) {
        this.#items.delete(name);
        this.#hostDeferred.delete(name);
      }
    }
  }

  /** True when the message waits for a timer: an operator's "retry now" (see QueueWatcher) may cut that short. */
  isWaiting(name: string): boolean {
    return this.#items.get(name)?.status === 'waiting';
  }

  /**
   * An operator made a waiting message due now (its .rtr says so): it goes to the back of the ready line and its
   * attempt reads the .rtr as usual. While the host is down it is the next probe.
   */
  dueNow(name: string): void {
    const item = this.#items.get(name);
    if (!item || item.status !== 'waiting' || this.#stopped) return;
    item.status = 'ready';
    this.#pushReady(name);
    this.#pump();
  }

  /** Messages being attempted (or having a deferral recorded) right now; for the status file. */
  inFlightNames(): string[] {
    const names: string[] = [];
    for (const [name, item] of this.#items) if (item.status === 'in-flight') names.push(name);
    return names;
  }

  #pushReady(name: string): void {
    this.#ready.push(name);
  }

  #shiftReady(): string | undefined {
    if (this.#readyHead >= this.#ready.length) return undefined;
    const name = this.#ready[this.#readyHead++];
    if (this.#readyHead > 1024 && this.#readyHead * 2 > this.#ready.length) {
      this.#ready = this.#ready.slice(this.#readyHead);
      this.#readyHead = 0;
    }
    return name;
  }

  get #readyCount(): number {
    return this.#ready.length - this.#readyHead;
  }

  #pump(): void {
    if (this.#stopped) return;
    while (this.#readyCount > 0) {
      if (this.#hostDown) {
        // One probe at a time; it does not wait for a pass of deferrals to finish, so a returning host is
        // noticed within probeInterval however many messages wait.
        if (this.#inFlight.size > 0) return;
        if (Date.now() < this.#nextProbeAt) {
          this.#armProbe();
          return;
        }
      } else if (this.#inFlight.size >= this.#options.concurrency) {
        return;
      }
      const name = this.#shiftReady()!;
      const item = this.#items.get(name);
      if (!item || item.status !== 'ready') continue;
      this.#start(name, item, this.#hostDown || item.force);
    }
    if (this.#hostDown && this.#inFlight.size === 0) this.#armProbe();
  }

  #start(name: string, item: Item, force: boolean): void {
    item.status = 'in-flight';
    const probe = this.#hostDown;
    const run = this.#options.agent
      .attempt(name, { force, probe })
      .then((outcome) => this.#settle(name, outcome, probe))
      .catch((err: unknown) => {
        // An unexpected local error (disk, permissions): keep the file, try again later, keep serving others.
        // It says nothing about the host, so it is not a probe candidate (or a failed probe would pick it again
        // at once, in a tight loop), and a probe that ended this way waits out probeInterval like a failed one.
        this.#options.log.error('delivery attempt failed locally', { name, error: (err as Error).message });
        this.#hostDeferred.delete(name);
        if (probe) this.#nextProbeAt = Date.now() + this.#options.probeInterval;
        this.#wait(name, Date.now() + this.#options.slowRetry, false);
      })
      .finally(() => {
        this.#inFlight.delete(run);
        this.#pump();
      });
    this.#inFlight.add(run);
  }

  #settle(name: string, outcome: AttemptOutcome, probe: boolean): void {
    switch (outcome.kind) {
      case 'delivered':
      case 'badmail':
      case 'gone':
        this.#items.delete(name);
        this.#hostDeferred.delete(name);
        break;
      case 'not-due':
        this.#wait(name, outcome.at.getTime(), false);
        break;
      case 'deferred':
        this.#wait(name, outcome.retryAt.getTime(), false);
        if (outcome.hostDown) this.#hostDeferred.add(name);
        else this.#hostDeferred.delete(name);
        break;
    }
    if (outcome.kind === 'deferred' && outcome.hostNotContacted) {
      if (probe) this.#nextProbeAt = Date.now() + this.#options.probeInterval; // a probe that probed nothing
    } else if (outcome.kind === 'deferred' && outcome.hostDown) this.#markHostDown(outcome.reply, probe);
    else if (outcome.kind === 'delivered' || outcome.kind === 'badmail' || outcome.kind === 'deferred') this.#markHostUp();
  }

  #wait(name: string, at: number, force: boolean): void {
    const item = this.#items.get(name);
    if (!item || this.#stopped) return;
    item.status = 'waiting';
    item.dueAt = at;
    item.force = force;
    this.#timers.push({ at, name });
    this.#armTimer();
  }

  #armTimer(): void {
    const next = this.#timers.peek();
    if (!next || next.at >= this.#timerAt) return;
    clearTimeout(this.#timer);
    this.#timerAt = next.at;
    // setTimeout cannot wait longer than about 24.8 days; wake up early and look again.
    this.#timer = setTimeout(() => this.#onTimer(), Math.min(Math.max(0, next.at - Date.now()), 2 ** 31 - 1));
    this.#timer.unref();
  }

  #onTimer(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = Date.now();
    for (let entry = this.#timers.peek(); entry && entry.at <= now; entry = this.#timers.peek()) {
      this.#timers.pop();
      const item = this.#items.get(entry.name);
      // Entries are never removed from the heap; a stale one (the item moved on) is skipped here.
      if (item && item.status === 'waiting' && item.dueAt === entry.at) {
        item.status = 'ready';
        this.#pushReady(entry.name);
      }
    }
    this.#armTimer();
    this.#pump();
  }

  #markHostDown(reply: string, probe: boolean): void {
    const wasDown = this.#hostDown;
    this.#hostDown = true;
    // An SMTP reply (421 and the like) means the host is there and refusing service: ask less often.
    const answered = /^\d{3}[ -]/.test(reply);
    this.#nextProbeAt = Date.now() + (answered ? this.#options.slowRetry : this.#options.probeInterval);
    if (!wasDown) this.#options.events.hostState({ host: this.#options.hostDescription, up: false, reply });
    if (probe || wasDown) void this.#deferWaiting(reply);
    this.#armProbe();
  }

  /** The probe failed: every message waiting its turn has the same failure recorded, without a connection. */
  async #deferWaiting(reply: string): Promise<void> {
    if (this.#deferringWaiting) return;
    this.#deferringWaiting = true;
    // Only those waiting now: messages that come due meanwhile wait for the next probe, or this never ends.
    const waiting: string[] = [];
    for (let name = this.#shiftReady(); name !== undefined; name = this.#shiftReady()) waiting.push(name);
    let next = 0;
    const worker = async () => {
      while (next < waiting.length && this.#hostDown && !this.#stopped) {
        const name = waiting[next++]!;
        const item = this.#items.get(name);
        if (!item || item.status !== 'ready') continue;
        item.status = 'in-flight';
        try {
          this.#settleDeferred(name, await this.#options.agent.deferUnattempted(name, reply));
        } catch (err) {
          this.#options.log.error('cannot record deferral', { name, error: (err as Error).message });
          this.#wait(name, Date.now() + this.#options.slowRetry, false);
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: DEFERRAL_CONCURRENCY }, worker));
      // Came back (or stopping) meanwhile: the ones not yet deferred go out normally.
      for (const rest of waiting.slice(next)) {
        if (this.#items.get(rest)?.status === 'ready') this.#pushReady(rest);
      }
    } finally {
      this.#deferringWaiting = false;
      this.#pump();
    }
  }

  #settleDeferred(name: string, outcome: AttemptOutcome): void {
    if (outcome.kind === 'deferred') {
      this.#wait(name, outcome.retryAt.getTime(), false);
      this.#hostDeferred.add(name);
    } else if (outcome.kind === 'not-due') {
      this.#wait(name, outcome.at.getTime(), false);
    } else {
      this.#items.delete(name);
      this.#hostDeferred.delete(name);
    }
    if (!this.#hostDown && outcome.kind === 'deferred') {
      // The host came back while this one was being deferred: release it with the rest.
      this.#release(name);
    }
  }

  #armProbe(): void {
    if (!this.#hostDown || this.#probeTimer || this.#stopped) return;
    this.#probeTimer = setTimeout(() => {
      this.#probeTimer = undefined;
      this.#probe();
    }, Math.max(0, this.#nextProbeAt - Date.now()));
    this.#probeTimer.unref();
  }

  /** Time to probe: a message waiting its turn goes first; otherwise one deferred because of the host. */
  #probe(): void {
    if (!this.#hostDown || this.#stopped || this.#inFlight.size > 0) return;
    if (this.#readyCount === 0) {
      const candidate = this.#hostDeferred.values().next();
      if (candidate.done) {
        this.#hostDown = false; // nothing waits for the host: the next message finds out how it is
        return;
      }
      const item = this.#items.get(candidate.value);
      if (!item || item.status !== 'waiting') {
        this.#hostDeferred.delete(candidate.value);
        this.#armProbeSoon();
        return;
      }
      item.status = 'ready';
      item.force = true;
      this.#pushReady(candidate.value);
    }
    this.#pump();
  }

  #armProbeSoon(): void {
    this.#nextProbeAt = Date.now();
    this.#armProbe();
  }

  #markHostUp(): void {
    if (!this.#hostDown && this.#hostDeferred.size === 0) return;
    const wasDown = this.#hostDown;
    this.#hostDown = false;
    clearTimeout(this.#probeTimer);
    this.#probeTimer = undefined;
    if (wasDown) this.#options.events.hostState({ host: this.#options.hostDescription, up: true });
    for (const name of [...this.#hostDeferred]) this.#release(name);
  }

  #release(name: string): void {
    this.#hostDeferred.delete(name);
    const item = this.#items.get(name);
    if (!item || item.status !== 'waiting') return;
    item.status = 'ready';
    item.force = true;
    this.#pushReady(name);
  }

  /** Stops starting attempts; waits up to `grace` ms for those in flight (their files stay queued if cut). */
  async stop(grace: number): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#probeTimer);
    const settled = Promise.allSettled([...this.#inFlight]);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([settled, new Promise((resolve) => (timer = setTimeout(resolve, grace)))]);
    clearTimeout(timer);
  }
}
