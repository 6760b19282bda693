// Adds Message-ID: and Date: to a message whose header block lacks them (RFC 5322 3.6: Date is required, a
// Message-ID should be there, and large mailbox providers refuse mail without one). IIS and Postfix do this for
// their local clients. The header block is held until its end (at most `limit` bytes, past which the message is
// passed on untouched: DataGuard refuses such a header anyway); the body streams through.
import { Transform, type TransformCallback } from 'node:stream';

export interface MissingHeadersOptions {
  limit: number;
  messageId: () => string;
  date: () => string;
}

/** The end of the header block: the first empty line (CRLF CRLF, or LF LF from a sloppy client). */
function headerEnd(data: Buffer): number {
  if (data.subarray(0, 2).toString('latin1') === '\r\n') return 0;
  if (data[0] === 0x0a) return 0;
  const crlf = data.indexOf('\r\n\r\n');
  const lf = data.indexOf('\n\n');
  const ends = [crlf === -1 ? -1 : crlf + 2, lf === -1 ? -1 : lf + 1].filter((n) => n >= 0);
  return ends.length === 0 ? -1 : Math.min(...ends);
}

export class MissingHeaders extends Transform {
  readonly #options: MissingHeadersOptions;
  #held: Buffer[] = [];
  #heldBytes = 0;
  #done = false;

  constructor(options: MissingHeadersOptions) {
    super();
    this.#options = options;
  }

  #additions(header: string): string {
    let out = '';
    if (!/^message-id[ \t]*:/im.test(header)) out += `Message-ID: ${this.#options.messageId()}\r\n`;
    if (!/^date[ \t]*:/im.test(header)) out += `Date: ${this.#options.date()}\r\n`;
    return out;
  }

  /** Puts the additions at the end of the header block, `end` bytes into `data` (-1: the message is all header). */
  #release(data: Buffer, end: number): void {
    this.#done = true;
    this.#held = [];
    const header = (end === -1 ? data : data.subarray(0, end)).toString('latin1');
    const additions = this.#additions(header);
    if (additions === '') return void this.push(data);
    if (end === -1) {
      const gap = data.length === 0 || header.endsWith('\n') ? '' : '\r\n';
      return void this.push(Buffer.concat([data, Buffer.from(gap + additions, 'latin1')]));
    }
    this.push(Buffer.concat([data.subarray(0, end), Buffer.from(additions, 'latin1'), data.subarray(end)]));
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.#done) return callback(null, chunk);
    // Usually the first chunk holds the whole header block: no copy then.
    const data = this.#held.length === 0 ? chunk : Buffer.concat([...this.#held, chunk]);
    this.#held = [data];
    this.#heldBytes = data.length;
    const end = headerEnd(data);
    if (end !== -1) {
      this.#release(data, end);
    } else if (this.#heldBytes > this.#options.limit) {
      this.#done = true;
      this.#held = [];
      this.push(data);
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    if (!this.#done) this.#release(Buffer.concat(this.#held), -1);
    callback();
  }
}
