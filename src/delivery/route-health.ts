// Which routes are down as delivery sees them, when each may be probed next, and which messages wait for each.
// A route is down when an attempt found every one of its hosts failing (or known down). While down it is probed
// by one message at a time: again after probeInterval when its hosts did not answer (refused, timed out), after
// slowRetry when one answered and refused service (a 421: it is up and busy, and is not asked 4 times a
// second). When any attempt through it succeeds, every message held for it is released at once. Pure: names,
// routes and times only, from an injected clock.
import type { Clock } from './clock.js';

export interface RouteHealthOptions {
  probeInterval: number;
  slowRetry: number;
  clock: Pick<Clock, 'now'>;
}

/** One route's condition, for operators (status file). */
export interface RouteState {
  route: string;
  down: boolean;
  /** Epoch ms of the last change between up and down. */
  since: number;
  /** Why it is down: what its hosts last answered. */
  reply: string | undefined;
  /** While down: when the next probe may start (it starts once a message waits for the route). */
  nextProbeAt: number | undefined;
  /** Messages held for it: deferred because it was down, released when it is back. */
  held: number;
}

interface Route {
  down: boolean;
  since: number;
  reply: string | undefined;
  nextProbeAt: number;
  /** The message being attempted as this route's probe. */
  probing: string | undefined;
  held: Set<string>;
}

/** An SMTP reply (421 and the like): the host is there, refusing service. */
const SMTP_REPLY = /^\d{3}[ -]/;

export class RouteHealth {
  readonly #options: RouteHealthOptions;
  readonly #routes = new Map<string, Route>();
  /** Which route holds each held message (one at most). */
  readonly #heldBy = new Map<string, string>();

  constructor(options: RouteHealthOptions) {
    this.#options = options;
  }

  #route(name: string): Route {
    let route = this.#routes.get(name);
    if (!route) {
      route = { down: false, since: this.#options.clock.now(), reply: undefined, nextProbeAt: 0, probing: undefined, held: new Set() };
      this.#routes.set(name, route);
    }
    return route;
  }

  isDown(route: string): boolean {
    return this.#routes.get(route)?.down ?? false;
  }

  /**
   * An attempt found every host of the route failing. Returns true when that is news (it was up). `reply` says
   * when to probe next: an SMTP reply (421) means slowRetry, anything else probeInterval.
   */
  failed(route: string, reply: string, busy = SMTP_REPLY.test(reply)): boolean {
    const state = this.#route(route);
    const wasUp = !state.down;
    if (wasUp) state.since = this.#options.clock.now();
    state.down = true;
    state.reply = reply;
    const wait = busy ? this.#options.slowRetry : this.#options.probeInterval;
    state.nextProbeAt = this.#options.clock.now() + wait;
    return wasUp;
  }

  /**
   * An attempt tried no host of the route: all are known down. It is down (news only when delivery thought it
   * up); the probe schedule it has stands.
   */
  untried(route: string, reply: string): boolean {
    const state = this.#route(route);
    if (state.down) return false;
    return this.failed(route, reply);
  }

  /** A probe that told nothing about its route (a local error): the next one after probeInterval. */
  inconclusive(route: string): void {
    const state = this.#route(route);
    if (state.down) state.nextProbeAt = this.#options.clock.now() + this.#options.probeInterval;
  }

  /**
   * A host of the route answered. Returns the messages that were held for it (now released, to be attempted at
   * once) and whether it was down.
   */
  succeeded(route: string): { released: string[]; wasDown: boolean } {
    const state = this.#routes.get(route);
    if (!state || (!state.down && state.held.size === 0)) return { released: [], wasDown: false };
    const wasDown = state.down;
    if (wasDown) state.since = this.#options.clock.now();
    state.down = false;
    state.reply = undefined;
    const released = [...state.held];
    for (const name of released) this.#heldBy.delete(name);
    state.held.clear();
    return { released, wasDown };
  }

  /** The message waits for the route (deferred because it was down); it is released when the route is back. */
  hold(name: string, route: string): void {
    const previous = this.#heldBy.get(name);
    if (previous !== undefined && previous !== route) this.#routes.get(previous)?.held.delete(name);
    this.#heldBy.set(name, route);
    this.#route(route).held.add(name);
  }

  /** The message no longer waits for any route (delivered, gone, deferred for its own reasons). */
  drop(name: string): void {
    const route = this.#heldBy.get(name);
    if (route === undefined) return;
    this.#heldBy.delete(name);
    this.#routes.get(route)?.held.delete(name);
  }

  /** The route the message is held for, if any. */
  heldBy(name: string): string | undefined {
    return this.#heldBy.get(name);
  }

  /** An operator wants this held message tried now: it is the route's next probe, due at once. */
  probeNext(route: string, name: string): void {
    const state = this.#route(route);
    state.held = new Set([name, ...state.held]);
    this.#heldBy.set(name, route);
    state.nextProbeAt = Math.min(state.nextProbeAt, this.#options.clock.now());
  }

  /**
   * Routes down, not being probed, whose probe time has come by `now`, each with the messages that could be its
   * probe. The caller passes the same `now` to nextProbeAt, so that no route falls due between the two.
   */
  *dueProbes(now = this.#options.clock.now()): Generator<{ route: string; candidates: Iterable<string> }> {
    for (const [route, state] of this.#routes) {
      if (state.down && state.probing === undefined && state.nextProbeAt <= now && state.held.size > 0) {
        yield { route, candidates: state.held };
      }
    }
  }

  /**
   * The earliest time after `after` a probe is due and could start (a route down, a message held for it, none
   * probing). A route already due whose held messages are all ready or in flight is not counted: the end of
   * their attempts wakes the scheduler anyway.
   */
  nextProbeAt(after = -Infinity): number | undefined {
    let next: number | undefined;
    for (const state of this.#routes.values()) {
      if (!state.down || state.probing !== undefined || state.held.size === 0 || state.nextProbeAt <= after) continue;
      if (next === undefined || state.nextProbeAt < next) next = state.nextProbeAt;
    }
    return next;
  }

  probeStarted(route: string, name: string): void {
    this.#route(route).probing = name;
  }

  probeEnded(route: string): void {
    this.#route(route).probing = undefined;
  }

  states(): RouteState[] {
    return [...this.#routes].map(([route, state]) => ({
      route,
      down: state.down,
      since: state.since,
      reply: state.reply,
      nextProbeAt: state.down ? state.nextProbeAt : undefined,
      held: state.held.size,
    }));
  }
}
