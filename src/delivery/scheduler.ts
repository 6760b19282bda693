// Decides which queued message is tried when. Watch events and rescans only tell it a file name exists; the
// files themselves (and their .rtr state) are the truth, read by the agent when a message's turn comes.
//
// Two parts, each with its own tests: MessageQueue (ready line, timers, what is in flight) and RouteHealth
// (which routes are down, when each is probed next, which messages wait for each). Here they meet the agent:
// up to `concurrency` ordinary attempts at once, in arrival order; besides them, one probe at a time per route
// that is down, so that a route whose host hangs until the timeout holds up neither other routes nor the line.
//
// An ordinary attempt of a message for a route that is down connects nowhere (the transport knows its hosts are
// down) and records the deferral at once; the message is then held for the route. When the route's probe (or
// any attempt through it) succeeds, every message held for it is due at once, so the backlog drains without
// waiting out each retry time.
import type { Logger } from '../log/logger.js';
import type { MailEvents } from '../log/mail-events.js';
import type { RouteReport } from '../transport/transport.js';
import type { AttemptOptions, AttemptOutcome } from './agent.js';
import { systemClock, type Clock } from './clock.js';
import { MessageQueue } from './message-queue.js';
import { RouteHealth, type RouteState } from './route-health.js';

export interface SchedulerOptions {
  agent: { attempt(name: string, options?: AttemptOptions): Promise<AttemptOutcome> };
  /** Ordinary attempts at once (probes of routes that are down come on top: one per such route). */
  concurrency: number;
  /** How often a route that is down and not answering (refused, timed out) is probed. */
  probeInterval: number;
  /**
   * How often instead when its host answers but refuses service (421): it is up and busy. Also the wait after
   * a local error (disk full, a file that cannot be removed), which must not repeat a delivery every
   * probeInterval.
   */
  slowRetry: number;
  /** How a route is named in the log ("default" -> "127.0.0.1:2525, 127.0.0.1:2526"). */
  describeRoute?: (route: string) => string;
  log: Logger;
  events: MailEvents;
  clock?: Clock;
}

export class Scheduler {
  readonly #options: SchedulerOptions;
  readonly #clock: Clock;
  readonly #queue: MessageQueue;
  readonly #routes: RouteHealth;
  readonly #running = new Set<Promise<void>>();
  /** Ordinary attempts in flight (probes not counted). */
  #ordinary = 0;
  #probeTimer: unknown;
  #probeTimerAt = Infinity;
  #stopped = false;
  readonly #reportedDuringAttempt: Array<(name: string) => void> = [];

  constructor(options: SchedulerOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#queue = new MessageQueue(this.#clock, () => this.#pump());
    this.#routes = new RouteHealth({ probeInterval: options.probeInterval, slowRetry: options.slowRetry, clock: this.#clock });
  }

  get size(): number {
    return this.#queue.size;
  }

  /** Attempts in flight, probes included. */
  get inFlight(): number {
    return this.#running.size;
  }

  /** Is this route ("default", or a route's domain) down as delivery sees it? */
  isRouteDown(route: string): boolean {
    return this.#routes.isDown(route);
  }

  /** Each route delivery has used: down or up, why, the next probe, the messages held for it. */
  routeStates(): RouteState[] {
    return this.#routes.states();
  }

