// Which smart hosts are worth trying now: a circuit breaker per host. A host that fails (no connection, 421, a
// refused login, a certificate that does not verify) is "down" and skipped for downTime while the other hosts
// of its route carry the mail; then one attempt at a time is let through to it ("half-open"): success makes it
// "up" again, failure keeps it down for another downTime. Time comes from an injected clock, so the breaker is
// tested with mock timers rather than sleeps.
import type { Logger } from '../log/logger.js';

export type HostCondition = 'up' | 'down' | 'probing';

export interface HostState {
  host: string;
  condition: HostCondition;
  /** Epoch ms of the last change of condition between up and down. */
  since: number;
  /** Failures in a row. */
  failures: number;
  /** Why it is down (the host's reply or the connection error); undefined while up. */
  reason: string | undefined;
  /** 'authentication' or 'tls': the operator must act (credentials, certificate), not just wait. */
  problem: 'authentication' | 'tls' | undefined;
  /** While down: when one attempt will be let through again. */
  retryAt: number | undefined;
}

export interface HostHealthOptions {
  downTime: number;
  log: Logger;
  /** Epoch ms. */
  now?: () => number;
}

export class HostHealth {
  readonly #downTime: number;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #hosts = new Map<string, HostState>();

  constructor(options: HostHealthOptions) {
    this.#downTime = options.downTime;
    this.#log = options.log;
    this.#now = options.now ?? Date.now;
  }

  #state(host: string): HostState {
    let state = this.#hosts.get(host);
    if (!state) {
      state = { host, condition: 'up', since: this.#now(), failures: 0, reason: undefined, problem: undefined, retryAt: undefined };
      this.#hosts.set(host, state);
    }
    return state;
  }

  /**
   * May an attempt use this host now? An up host: yes. A down host whose downTime has passed: yes, to this one
   * caller (it becomes the probe; others are told no until it reports back).
   */
  claim(host: string): boolean {
    const state = this.#state(host);
    if (state.condition === 'up') return true;
    if (state.condition === 'probing') return false;
    if (this.#now() < state.retryAt!) return false;
    state.condition = 'probing';
    return true;
  }

  /** Is it down (or being probed)? For choosing the order; does not claim a probe. */
  isDown(host: string): boolean {
    return this.#state(host).condition !== 'up';
  }

  /** A claimed try that told nothing about the host (lost after the final dot): the next caller may try it. */
  unclaim(host: string): void {
    const state = this.#state(host);
    if (state.condition === 'probing') state.condition = 'down';
  }

  succeeded(host: string): void {
    const state = this.#state(host);
    if (state.condition !== 'up') {
      this.#log.info('smart host is back up', { host, downFor: `${Math.round((this.#now() - state.since) / 1000)}s`, wasDownBecause: state.reason });
      state.since = this.#now();
    }
    Object.assign(state, { condition: 'up', failures: 0, reason: undefined, problem: undefined, retryAt: undefined });
  }

  failed(host: string, reason: string, problem?: 'authentication' | 'tls'): void {
    const state = this.#state(host);
    const wasUp = state.condition === 'up';
    const changed = wasUp || state.reason !== reason;
    if (wasUp) state.since = this.#now();
    Object.assign(state, { condition: 'down', failures: state.failures + 1, reason, problem, retryAt: this.#now() + this.#downTime });
    if (!changed) {
      this.#log.debug('smart host still down', { host, reason });
    } else if (problem === 'authentication') {
      this.#log.error('smart host refused the relay\'s credentials: mail for it stays queued until the account, password or app registration is fixed', { host, reason });
    } else if (problem === 'tls') {
      this.#log.error('TLS with smart host failed (certificate, name or STARTTLS): mail for it stays queued, never sent in clear', { host, reason });
    } else {
      this.#log.warn('smart host is down: trying the next host of its route', { host, reason, retryIn: `${Math.round(this.#downTime / 1000)}s` });
    }
  }

  /** Every host seen so far, for operators (the log, `Relay.hostStates()`). */
  states(): HostState[] {
    return [...this.#hosts.values()].map((state) => ({ ...state }));
  }
}
