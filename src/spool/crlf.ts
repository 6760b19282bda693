// A byte-wise Transform that makes every line end CRLF: a lone LF or a lone CR becomes CRLF.
// Queue files are CRLF-only by construction, so no end-of-data variant (<LF>.<LF>, <CR>.<CR>, ...) can be
// stored here and later reach a lenient upstream as a second message (SMTP smuggling).
import { Transform, type TransformCallback } from 'node:stream';

const CR = 0x0d;
const LF = 0x0a;

export class CrlfNormalizer extends Transform {
  #pendingCr = false;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    let start = 0;
    const parts: Buffer[] = [];
    let i = 0;
    if (this.#pendingCr) {
      this.#pendingCr = false;
      parts.push(Buffer.from([CR, LF]));
      if (chunk.length > 0 && chunk[0] === LF) i = 1;
      start = i;
    }
    for (; i < chunk.length; i++) {
      const byte = chunk[i];
      if (byte === CR) {
        if (i + 1 === chunk.length) {
          parts.push(chunk.subarray(start, i));
          this.#pendingCr = true;
          start = chunk.length;
          break;
        }
        if (chunk[i + 1] === LF) {
          i++;
          continue;
        }
        parts.push(chunk.subarray(start, i), Buffer.from([CR, LF]));
        start = i + 1;
      } else if (byte === LF) {
        parts.push(chunk.subarray(start, i), Buffer.from([CR, LF]));
        start = i + 1;
      }
    }
    if (start < chunk.length) parts.push(chunk.subarray(start));
    callback(null, parts.length === 1 ? parts[0] : Buffer.concat(parts)); // one part: unchanged chunk
  }

  override _flush(callback: TransformCallback): void {
    if (this.#pendingCr) this.push(Buffer.from([CR, LF]));
    this.#pendingCr = false;
    callback();
  }
}
