// The inbound SMTP listener: smtp-server configured for a local relay, bound to each configured address.
import { SMTPServer } from 'smtp-server';
import type { HostPort } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { MailEvents } from '../log/mail-events.js';
import type { Spool } from '../spool/spool.js';
import { createDataHandler } from './receive.js';

export interface InboundOptions {
  listen: HostPort[];
  hostname: string;
  maxMessageSize: number;
  spool: Spool;
  log: Logger;
  events: MailEvents;
}

export interface BoundAddress {
  host: string;
  port: number;
}

/** smtp-server's bunyan-style logger calls, sent to winston at debug level. */
function libraryLogger(log: Logger) {
  const write = (level: string) => (...args: unknown[]) => {
    const parts = args.filter((a) => typeof a === 'string' || typeof a === 'number');
    if (log.isLevelEnabled('debug')) log.log('debug', parts.map(String).join(' '), { lib: 'smtp-server', level });
  };
  return { info: write('info'), debug: write('debug'), error: write('error'), warn: write('warn'), trace: write('trace'), fatal: write('fatal') };
}

export class InboundServer {
  readonly #servers: SMTPServer[] = [];
  readonly #options: InboundOptions;
  readonly bound: BoundAddress[] = [];

  constructor(options: InboundOptions) {
    this.#options = options;
  }

  #createServer(): SMTPServer {
    const { hostname, maxMessageSize, log } = this.#options;
    const server = new SMTPServer({
      name: hostname,
      banner: 'mailroot ready',
      size: maxMessageSize,
      authOptional: true,
      disabledCommands: ['AUTH', 'STARTTLS'],
      disableReverseLookup: true, // a slow resolver must never delay the greeting
      socketTimeout: 10 * 60_000, // IIS connection time-out
      closeTimeout: 5_000,
      logger: libraryLogger(log) as never,
      onData: createDataHandler({ ...this.#options }),
    });
    // Without this listener a client's connection reset would crash the process.
    server.on('error', (err: Error) => log.warn('smtp connection error', { error: err.message }));
    return server;
  }

  async start(): Promise<void> {
    for (const address of this.#options.listen) {
      const server = this.#createServer();
      try {
        await new Promise<void>((resolve, reject) => {
          const onError = (err: Error) => reject(err);
          server.server.once('error', onError);
          server.listen(address.port, address.host, () => {
            server.server.off('error', onError);
            resolve();
          });
        });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // An IPv6 loopback on a machine with IPv6 turned off is not worth refusing to start for.
        if (address.host === '::1' && (code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT')) {
          this.#options.log.warn('IPv6 loopback unavailable, not listening on it', { address: `[::1]:${address.port}` });
          continue;
        }
        await this.stop();
        throw new Error(`cannot listen on ${address.host}:${address.port}: ${(err as Error).message}`, { cause: err });
      }
      const bound = server.server.address();
      const port = typeof bound === 'object' && bound ? bound.port : address.port;
      this.bound.push({ host: address.host, port });
      this.#servers.push(server);
      this.#options.log.info('listening', { address: address.host.includes(':') ? `[${address.host}]:${port}` : `${address.host}:${port}` });
    }
  }

  /** Stops accepting; sessions still open get 421 after closeTimeout, in-flight DATA finishes or is not acknowledged. */
  async stop(): Promise<void> {
    await Promise.all(this.#servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    this.#servers.length = 0;
  }
}
