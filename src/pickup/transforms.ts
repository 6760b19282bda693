// Byte-stream steps between a Pickup file and the spool. Each sees CRLF-only input (spool/crlf.ts runs first),
// keeps a little state across chunk boundaries, and never holds more than one chunk.
import { Transform, type TransformCallback } from 'node:stream';
import { MessageRejectedError } from '../spool/spool.js';

const LF = 0x0a;
const DOT = 0x2e;

/**
 * IIS's reading of a dot-stuffed pickup file (SmtpDotStuffPickupDirFiles, on by default): the first dot of
 * every line that starts with one is removed, so `..x` becomes `.x` and a lone `.` an empty line. Nothing here
 * ends the message: a `.` line is data like any other.
 */
export class DotUnstuffer extends Transform {
  #atLineStart = true;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (chunk.length === 0) return callback();
    const parts: Buffer[] = [];
    let start = 0;
    if (this.#atLineStart && chunk[0] === DOT) start = 1;
    for (let lf = chunk.indexOf(LF, start); lf !== -1; lf = chunk.indexOf(LF, lf + 1)) {
      if (lf + 1 < chunk.length && chunk[lf + 1] === DOT) {
        parts.push(chunk.subarray(start, lf + 1));
        start = lf + 2;
      }
    }
    parts.push(chunk.subarray(start));
    this.#atLineStart = chunk[chunk.length - 1] === LF;
    callback(null, parts.length === 1 ? parts[0] : Buffer.concat(parts));
  }
}

/** The file no longer starts with the bytes read a moment ago: its writer is still at it. */
export class FileChangedError extends Error {
  override name = 'FileChangedError';
}

/**
 * Swaps the start of the stream for `replacement`: the first bytes must equal `expected` (the envelope lines
 * and headers read before), else the stream fails with FileChangedError.
 */
export class ReplacePrefix extends Transform {
  readonly #expected: Buffer;
  readonly #replacement: Buffer;
  #matched = 0;
  #replaced = false;

  constructor(expected: Buffer, replacement: Buffer) {
    super();
    this.#expected = expected;
    this.#replacement = replacement;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    let rest = chunk;
    if (this.#matched < this.#expected.length) {
      const n = Math.min(this.#expected.length - this.#matched, rest.length);
      if (!rest.subarray(0, n).equals(this.#expected.subarray(this.#matched, this.#matched + n))) {
        return callback(new FileChangedError('the file changed while it was being read'));
      }
      this.#matched += n;
      rest = rest.subarray(n);
    }
    if (this.#matched === this.#expected.length) this.#pushReplacement();
    callback(null, rest.length > 0 ? rest : undefined);
  }

  override _flush(callback: TransformCallback): void {
    if (this.#matched < this.#expected.length) return callback(new FileChangedError('the file got shorter while it was being read'));
    this.#pushReplacement();
    callback();
  }

  #pushReplacement(): void {
    if (this.#replaced) return;
    this.#replaced = true;
    if (this.#replacement.length > 0) this.push(this.#replacement);
  }
}

/** A NUL byte means a binary file, not a mail message. */
export class NulGuard extends Transform {
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (chunk.includes(0)) return callback(new MessageRejectedError('binary file: it holds NUL bytes, not a mail message'));
    callback(null, chunk);
  }
}

/** Fails the stream once more than `limit` bytes went through (the file grew after it was measured). */
export class SizeGuard extends Transform {
  readonly #limit: number;
  #bytes = 0;

  constructor(limit: number) {
    super();
    this.#limit = limit;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#bytes += chunk.length;
    if (this.#bytes > this.#limit) {
      return callback(new MessageRejectedError(`the message is larger than maxMessageSize (${this.#limit} bytes)`));
    }
    callback(null, chunk);
  }
}