  /**
   * A queue file exists (the spool queued it, a watch event, a rescan). Unknown names become due now; a known
   * name is a no-op, so whoever reports a file first, and however often, does not matter.
   */
  notify(name: string): void {
    if (this.#stopped || !this.#queue.add(name)) return;
    this.#pump();
  }

  /**
   * Forgets names a full listing no longer shows (moved out by an operator), unless they are being worked on or
   * were reported after the listing began (`listedAt`): those may simply be missing from it.
   */
  retainOnly(present: Set<string>, listedAt: number): void {
    for (const name of this.#queue.retainOnly(present, listedAt)) this.#routes.drop(name);
  }

  /**
   * Called with a name that was reported (notify) while an attempt of it was running, once that attempt has taken
   * its file out of Queue (delivered, Badmail, gone): the report may have been a new file an operator moved in
   * under the same name, which the listener looks for. Usually it was the echo of the relay's own write.
   */
  onReportedDuringAttempt(listener: (name: string) => void): void {
    this.#reportedDuringAttempt.push(listener);
  }

  /** True when the message waits for a timer: an operator's "retry now" (see QueueWatcher) may cut that short. */
  isWaiting(name: string): boolean {
    return this.#queue.isWaiting(name);
  }

  /**
   * An operator made a waiting message due now (its .rtr says so): it joins the ready line, or, when it waits
   * for a route that is down, it is that route's next probe (an ordinary attempt would connect nowhere).
   */
  dueNow(name: string): void {
    const route = this.#routes.heldBy(name);
    if (route !== undefined && this.#routes.isDown(route) && this.#queue.isWaiting(name)) {
      this.#routes.probeNext(route, name);
      this.#pump();
      return;
    }
    if (this.#queue.release(name, { force: false })) this.#pump();
  }

  /** Messages being attempted right now; for the status file. */
  inFlightNames(): string[] {
    return this.#queue.inFlightNames();
  }

  #pump(): void {
    if (this.#stopped) return;
    // One reading of the clock for both: a route falling due between them would get neither a probe nor a timer.
    const now = this.#clock.now();
    for (const { route, candidates } of this.#routes.dueProbes(now)) this.#startProbe(route, candidates);
    while (this.#ordinary < this.#options.concurrency) {
      const next = this.#queue.take();
      if (!next) break;
      this.#ordinary++;
      this.#run(next.name, { force: next.force }, undefined);
    }
    this.#armProbe(now);
  }

  /** The route's probe: one of the messages held for it, attempted now whatever its own retry time. */
  #startProbe(route: string, candidates: Iterable<string>): void {
    for (const name of [...candidates]) {
      if (this.#queue.takeWaiting(name)) {
        this.#routes.probeStarted(route, name);
        this.#run(name, { force: true, probe: route }, route);
        return;
      }
      // Not waiting (ready or in flight: it is attempted anyway) or gone: not this route's to probe with.
      if (!this.#queue.has(name)) this.#routes.drop(name);
    }
  }

  #run(name: string, options: AttemptOptions, probeOf: string | undefined): void {
    const run = this.#options.agent
      .attempt(name, options)
      .then(
        (outcome) => this.#settle(name, outcome, probeOf),
        (err: unknown) => {
          // An unexpected local error (disk, permissions): keep the file, try again later, keep serving others.
          // It says nothing about any route; a probe that ended this way waits out probeInterval.
          this.#options.log.error('delivery attempt failed locally', { name, error: (err as Error).message });
          this.#routes.drop(name);
          if (probeOf !== undefined) {
            this.#routes.probeEnded(probeOf);
            this.#routes.inconclusive(probeOf);
          }
          this.#queue.wait(name, this.#clock.now() + this.#options.slowRetry);
        },
      )
      .finally(() => {
        this.#running.delete(run);
        if (probeOf === undefined) this.#ordinary--;
        this.#pump();
      });
    this.#running.add(run);
  }

  #settle(name: string, outcome: AttemptOutcome, probeOf: string | undefined): void {
    if (probeOf !== undefined) this.#routes.probeEnded(probeOf);
    switch (outcome.kind) {
      case 'delivered':
      case 'badmail':
      case 'gone':
        this.#routes.drop(name);
        if (this.#queue.remove(name)) for (const listener of this.#reportedDuringAttempt) listener(name);
        break;
      case 'not-due':
        this.#queue.wait(name, outcome.at.getTime());
        break;
      case 'deferred': {
        this.#queue.wait(name, outcome.retryAt.getTime());
        const heldBy = outcome.routes?.find((r) => r.state !== 'up');
        if (heldBy) this.#routes.hold(name, heldBy.route);
        else this.#routes.drop(name);
        break;
      }
    }
    const routes = 'routes' in outcome ? (outcome.routes ?? []) : [];
    for (const report of routes) this.#learn(report);
    if (probeOf !== undefined && !routes.some((r) => r.route === probeOf && r.state !== 'untried')) this.#routes.inconclusive(probeOf);
  }

  #learn(report: RouteReport): void {
    const { route, state } = report;
    const host = this.#options.describeRoute?.(route) ?? route;
    if (state === 'up') {
      const { released, wasDown } = this.#routes.succeeded(route);
      for (const name of released) this.#queue.release(name, { force: true });
      if (wasDown) this.#options.events.hostState({ host, route, up: true });
      return;
    }
    const reply = report.reply ?? '';
    const news = state === 'down' ? this.#routes.failed(route, reply, report.busy === true || undefined) : this.#routes.untried(route, reply);
    if (news) this.#options.events.hostState({ host, route, up: false, reply });
  }

  #armProbe(now: number): void {
    // #pump has just started every probe due by `now` that could start: one due but not started waits for an
    // attempt to end (its held messages are all ready or in flight).
    const at = this.#routes.nextProbeAt(now);
    if (at === undefined || this.#stopped) return;
    if (this.#probeTimer !== undefined && at >= this.#probeTimerAt) return;
    this.#clock.clearTimer(this.#probeTimer);
    this.#probeTimerAt = at;
    this.#probeTimer = this.#clock.setTimer(() => {
      this.#probeTimer = undefined;
      this.#probeTimerAt = Infinity;
      this.#pump();
    }, at - this.#clock.now());
  }

  /** Stops starting attempts; waits up to `grace` ms for those in flight (their files stay queued if cut). */
  async stop(grace: number): Promise<void> {
    this.#stopped = true;
    this.#queue.stop();
    this.#clock.clearTimer(this.#probeTimer);
    this.#probeTimer = undefined;
    const settled = Promise.allSettled([...this.#running]);
    let timer: unknown;
    await Promise.race([settled, new Promise((resolve) => (timer = this.#clock.setTimer(() => resolve(undefined), grace)))]);
    this.#clock.clearTimer(timer);
  }
}
