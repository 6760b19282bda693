// Finds queue files: a full listing at start and every rescanInterval (the source of truth), plus chokidar
// events so a new file is tried at once (hints: they can be missed, duplicated or late, and that is fine).
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from '../log/logger.js';
import { prepareLayout } from '../spool/layout.js';
import { isQueueMessageName, type Spool } from '../spool/spool.js';
import type { Scheduler } from './scheduler.js';

export interface QueueWatcherOptions {
  spool: Spool;
  scheduler: Scheduler;
  rescanInterval: number;
  log: Logger;
}

export class QueueWatcher {
  readonly #options: QueueWatcherOptions;
  #watcher: FSWatcher | undefined;
  #rescanTimer: NodeJS.Timeout | undefined;
  #scanning: Promise<void> | undefined;
  #stopped = false;

  constructor(options: QueueWatcherOptions) {
    this.#options = options;
  }

  /** Returns at once: the first listing runs in the background so a huge Queue never delays the listener. */
  start(): void {
    const queueDir = this.#options.spool.layout.queue;
    this.#watcher = watch(queueDir, {
      ignoreInitial: true, // the rescan below finds what is already there
      depth: 0,
      ignored: (file: string) => file !== queueDir && !isQueueMessageName(path.basename(file)),
    });
    const hint = (file: string) => this.#options.scheduler.notify(path.basename(file));
    this.#watcher.on('add', hint).on('change', hint);
    this.#watcher.on('error', (err: unknown) => {
      this.#options.log.warn('Queue watcher error; rescanning', { error: (err as Error).message });
      void this.rescan();
    });
    void this.rescan();
    this.#rescanTimer = setInterval(() => void this.rescan(), this.#options.rescanInterval);
    this.#rescanTimer.unref();
  }

  /** Lists Queue and tells the scheduler about every message file; removes .rtr files left without a message. */
  rescan(): Promise<void> {
    this.#scanning ??= this.#scan().finally(() => (this.#scanning = undefined));
    return this.#scanning;
  }

  async #scan(): Promise<void> {
    const { spool, scheduler, log } = this.#options;
    try {
      const listing = await spool.listQueue();
      if (this.#stopped) return;
      for (const name of listing.messages) scheduler.notify(name);
      scheduler.retainOnly(new Set(listing.messages));
      for (const state of listing.orphanStates) await spool.removeState(state);
    } catch (err) {
      // The folder may have been deleted by hand: recreate the layout and try again at the next rescan.
      log.warn('cannot list Queue', { error: (err as Error).message });
      await prepareLayout(spool.layout.root).catch(() => undefined);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#rescanTimer);
    await this.#watcher?.close();
    await this.#scanning;
  }
}
