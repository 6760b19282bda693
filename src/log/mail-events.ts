// One function per mail event, so every accepted message and every attempt is one stable, greppable log line.
import type { Logger } from './logger.js';

export interface ReceivedEvent {
  id: string;
  /** The client's IP address, or "pickup". */
  client: string;
  /** The Pickup file's name, for messages taken from Pickup. */
  file?: string;
  from: string;
  recipients: string[];
  size: number;
  /** The recipients in localDomains, written to Drop instead of Queue. */
  local?: string[];
}

export interface AttemptEvent {
  id: string;
  result: 'delivered' | 'partial' | 'deferred' | 'failed';
  reply: string;
  recipients?: string[];
  nextAttemptAt?: Date;
  attempts?: number;
  /** The smart host that answered (or last failed). */
  host?: string;
}

export interface BadmailEvent {
  id: string;
  reason: string;
  recipients: string[];
  file?: string;
}

export interface HostStateEvent {
  /** The route's hosts as operators name them ("smtp.example:587", "hosts (route corp.example)"). */
  host: string;
  /** The route ("default" or its domain), when the event is a route's. */
  route?: string;
  up: boolean;
  reply?: string;
}

/** Told of every mail event after it is logged (the status file, alerts); must not throw or block. */
export interface MailEventObserver {
  received?(e: ReceivedEvent): void;
  attempt?(e: AttemptEvent): void;
  badmail?(e: BadmailEvent): void;
  hostState?(e: HostStateEvent): void;
}

export class MailEvents {
  readonly #log: Logger;
  readonly #observers: MailEventObserver[] = [];

  constructor(log: Logger) {
    this.#log = log;
  }

  observe(observer: MailEventObserver): void {
    this.#observers.push(observer);
  }

  received(e: ReceivedEvent): void {
    this.#log.info('accepted', { ...e });
    for (const o of this.#observers) o.received?.(e);
  }

  /** `quiet`: a repeat of what the smart host's state already says (a probe failed again): debug, not warn. */
  attempt(e: AttemptEvent, options: { quiet?: boolean } = {}): void {
    const level = e.result === 'delivered' ? 'info' : options.quiet ? 'debug' : 'warn';
    this.#log.log(level, 'attempt', { ...e, nextAttemptAt: e.nextAttemptAt?.toISOString() });
    for (const o of this.#observers) o.attempt?.(e);
  }

  badmail(e: BadmailEvent): void {
    this.#log.warn('badmail', { ...e });
    for (const o of this.#observers) o.badmail?.(e);
  }

  hostState(e: HostStateEvent): void {
    this.#log.log(e.up ? 'info' : 'warn', e.up ? 'smart host is up' : 'smart host is down', { ...e });
    for (const o of this.#observers) o.hostState?.(e);
  }
}
