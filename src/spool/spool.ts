// The spool: every change to the mailroot goes through here. This file holds Queue and Drop acceptance and a
// queued message's life in Queue (read, retry state, rewrite, removal); Badmail (badmail.ts) and Pickup claims
// (pickup-claims.ts) are their own files behind this one API. Folders are states; a rename is a transition.
// Writes follow one durable path: temp file in SortTemp -> fsync -> rename -> fsync of the directory.
// smtp and pickup use this file, eml-format.ts (the file format) and untrusted-file.ts (opening a file a writer
// can reach); the other files here are the spool's own (test/unit/module-arrows.test.ts).
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { failpoint } from '../failpoints.js';
import { writeAndCommit, type AcceptOptions, type AcceptTargets, type PendingFile } from './accept.js';
import { Badmail } from './badmail.js';
import { failure, ok, type Result } from '../result.js';
import { errorCode } from '../util/error-code.js';
import { fsyncDir, renameWithRetry, writeFileDurably } from './durable.js';
import { statFile, unlinkIfPresent } from './file-ops.js';
import { envelopeOf, formatEnvelopeHead, readEnvelopeHead, type Envelope } from './eml-format.js';
import { newMessageId } from './ids.js';
import { prepareLayout, type MailrootLayout } from './layout.js';
import { MailrootLock } from './lock.js';
import { PICKUP_CLAIM_SUFFIX, PickupClaims, type PickupClaim } from './pickup-claims.js';
import { idOf, isQueueMessageName, QUEUE_SUFFIX, STATE_SUFFIX } from './queue-names.js';
import { openBody, type QueuedMessage } from './queued-message.js';
import { formatRetryState, parseRetryState, type RetryState } from './retry-state.js';
import { copyWithHead, renameOrRemove, scratchPath, tempPath } from './scratch.js';
import { closeUntrusted, openUntrusted, readFromFd, UntrustedFileError } from './untrusted-file.js';

export { MessageRejectedError, SpoolWriteError, type AcceptOptions, type AcceptTargets } from './accept.js';
export { idOf, isQueueMessageName, QUEUE_SUFFIX, STATE_SUFFIX } from './queue-names.js';
export { claimFailure, PICKUP_CLAIM_SUFFIX, type ClaimFailure, type PickupClaim } from './pickup-claims.js';
export { badmailReport } from './badmail-report.js';
export { newMessageId } from './ids.js';
export { prepareLayout } from './layout.js';
export type { QueuedMessage } from './queued-message.js';
export { holdFolder, type MailrootLayout } from './layout.js';
export { timeOfId } from './ids.js';
export { parseRetryState, type RetryState } from './retry-state.js';
export { markDueNow, moveToHold, moveToQueue, NameTakenError, removeMessage, type MessageFiles } from './operator-changes.js';

/** Why a queued message cannot be read: its file is gone, or it is not a message (`text` says why). */
export type QueuedUnreadable = { missing: true } | { missing: false; text: string };

/** A message file in Queue or Hold, opened as untrusted: its envelope lines, or why it is not a message. */
export async function readMessageFile(file: string): Promise<Result<QueuedMessage, QueuedUnreadable>> {
  const unreadable = (text: string) => failure<QueuedUnreadable>({ missing: false, text });
  let result;
  try {
    result = await readEnvelopeHead(file);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return failure({ missing: true });
    if (errorCode(err) === 'EISDIR') return unreadable('a folder, not a message file');
    if (err instanceof UntrustedFileError) return unreadable(err.message);
    throw err;
  }
  if (!result.ok) return unreadable(result.reason);
  const envelope = envelopeOf(result.value);
  if (!envelope.ok) return unreadable(envelope.reason);
  const name = path.basename(file);
  return ok({
    name,
    id: idOf(name),
    path: file,
    envelope: envelope.value,
    bodyOffset: result.value.bodyOffset,
    size: result.size ?? 0,
    ino: result.ino ?? 0,
    peek: result.peek ? { bytes: result.peek, complete: result.peekComplete ?? false } : undefined,
  });
}

export interface QueueListing {
  messages: string[];
  /** .rtr files whose message is gone (delivered elsewhere, or moved out by an operator). */
  orphanStates: string[];
}

/** Up to `limit` bytes of the message after the envelope lines; `complete` when that is all of it. */
export async function readMessageStart(message: Pick<QueuedMessage, 'path' | 'bodyOffset' | 'size'>, limit: number): Promise<{ bytes: Buffer; complete: boolean }> {
  // Sized to the message (plus one byte to tell "complete" from "cut"): most are a few KB, and `limit` is
  // far larger, so a buffer of `limit` per delivery would be mostly garbage.
  const length = Math.max(1, Math.min(limit + 1, message.size - message.bodyOffset + 1));
  const { fd } = await openUntrusted(message.path);
  let bytes: Buffer;
  try {
    bytes = await readFromFd(fd, message.bodyOffset, length);
  } finally {
    await closeUntrusted(fd);
  }
  return bytes.length > limit ? { bytes: bytes.subarray(0, limit), complete: false } : { bytes, complete: true };
}

