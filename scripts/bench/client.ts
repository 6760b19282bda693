// The load client, both ways real clients connect: SMTP sessions that each send messages one after another over
// one connection, or one connection per message (connect, greeting, EHLO, the transaction, QUIT) as .NET's
// SmtpClient, the AD CS exit module, PHP's mail() on Windows and smtp-source do.
//
// The default is a minimal raw-socket client (plain request/response, no PIPELINING, as most submitting programs
// do): it costs far less CPU per message than nodemailer's SMTPConnection, and on a 2-core machine the client's
// CPU is taken from the relay. `--client nodemailer` uses SMTPConnection instead, for comparison.
import net from 'node:net';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { nowMs } from './util.js';

export type ClientKind = 'raw' | 'nodemailer';

export interface SendTiming {
  /** MAIL FROM sent -> 250 after the final dot: what the submitting program waits for. */
  transactionMs: number;
  /** Final dot sent -> 250: the relay's own accept work (write, fsync, rename, directory fsync). */
  dataMs: number;
  /** When the 250 arrived (nowMs clock). */
  at: number;
}

export interface SmtpSession {
  send(from: string, to: string[], message: Buffer): Promise<SendTiming>;
  close(): Promise<void>;
}

interface Reply {
  code: number;
  text: string;
}

class RawSession implements SmtpSession {
  readonly #socket: net.Socket;
  readonly #timeoutMs: number;
  #buffer = '';
  #lines: string[] = [];
  readonly #replies: Reply[] = [];
  #waiter: (() => void) | undefined;
  #closedError: Error | undefined;

  constructor(socket: net.Socket, timeoutMs: number) {
    this.#socket = socket;
    this.#timeoutMs = timeoutMs;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    const closed = (err?: Error) => {
      this.#closedError ??= err ?? new Error('connection closed');
      this.#wake();
    };
    socket.on('error', closed);
    socket.on('close', () => closed());
  }

  #onData(chunk: Buffer): void {
    this.#buffer += chunk.toString('latin1');
    for (let end = this.#buffer.indexOf('\r\n'); end !== -1; end = this.#buffer.indexOf('\r\n')) {
      const line = this.#buffer.slice(0, end);
      this.#buffer = this.#buffer.slice(end + 2);
      this.#lines.push(line);
      if (line.length < 4 || line[3] === ' ') {
        this.#replies.push({ code: Number(line.slice(0, 3)), text: this.#lines.join('\n') });
        this.#lines = [];
      }
    }
    this.#wake();
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.();
  }

  async reply(expect: number): Promise<Reply> {
    const deadline = Date.now() + this.#timeoutMs;
    while (this.#replies.length === 0) {
      if (this.#closedError) throw this.#closedError;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply within ${this.#timeoutMs} ms (expected ${expect})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    const reply = this.#replies.shift()!;
    if (reply.code !== expect) throw new Error(`expected ${expect}, got: ${reply.text}`);
    return reply;
  }

  async command(line: string, expect: number): Promise<Reply> {
    this.#socket.write(line + '\r\n');
    return this.reply(expect);
  }

  async send(from: string, to: string[], message: Buffer): Promise<SendTiming> {
    const start = nowMs();
    await this.command(`MAIL FROM:<${from}>`, 250);
    for (const rcpt of to) await this.command(`RCPT TO:<${rcpt}>`, 250);
    await this.command('DATA', 354);
    const dot = nowMs();
    this.#socket.write(message);
    this.#socket.write('.\r\n');
    await this.reply(250);
    const at = nowMs();
    return { transactionMs: at - start, dataMs: at - dot, at };
  }

  async close(): Promise<void> {
    if (!this.#closedError) {
      this.#socket.write('QUIT\r\n');
      await this.reply(221).catch(() => undefined);
    }
    this.#socket.destroy();
  }
}

class NodemailerSession implements SmtpSession {
  readonly #connection: SMTPConnection;

  constructor(connection: SMTPConnection) {
    this.#connection = connection;
  }

  send(from: string, to: string[], message: Buffer): Promise<SendTiming> {
    const start = nowMs();
    return new Promise((resolve, reject) => {
      this.#connection.send({ from, to }, message, (err) => {
        if (err) return reject(err);
        const at = nowMs();
        // nodemailer does not expose when the dot went out; the transaction time is the figure that counts.
        resolve({ transactionMs: at - start, dataMs: Number.NaN, at });
      });
    });
  }

  async close(): Promise<void> {
    this.#connection.quit();
    this.#connection.close();
  }
}

