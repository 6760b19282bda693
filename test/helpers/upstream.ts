// A real SMTP server on loopback playing the smart host. Tests script its answers per recipient or per
// message, make it hang, or stop it, and read exactly what it received.
import net from 'node:net';
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import { unusedPort } from './ports.js';

export interface ReceivedMessage {
  from: string;
  to: string[];
  /** The message bytes exactly as received after DATA (dot-unstuffed by smtp-server). */
  data: Buffer;
  /** MAIL FROM parameters as smtp-server parsed them (keys upper case), and each RCPT TO's. */
  mailArgs: Record<string, string | boolean>;
  rcptArgs: Array<Record<string, string | boolean>>;
}

/** A reply script: return undefined to accept, or [code, text] to refuse. */
export type RcptScript = (recipient: string) => [number, string] | undefined;
export type DataScript = (message: ReceivedMessage) => [number, string] | 'drop' | undefined;

export class Upstream {
  readonly received: ReceivedMessage[] = [];
  rcptScript: RcptScript = () => undefined;
  dataScript: DataScript = () => undefined;
  connections = 0;
  #server: SMTPServer | undefined;
  #port = 0;
  #waiters: Array<() => void> = [];
  #hold: { enter: () => void; released: Promise<void> } | undefined;
  readonly #serverOptions: Partial<SMTPServerOptions>;

  /** `serverOptions` shape the EHLO reply, e.g. { hideDSN: false } or { hide8BITMIME: true }. */
  constructor(serverOptions: Partial<SMTPServerOptions> = {}) {
    this.#serverOptions = serverOptions;
  }

  /** The next message's reply to the final dot waits until `release()`; `entered` resolves once it is waiting. */
  holdNextData(): { entered: Promise<void>; release: () => void } {
    let enter: () => void = () => undefined;
    let release: () => void = () => undefined;
    const entered = new Promise<void>((resolve) => (enter = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    this.#hold = { enter, released };
    return { entered, release };
  }

  get port(): number {
    return this.#port;
  }

  get address(): string {
    return `127.0.0.1:${this.#port}`;
  }

  /**
   * Starts listening; on a restart the same port is reused. The first port comes from unusedPort(), outside the
   * ephemeral range, so that no other socket can take it while this host is down between a stop and a restart.
   */
  async start(port = this.#port): Promise<this> {
    if (port === 0) port = await unusedPort();
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['AUTH', 'STARTTLS'],
      disableReverseLookup: true,
      logger: false,
      maxRecipients: 100, // like most real servers: a relay must split larger envelopes
      size: 50 * 1024 * 1024,
      ...this.#serverOptions,
      onConnect: (_session, cb) => {
        this.connections++;
        cb();
      },
      onMailFrom: (_address, _session, cb) => {
        if (!this.#down) return cb();
        cb(Object.assign(new Error('4.3.2 Service shutting down'), { responseCode: 421 }));
      },
      onRcptTo: (address, _session, cb) => {
        const reply = this.rcptScript(address.address);
        if (!reply) return cb();
        cb(Object.assign(new Error(reply[1]), { responseCode: reply[0] }));
      },
      onData: (stream, session: SMTPServerSession, cb) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', async () => {
          const hold = this.#hold;
          if (hold) {
            this.#hold = undefined;
            hold.enter();
            await hold.released;
          }
          const message: ReceivedMessage = {
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            data: Buffer.concat(chunks),
            mailArgs: (session.envelope.mailFrom && session.envelope.mailFrom.args) || {},
            rcptArgs: session.envelope.rcptTo.map((r) => r.args || {}),
          };
          const reply = this.dataScript(message);
          if (reply === 'drop') {
            this.#dropAll();
            return;
          }
          if (reply) return cb(Object.assign(new Error(reply[1]), { responseCode: reply[0] }));
          this.received.push(message);
          for (const wake of this.#waiters.splice(0)) wake();
          cb();
        });
      },
    });
    server.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      server.server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    const address = server.server.address();
    this.#port = typeof address === 'object' && address ? address.port : port;
    this.#server = server;
    return this;
  }

  #dropAll(): void {
    const server = this.#server as unknown as { connections?: Set<{ _socket: net.Socket }> };
    for (const conn of server?.connections ?? []) conn._socket.destroy();
  }

  #down = false;

  /**
   * Goes down gently, as a real server restarting: no new connections, and 421 to the next transaction on the
   * ones already open. A transaction already in DATA still completes, so nothing is accepted unacknowledged.
   */
  async flapDown(): Promise<void> {
    this.#down = true;
    await new Promise<void>((resolve) => this.#server!.server.close(() => resolve()));
  }

  async flapUp(): Promise<void> {
    const server = this.#server!.server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#down = false;
  }

  /** Stops listening and cuts every open connection (the smart host goes down hard). */
  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#dropAll(); // while #server still names the server: without it, an open connection held close() for 30 s
    this.#server = undefined;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Resolves once `count` messages have been received in all. */
  async waitFor(count: number, timeoutMs = 20_000): Promise<ReceivedMessage[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`upstream got ${this.received.length} of ${count} messages in ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.received;
  }
}

/** A TCP server that accepts connections and never says a word: the hanging smart host. */
export async function startSilentServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

