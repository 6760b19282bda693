// The operator's changes to the queue: retry, hold, release, delete. The files are changed by the spool
// (src/spool/operator-changes.ts says how each is written); this module decides what may be done to which
// message, and waits for an attempt in progress: a message a running relay is attempting right now (its status
// file lists it) is waited for before it is held or deleted, so an upstream 250 cannot race the move.
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { markDueNow, moveToHold, moveToQueue, NameTakenError, removeMessage, type MessageFiles } from '../spool/spool.js';
import { relayLiveness } from '../ops/status-file.js';
import type { QueueEntry, QueueFiles } from './queue-files.js';

export type ActionResult = 'due-now' | 'held' | 'released' | 'deleted' | 'gone' | 'already-held' | 'not-held';

export interface ActionOutcome {
  id: string;
  result: ActionResult;
  detail?: string;
}

export class QueueActionError extends Error {
  override name = 'QueueActionError';
}

export class QueueActions {
  readonly #files: QueueFiles;
  readonly #now: () => Date;
  /** How long hold/delete wait for an attempt in progress before giving up. */
  readonly #idleTimeout: number;

  readonly #onWait: (message: string) => void;

  constructor(files: QueueFiles, options: { now?: () => Date; idleTimeout?: number; onWait?: (message: string) => void } = {}) {
    this.#files = files;
    this.#onWait = options.onWait ?? (() => undefined);
    this.#now = options.now ?? (() => new Date());
    this.#idleTimeout = options.idleTimeout ?? 15_000;
  }

  #messageFiles(entry: QueueEntry): MessageFiles {
    return { id: entry.id, name: path.basename(entry.file), dir: this.#files.dir(entry.place), state: entry.state, queuedAt: entry.queuedAt };
  }

  /** Makes a queued message due now. A held one is refused: release it instead. */
  async retry(entry: QueueEntry): Promise<ActionOutcome> {
    if (entry.place === 'hold') return { id: entry.id, result: 'not-held', detail: 'it is held: release it to send it' };
    return { id: entry.id, result: await markDueNow(this.#files.layout, this.#messageFiles(entry), this.#now()) };
  }

  async hold(entry: QueueEntry): Promise<ActionOutcome> {
    if (entry.place === 'hold') return { id: entry.id, result: 'already-held' };
    await this.#waitUntilIdle(entry);
    return { id: entry.id, result: await refusingTakenNames(moveToHold(this.#files.layout, this.#files.hold, this.#messageFiles(entry))) };
  }

  async release(entry: QueueEntry): Promise<ActionOutcome> {
    if (entry.place !== 'hold') return { id: entry.id, result: 'not-held' };
    return { id: entry.id, result: await refusingTakenNames(moveToQueue(this.#files.layout, this.#messageFiles(entry), this.#now())) };
  }

  async delete(entry: QueueEntry): Promise<ActionOutcome> {
    if (entry.place === 'queue') await this.#waitUntilIdle(entry);
    return { id: entry.id, result: await removeMessage(this.#messageFiles(entry)) };
  }

  /**
   * If a running relay is attempting this message right now, waits for that attempt to end (the status file is
   * rewritten every second): moving the file mid-attempt could let the upstream accept a message that is then
   * also held. An attempt that outlasts idleTimeout (a hanging smart host) is an error: try again later.
   */
  async #waitUntilIdle(entry: QueueEntry): Promise<void> {
    const name = path.basename(entry.file);
    const deadline = Date.now() + this.#idleTimeout;
    for (let first = true; ; first = false) {
      const live = await relayLiveness(this.#files.layout.root);
      if (!live.running || !live.status.inFlight.includes(name)) return;
      if (first) this.#onWait(`${entry.id} is being delivered right now; waiting for that attempt to end`);
      if (Date.now() > deadline) {
        throw new QueueActionError(`${entry.id} is being delivered right now (relay pid ${live.status.pid}); try again in a moment`);
      }
      await sleep(200);
    }
  }
}

/** The spool's "that name is taken" is the operator's error to act on. */
async function refusingTakenNames<T>(change: Promise<T>): Promise<T> {
  try {
    return await change;
  } catch (err) {
    if (err instanceof NameTakenError) throw new QueueActionError(err.message);
    throw err;
  }
}
