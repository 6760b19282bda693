// The spool: every change to the mailroot goes through here. Folders are states; a rename is a transition.
// Writes follow one durable path: temp file in SortTemp -> fsync -> rename -> fsync of the directory.
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { failpoint } from '../failpoints.js';
import { bufferStream } from './buffer-stream.js';
import { CrlfNormalizer } from './crlf.js';
import { errorCode, fsyncDir, renameWithRetry, writeFileDurably } from './durable.js';
import { closeFile, createFile, renameFile, statFile, syncFile, unlinkFile, writeAll } from './file-ops.js';
import { envelopeOf, formatEnvelopeHead, readEnvelopeHead, type Envelope } from './eml-format.js';
import { newMessageId } from './ids.js';
import { prepareLayout, type MailrootLayout } from './layout.js';
import { MailrootLock } from './lock.js';
import { formatRetryState, parseRetryState, type RetryState } from './retry-state.js';
import { closeUntrusted, openUntrusted, readFromFd, UntrustedFileError, untrustedStream } from './untrusted-file.js';

export const QUEUE_SUFFIX = '.eml';
export const STATE_SUFFIX = '.rtr';
/** A Pickup file taken for processing: SortTemp/<claim id>.pickup. Returned to Pickup by the start-up sweep. */
export const PICKUP_CLAIM_SUFFIX = '.pickup';
/** A claim whose message is queued but whose file could not be deleted: removed by the start-up sweep. */
const PICKUP_DONE_SUFFIX = '.done';

/** A write into the spool failed; `code` is the errno (ENOSPC, EIO, ...) when there is one. */
export class SpoolWriteError extends Error {
  override name = 'SpoolWriteError';
  readonly code: string | undefined;

  constructor(message: string, cause: unknown) {
    super(message, { cause });
    this.code = errorCode(cause);
  }
}

/** The message was refused by the caller's check after it was written (e.g. too large); nothing was queued. */
export class MessageRejectedError extends Error {
  override name = 'MessageRejectedError';
}

export interface AcceptOptions {
  /** Bytes written after the envelope lines and before the message, e.g. a Received: line. Must end in CRLF. */
  prefix?: (id: string) => Buffer;
  /** Called once the message is written, before it is committed; an error aborts the accept. */
  verify?: () => Error | undefined;
}

/** Where acceptTo writes: Queue (for the smart host), Drop (local domains), or both. */
export interface AcceptTargets {
  queue?: Envelope | undefined;
  drop?: Envelope | undefined;
}

interface PendingFile {
  envelope: Envelope;
  dir: string;
  temp: string;
  fd?: number | undefined;
}

export interface QueuedMessage {
  name: string;
  id: string;
  path: string;
  envelope: Envelope;
  bodyOffset: number;
  size: number;
  /** File identity when read: a different file moved in under the same name is not this message. */
  ino: number;
  /** The start of the message as read with the envelope lines, and whether it is the whole message. */
  peek?: { bytes: Buffer; complete: boolean } | undefined;
}

export type ReadQueuedResult =
  | { ok: true; message: QueuedMessage }
  | { ok: false; reason: string }
  | { ok: false; missing: true };

export interface QueueListing {
  messages: string[];
  /** .rtr files whose message is gone (delivered elsewhere, or moved out by an operator). */
  orphanStates: string[];
}

/** A Pickup file claimed by renaming it into SortTemp; `name` is what it was called in Pickup. */
export interface PickupClaim {
  id: string;
  name: string;
  path: string;
}

export function idOf(queueName: string): string {
  return queueName.endsWith(QUEUE_SUFFIX) || queueName.toLowerCase().endsWith(QUEUE_SUFFIX)
    ? queueName.slice(0, -QUEUE_SUFFIX.length)
    : queueName;
}

export function isQueueMessageName(name: string): boolean {
  return name.toLowerCase().endsWith(QUEUE_SUFFIX) && !name.startsWith('.');
}

export class Spool {
  readonly layout: MailrootLayout;
  readonly #lock: MailrootLock | undefined;
  readonly #queuedListeners: Array<(name: string) => void> = [];

  private constructor(layout: MailrootLayout, lock: MailrootLock | undefined) {
    this.layout = layout;
    this.#lock = lock;
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

  #tempPath(id: string, purpose: string): string {
    return path.join(this.layout.sortTemp, `${id}.${purpose}.tmp`);
  }