/** Opens a session: connect, 220 greeting, EHLO. */
export async function openSession(kind: ClientKind, port: number, timeoutMs = 30_000): Promise<SmtpSession> {
  if (kind === 'nodemailer') {
    const connection = new SMTPConnection({
      host: '127.0.0.1',
      port,
      name: 'bench.client',
      ignoreTLS: true,
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs,
    });
    await new Promise<void>((resolve, reject) => {
      connection.once('error', reject);
      connection.connect(() => {
        connection.off('error', reject);
        connection.on('error', () => undefined);
        resolve();
      });
    });
    return new NodemailerSession(connection);
  }
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('connect timed out')), timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  const session = new RawSession(socket, timeoutMs);
  try {
    await session.reply(220);
    await session.command('EHLO bench.client', 250);
  } catch (err) {
    socket.destroy();
    throw err;
  }
  return session;
}

/**
 * One message on a connection of its own: connect, 220, EHLO, MAIL, RCPT, DATA, the message, 250, QUIT.
 * transactionMs is from connect() to the 250 after the final dot: what a client that connects per message waits.
 */
export async function sendOnOwnConnection(kind: ClientKind, port: number, from: string, to: string[], message: Buffer): Promise<SendTiming> {
  const start = nowMs();
  const session = await openSession(kind, port);
  try {
    const timing = await session.send(from, to, message);
    return { ...timing, transactionMs: timing.at - start };
  } finally {
    await session.close();
  }
}

/** 'sessions': each worker keeps one connection; 'per-connection': a new connection for every message. */
export type ConnectionMode = 'sessions' | 'per-connection';

export interface LoadOptions {
  kind: ClientKind;
  port: number;
  /** Default 'sessions'. */
  mode?: ConnectionMode;
  sessions: number;
  total: number;
  message: Buffer;
  /** Stop starting new messages after this moment (nowMs clock). */
  deadline: number;
}

export interface LoadResult {
  accepted: number;
  failed: number;
  errors: string[];
  /** Clock when the first message of the run started (in 'sessions' mode the sessions were already open). */
  start: number;
  /** Clock of the last 250. */
  lastAccept: number;
  /** 'sessions': MAIL FROM -> 250 after the dot; 'per-connection': connect() -> 250 after the dot. */
  transactionMs: number[];
  dataMs: number[];
}

/**
 * `sessions` workers share `total` messages, each sending its next message once the previous one got its reply:
 * over a connection of its own that stays open ('sessions'), or over a new connection per message
 * ('per-connection'). Bounded by count and by `deadline`.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const sessions = options.mode === 'per-connection'
    ? undefined
    : await Promise.all(Array.from({ length: options.sessions }, () => openSession(options.kind, options.port)));
  const result: LoadResult = { accepted: 0, failed: 0, errors: [], start: nowMs(), lastAccept: Number.NaN, transactionMs: [], dataMs: [] };
  let next = 0;
  const worker = async (index: number) => {
    const recipients = [`sink${index}@example.net`];
    while (next < options.total && nowMs() < options.deadline) {
      next++;
      try {
        const timing = sessions
          ? await sessions[index]!.send('bench@example.com', recipients, options.message)
          : await sendOnOwnConnection(options.kind, options.port, 'bench@example.com', recipients, options.message);
        result.accepted++;
        result.lastAccept = timing.at;
        result.transactionMs.push(timing.transactionMs);
        result.dataMs.push(timing.dataMs);
      } catch (err) {
        result.failed++;
        if (result.errors.length < 5) result.errors.push((err as Error).message);
        return; // a worker that failed stops; the others go on
      }
    }
  };
  await Promise.all(Array.from({ length: options.sessions }, (_, index) => worker(index)));
  if (sessions) await Promise.all(sessions.map((session) => session.close().catch(() => undefined)));
  return result;
}
