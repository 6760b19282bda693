// Keeps the status file current for a running relay: counts from the mail events, the smart host's state,
// what the scheduler is doing. Writing it never holds up mail: one small write a second, failures only logged.
import type { Logger } from '../log/logger.js';
import type { HostState } from '../transport/host-health.js';
import { DEFAULT_ROUTE } from '../transport/routing.js';
import type { AttemptEvent, HostStateEvent, MailEventObserver } from '../log/mail-events.js';
import { VERSION } from '../version.js';
import type { RouteState } from '../delivery/route-health.js';
import { STATUS_INTERVAL, writeStatusFile, type RelayStatus, type RouteStatus, type SmartHostStatus } from './status-file.js';

export interface StatusSource {
  root: string;
  hostname: string;
  smartHost: string;
  listening: () => string[];
  inFlight: () => string[];
  queueKnown: () => number;
  /** Each smart host's own state, once it has been used (failover); before that, the relay's overall view. */
  hostStates?: () => HostState[];
  /** Each route's state as delivery sees it (down while every host of it fails). */
  routeStates?: () => RouteState[];
  log: Logger;
}

export class StatusReporter implements MailEventObserver {
  readonly #source: StatusSource;
  readonly #startedAt = new Date().toISOString();
  readonly #counts = { accepted: 0, delivered: 0, deferred: 0, failed: 0 };
  readonly #host: SmartHostStatus;
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> | undefined;
  #failedOnce = false;

  constructor(source: StatusSource) {
    this.#source = source;
    this.#host = { host: source.smartHost, state: 'unknown', since: this.#startedAt };
  }

  received(): void {
    this.#counts.accepted++;
  }

  attempt(e: AttemptEvent): void {
    if (e.result === 'delivered' || e.result === 'partial') {
      this.#counts.delivered++;
      this.#setHost('up');
    } else if (e.result === 'deferred') {
      this.#counts.deferred++;
      this.#host.lastError = { reply: e.reply, at: new Date().toISOString() };
    }
  }

  badmail(): void {
    this.#counts.failed++;
  }

  hostState(e: HostStateEvent): void {
    // The overall smart host state is the default route's; the other routes have their own entries (routes).
    if (e.route !== undefined && e.route !== DEFAULT_ROUTE) return;
    this.#setHost(e.up ? 'up' : 'down');
    if (!e.up && e.reply) this.#host.lastError = { reply: e.reply, at: new Date().toISOString() };
  }

  #setHost(state: 'up' | 'down'): void {
    if (this.#host.state === state) return;
    this.#host.state = state;
    this.#host.since = new Date().toISOString();
  }

  snapshot(stopped = false): RelayStatus {
    const s = this.#source;
    return {
      version: VERSION,
      pid: process.pid,
      hostname: s.hostname,
      startedAt: this.#startedAt,
      updatedAt: new Date().toISOString(),
      ...(stopped ? { stopped: true } : {}),
      listening: s.listening(),
      smartHosts: this.#smartHosts(),
      routes: (s.routeStates?.() ?? []).map(routeStatus),
      counts: { ...this.#counts },
      inFlight: stopped ? [] : s.inFlight(),
      queueKnown: s.queueKnown(),
    };
  }

  #smartHosts(): SmartHostStatus[] {
    const perHost = this.#source.hostStates?.() ?? [];
    if (perHost.length === 0) return [{ ...this.#host }];
    return perHost.map((h) => ({
      host: h.host,
      state: h.condition === 'up' ? 'up' : 'down',
      since: new Date(h.since).toISOString(),
      ...(h.reason !== undefined ? { lastError: { reply: h.reason, at: new Date(h.since).toISOString() } } : {}),
      ...(h.problem !== undefined ? { problem: h.problem } : {}),
    }));
  }

  start(): void {
    void this.#write();
    this.#timer = setInterval(() => void this.#write(), STATUS_INTERVAL);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#writing;
    await this.#write(true);
  }

  #write(stopped = false): Promise<void> {
    if (this.#writing) return this.#writing;
    const writing = writeStatusFile(this.#source.root, this.snapshot(stopped))
      .then(
        () => {
          this.#failedOnce = false;
        },
        (err: unknown) => {
          // Logged once per run of failures, not every second.
          if (!this.#failedOnce) this.#source.log.warn('cannot write the status file', { error: (err as Error).message });
          this.#failedOnce = true;
        },
      )
      .finally(() => (this.#writing = undefined));
    this.#writing = writing;
    return writing;
  }
}

function routeStatus(r: RouteState): RouteStatus {
  return {
    route: r.route,
    state: r.down ? 'down' : 'up',
    since: new Date(r.since).toISOString(),
    ...(r.reply !== undefined ? { lastError: r.reply } : {}),
    held: r.held,
    ...(r.nextProbeAt !== undefined ? { nextProbeAt: new Date(r.nextProbeAt).toISOString() } : {}),
  };
}
