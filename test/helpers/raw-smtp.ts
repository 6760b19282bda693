// A byte-exact SMTP client on a plain TCP socket: writes exactly what the test says (bare CR, bare LF, NUL,
// segments split where the test wants them, with TCP_NODELAY so they leave as separate segments) and reads
// the replies as they come. It can bind to a chosen loopback source address (127.0.0.2 is not 127.0.0.1).
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import tls from 'node:tls';

export interface Reply {
  code: number;
  /** Reply lines without the code and separator. */
  lines: string[];
  /** The whole reply as received, e.g. "250-relay.test ...\r\n250 SIZE 2097152". */
  text: string;
}

export interface RawConnectOptions {
  port: number;
  host?: string;
  localAddress?: string;
  timeoutMs?: number;
}

export class RawSmtp {
  #socket: net.Socket;
  #buffer = '';
  #closed = false;
  #waiters: Array<() => void> = [];

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.setNoDelay(true);
    this.#attach(socket);
  }

  get socket(): net.Socket {
    return this.#socket;
  }

  #attach(socket: net.Socket): void {
    socket.on('data', (chunk: Buffer) => {
      this.#buffer += chunk.toString('latin1');
      this.#wake();
    });
    socket.on('error', () => undefined); // a reset by the server shows as isClosed
    socket.on('close', () => {
      this.#closed = true;
      this.#wake();
    });
  }

  /** STARTTLS, then the TLS handshake on the same connection; rejects when the server refuses either. */
  async startTls(options: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
    const reply = await this.command('STARTTLS');
    if (reply.code !== 220) throw new Error(`STARTTLS got ${reply.text}`);
    const plain = this.#socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    const secure = tls.connect({ socket: plain, ...options });
    secure.on('error', () => undefined);
    this.#socket = secure;
    this.#attach(secure);
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
      secure.once('close', () => reject(new Error('the connection closed during the TLS handshake')));
    });
    return secure;
  }

  static connect(options: RawConnectOptions): Promise<RawSmtp> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({
        port: options.port,
        host: options.host ?? '127.0.0.1',
        ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no connection in ${options.timeoutMs ?? 10_000} ms`));
      }, options.timeoutMs ?? 10_000);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', reject);
        resolve(new RawSmtp(socket));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  /** Connects and reads the greeting. */
  static async open(options: RawConnectOptions): Promise<{ client: RawSmtp; greeting: Reply }> {
    const client = await RawSmtp.connect(options);
    return { client, greeting: await client.reply() };
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  #wake(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }

  #takeReply(): Reply | undefined {
    let offset = 0;
    const lines: string[] = [];
    for (;;) {
      const end = this.#buffer.indexOf('\r\n', offset);
      if (end === -1) return undefined;
      const line = this.#buffer.slice(offset, end);
      offset = end + 2;
      lines.push(line);
      if (/^\d{3}(?: |$)/.test(line)) {
        const text = this.#buffer.slice(0, offset - 2);
        this.#buffer = this.#buffer.slice(offset);
        return { code: Number(line.slice(0, 3)), lines: lines.map((l) => l.slice(4)), text };
      }
    }
  }

  /** The next complete reply. Rejects when the connection closes first or nothing comes in time. */
  async reply(timeoutMs = 10_000): Promise<Reply> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const reply = this.#takeReply();
      if (reply) return reply;
      if (this.#closed) throw new Error(`connection closed while waiting for a reply (unparsed: ${JSON.stringify(this.#buffer)})`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply in ${timeoutMs} ms (unparsed: ${JSON.stringify(this.#buffer)})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Every reply still to come, until the server closes the connection (or the time runs out). */
  async repliesUntilClosed(timeoutMs = 10_000): Promise<Reply[]> {
    const replies: Reply[] = [];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const reply = this.#takeReply();
      if (reply) {
        replies.push(reply);
        continue;
      }
      if (this.#closed) return replies;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`connection still open after ${timeoutMs} ms; replies so far ${JSON.stringify(replies.map((r) => r.text))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Resolves once the bytes are handed to the kernel; rejects when the connection is gone first. */
  write(data: string | Buffer): Promise<void> {
    const socket = this.#socket;
    return new Promise((resolve, reject) => {
      // A write still queued when the socket is torn down does not always get its callback: listen for the close.
      const onClose = () => reject(new Error('connection closed'));
      socket.once('close', onClose);
      socket.write(typeof data === 'string' ? Buffer.from(data, 'utf8') : data, (err) => {
        socket.off('close', onClose);
        if (err) reject(err);
        else resolve();
      });
    });
  }

  /** Writes each part as its own TCP segment, pausing between them so they are not coalesced. */
  async writeSegments(parts: Array<string | Buffer>, gapMs = 50): Promise<void> {
    for (const [i, part] of parts.entries()) {
      if (i > 0) await sleep(gapMs);
      await this.write(part);
    }
  }

  /** Sends one command line (CRLF added) and reads its reply. */
  async command(line: string, timeoutMs?: number): Promise<Reply> {
    await this.write(`${line}\r\n`);
    return this.reply(timeoutMs);
  }

  async quit(): Promise<void> {
    if (!this.#closed) {
      await this.write('QUIT\r\n').catch(() => undefined);
      await this.repliesUntilClosed(5_000).catch(() => undefined);
    }
    this.#socket.destroy();
  }

  destroy(): void {
    this.#socket.destroy();
  }
}

/** EHLO, MAIL FROM and RCPT TO for each recipient, checking each reply is 250; then DATA and its 354. */
export async function openTransaction(client: RawSmtp, from: string, to: string[]): Promise<void> {
  for (const line of ['EHLO client.test', `MAIL FROM:<${from}>`, ...to.map((r) => `RCPT TO:<${r}>`)]) {
    const reply = await client.command(line);
    if (reply.code !== 250) throw new Error(`${line} got ${reply.text}`);
  }
  const data = await client.command('DATA');
  if (data.code !== 354) throw new Error(`DATA got ${data.text}`);
}

/** Whether IPv6 loopback works on this machine (some CI containers have IPv6 turned off). */
export async function ipv6LoopbackAvailable(): Promise<boolean> {
  const server = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '::1', () => resolve());
    });
    return true;
  } catch {
    return false;
  } finally {
    server.close();
  }
}
