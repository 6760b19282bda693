// The Pickup folder, as IIS served it: every ready file is claimed (renamed into SortTemp, so it is taken once
// and whole), turned into a queued message (ingest.ts), and only then deleted. Files that are not a sendable
// message go to Badmail with a reason; a file that is still open, or that the spool could not take right now,
// stays for a later try. Feeds the spool exactly like smtp/ does; delivery picks the message up from Queue.
import type { Logger } from '../log/logger.js';
import type { MailEvents } from '../log/mail-events.js';
import { badmailReport, claimFailure, type PickupClaim, type Spool } from '../spool/spool.js';
import { ingest, type IngestOutcome } from './ingest.js';
import { PickupWatcher } from './watcher.js';

export interface PickupOptions {
  spool: Spool;
  hostname: string;
  maxMessageSize: number;
  dotStuffed: boolean;
  /** pickupMaxRecipients (100 when not given). */
  maxRecipients?: number;
  settleTime: number;
  rescanInterval: number;
  log: Logger;
  events: MailEvents;
  /** Files processed at once. Each holds one file handle and at most a header section in memory. */
  concurrency?: number;
  watch?: boolean;
}

const DEFAULT_CONCURRENCY = 16;
/** A file still open by its writer is looked at again after this long at least. */
const MIN_LOCKED_RETRY = 1000;

export class Pickup {
  readonly #options: PickupOptions;
  readonly #watcher: PickupWatcher;
  readonly #concurrency: number;
  #waiting: string[] = [];
  #waitingHead = 0;
  /** Names handed on by the watcher and not finished with (waiting or being worked on). */
  readonly #taken = new Set<string>();
  readonly #running = new Set<Promise<void>>();
  /** Names whose claim failed for a reason worth a warning: warned once until they succeed or go. */
  readonly #warned = new Set<string>();
  #pausedUntil = 0;
  #resumeTimer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: PickupOptions) {
    this.#options = options;
    this.#concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
    this.#watcher = new PickupWatcher({
      dir: options.spool.layout.pickup,
      root: options.spool.layout.root,
      settleTime: options.settleTime,
      rescanInterval: options.rescanInterval,
      log: options.log,
      isBusy: (name) => this.#taken.has(name),
      onReady: (name) => this.#ready(name),
      ...(options.watch === undefined ? {} : { watch: options.watch }),
    });
  }

  start(): void {
    const returned = this.#options.spool.returnedToPickup;
    if (returned.length > 0) {
      this.#options.log.warn('claimed Pickup files put back into Pickup after an unclean stop', { files: returned });
    }
    this.#watcher.start();
  }

  /** Pickup names waiting to settle or to be retried. */
  get pending(): string[] {
    return this.#watcher.pending;
  }

  /** Names being claimed or processed, or waiting for a free worker. */
  get busy(): number {
    return this.#taken.size;
  }

  /** Lists Pickup now. */
  rescan(): Promise<void> {
    return this.#watcher.rescan();
  }

  /** Stops looking for files and waits for the ones being processed (each ends queued, in Badmail or back). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#resumeTimer);
    await this.#watcher.stop();
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
  }

  #ready(name: string): void {
    if (this.#stopped || this.#taken.has(name)) return;
    this.#taken.add(name);
    this.#waiting.push(name);
    this.#pump();
  }

  #pump(): void {
    while (!this.#stopped && this.#running.size < this.#concurrency && this.#waitingHead < this.#waiting.length) {
      const wait = this.#pausedUntil - Date.now();
      if (wait > 0) {
        this.#resumeTimer ??= setTimeout(() => {
          this.#resumeTimer = undefined;
          this.#pump();
        }, wait);
        return;
      }
      const name = this.#waiting[this.#waitingHead++]!;
      if (this.#waitingHead === this.#waiting.length) {
        this.#waiting = [];
        this.#waitingHead = 0;
      }
      const work: Promise<void> = this.#take(name)
        .catch((err: unknown) => {
          this.#options.log.error('Pickup file not processed; will try again', { file: name, error: (err as Error).stack ?? String(err) });
          this.#watcher.defer(name, this.#options.rescanInterval);
        })
        .finally(() => {
          this.#taken.delete(name);
          this.#running.delete(work);
          this.#pump();
        });
      this.#running.add(work);
    }
  }

  async #take(name: string): Promise<void> {
    const { spool, log } = this.#options;
    let claim: PickupClaim;
    try {
      claim = await spool.claimPickupFile(name);
    } catch (err) {
      const failure = claimFailure(err);
      if (failure === 'gone') return; // moved away by its writer or an operator
      if (failure === 'in-use') {
        // Windows: another program (the writer, most likely) still has it open. IIS waited the same way.
        log.debug('Pickup file still in use; waiting', { file: name, error: (err as Error).message });
        this.#watcher.defer(name, Math.max(this.#options.settleTime, MIN_LOCKED_RETRY));
        return;
      }
      if (!this.#warned.has(name)) {
        this.#warned.add(name);
        log.warn('cannot take Pickup file; will try again', { file: name, error: (err as Error).message });
      }
      this.#watcher.defer(name, this.#options.rescanInterval);
      return;
    }
    this.#warned.delete(name);
    let outcome: IngestOutcome;
    try {
      outcome = await ingest(claim, {
        spool,
        hostname: this.#options.hostname,
        maxMessageSize: this.#options.maxMessageSize,
        dotStuffed: this.#options.dotStuffed,
        maxRecipients: this.#options.maxRecipients ?? 100,
      });
    } catch (err) {
      outcome = { kind: 'retry', reason: `unexpected error: ${(err as Error).message}`, spool: true };
    }
    try {
      await this.#settle(claim, outcome);
    } catch (err) {
      // Badmail or the claim cleanup failed (disk full?): never leave the file stranded in SortTemp.
      log.error('cannot finish with a Pickup file; putting it back', { file: name, outcome: outcome.kind, error: (err as Error).message });
      if (outcome.kind !== 'queued' && outcome.kind !== 'gone') await this.#putBack(claim, (err as Error).message, true);
    }
  }

  async #putBack(claim: PickupClaim, reason: string, pause: boolean): Promise<void> {
    const back = await this.#options.spool.returnToPickup(claim);
    this.#options.log.warn('Pickup file put back to try again later', { file: claim.name, as: back, reason });
    if (pause) this.#pausedUntil = Date.now() + this.#options.rescanInterval; // disk full or the like: not at once
  }

  async #settle(claim: PickupClaim, outcome: IngestOutcome): Promise<void> {
    const { spool, log, events } = this.#options;
    switch (outcome.kind) {
      case 'queued':
        events.received({
          id: outcome.id,
          client: 'pickup',
          file: claim.name,
          from: outcome.envelope.sender,
          recipients: outcome.envelope.recipients,
          size: outcome.size,
        });
        await spool.releaseClaim(claim);
        return;
      case 'bad': {
        const report = badmailReport({
          reason: `${outcome.reason} [Pickup file ${JSON.stringify(claim.name)}]`,
          sender: outcome.envelope?.sender,
          recipients: [],
          now: new Date(),
        });
        const stem = outcome.refused
          ? await spool.refuseFile(claim.path, claim.id, report)
          : await spool.quarantineFile(claim.path, claim.id, report);
        events.badmail({ id: stem, file: claim.name, reason: outcome.reason, recipients: outcome.envelope?.recipients ?? [] });
        return;
      }
      case 'retry':
        await this.#putBack(claim, outcome.reason, outcome.spool);
        return;
      case 'gone':
        log.warn('claimed Pickup file disappeared from SortTemp', { file: claim.name, claim: claim.path });
        return;
    }
  }
}
