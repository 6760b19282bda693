// One writer for the bytes of a message going into one or more spool files at once.
import { Writable } from 'node:stream';
import { writeAll } from './file-ops.js';

export interface BatchTarget {
  fd: number;
  /** Written before the first body bytes: each file has its own envelope lines. */
  head: Buffer | undefined;
}

/**
 * Writes the same bytes to one or more open files (Queue and Drop), gathering them in memory up to
 * BATCH_BYTES per write. Most messages are a few KB: one writev each instead of one write (a thread-pool round
 * trip) per chunk the client's TCP segments happened to make.
 */
export class BatchedFileWriter extends Writable {
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
