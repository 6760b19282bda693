// Finds Pickup files that are ready to take. A full listing at start, every rescanInterval and whenever a
// watch event hints at a change; each listed file is stat'ed and handed on once it has settled (settle.ts).
// While files are settling, one timer brings the next listing forward to when the first of them may be ready.
//
// The hint is one fs.watch on the folder, not chokidar: events only trigger a listing, so their content, loss
// or repetition does not matter, and chokidar watches and stats every file in the folder on every change
// (1 000 files dropped at once: 30 s instead of 10 s here). A watch that fails (folder deleted, a network
// share that sends no events) is dropped and tried again at the next rescan; the listings carry on.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../log/logger.js';
import { prepareLayout } from '../spool/spool.js';
import { isPickupFileName } from './names.js';
import { SettleTracker, signatureOf } from './settle.js';

export interface PickupWatcherOptions {
  dir: string;
  /** The mailroot, recreated when Pickup has been deleted by hand. */
  root: string;
  settleTime: number;
  rescanInterval: number;
  log: Logger;
  /** Names already handed on and not finished with: not looked at. */
  isBusy: (name: string) => boolean;
  onReady: (name: string) => void;
  /** false: listings only (tests of the rescan, network shares where events never come). */
  watch?: boolean;
}

/** Events arriving together (1 000 files dropped at once) make one listing. */
const HINT_DELAY = 50;

export class PickupWatcher {
  readonly #options: PickupWatcherOptions;
  readonly #tracker: SettleTracker;
  #watcher: fs.FSWatcher | undefined;
  #rescanTimer: NodeJS.Timeout | undefined;
  #hintTimer: NodeJS.Timeout | undefined;
  #wakeTimer: NodeJS.Timeout | undefined;
  #wakeAt = Infinity;
  #scanning: Promise<void> | undefined;
  #next: Promise<void> | undefined;
  #stopped = false;

  constructor(options: PickupWatcherOptions) {
    this.#options = options;
    this.#tracker = new SettleTracker(options.settleTime);
  }

  start(): void {
    this.#watch();
    void this.rescan();
    this.#rescanTimer = setInterval(() => {
      if (!this.#watcher) this.#watch();
      void this.rescan();
    }, this.#options.rescanInterval);
    this.#rescanTimer.unref();
  }

  #watch(): void {
    if (this.#options.watch === false || this.#stopped) return;
    try {
      const watcher = fs.watch(this.#options.dir, { persistent: false }, (_event, name) => {
        if (name === null || isPickupFileName(String(name))) this.#hint();
      });
      watcher.on('error', (err: Error) => {
        this.#options.log.warn('Pickup watch failed; listing every rescanInterval until it works again', { error: err.message });
        watcher.close();
        if (this.#watcher === watcher) this.#watcher = undefined;
        this.#hint();
      });
      this.#watcher = watcher;
    } catch (err) {
      this.#options.log.warn('cannot watch Pickup; listing every rescanInterval', { error: (err as Error).message });
    }
  }

  /** Names seen in Pickup and waiting to settle (or to be retried). */
  get pending(): string[] {
    return this.#tracker.names;
  }

  /** Lists Pickup; resolves once a listing that started after this call is done. */
  rescan(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    if (!this.#scanning) {
      this.#scanning = this.#scan().finally(() => (this.#scanning = undefined));
      return this.#scanning;
    }
    this.#next ??= this.#scanning.then(() => {
      this.#next = undefined;
      return this.rescan();
    });
    return this.#next;
  }

  /** The file could not be taken yet (still open on Windows): look again after `delay`, once settled again. */
  defer(name: string, delay: number): void {
    this.#tracker.defer(name, performance.now(), delay);
    this.#scheduleWake();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#rescanTimer);
    clearTimeout(this.#hintTimer);
    clearTimeout(this.#wakeTimer);
    this.#watcher?.close();
    this.#watcher = undefined;
    await this.#scanning;
  }

  #hint(): void {
    if (this.#stopped || this.#hintTimer) return;
    this.#hintTimer = setTimeout(() => {
      this.#hintTimer = undefined;
      void this.rescan();
    }, HINT_DELAY);
    this.#hintTimer.unref();
  }

  async #scan(): Promise<void> {
    const { dir, root, isBusy, onReady, log } = this.#options;
    let names: string[];
    try {
      const entries = await fsp.readdir(dir, { withFileTypes: true });
      names = entries.filter((e) => !e.isDirectory() && isPickupFileName(e.name)).map((e) => e.name);
    } catch (err) {
      log.warn('cannot list Pickup', { error: (err as Error).message });
      await prepareLayout(root).catch(() => undefined);
      return;
    }
    const present = new Set(names);
    for (const name of names) {
      if (this.#stopped) return;
      if (isBusy(name)) continue;
      let stats;
      try {
        stats = await fsp.lstat(path.join(dir, name)); // a link is handed on as a link, to be refused
      } catch {
        present.delete(name); // gone since the listing
        continue;
      }
      if (stats.isDirectory()) continue; // links, pipes and the like are handed on too: ingest refuses them, saying why
      if (this.#tracker.observe(name, signatureOf(stats), performance.now())) {
        this.#tracker.forget(name);
        onReady(name);
      }
    }
    this.#tracker.retainOnly(present);
    this.#scheduleWake();
  }

  #scheduleWake(): void {
    const due = this.#tracker.nextDue();
    if (this.#stopped || due === undefined || due >= this.#wakeAt) return;
    clearTimeout(this.#wakeTimer);
    this.#wakeAt = due;
    this.#wakeTimer = setTimeout(() => {
      this.#wakeTimer = undefined;
      this.#wakeAt = Infinity;
      void this.rescan();
    }, Math.max(0, due - performance.now()) + 5);
    this.#wakeTimer.unref();
  }
}
