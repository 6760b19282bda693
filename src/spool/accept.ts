// Acceptance: one message written durably into Queue, Drop or both (temp files in SortTemp, fsync, rename, fsync
// of the folders), all or nothing.
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { failpoint } from '../failpoints.js';
import { BatchedFileWriter, type BatchTarget } from './batched-writer.js';
import { CrlfNormalizer } from '../mail/crlf.js';
import { errorCode } from '../util/error-code.js';
import { fsyncDir, renameWithRetry } from './durable.js';
import { formatEnvelopeHead, type Envelope } from './eml-format.js';
import { closeFile, createFile, syncFile, unlinkIfPresent } from './file-ops.js';
import { QUEUE_SUFFIX } from './queue-names.js';

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

export interface PendingFile {
  envelope: Envelope;
  dir: string;
  temp: string;
  fd?: number | undefined;
}

/** The durable path for acceptTo's files; returns the size of the last one. */
export async function writeAndCommit(id: string, files: PendingFile[], body: Readable, options: AcceptOptions): Promise<number> {
  const committed: string[] = [];
  let size = 0;
  try {
    const prefix = options.prefix?.(id) ?? Buffer.alloc(0);
    const writes: BatchTarget[] = [];
    for (const file of files) {
      file.fd = await openNew(file.temp);
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
      await renameInto(file.temp, target);
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
async function openNew(temp: string): Promise<number> {
  try {
    return await createFile(temp, true);
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw err;
    await fsp.mkdir(path.dirname(temp), { recursive: true, mode: 0o700 });
    return createFile(temp, true);
  }
}

async function renameInto(temp: string, target: string): Promise<void> {
  try {
    await renameWithRetry(temp, target);
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw err;
    await fsp.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
    await renameWithRetry(temp, target);
  }
}
