// The operator's changes to the queue, made through the files alone so they work with the relay running or not:
//
//   retry / flush   the message's .rtr gets Next-Attempt = now (written like the relay writes it: temp file,
//                   fsync, rename). A running relay's Queue watcher sees the .rtr change and tries it at once.
//   hold            <id>.rtr, then <id>.eml, are moved from Queue into Hold: nothing tries a file that is not in
//                   Queue, across restarts too. Moving the .eml is the step that holds it.
//   release         the .rtr (due now) is written into Queue, then the .eml moved back: tried at once.
//   delete          <id>.eml is removed, then its .rtr, in the order delivery removes a delivered message: a
//                   crash in between leaves an .rtr without a message, which the relay's rescan removes.
//
// A message a running relay is attempting right now (its status file lists it) is waited for before it is
// held or deleted, so an upstream 250 cannot race the move; see waitUntilIdle.
import fsp from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorCode } from '../util/error-code.js';
import { fsyncDir, renameWithRetry, writeFileDurably } from '../spool/durable.js';
import { dueNowState, formatRetryState } from '../spool/retry-state.js';
import { QUEUE_SUFFIX, STATE_SUFFIX } from '../spool/spool.js';
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

async function unlinkIfPresent(file: string): Promise<boolean> {
  try {
    await fsp.unlink(file);
    return true;
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return false;
    throw err;
  }
}

async function exists(file: string): Promise<boolean> {
  return fsp.access(file).then(() => true, () => false);
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

  #stateTemp(id: string): string {
    return path.join(this.#files.layout.sortTemp, `${id}-${process.pid}-${process.hrtime.bigint()}.rtr.tmp`);
  }

  /** Makes a queued message due now. A held one is refused: release it instead. */
  async retry(entry: QueueEntry): Promise<ActionOutcome> {
    if (entry.place === 'hold') return { id: entry.id, result: 'not-held', detail: 'it is held: release it to send it' };
    const state = dueNowState(entry.state, entry.queuedAt, this.#now());
    const target = path.join(this.#files.layout.queue, entry.id + STATE_SUFFIX);
    await writeFileDurably(this.#stateTemp(entry.id), target, formatRetryState(state));
    if (!(await exists(entry.file))) {
      // Delivered (or moved) while we wrote: the .rtr we left would be an orphan.
      await unlinkIfPresent(target);
      return { id: entry.id, result: 'gone' };
    }
    await fsyncDir(this.#files.layout.queue);
    return { id: entry.id, result: 'due-now' };
  }

  async hold(entry: QueueEntry): Promise<ActionOutcome> {
    if (entry.place === 'hold') return { id: entry.id, result: 'already-held' };
    await this.#waitUntilIdle(entry);
    const hold = this.#files.hold;
    const eml = entry.id + QUEUE_SUFFIX;
    const rtr = entry.id + STATE_SUFFIX;
    if (await exists(path.join(hold, eml))) throw new QueueActionError(`Hold already has a file ${eml}; move it away first`);
    const queue = this.#files.layout.queue;
    const movedState = await renameIfPresent(path.join(queue, rtr), path.join(hold, rtr));
    try {
      await renameWithRetry(path.join(queue, eml), path.join(hold, eml));
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') {
        if (movedState) await renameIfPresent(path.join(hold, rtr), path.join(queue, rtr)).catch(() => undefined);
        throw err;
      }
      if (movedState) await unlinkIfPresent(path.join(hold, rtr));
      return { id: entry.id, result: 'gone' };
    }
    await fsyncDir(hold);
    await fsyncDir(queue);
    return { id: entry.id, result: 'held' };
  }

  async release(entry: QueueEntry): Promise<ActionOutcome> {
    if (entry.place !== 'hold') return { id: entry.id, result: 'not-held' };
    const queue = this.#files.layout.queue;
    const eml = entry.id + QUEUE_SUFFIX;
    if (await exists(path.join(queue, eml))) throw new QueueActionError(`Queue already has a file ${eml}; it was not released`);
    const state = dueNowState(entry.state, entry.queuedAt, this.#now());
    await writeFileDurably(this.#stateTemp(entry.id), path.join(queue, entry.id + STATE_SUFFIX), formatRetryState(state));
    try {
      await renameWithRetry(entry.file, path.join(queue, eml));
    } catch (err) {
      await unlinkIfPresent(path.join(queue, entry.id + STATE_SUFFIX));
      if (errorCode(err) === 'ENOENT') return { id: entry.id, result: 'gone' };
      throw err;
    }
    await fsyncDir(queue);
    await unlinkIfPresent(path.join(this.#files.hold, entry.id + STATE_SUFFIX));
    await fsyncDir(this.#files.hold);
    return { id: entry.id, result: 'released' };
  }

  async delete(entry: QueueEntry): Promise<ActionOutcome> {
    if (entry.place === 'queue') await this.#waitUntilIdle(entry);
    const dir = this.#files.dir(entry.place);
    const removed = await unlinkIfPresent(entry.file);
    await unlinkIfPresent(path.join(dir, entry.id + STATE_SUFFIX));
    await fsyncDir(dir);
    return { id: entry.id, result: removed ? 'deleted' : 'gone' };
  }

  /**
   * If a running relay is attempting this message right now, waits for that attempt to end (the status file is
   * rewritten every second): moving the file mid-attempt could let the upstream accept a message that is then
   * also held. An attempt that outlasts idleTimeout (a hanging smart host) is an error: try again later.
   */
  async #waitUntilIdle(entry: QueueEntry): Promise<void> {
    const name = entry.id + QUEUE_SUFFIX;
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

async function renameIfPresent(from: string, to: string): Promise<boolean> {
  try {
    await renameWithRetry(from, to);
    return true;
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return false;
    throw err;
  }
}
