// The scheduler's queue of message names: which are ready (in arrival order), which wait for a time, which are
// being attempted. Only names and times: no files, no transport, no notion of routes. Driven by a Clock.
import TinyQueue from 'tinyqueue';
import type { Clock } from './clock.js';

/**
 * A name's place in the queue. `seenAt` is when add() first saw it: a listing that began earlier may not show it
 * (see retainOnly). Only a ready name has `force`: it is passed on as AttemptOptions.force, "attempt it whatever
 * its .rtr's Next-Attempt says", because its wait was cut short (its route came back). A name that waits again
 * is a new waiting item, so nothing carries over from one wait to the next.
 */
type Item =
  | { status: 'ready'; force: boolean; seenAt: number }
  | { status: 'waiting'; dueAt: number; seenAt: number }
  /** `reportedAgain`: add() was called for it during the attempt (see remove). */
  | { status: 'in-flight'; seenAt: number; reportedAgain?: true };

export interface Taken {
  name: string;
  /** Pass to attempt() as AttemptOptions.force. */
  force: boolean;
}

export class MessageQueue {
  readonly #clock: Clock;
  /** Called when waiting names became ready on their timer. */
  readonly #onDue: () => void;
  readonly #items = new Map<string, Item>();
  #ready: string[] = [];
  #readyHead = 0;
  readonly #timers = new TinyQueue<{ at: number; name: string }>([], (a, b) => a.at - b.at);
  #timer: unknown;
  #timerAt = Infinity;
  #stopped = false;

  constructor(clock: Clock, onDue: () => void) {
    this.#clock = clock;
    this.#onDue = onDue;
  }

  get size(): number {
    return this.#items.size;
  }

  get readyCount(): number {
    return this.#ready.length - this.#readyHead;
  }

  /** A new name is ready at once; a known one is left as it is (noted if in flight). Returns whether it was new. */
  add(name: string): boolean {
    if (this.#stopped) return false;
    const known = this.#items.get(name);
    if (known?.status === 'in-flight') known.reportedAgain = true;
    if (known) return false;
    this.#items.set(name, { status: 'ready', force: false, seenAt: this.#clock.now() });
    this.#ready.push(name);
    return true;
  }

  has(name: string): boolean {
    return this.#items.has(name);
  }

  isWaiting(name: string): boolean {
    return this.#items.get(name)?.status === 'waiting';
  }

  /**
   * Forgets a name (delivered, in Badmail, gone). Returns true when the name was reported again while its attempt
   * ran: that report may have been a new file moved in under the same name, which the caller should look for.
   */
  remove(name: string): boolean {
    const item = this.#items.get(name);
    this.#items.delete(name);
    return item?.status === 'in-flight' && item.reportedAgain === true;
  }

  /**
   * Forgets names a full listing no longer shows, unless they are in flight or were added after the listing
   * began (`listedAt`). Returns the names forgotten.
   */
  retainOnly(present: Set<string>, listedAt: number): string[] {
    const gone: string[] = [];
    for (const [name, item] of this.#items) {
      if (!present.has(name) && item.status !== 'in-flight' && item.seenAt < listedAt) {
        this.#items.delete(name);
        gone.push(name);
      }
    }
    return gone;
  }

  /** The next ready name, now in flight; undefined when none is ready. */
  take(): Taken | undefined {
    while (this.#readyHead < this.#ready.length) {
      const name = this.#ready[this.#readyHead++]!;
      if (this.#readyHead > 1024 && this.#readyHead * 2 > this.#ready.length) {
        this.#ready = this.#ready.slice(this.#readyHead);
        this.#readyHead = 0;
      }
      const item = this.#items.get(name);
      if (!item || item.status !== 'ready') continue; // a stale entry: the item moved on
      this.#items.set(name, { status: 'in-flight', seenAt: item.seenAt });
      return { name, force: item.force };
    }
    return undefined;
  }

  /** A waiting name taken out of its wait, now in flight (a probe); false when it is not waiting. */
  takeWaiting(name: string): boolean {
    const item = this.#items.get(name);
    if (!item || item.status !== 'waiting') return false;
    this.#items.set(name, { status: 'in-flight', seenAt: item.seenAt });
    return true;
  }

  /**
   * A waiting name made ready now. `force`: its wait was cut short, so it is attempted even before its .rtr's
   * Next-Attempt (see Item); without it, the .rtr still decides (an operator rewrote it to "due now").
   */
  release(name: string, { force }: { force: boolean }): boolean {
    const item = this.#items.get(name);
    if (!item || item.status !== 'waiting' || this.#stopped) return false;
    this.#items.set(name, { status: 'ready', force, seenAt: item.seenAt });
    this.#ready.push(name);
    return true;
  }

  /** An attempt ended and the name waits until `at` (epoch ms). */
  wait(name: string, at: number): void {
    const item = this.#items.get(name);
    if (!item || this.#stopped) return;
    this.#items.set(name, { status: 'waiting', dueAt: at, seenAt: item.seenAt });
    this.#timers.push({ at, name });
    this.#arm();
  }

  inFlightNames(): string[] {
    const names: string[] = [];
    for (const [name, item] of this.#items) if (item.status === 'in-flight') names.push(name);
    return names;
  }

  stop(): void {
    this.#stopped = true;
    this.#clock.clearTimer(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    const next = this.#timers.peek();
    if (!next || next.at >= this.#timerAt || this.#stopped) return;
    this.#clock.clearTimer(this.#timer);
    this.#timerAt = next.at;
    this.#timer = this.#clock.setTimer(() => this.#fire(), next.at - this.#clock.now());
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = this.#clock.now();
    let due = false;
    for (let entry = this.#timers.peek(); entry && entry.at <= now; entry = this.#timers.peek()) {
      this.#timers.pop();
      const item = this.#items.get(entry.name);
      // Entries are never removed from the heap; a stale one (the item moved on) is skipped here.
      if (item && item.status === 'waiting' && item.dueAt === entry.at) {
        this.#items.set(entry.name, { status: 'ready', force: false, seenAt: item.seenAt });
        this.#ready.push(entry.name);
        due = true;
      }
    }
    this.#arm();
    if (due) this.#onDue();
  }
}