  /** A temp name for a file about an existing message; unique, as several may be written for one id. */
  #scratchPath(id: string, purpose: string): string {
    return this.#tempPath(`${id}-${process.hrtime.bigint()}`, purpose);
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
    if (targets.drop) files.push({ envelope: targets.drop, dir: this.layout.drop, temp: this.#tempPath(id, 'drop') });
    if (targets.queue) files.push({ envelope: targets.queue, dir: this.layout.queue, temp: this.#tempPath(id, 'accept') });
    if (files.length === 0) throw new Error('acceptTo needs a queue or a drop envelope');
    const size = await this.#writeAndCommit(id, files, body, options);
    failpoint('accept-after-rename');
    if (targets.queue) for (const listener of this.#queuedListeners) listener(id + QUEUE_SUFFIX);
    return { id, size };
  }

  /** The durable path for acceptTo's files; returns the size of the last one. */
  async #writeAndCommit(id: string, files: PendingFile[], body: Readable, options: AcceptOptions): Promise<number> {
    const committed: string[] = [];
    let size = 0;
    try {
      const prefix = options.prefix?.(id) ?? Buffer.alloc(0);
      const writes: BatchTarget[] = [];
      for (const file of files) {
        file.fd = await this.#openNew(file.temp);
        const head = Buffer.concat([formatEnvelopeHead(file.envelope), prefix]);
        size = head.length;
        writes.push({ fd: file.fd, head });
      }
      const writer = new BatchedFileWriter(writes);
      await pipeline(body, new CrlfNormalizer(), writer);
      size += writer.bytes;
      const rejection = options.verify?.();
      if (rejection) throw rejection;
      failpoint('accept-after-write');
      failpoint('stall-accept-fsync');
      await Promise.all(files.map((file) => syncFile(file.fd!)));
      for (const file of files) {
        const fd = file.fd!;
        file.fd = undefined;
        await closeFile(fd);
      }
      failpoint('accept-after-fsync');
      for (const file of files) {
        const target = path.join(file.dir, id + QUEUE_SUFFIX);
        failpoint('stall-accept-rename');
        await this.#renameInto(file.temp, target);
        committed.push(target);
      }
    } catch (err) {
      for (const file of files) {
        if (file.fd !== undefined) await closeFile(file.fd).catch(() => undefined);
        await unlinkIfPresent(file.temp).catch(() => undefined);
      }
      for (const target of committed) await unlinkIfPresent(target).catch(() => undefined);
      if (err instanceof MessageRejectedError) throw err;
      throw new SpoolWriteError(`cannot write message to the spool: ${(err as Error).message}`, err);
    }
    try {
      for (const file of files) await fsyncDir(file.dir);
    } catch (err) {
      // The files are complete but their directory entries may not survive a power loss. Withdraw them and
      // answer 4xx: the client still holds the message and sends it again, so it is neither lost nor duplicated.
      for (const target of committed) await unlinkIfPresent(target).catch(() => undefined);
      throw new SpoolWriteError(`cannot flush the ${path.basename(files.at(-1)!.dir)} folder: ${(err as Error).message}`, err);
    }
    return size;
  }

  // An operator may delete a folder while the relay runs: recreate it rather than refuse mail.
  async #openNew(temp: string): Promise<number> {
    try {
      return await createFile(temp, true);
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') throw err;
      await fsp.mkdir(path.dirname(temp), { recursive: true, mode: 0o700 });
      return createFile(temp, true);
    }
  }

  async #renameInto(temp: string, target: string): Promise<void> {
    try {
      await renameWithRetry(temp, target);
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') throw err;
      await fsp.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
      await renameWithRetry(temp, target);
    }
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

  async readQueued(name: string): Promise<ReadQueuedResult> {
    const file = this.queuePath(name);
    let result;
    try {
      result = await readEnvelopeHead(file);
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return { ok: false, missing: true };
      if (errorCode(err) === 'EISDIR') return { ok: false, reason: 'a folder, not a message file' };
      if (err instanceof UntrustedFileError) return { ok: false, reason: err.message };
      throw err;
    }
    if (!result.ok) return { ok: false, reason: result.reason };
    const envelope = envelopeOf(result.head);
    if (typeof envelope === 'string') return { ok: false, reason: envelope };
    return {
      ok: true,
      message: {
        name,
        id: idOf(name),
        path: file,
        envelope,
        bodyOffset: result.head.bodyOffset,
        size: result.size ?? 0,
        ino: result.ino ?? 0,
        peek: result.peek ? { bytes: result.peek, complete: result.peekComplete ?? false } : undefined,
      },
    };
  }

  /**
   * The message bytes after the envelope lines: the bytes read with them when that was the whole message (most
   * are), else streamed from disk, in reads sized to the message (64 KB at most): each read allocates a buffer
   * of the full high-water mark, so a fixed 64 KB would make mostly garbage for a small message.
   */
  openBody(message: QueuedMessage): Readable {
    // Usually the read that found the envelope lines got the whole message: no second read of the file.
    if (message.peek?.complete) return bufferStream(message.peek.bytes);
    const highWaterMark = Math.min(64 * 1024, Math.max(1024, message.size - message.bodyOffset + 1));
    return untrustedStream(message.path, message.bodyOffset, highWaterMark, message.ino);
  }

  /** Up to `limit` bytes of the message after the envelope lines; `complete` when that is all of it. */
  async readMessageStart(message: QueuedMessage, limit: number): Promise<{ bytes: Buffer; complete: boolean }> {
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

  async readRetryState(name: string): Promise<RetryState | undefined> {
    try {
      return parseRetryState(await fsp.readFile(this.#statePath(name), 'utf8'));
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return undefined;
      throw err;
    }
  }

  async writeRetryState(name: string, state: RetryState): Promise<void> {
    const temp = this.#scratchPath(idOf(name), 'rtr');
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
    const temp = this.#scratchPath(message.id, 'rewrite');
    await this.#copyWithHead(message, envelope, temp);
    await this.#renameOrRemove(temp, message.path);
    await fsyncDir(this.layout.queue);
    const head = formatEnvelopeHead(envelope);
    const { ino } = await fsp.stat(message.path);
    return { ...message, envelope, bodyOffset: head.length, size: message.size - message.bodyOffset + head.length, ino };
  }

  async #copyWithHead(message: QueuedMessage, envelope: Envelope, temp: string): Promise<void> {
    const fd = await createFile(temp, true);
    try {
      await pipeline(this.openBody(message), new BatchedFileWriter([{ fd, head: formatEnvelopeHead(envelope) }]));
      await syncFile(fd);
    } catch (err) {
      await closeFile(fd).catch(() => undefined);
      await unlinkIfPresent(temp).catch(() => undefined);
      throw err;
    }
    try {
      await closeFile(fd);
    } catch (err) {
      await unlinkIfPresent(temp).catch(() => undefined);
      throw err;
    }
  }

  /** Renames a finished temp file into place; if that fails, the temp file goes, not left in SortTemp. */
  async #renameOrRemove(temp: string, target: string): Promise<void> {
    try {
      await renameWithRetry(temp, target);
    } catch (err) {
      await unlinkIfPresent(temp).catch(() => undefined);
      throw err;
    }
  }

  /** Writes the .bdr under a free stem, before its message moves (see quarantine); returns the stem. */
  async #writeReport(id: string, report: string): Promise<string> {
    const stem = await this.#badmailStem(id);
    await writeFileDurably(this.#scratchPath(id, 'bdr'), path.join(this.layout.badmail, stem + '.bdr'), report);
    failpoint('badmail-after-report');
    return stem;
  }

  /** A name in Badmail that no earlier .bad/.bdr pair uses. */
  async #badmailStem(id: string): Promise<string> {
    for (let n = 1; ; n++) {
      const stem = n === 1 ? id : `${id}-${n}`;
      const taken = await Promise.all(
        ['.bad', '.bdr'].map((suffix) => fsp.access(path.join(this.layout.badmail, stem + suffix)).then(() => true, () => false)),
      );
      if (!taken.includes(true)) return stem;
    }
  }

  /**
   * Moves a message to Badmail as <id>.bad with a plain-text <id>.bdr reason beside it. With `recipients`,
   * only those are written into the .bad file (so moving it into Pickup resends to them alone) and the
   * queued file is left for the caller to rewrite or remove. The .bdr is written first: a crash in between
   * leaves the message in Queue, to be tried again, never lost.
   */
  async quarantine(
    name: string,
    report: string,
    options: { message?: QueuedMessage; recipients?: string[] } = {},
  ): Promise<string> {
    const id = idOf(name);
    const stem = await this.#writeReport(id, report);
    const badFile = path.join(this.layout.badmail, stem + '.bad');
    const { message, recipients } = options;
    if (message && recipients && recipients.length < message.envelope.recipients.length) {
      const temp = this.#scratchPath(id, 'bad');
      await this.#copyWithHead(message, { ...message.envelope, recipients }, temp);
      await this.#renameOrRemove(temp, badFile);
    } else {
      await renameWithRetry(this.queuePath(name), badFile);
      await unlinkIfPresent(this.#statePath(name));
      await fsyncDir(this.layout.queue);
    }
    await fsyncDir(this.layout.badmail);
    return stem;
  }

  /**
   * Moves any file (a claimed Pickup file) to Badmail unchanged as <id>.bad, with the <id>.bdr report beside
   * it; `id` names the pair. As in quarantine(), the report is written first.
   */
  async quarantineFile(file: string, id: string, report: string): Promise<string> {
    const stem = await this.#writeReport(id, report);
    await renameWithRetry(file, path.join(this.layout.badmail, stem + '.bad'));
    await fsyncDir(this.layout.badmail);
    return stem;
  }

  /**
   * A claimed Pickup entry that is not a regular file with one name (a symbolic link, a hard link, a named pipe):
   * the <id>.bdr says why, and the entry is removed. Removing a name never touches what it pointed at; moving it
   * into Badmail would leave a link there for the next reader (an operator, a tool) to follow. A folder, which
   * cannot be unlinked, is moved into Badmail as <id>.bad instead.
   */
  async refuseFile(file: string, id: string, report: string): Promise<string> {
    const stem = await this.#writeReport(id, report);
    try {
      await unlinkIfPresent(file);
    } catch {
      await renameWithRetry(file, path.join(this.layout.badmail, stem + '.bad'));
    }
    await fsyncDir(this.layout.badmail);
    return stem;
  }

  /**
   * Takes a Pickup file by renaming it into SortTemp under a new claim id: from then on no scan sees it, and a
   * writer still holding it open on Windows makes this fail (EBUSY/EPERM/EACCES, see isTransientRenameError).
   * Errors are the caller's to classify; nothing is retried here.
   */
  async claimPickupFile(name: string): Promise<PickupClaim> {
    const id = newMessageId();
    const claimed = path.join(this.layout.sortTemp, id + PICKUP_CLAIM_SUFFIX);
    await renameFile(path.join(this.layout.pickup, name), claimed);
    return { id, name, path: claimed };
  }

  /** Puts a claimed file back into Pickup, as <claim id>.eml (a name no writer uses), to be taken again later. */
  async returnToPickup(claim: PickupClaim): Promise<string> {
    const back = claim.id + QUEUE_SUFFIX;
    await renameWithRetry(claim.path, path.join(this.layout.pickup, back));
    return back;
  }

  /**
   * Removes a claimed file once its message is queued. A file that cannot be deleted (read-only on a share,
   * say) is renamed so that the start-up sweep deletes it rather than returning it to Pickup: unlike IIS, a
   * read-only pickup file is never sent again.
   */
  async releaseClaim(claim: PickupClaim): Promise<void> {
    try {
      await unlinkIfPresent(claim.path);
      return;
    } catch {
      // try harder below
    }
    try {
      await fsp.chmod(claim.path, 0o666);
      await unlinkIfPresent(claim.path);
    } catch {
      await renameWithRetry(claim.path, path.join(this.layout.sortTemp, claim.id + PICKUP_DONE_SUFFIX));
    }
  }
}

async function unlinkIfPresent(file: string): Promise<void> {
  try {
    await unlinkFile(file);
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw err;
  }
}

interface BatchTarget {
  fd: number;
  /** Written before the first body bytes: each file has its own envelope lines. */
  head: Buffer | undefined;
}

/**
 * Writes the same bytes to one or more open files (Queue and Drop), gathering them in memory up to
 * BATCH_BYTES per write. Most messages are a few KB: one writev each instead of one write (a thread-pool round
 * trip) per chunk the client's TCP segments happened to make.
 */
class BatchedFileWriter extends Writable {
  readonly #targets: BatchTarget[];
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** Message bytes written so far (not counting the heads). */
  bytes = 0;

  constructor(targets: BatchTarget[]) {
    super();
    this.#targets = targets;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    this.bytes += chunk.length;
    if (this.#pendingBytes < BATCH_BYTES) return callback();
    this.#flush().then(() => callback(), callback);
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.#flush().then(() => callback(), callback);
  }

  async #flush(): Promise<void> {
    const body = this.#pending;
    this.#pending = [];
    this.#pendingBytes = 0;
    await Promise.all(
      this.#targets.map(async (target) => {
        const buffers = target.head ? [target.head, ...body] : body;
        target.head = undefined;
        await writeAll(target.fd, buffers);
      }),
    );
  }
}

const BATCH_BYTES = 256 * 1024;
