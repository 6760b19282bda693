// When a Pickup file is finished. A writer may write straight into Pickup, slowly, without a rename at the end
// (System.Net.Mail does). A file is ready once its size, modification time and identity have been seen
// unchanged for `settleTime`, measured on this process's monotonic clock (not the file's mtime, which copies
// preserve and clocks skew). Pure bookkeeping: the caller stats the files and owns the clock.
import type { Stats } from 'node:fs';

export interface FileSignature {
  size: number;
  mtimeMs: number;
  ino: number;
}

export function signatureOf(stats: Stats): FileSignature {
  return { size: stats.size, mtimeMs: stats.mtimeMs, ino: stats.ino };
}

interface Entry {
  /** undefined after defer(): the file has not been looked at since. */
  signature: FileSignature | undefined;
  /** When this signature was first seen. */
  since: number;
  /** Not ready before this, whatever the signature (a claim that failed waits here). */
  notBefore: number;
}

function same(a: FileSignature | undefined, b: FileSignature): boolean {
  return a !== undefined && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino;
}

export class SettleTracker {
  readonly #settleTime: number;
  readonly #entries = new Map<string, Entry>();

  constructor(settleTime: number) {
    this.#settleTime = settleTime;
  }

  /** Records what a scan saw of `name` at `now`; true once it has been unchanged for settleTime. */
  observe(name: string, signature: FileSignature, now: number): boolean {
    let entry = this.#entries.get(name);
    if (!entry || !same(entry.signature, signature)) {
      entry = { signature, since: now, notBefore: entry?.notBefore ?? 0 };
      this.#entries.set(name, entry);
    }
    return now - entry.since >= this.#settleTime && now >= entry.notBefore;
  }

  /** Do not report `name` ready before now + delay, and only after it has settled again from then. */
  defer(name: string, now: number, delay: number): void {
    this.#entries.set(name, { signature: undefined, since: now, notBefore: now + delay });
  }

  forget(name: string): void {
    this.#entries.delete(name);
  }

  /** Forgets names a full listing no longer shows. */
  retainOnly(present: Set<string>): void {
    for (const name of this.#entries.keys()) if (!present.has(name)) this.#entries.delete(name);
  }

  /** The earliest time a tracked file may become ready: when the next look is worth it. */
  nextDue(): number | undefined {
    let due: number | undefined;
    for (const entry of this.#entries.values()) {
      const at = entry.signature === undefined ? entry.notBefore : Math.max(entry.since + this.#settleTime, entry.notBefore);
      if (due === undefined || at < due) due = at;
    }
    return due;
  }

  get names(): string[] {
    return [...this.#entries.keys()];
  }
}
