// A Transform that makes every line end CRLF: a lone LF or a lone CR becomes CRLF.
// Queue files are CRLF-only by construction, so no end-of-data variant (<LF>.<LF>, <CR>.<CR>, ...) can be
// stored here and later reach a lenient upstream as a second message (SMTP smuggling).
// Line ends are found with indexOf (memchr), not a byte loop: every message goes through here, some twice.
import { Transform, type TransformCallback } from 'node:stream';

const CR = 0x0d;
const LF = 0x0a;
const CRLF = Buffer.from([CR, LF]);

export class CrlfNormalizer extends Transform {
  #pendingCr = false;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const parts: Buffer[] = [];
    let start = 0;
    if (this.#pendingCr) {
      // The previous chunk ended in CR: it ends a line whether or not an LF follows.
      this.#pendingCr = false;
      parts.push(CRLF);
      if (chunk.length > 0 && chunk[0] === LF) start = 1;
    }
    let nextCr = chunk.indexOf(CR, start);
    let nextLf = chunk.indexOf(LF, start);
    while (nextCr !== -1 || nextLf !== -1) {
      if (nextCr === -1 || (nextLf !== -1 && nextLf < nextCr)) {
        // A lone LF (an LF after a CR is consumed with its CR below).
        parts.push(chunk.subarray(start, nextLf), CRLF);
        start = nextLf + 1;
        nextLf = chunk.indexOf(LF, start);
      } else if (nextCr + 1 === chunk.length) {
        parts.push(chunk.subarray(start, nextCr));
        this.#pendingCr = true;
        start = chunk.length;
        break;
      } else if (chunk[nextCr + 1] === LF) {
        // CRLF already: keep it in the current run.
        nextCr = chunk.indexOf(CR, nextCr + 2);
        nextLf = chunk.indexOf(LF, nextLf + 1);
      } else {
        parts.push(chunk.subarray(start, nextCr), CRLF);
        start = nextCr + 1;
        nextCr = chunk.indexOf(CR, start);
      }
    }
    if (start === 0 && parts.length === 0) return callback(null, chunk); // unchanged
    if (start < chunk.length) parts.push(chunk.subarray(start));
    callback(null, Buffer.concat(parts));
  }

  override _flush(callback: TransformCallback): void {
    if (this.#pendingCr) this.push(CRLF);
    this.#pendingCr = false;
    callback();
  }
}