export class Spool {
  readonly layout: MailrootLayout;
  readonly #lock: MailrootLock | undefined;
  readonly #queuedListeners: Array<(name: string) => void> = [];
  readonly #badmail: Badmail;
  readonly #claims: PickupClaims;

  private constructor(layout: MailrootLayout, lock: MailrootLock | undefined) {
    this.layout = layout;
    this.#lock = lock;
    this.#badmail = new Badmail(layout);
    this.#claims = new PickupClaims(layout);
  }

  /** Pickup files that a previous run had claimed but not queued, put back into Pickup by open(). */
  readonly returnedToPickup: string[] = [];

  /**
   * Prepares the mailroot, takes the one-relay lock and cleans SortTemp. Temp files there never got their 250
   * (the rename into Queue is the commit), so the client still holds those messages and will send them again.
   * Claimed Pickup files (<claim id>.pickup) are the exception: nobody else holds those, so they go back into
   * Pickup, as <claim id>.eml, to be taken again. If the crash came after their message reached Queue, that
   * message is sent twice: at least once, never lost.
   */
  static async open(root: string, options: { lock?: boolean } = {}): Promise<Spool> {
    const layout = await prepareLayout(root);
    const lock = options.lock === false ? undefined : await MailrootLock.acquire(root);
    const spool = new Spool(layout, lock);
    await spool.#cleanSortTemp();
    return spool;
  }

  async close(): Promise<void> {
    await this.#lock?.release();
  }

