// Sits between smtp-server's DATA stream and the spool. Once a limit is passed it swallows the rest, so an
// oversized message never fills the disk, while the client can still finish sending and get its reply.
// It also removes NUL bytes: they have no place in SMTP text (RFC 5321 section 4.1.4, RFC 6152), and an
// upstream that drops them would read "\r\n\0.\r\n" as the end of the data.
import { Transform, type TransformCallback } from 'node:stream';
import { SmtpError } from './smtp-error.js';

export interface DataLimits {
  maxMessageSize: number;
  /** What the connection may still send (maxSessionSize minus earlier messages). */
  sessionRemaining: number;
  maxHeaderSize: number;
}


const CR = 0x0d;
const LF = 0x0a;
const NUL = 0x00;

export class DataGuard extends Transform {
  readonly #limits: DataLimits;
  /** Every byte received, kept or not. */
  bytes = 0;
  #headerBytes = 0;
  #inHeader = true;
  #lineLength = 0;
  #lineBytes = 0;
  #pendingCr = false;
  #headerTooLarge = false;

  constructor(limits: DataLimits) {
    super();
    this.#limits = limits;
  }

  /** Why the message must be refused, once it has all been read; undefined when it is fine. */
  rejection(): SmtpError | undefined {
    const { maxMessageSize, sessionRemaining, maxHeaderSize } = this.#limits;
    if (this.bytes > maxMessageSize) {
      return new SmtpError(552, '5.3.4', `Message size exceeds fixed maximum message size (${maxMessageSize} bytes)`);
    }
    if (this.#headerTooLarge) {
      return new SmtpError(552, '5.3.4', `Message header exceeds fixed maximum header size (${maxHeaderSize} bytes)`);
    }
    if (this.bytes > sessionRemaining) {
      // Temporary: the same message fits on a new connection.
      return new SmtpError(452, '4.3.1', 'Session size limit reached; send further messages on a new connection');
    }
    return undefined;
  }

  get #stopped(): boolean {
    return this.bytes > this.#limits.maxMessageSize || this.bytes > this.#limits.sessionRemaining || this.#headerTooLarge;
  }

  /**
   * Follows lines until the first empty one. The header block is every header line with its line end, the
   * empty line not included. A line ends at CRLF, or at a lone CR or LF (the spool stores those as CRLF).
   */
  #scanHeader(chunk: Buffer): void {
    for (let i = 0; i < chunk.length && this.#inHeader; i++) {
      const byte = chunk[i];
      if (this.#pendingCr) {
        this.#pendingCr = false;
        if (byte === LF) {
          this.#lineBytes++;
          this.#endLine();
          continue;
        }
        this.#endLine(); // a lone CR ended the line; this byte starts the next one
        if (!this.#inHeader) break;
      }
      this.#lineBytes++;
      if (byte === CR) this.#pendingCr = true;
      else if (byte === LF) this.#endLine();
      else this.#lineLength++;
    }
    // A line still open at the end of the chunk counts too (an endless header line), unless it is only the CR
    // that may begin the empty line.
    const open = this.#lineLength > 0 ? this.#lineBytes : 0;
    if (this.#inHeader && this.#headerBytes + open > this.#limits.maxHeaderSize) this.#headerTooLarge = true;
  }

  #endLine(): void {
    if (this.#lineLength === 0) this.#inHeader = false;
    else this.#headerBytes += this.#lineBytes;
    if (this.#headerBytes > this.#limits.maxHeaderSize) this.#headerTooLarge = true;
    this.#lineLength = 0;
    this.#lineBytes = 0;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.#inHeader && !this.#headerTooLarge) this.#scanHeader(chunk);
    if (this.#stopped) return callback();
    callback(null, chunk.includes(NUL) ? withoutNul(chunk) : chunk);
  }
}

function withoutNul(chunk: Buffer): Buffer {
  const out = Buffer.allocUnsafe(chunk.length);
  let n = 0;
  for (const byte of chunk) if (byte !== NUL) out[n++] = byte;
  return out.subarray(0, n);
}
