// The inbound SMTP listener: smtp-server configured for a local relay, bound to each configured address, with
// the access rules (access.ts), limits (limits.ts, data-guard.ts), STARTTLS (tls.ts) and AUTH (auth.ts).
import {
  SMTPServer,
  type SMTPServerAddress,
  type SMTPServerAuthentication,
  type SMTPServerAuthenticationResponse,
  type SMTPServerOptions,
  type SMTPServerSession,
} from 'smtp-server';
import { isWideCidr, formatCidr } from '../config/cidr.js';
import { isLoopbackIp, type Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { MailEvents } from '../log/mail-events.js';
import type { ProtocolLog } from '../ops/protocol-log.js';
import { observeInbound } from '../ops/protocol-observer.js';
import type { Spool } from '../spool/spool.js';
import { Access, AddressList } from './access.js';
import { UserDirectory } from './auth.js';
import { adaptConnection } from './connection-adapter.js';
import { ConnectionTracker, DiskGate, SessionBytes, closeSession, type FreeSpaceProbe } from './limits.js';
import { checkMailFrom, checkRcptTo } from './parameters.js';
import { isFullyQualified } from '../config/hostname.js';
import { setGreetingDelay } from './greeting.js';
import { createDataHandler } from './receive.js';
import { SmtpError } from './smtp-error.js';
import { loadTlsOptions, type ServerTlsOptions } from './tls.js';

export interface InboundOptions {
  config: Readonly<Config>;
  spool: Spool;
  log: Logger;
  events: MailEvents;
  /** Free bytes on the mailroot's disk; statfs unless a test replaces it. */
  freeSpace?: FreeSpaceProbe;
  /** The IIS-format protocol log, when it is on: fed by an observer around the callbacks below. */
  protocolLog?: ProtocolLog | undefined;
}

export interface BoundAddress {
  host: string;
  port: number;
}

/** After this many wrong passwords in one connection the client is disconnected (421). */
const MAX_AUTH_FAILURES = 3;

/** smtp-server's bunyan-style logger calls, sent to winston at debug level. */
function libraryLogger(log: Logger) {
  const write = (level: string) => (...args: unknown[]) => {
    const parts = args.filter((a) => typeof a === 'string' || typeof a === 'number');
    log.log('debug', parts.map(String).join(' '), { lib: 'smtp-server', level });
  };
  return { info: write('info'), debug: write('debug'), error: write('error'), warn: write('warn'), trace: write('trace'), fatal: write('fatal') };
}

function declaredSize(address: SMTPServerAddress): number | undefined {
  const size = address.args ? address.args.SIZE : undefined;
  return typeof size === 'string' && /^\d+$/.test(size) ? Number(size) : undefined;
}

export class InboundServer {
  readonly #servers: SMTPServer[] = [];
  readonly #options: InboundOptions;
  readonly #access: Access;
  readonly #connections: ConnectionTracker;
  readonly #sessionBytes: SessionBytes;
  readonly #disk: DiskGate;
  readonly #users: UserDirectory;
  readonly #authFailures = new WeakMap<SMTPServerSession, number>();
  /** Loaded by start(): a certificate that cannot be read fails the start, naming the key. */
  #tls: ServerTlsOptions | undefined;
  readonly #tlsConfigured: boolean;
  /** Commands off for every session: STARTTLS without a certificate, AUTH without users. */
  readonly #disabled: string[];
  /** AUTH is hidden until STARTTLS unless allowInsecureAuth. */
  readonly #authNeedsTls: boolean;
  readonly bound: BoundAddress[] = [];

  constructor(options: InboundOptions) {
    this.#options = options;
    const { config, log, spool } = options;
    this.#access = new Access(config);
    this.#connections = new ConnectionTracker(config);
    this.#sessionBytes = new SessionBytes(config.maxSessionSize);
    let probeErrorLogged = false;
    this.#disk = new DiskGate({
      dir: spool.layout.root,
      minFreeSpace: config.minFreeSpace,
      maxMessageSize: config.maxMessageSize,
      ...(options.freeSpace ? { probe: options.freeSpace } : {}),
      onProbeError: (err) => {
        if (!probeErrorLogged) log.warn('cannot check free disk space; the minFreeSpace check is skipped', { error: err.message });
        probeErrorLogged = true;
      },
    });
    this.#users = new UserDirectory(config.authUsers);
    this.#tlsConfigured = config.tlsPfx !== undefined || config.tlsCert !== undefined;
    this.#disabled = [...(this.#tlsConfigured ? [] : ['STARTTLS']), ...(this.#users.size > 0 ? [] : ['AUTH'])];
    this.#authNeedsTls = this.#users.size > 0 && !config.allowInsecureAuth;
  }

  #createServer(): SMTPServer {
    const { config, log } = this.#options;
    let server: SMTPServer | undefined;
    const options: SMTPServerOptions = {
      name: config.hostname,
      banner: 'mailroot ready',
      size: config.maxMessageSize, // advertised in EHLO; MAIL FROM with a larger SIZE= gets 552
      authOptional: true, // anonymous submission, as the AD CS exit module does, keeps working
      authMethods: ['PLAIN', 'LOGIN'],
      allowInsecureAuth: config.allowInsecureAuth,
      disabledCommands: this.#disabled,
      disableReverseLookup: true, // a slow resolver must never delay the greeting
      socketTimeout: config.idleTimeout, // IIS connection time-out
      closeTimeout: 5_000,
      maxClients: config.maxConnections, // per listener; ConnectionTracker counts all listeners together
      maxCommandLength: config.maxCommandLength,
      // A client must never be able to claim another address: no XCLIENT, XFORWARD or PROXY header.
      useXClient: false,
      useXForward: false,
      useProxy: false,
      // RFC 3461 DSN and RFC 2034 enhanced status codes, as IIS offered them (smtp-server hides both by default);
      // 8BITMIME and SMTPUTF8 are offered too (smtp-server's default). See connection-adapter.ts and parameters.ts.
      hideDSN: false,
      hideENHANCEDSTATUSCODES: false,
      // Off unless debug: smtp-server formats an entry for every command and reply before handing it over
      // (about a tenth of what the relay allocated per message at info level).
      logger: log.isLevelEnabled('debug') ? (libraryLogger(log) as never) : false,
      ...(this.#tls ?? {}),
      onConnect: (session, callback) => {
        if (server && !adaptConnection(server, session)) log.warn('smtp-server internals changed: EXPN, quoted local parts and enhanced codes are not adapted');
        this.#onConnect(session, callback);
      },
      onSecure: (_socket, session, callback) => {
        session.disabledCommands = undefined; // back to the server-wide list: AUTH is offered over TLS
        callback();
      },
      onAuth: (auth, session, callback) => this.#onAuth(auth, session, callback),
      onMailFrom: (address, session, callback) => this.#onMailFrom(address, session, callback),
      onRcptTo: (address, session, callback) => this.#onRcptTo(address, session, callback),
      onData: createDataHandler({
        spool: this.#options.spool,
        events: this.#options.events,
        log,
        hostname: config.hostname,
        access: this.#access,
        sessionBytes: this.#sessionBytes,
        maxMessageSize: config.maxMessageSize,
        maxHeaderSize: config.maxHeaderSize,
        dataTimeout: config.dataTimeout,
        closeSession: (session, code, text) => (server ? closeSession(server, session, code, text) : false),
        addMissingHeaders: config.addMissingHeaders,
      }),
      onClose: (session) => this.#connections.close(session.id),
    };
    server = new SMTPServer(this.#options.protocolLog ? observeInbound(options, this.#options.protocolLog) : options);
    setGreetingDelay(server, config.greetingDelay);
    // Without this listener a client's connection reset would crash the process.
    server.on('error', (err: Error) => log.warn('smtp connection error', { error: err.message }));
    return server;
  }

  #onConnect(session: SMTPServerSession, callback: (err?: Error | null) => void): void {
    const { log, config } = this.#options;
    const ip = session.remoteAddress;
    if (!this.#access.mayConnect(ip)) {
      const refused = new SmtpError(554, '5.7.1', `${config.hostname} Access denied`, 'not in allowConnect');
      log.warn('connection refused', { client: ip, reason: refused.reason });
      return callback(refused);
    }
    const refused = this.#connections.open(session.id, ip);
    if (refused) {
      log.warn('connection refused', { client: ip, reason: refused.reason });
      return callback(refused);
    }
    if (this.#authNeedsTls && !session.secure) session.disabledCommands = [...this.#disabled, 'AUTH'];
    callback();
  }

  #onAuth(
    auth: SMTPServerAuthentication,
    session: SMTPServerSession,
    callback: (err: Error | null | undefined, response?: SMTPServerAuthenticationResponse) => void,
  ): void {
    const { log } = this.#options;
    const client = session.remoteAddress;
    this.#users.authenticate(auth.username ?? '', auth.password ?? '').then(
      (user) => {
        if (user) {
          log.info('authenticated', { client, user, method: auth.method });
          return callback(null, { user });
        }
        const failures = (this.#authFailures.get(session) ?? 0) + 1;
        this.#authFailures.set(session, failures);
        log.warn('authentication failed', { client, user: auth.username, method: auth.method, failures });
        if (failures >= MAX_AUTH_FAILURES) {
          return callback(null, { message: '4.7.0 Too many failed authentication attempts', responseCode: 421 });
        }
        callback(null, { message: '5.7.8 Authentication credentials invalid', responseCode: 535 });
      },
      (err: unknown) => {
        log.error('cannot check a password', { error: (err as Error).message });
        callback(new SmtpError(454, '4.7.0', 'Temporary authentication failure'));
      },
    );
  }

  #onMailFrom(address: SMTPServerAddress, session: SMTPServerSession, callback: (err?: Error | null) => void): void {
    const { config, log } = this.#options;
    if (config.requireTls && !session.secure) {
      return callback(new SmtpError(530, '5.7.0', 'Must issue a STARTTLS command first'));
    }
    const refusal = checkMailFrom(address, session);
    if (refusal) return callback(refusal);
    const size = declaredSize(address);
    const remaining = this.#sessionBytes.remaining(session);
    if (remaining === 0 || (size !== undefined && size > remaining)) {
      return callback(new SmtpError(452, '4.3.1', 'Session size limit reached; send further messages on a new connection'));
    }
    this.#disk.check(size).then((refusal) => {
      if (refusal) log.warn('refusing mail: low disk space', { client: session.remoteAddress, minFreeSpace: config.minFreeSpace });
      callback(refusal);
    }, callback);
  }

  #onRcptTo(address: SMTPServerAddress, session: SMTPServerSession, callback: (err?: Error | null) => void): void {
    const { config, log } = this.#options;
    const refusal = checkRcptTo(address, session);
    if (refusal) return callback(refusal);
    const recipients = session.envelope.rcptTo;
    if (recipients.length >= config.maxRecipients) {
      const key = address.address.toLowerCase();
      // A repeated recipient replaces its earlier entry (smtp-server), so it does not count twice.
      if (!recipients.some((r) => r.address.toLowerCase() === key)) {
        return callback(new SmtpError(452, '4.5.3', 'Too many recipients'));
      }
    }
    const decision = this.#access.recipient(address.address, { ip: session.remoteAddress, authenticated: Boolean(session.user) });
    if (!decision.ok) {
      const refusal = decision.reason;
      log.info('recipient refused', { client: session.remoteAddress, recipient: address.address, reason: refusal.reason });
      return callback(refusal);
    }
    callback();
  }

  #warnAboutPolicy(): void {
    const { config, log } = this.#options;
    if (!isFullyQualified(config.hostname)) {
      log.warn(
        `hostname "${config.hostname}" is not fully qualified: set hostname to this machine's full DNS name; smart hosts ` +
          'that require one (Postfix reject_non_fqdn_helo_hostname) refuse all its mail, notifications included',
      );
    }
    const wide = config.allowRelay.filter(isWideCidr);
    if (wide.length > 0 && config.allowOpenRelay && config.listen.some((a) => !isLoopbackIp(a.host))) {
      log.warn('OPEN RELAY: allowOpenRelay is set and allowRelay lets anyone relay', { allowRelay: wide.map(formatCidr) });
    }
    const relay = new AddressList(config.allowRelay);
    if (config.listen.some((a) => a.host === '::1') && !relay.has('::1')) {
      log.warn('listening on [::1] but ::1 is not in allowRelay: clients connecting through it may send only to localDomains');
    }
  }

  /** Loads the certificate (throws, naming the key, when it cannot be used) and listens on every address. */
  async start(): Promise<void> {
    this.#tls = loadTlsOptions(this.#options.config);
    this.#warnAboutPolicy();
    for (const address of this.#options.config.listen) {
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
      this.#options.log.info('listening', {
        address: address.host.includes(':') ? `[${address.host}]:${port}` : `${address.host}:${port}`,
        tls: this.#tls !== undefined,
        auth: this.#users.size > 0,
      });
    }
  }

  /** Stops accepting; sessions still open get 421 after closeTimeout, in-flight DATA finishes or is not acknowledged. */
  async stop(): Promise<void> {
    await Promise.all(this.#servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    this.#servers.length = 0;
  }
}