  async #cleanSortTemp(): Promise<void> {
    for (const name of await fsp.readdir(this.layout.sortTemp)) {
      const file = path.join(this.layout.sortTemp, name);
      if (name.endsWith(PICKUP_CLAIM_SUFFIX)) {
        const back = name.slice(0, -PICKUP_CLAIM_SUFFIX.length) + QUEUE_SUFFIX;
        await renameWithRetry(file, path.join(this.layout.pickup, back));
        this.returnedToPickup.push(back);
      } else {
        await fsp.rm(file, { force: true, recursive: true });
      }
    }
    if (this.returnedToPickup.length > 0) await fsyncDir(this.layout.pickup);
  }

  /** Called with the file name each time accept() puts a new message into Queue. */
  onQueued(listener: (name: string) => void): void {
    this.#queuedListeners.push(listener);
  }

  queuePath(name: string): string {
    return path.join(this.layout.queue, name);
  }

  #statePath(name: string): string {
    return path.join(this.layout.queue, idOf(name) + STATE_SUFFIX);
  }

  /**
   * Writes a new message into Queue durably and returns its id. Line endings become CRLF. Resolves only once
   * the file and its directory entry are on disk; on any failure no file is left in SortTemp or Queue.
   */
  accept(envelope: Envelope, body: Readable, options: AcceptOptions = {}): Promise<{ id: string; size: number }> {
    return this.acceptTo({ queue: envelope }, body, options);
  }

  /** The same as accept, into Drop: mail for a local domain, in pickup format, never sent to the smart host. */
  acceptToDrop(envelope: Envelope, body: Readable, options: AcceptOptions = {}): Promise<{ id: string; size: number }> {
    return this.acceptTo({ drop: envelope }, body, options);
  }

  /**
   * Writes one message to Drop, Queue or both (a message with local and remote recipients), each file with its
   * own X-Receiver lines and the same id, through the one durable path: temp files in SortTemp, fsync, rename,
   * fsync of the folders. All or nothing: on any failure no file is left in SortTemp, Drop or Queue. The Queue
   * file is renamed last, as delivery may start on it at once. `size` is that of the last file written.
   */
  async acceptTo(targets: AcceptTargets, body: Readable, options: AcceptOptions = {}): Promise<{ id: string; size: number }> {
    const id = newMessageId();
    const files: PendingFile[] = [];
    if (targets.drop) files.push({ envelope: targets.drop, dir: this.layout.drop, temp: tempPath(this.layout, id, 'drop') });
    if (targets.queue) files.push({ envelope: targets.queue, dir: this.layout.queue, temp: tempPath(this.layout, id, 'accept') });
    if (files.length === 0) throw new Error('acceptTo needs a queue or a drop envelope');
    const size = await writeAndCommit(id, files, body, options);
    failpoint('accept-after-rename');
    if (targets.queue) for (const listener of this.#queuedListeners) listener(id + QUEUE_SUFFIX);
    return { id, size };
  }

  /** Lists Queue once. Names only: reading 100 000 files is the scheduler's job, one at a time. */
  async listQueue(): Promise<QueueListing> {
    const messages: string[] = [];
    const states = new Set<string>();
    const ids = new Set<string>();
    const dir = await fsp.opendir(this.layout.queue, { bufferSize: 256 });
    for await (const entry of dir) {
      if (isQueueMessageName(entry.name)) {
        messages.push(entry.name);
        ids.add(idOf(entry.name));
      } else if (entry.name.endsWith(STATE_SUFFIX)) {
        states.add(entry.name);
      }
    }
    const orphanStates = [...states].filter((name) => !ids.has(name.slice(0, -STATE_SUFFIX.length)));
    messages.sort(); // ids sort by arrival time: oldest first
    return { messages, orphanStates };
  }

  readQueuedMessage(name: string): Promise<Result<QueuedMessage, QueuedUnreadable>> {
    return readMessageFile(this.queuePath(name));
  }

  openBody(message: QueuedMessage): Readable {
    return openBody(message);
  }

  /** Up to `limit` bytes of the message after the envelope lines; `complete` when that is all of it. */
  readMessageStart(message: QueuedMessage, limit: number): Promise<{ bytes: Buffer; complete: boolean }> {
    return readMessageStart(message, limit);
  }

  async readRetryState(name: string): Promise<RetryState | undefined> {
    try {
      return parseRetryState(await fsp.readFile(this.#statePath(name), 'utf8'));
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return undefined;
      throw err;
    }
  }

  async writeRetryState(name: string, state: RetryState): Promise<void> {
    const temp = scratchPath(this.layout, idOf(name), 'rtr');
    await writeFileDurably(temp, this.#statePath(name), formatRetryState(state));
  }

  async removeState(stateFileName: string): Promise<void> {
    await unlinkIfPresent(path.join(this.layout.queue, stateFileName));
  }

  /**
   * The upstream accepted every recipient: the message leaves Queue. If an operator has meanwhile moved another
   * file in under the same name, that file is left for its own delivery.
   *
   * The folder is not fsynced after the unlink (Postfix does not either): a power cut that undoes the unlink
   * brings the message back and it is sent again, a duplicate and never a loss, while the fsync cost a disk
   * flush per delivered message that every accept waiting on the same folder shared.
   */
  async removeDelivered(message: QueuedMessage): Promise<void> {
    const current = await statFile(message.path).catch(() => undefined);
    if (current && current.ino !== message.ino) return;
    await unlinkIfPresent(message.path);
    await unlinkIfPresent(this.#statePath(message.name));
  }

  /** Atomically replaces the queued file with one that lists only `recipients`; the message bytes are kept. */
  async rewriteRecipients(message: QueuedMessage, recipients: string[]): Promise<QueuedMessage> {
    const envelope = { ...message.envelope, recipients };
    const temp = scratchPath(this.layout, message.id, 'rewrite');
    await copyWithHead(message, envelope, temp);
    await renameOrRemove(temp, message.path);
    await fsyncDir(this.layout.queue);
    const head = formatEnvelopeHead(envelope);
    const { ino } = await fsp.stat(message.path);
    return { ...message, envelope, bodyOffset: head.length, size: message.size - message.bodyOffset + head.length, ino };
  }

  /**
   * Moves a message to Badmail as <id>.bad with a plain-text <id>.bdr reason beside it (see Badmail.quarantine);
   * with `recipients`, only those go to Badmail and the queued file is left for the caller.
   */
  quarantine(name: string, report: string, options: { message?: QueuedMessage; recipients?: string[] } = {}): Promise<string> {
    return this.#badmail.quarantine(name, report, options);
  }

  /** Moves any file (a claimed Pickup file) to Badmail unchanged, with its report (see Badmail.quarantineFile). */
  quarantineFile(file: string, id: string, report: string): Promise<string> {
    return this.#badmail.quarantineFile(file, id, report);
  }

  /** Removes a claimed entry that is not a regular file, its report in Badmail (see Badmail.refuseFile). */
  refuseFile(file: string, id: string, report: string): Promise<string> {
    return this.#badmail.refuseFile(file, id, report);
  }

  claimPickupFile(name: string): Promise<PickupClaim> {
    return this.#claims.claimPickupFile(name);
  }

  returnToPickup(claim: PickupClaim): Promise<string> {
    return this.#claims.returnToPickup(claim);
  }

  releaseClaim(claim: PickupClaim): Promise<void> {
    return this.#claims.releaseClaim(claim);
  }
}
