// Finds queue files: a full listing at start and every rescanInterval (the source of truth), plus hints so a
// new file is tried at once: the spool's own "queued" notice for mail it accepted, and fs.watch events for files
// an operator moves in. Hints can be missed, duplicated or late, and that is fine: the scheduler ignores a name
// it knows, and the relay's own changes (a file it queued, removed or rewrote) need no filtering here.
//
// Why fs.watch and not chokidar here: chokidar re-reads the whole directory (an lstat per entry) after each
// change event. Queue changes on every accept, attempt and delivery, so with thousands of queued files that made
// delivery quadratic. fs.watch hands over the file name for O(1) per event; the rescan covers what it misses.
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log/logger.js';
import { prepareLayout } from '../spool/layout.js';
import { isQueueMessageName, QUEUE_SUFFIX, STATE_SUFFIX, type Spool } from '../spool/spool.js';
import type { Scheduler } from './scheduler.js';

export interface QueueWatcherOptions {
  spool: Spool;
  scheduler: Scheduler;
  rescanInterval: number;
  log: Logger;
}

export class QueueWatcher {
  readonly #options: QueueWatcherOptions;
  #watcher: fs.FSWatcher | undefined;
  #rescanTimer: NodeJS.Timeout | undefined;
  #scanning: Promise<void> | undefined;
  /** .rtr files being read after a watch event (see #stateChanged). */
  readonly #checkingState = new Set<string>();
  #stopped = false;

  constructor(options: QueueWatcherOptions) {
    this.#options = options;
  }

  /** Returns at once: the first listing runs in the background so a huge Queue never delays the listener. */
  start(): void {
    this.#options.spool.onQueued((name) => this.#options.scheduler.notify(name));
    // A file moved in under the name of a message being attempted: found now, not at the next rescan.
    this.#options.scheduler.onReportedDuringAttempt((name) => this.#notifyIfPresent(name));
    this.#watch();
    void this.rescan();
    this.#rescanTimer = setInterval(() => void this.rescan(), this.#options.rescanInterval);
    this.#rescanTimer.unref();
  }

  #watch(): void {
    if (this.#watcher || this.#stopped) return;
    try {
      const queueDir = this.#options.spool.layout.queue;
      this.#watcher = fs.watch(queueDir, { persistent: false }, (_event, file) => {
        const name = file?.toString();
        if (name?.endsWith(STATE_SUFFIX)) return this.#stateChanged(name);
        if (!name || !isQueueMessageName(name)) return;
        this.#notifyIfPresent(name);
      });
    } catch (err) {
      this.#options.log.warn('cannot watch Queue; relying on rescans', { error: (err as Error).message });
      return;
    }
    this.#watcher.on('error', (err: Error) => {
      // The folder was deleted, or the event buffer overflowed: rescan now, watch again on the next rescan.
      this.#options.log.warn('Queue watcher error; rescanning', { error: err.message });
      this.#watcher?.close();
      this.#watcher = undefined;
      void this.rescan();
    });
  }

  /** Watch events for 'rename' also report removals (every delivered message): only a file that exists is news. */
  #notifyIfPresent(name: string): void {
    fs.access(path.join(this.#options.spool.layout.queue, name), (err) => {
      if (!err && !this.#stopped) this.#options.scheduler.notify(name);
    });
  }

  /**
   * An .rtr changed. When an operator made a waiting message due (`mailroot queue retry`, `flush`, `release`),
   * the scheduler is told at once. The relay's own writes land here too: those say a later time and are ignored,
   * at the cost of reading a small file once for each.
   */
  #stateChanged(stateName: string): void {
    const name = stateName.slice(0, -STATE_SUFFIX.length) + QUEUE_SUFFIX;
    const { spool, scheduler } = this.#options;
    if (!scheduler.isWaiting(name) || this.#checkingState.has(name)) return;
    this.#checkingState.add(name);
    spool
      .readRetryState(name)
      .then(
        (state) => {
          if (state?.nextAttempt && state.nextAttempt.getTime() <= Date.now()) scheduler.dueNow(name);
        },
        () => undefined, // unreadable now: the attempt at its time reads it again
      )
      .finally(() => this.#checkingState.delete(name));
  }

  /** Lists Queue and tells the scheduler about every message file; removes .rtr files left without a message. */
  rescan(): Promise<void> {
    this.#scanning ??= this.#scan().finally(() => (this.#scanning = undefined));
    return this.#scanning;
  }

  async #scan(): Promise<void> {
    const { spool, scheduler, log } = this.#options;
    try {
      const listedAt = Date.now();
      const listing = await spool.listQueue();
      if (this.#stopped) return;
      for (const name of listing.messages) scheduler.notify(name);
      scheduler.retainOnly(new Set(listing.messages), listedAt);
      for (const state of listing.orphanStates) await spool.removeState(state);
      this.#watch();
    } catch (err) {
      // The folder may have been deleted by hand: recreate the layout and try again at the next rescan.
      log.warn('cannot list Queue', { error: (err as Error).message });
      await prepareLayout(spool.layout.root).catch(() => undefined);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#rescanTimer);
    this.#watcher?.close();
    await this.#scanning;
  }
}
