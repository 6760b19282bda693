// Finds queue files: a full listing at start and every rescanInterval (the source of truth), plus watch events
// so a new file is tried at once (hints: they can be missed, duplicated or late, and that is fine).
//
// The watch is the platform's own directory watch (fs.watch: inotify, ReadDirectoryChangesW, FSEvents) on the
// Queue folder alone. chokidar was used before; it re-reads the whole folder and stats every file in it on each
// event and adds a watch per file, which made each new message cost O(files queued): with 20 000 messages
// queued, every arrival meant 20 000 stat calls.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
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

/** After a watch error or an event without a file name, wait this long before listing Queue again. */
const RESCAN_SOON_MS = 250;
/** While the watch cannot be (re)opened, e.g. Queue was deleted by hand, try again this often. */
const REWATCH_MS = 1_000;

export class QueueWatcher {
  readonly #options: QueueWatcherOptions;
  #watcher: fs.FSWatcher | undefined;
  /** Inode of the folder being watched: a Queue deleted and recreated by hand needs a new watch. */
  #watchedIno: number | undefined;
  #rescanTimer: NodeJS.Timeout | undefined;
  #soonTimer: NodeJS.Timeout | undefined;
  #rewatchTimer: NodeJS.Timeout | undefined;
  #scanning: Promise<void> | undefined;
  #stopped = false;

  constructor(options: QueueWatcherOptions) {
    this.#options = options;
  }

  /** Returns at once: the first listing runs in the background so a huge Queue never delays the listener. */
  start(): void {
    this.#watch();
    void this.rescan();
    this.#rescanTimer = setInterval(() => void this.rescan(), this.#options.rescanInterval);
    this.#rescanTimer.unref();
  }

  #watch(): void {
    if (this.#stopped || this.#watcher) return;
    const { spool, log } = this.#options;
    try {
      this.#watchedIno = fs.statSync(spool.layout.queue).ino;
      this.#watcher = fs.watch(spool.layout.queue, { persistent: false }, (_event, filename) => this.#onEvent(filename));
    } catch (err) {
      log.warn('cannot watch Queue; relying on rescans until it can', { error: (err as Error).message });
      this.#rewatchLater();
      return;
    }
    this.#watcher.on('error', (err: Error) => {
      log.warn('Queue watcher error; rescanning', { error: err.message });
      this.#unwatch();
      this.#rewatchLater();
      this.#rescanSoon();
    });
  }

  #unwatch(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
    this.#watchedIno = undefined;
  }

  #rewatchLater(): void {
    if (this.#stopped || this.#rewatchTimer) return;
    this.#rewatchTimer = setTimeout(() => {
      this.#rewatchTimer = undefined;
      this.#watch();
    }, REWATCH_MS);
    this.#rewatchTimer.unref();
  }

  /** A file was created, renamed in or out, or changed. Only names of message files that exist are passed on. */
  #onEvent(filename: string | Buffer | null): void {
    if (this.#stopped) return;
    if (filename === null) {
      this.#rescanSoon(); // some platforms do not say which file: list the folder
      return;
    }
    const name = typeof filename === 'string' ? filename : filename.toString('utf8');
    const { scheduler, spool } = this.#options;
    if (!isQueueMessageName(name) || scheduler.isKnown(name)) return;
    // The same event kind reports a file arriving and leaving (a delivered message removed): look before telling.
    fsp.stat(spool.queuePath(name)).then(
      (stats) => {
        if (stats.isFile() && !this.#stopped) scheduler.notify(name);
      },
      () => undefined,
    );
  }

  #rescanSoon(): void {
    if (this.#stopped || this.#soonTimer) return;
    this.#soonTimer = setTimeout(() => {
      this.#soonTimer = undefined;
      void this.rescan();
    }, RESCAN_SOON_MS);
    this.#soonTimer.unref();
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
      const ino = (await fsp.stat(spool.layout.queue)).ino;
      if (this.#watcher && ino !== this.#watchedIno) this.#unwatch(); // the folder was replaced under the watch
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
    clearTimeout(this.#soonTimer);
    clearTimeout(this.#rewatchTimer);
    this.#unwatch();
    await this.#scanning;
  }
}
