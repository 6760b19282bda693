// The spool: every change to the mailroot goes through here. Folders are states; a rename is a transition.
// Writes follow one durable path: temp file in SortTemp -> fsync -> rename -> fsync of the directory.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CrlfNormalizer } from './crlf.js';
import { errorCode, fsyncDir, renameWithRetry, writeFileDurably } from './durable.js';
import { envelopeOf, formatEnvelopeHead, readEnvelopeHead, type Envelope } from './eml-format.js';
import { newMessageId } from './ids.js';
import { prepareLayout, type MailrootLayout } from './layout.js';
import { MailrootLock } from './lock.js';
import { formatRetryState, parseRetryState, type RetryState } from './retry-state.js';

export const QUEUE_SUFFIX = '.eml';
export const STATE_SUFFIX = '.rtr';

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

export interface QueuedMessage {
  name: string;
  id: string;
  path: string;
  envelope: Envelope;
  bodyOffset: number;
  size: number;
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

  private constructor(layout: MailrootLayout, lock: MailrootLock | undefined) {
    this.layout = layout;
    this.#lock = lock;
  }

  /**
   * Prepares the mailroot, takes the one-relay lock and cleans SortTemp. Temp files there never got their 250
   * (the rename into Queue is the commit), so the client still holds those messages and will send them again.
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
      await fsp.rm(path.join(this.layout.sortTemp, name), { force: true, recursive: true });
    }
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

  /**
   * Writes a new message into Queue durably and returns its id. Line endings become CRLF. Resolves only once
   * the file and its directory entry are on disk; on any failure no file is left in SortTemp or Queue.
   */
  async accept(envelope: Envelope, body: Readable, options: AcceptOptions = {}): Promise<{ id: string; size: number }> {
    const id = newMessageId();
    const temp = this.#tempPath(id, 'accept');
    const target = this.queuePath(id + QUEUE_SUFFIX);
    let handle: fsp.FileHandle | undefined;
    let size = 0;
    try {
      handle = await fsp.open(temp, 'wx');
      const out = writeStreamOn(handle);
      const head = Buffer.concat([formatEnvelopeHead(envelope), options.prefix?.(id) ?? Buffer.alloc(0)]);
      const counter = new ByteCounter();
      out.write(head);
      await pipeline(body, new CrlfNormalizer(), counter, out);
      size = head.length + counter.bytes;
      const rejection = options.verify?.();
      if (rejection) throw rejection;
      await handle.sync();
      await handle.close();
      handle = undefined;
      await renameWithRetry(temp, target);
    } catch (err) {
      await handle?.close().catch(() => undefined);
      await fsp.rm(temp, { force: true }).catch(() => undefined);
      if (err instanceof MessageRejectedError) throw err;
      throw new SpoolWriteError(`cannot write message to the spool: ${(err as Error).message}`, err);
    }
    try {
      await fsyncDir(this.layout.queue);
    } catch (err) {
      // The file is complete but its directory entry may not survive a power loss. Withdraw it and answer 4xx:
      // the client still holds the message and sends it again, so it is neither lost nor duplicated.
      await fsp.rm(target, { force: true }).catch(() => undefined);
      throw new SpoolWriteError(`cannot flush the Queue folder: ${(err as Error).message}`, err);
    }
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

  async readQueued(name: string): Promise<ReadQueuedResult> {
    const file = this.queuePath(name);
    let result;
    try {
      result = await readEnvelopeHead(file);
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return { ok: false, missing: true };
      if (errorCode(err) === 'EISDIR') return { ok: false, reason: 'a folder, not a message file' };
      throw err;
    }
    if (!result.ok) return { ok: false, reason: result.reason };
    const envelope = envelopeOf(result.head);
    if (typeof envelope === 'string') return { ok: false, reason: envelope };
    return {
      ok: true,
      message: { name, id: idOf(name), path: file, envelope, bodyOffset: result.head.bodyOffset, size: result.size ?? 0 },
    };
  }

  /**
   * The message bytes after the envelope lines, streamed from disk. Reads are sized to the message (64 KB at
   * most): each read allocates a buffer of the full high-water mark, so a fixed 64 KB cost 128 KB of garbage for a
   * 4 KB message, and the collector's threads spent more CPU on that than the delivery itself.
   */
  openBody(message: QueuedMessage): fs.ReadStream {
    const highWaterMark = Math.min(64 * 1024, Math.max(1024, message.size - message.bodyOffset + 1));
    return fs.createReadStream(message.path, { start: message.bodyOffset, highWaterMark });
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
    const temp = this.#tempPath(`${idOf(name)}-${process.hrtime.bigint()}`, 'rtr');
    await writeFileDurably(temp, this.#statePath(name), formatRetryState(state));
  }

  async removeState(stateFileName: string): Promise<void> {
    await fsp.rm(path.join(this.layout.queue, stateFileName), { force: true });
  }

  /** The upstream accepted every recipient: the message leaves Queue. */
  async removeDelivered(message: QueuedMessage): Promise<void> {
    await fsp.rm(message.path, { force: true });
    await fsp.rm(this.#statePath(message.name), { force: true });
    await fsyncDir(this.layout.queue);
  }

  /** Atomically replaces the queued file with one that lists only `recipients`; the message bytes are kept. */
  async rewriteRecipients(message: QueuedMessage, recipients: string[]): Promise<QueuedMessage> {
    const envelope = { sender: message.envelope.sender, recipients };
    const temp = this.#tempPath(`${message.id}-${process.hrtime.bigint()}`, 'rewrite');
    await this.#copyWithHead(message, envelope, temp);
    await renameWithRetry(temp, message.path);
    await fsyncDir(this.layout.queue);
    const head = formatEnvelopeHead(envelope);
    return { ...message, envelope, bodyOffset: head.length, size: message.size - message.bodyOffset + head.length };
  }

  async #copyWithHead(message: QueuedMessage, envelope: Envelope, temp: string): Promise<void> {
    const handle = await fsp.open(temp, 'wx');
    try {
      const out = writeStreamOn(handle);
      out.write(formatEnvelopeHead(envelope));
      await pipeline(this.openBody(message), out);
      await handle.sync();
    } catch (err) {
      await handle.close().catch(() => undefined);
      await fsp.rm(temp, { force: true });
      throw err;
    }
    await handle.close();
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
    const stem = await this.#badmailStem(id);
    const badFile = path.join(this.layout.badmail, stem + '.bad');
    await writeFileDurably(this.#tempPath(`${id}-${process.hrtime.bigint()}`, 'bdr'), path.join(this.layout.badmail, stem + '.bdr'), report);
    const { message, recipients } = options;
    if (message && recipients && recipients.length < message.envelope.recipients.length) {
      const temp = this.#tempPath(`${id}-${process.hrtime.bigint()}`, 'bad');
      await this.#copyWithHead(message, { sender: message.envelope.sender, recipients }, temp);
      await renameWithRetry(temp, badFile);
    } else {
      await renameWithRetry(this.queuePath(name), badFile);
      await fsp.rm(this.#statePath(name), { force: true });
      await fsyncDir(this.layout.queue);
    }
    await fsyncDir(this.layout.badmail);
    return stem;
  }
}

/**
 * A write stream on an open handle that leaves the handle open for fsync. Built on the numeric fd: a
 * FileHandle's own createWriteStream({ autoClose: false }) keeps a reference that makes handle.close() wait
 * forever.
 */
function writeStreamOn(handle: fsp.FileHandle): fs.WriteStream {
  return fs.createWriteStream('', { fd: handle.fd, autoClose: false });
}

class ByteCounter extends Transform {
  bytes = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    callback(null, chunk);
  }
}
