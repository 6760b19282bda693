// Delivery to the one configured smart host over a small pool of reused SMTP connections.
//
// nodemailer's SMTPConnection is used directly rather than its Mailer/SMTPPool: the Mailer runs envelope
// addresses through its address parser (which has rewritten quoted local parts before), while a relay must hand
// the upstream exactly the addresses it accepted. The pool here is the few lines that layer would have added.
import type { Readable } from 'node:stream';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { SMTPError } from 'nodemailer/lib/smtp-connection';
import type { HostPort } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { ProtocolLog } from '../ops/protocol-log.js';
import { outboundLogger } from '../ops/protocol-observer.js';
import type { Envelope } from '../spool/eml-format.js';
import { classifyError, classifySuccess, isHostError } from './classify.js';
import type { DeliveryResult, Transport } from './transport.js';

const MAX_RECIPIENTS_PER_TRANSACTION = 100;

export interface SmartHostOptions {
  smartHost: HostPort;
  /** EHLO name. */
  hostname: string;
  /** For connect, greeting, each reply and the reply to the final dot. */
  timeout: number;
  log: Logger;
  /** Open a new connection after this many messages (IIS: 20 per connection; more is kinder to fast hosts). */
  maxMessagesPerConnection?: number;
  /** Close a connection left unused this long, before the smart host's own idle timeout does. */
  idleTimeout?: number;
  /** The IIS-format protocol log, when it is on: every command and reply, through nodemailer's transaction log. */
  protocolLog?: ProtocolLog | undefined;
}

interface PooledConnection {
  connection: SMTPConnection;
  messages: number;
  broken: boolean;
  idleTimer: NodeJS.Timeout | undefined;
}

export class SmartHostTransport implements Transport {
  readonly #options: Required<Omit<SmartHostOptions, 'protocolLog'>> & Pick<SmartHostOptions, 'protocolLog'>;
  readonly #idle: PooledConnection[] = [];
  readonly #all = new Set<PooledConnection>();
  #closed = false;

  constructor(options: SmartHostOptions) {
    this.#options = { maxMessagesPerConnection: 100, idleTimeout: 10_000, ...options };
  }

  get description(): string {
    const { host, port } = this.#options.smartHost;
    return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  }

  /**
   * Sends to at most MAX_RECIPIENTS_PER_TRANSACTION recipients per transaction (IIS: 100, the RFC 5321
   * minimum a server must take); more are split across transactions rather than refused.
   */
  async deliver(envelope: Envelope, openBody: () => Readable): Promise<DeliveryResult> {
    const chunks: string[][] = [];
    for (let i = 0; i < envelope.recipients.length; i += MAX_RECIPIENTS_PER_TRANSACTION) {
      chunks.push(envelope.recipients.slice(i, i + MAX_RECIPIENTS_PER_TRANSACTION));
    }
    if (chunks.length <= 1) return this.#deliverOnce(envelope, openBody);
    const total: Extract<DeliveryResult, { kind: 'sent' }> = { kind: 'sent', reply: '', accepted: [], deferred: [], failed: [] };
    for (const [index, recipients] of chunks.entries()) {
      const result = await this.#deliverOnce({ sender: envelope.sender, recipients }, openBody);
      if (result.kind === 'sent') {
        total.reply = result.reply;
        total.accepted.push(...result.accepted);
        total.deferred.push(...result.deferred);
        total.failed.push(...result.failed);
        continue;
      }
      // Nothing went out yet and the host is unreachable: report it as such, so delivery marks it down.
      if (index === 0 && result.scope === 'host') return result;
      const entries = recipients.map((recipient) => ({ recipient, reply: result.reply }));
      (result.permanent ? total.failed : total.deferred).push(...entries);
      if (result.scope === 'host') {
        for (const rest of chunks.slice(index + 1)) total.deferred.push(...rest.map((recipient) => ({ recipient, reply: result.reply })));
        break;
      }
    }
    return total;
  }

  async #deliverOnce(envelope: Envelope, openBody: () => Readable): Promise<DeliveryResult> {
    // A pooled connection the smart host has dropped fails before a byte of the message is sent: try a fresh one.
    for (let attempt = 1; ; attempt++) {
      let pooled: PooledConnection;
      try {
        pooled = this.#takeIdle() ?? (await this.#connect());
      } catch (err) {
        return classifyError(err as SMTPError);
      }
      const reused = pooled.messages > 0;
      const body = openBody();
      const outcome = await this.#send(pooled, envelope, body);
      if ('result' in outcome) return outcome.result;
      const unsent = !body.readableDidRead;
      body.destroy();
      if (reused && unsent && attempt === 1 && isHostError(outcome.error)) continue;
      return classifyError(outcome.error);
    }
  }

  #send(pooled: PooledConnection, envelope: Envelope, body: Readable): Promise<{ result: DeliveryResult } | { error: SMTPError }> {
    return new Promise((resolve) => {
      pooled.connection.send({ from: envelope.sender, to: envelope.recipients }, body, (err, info) => {
        pooled.messages++;
        if (err) {
          body.destroy();
          this.#afterError(pooled, err);
          // An envelope refusal of every recipient is a per-recipient answer, not a failure to talk.
          resolve(isHostError(err) ? { error: err } : { result: classifyError(err) });
          return;
        }
        this.#release(pooled);
        resolve({ result: classifySuccess(info!) });
      });
    });
  }

  #connect(): Promise<PooledConnection> {
    const { smartHost, hostname, timeout, log } = this.#options;
    const connection = new SMTPConnection({
      host: smartHost.host,
      port: smartHost.port,
      name: hostname,
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
      // Opportunistic STARTTLS without certificate checks, as Postfix's default "may" level: encryption when
      // offered, and an internal smart host with a self-signed certificate still works.
      tls: { rejectUnauthorized: false },
      ...(this.#options.protocolLog ? { transactionLog: true, logger: outboundLogger(this.#options.protocolLog, smartHost) as never } : {}),
    });
    const pooled: PooledConnection = { connection, messages: 0, broken: false, idleTimer: undefined };
    connection.on('error', (err: Error) => {
      pooled.broken = true;
      log.debug('smart host connection error', { error: err.message });
    });
    connection.on('end', () => this.#forget(pooled));
    return new Promise((resolve, reject) => {
      // A failure while connecting arrives as an 'error' event, not through the connect callback.
      let settled = false;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        connection.close();
        reject(err);
      };
      connection.once('error', fail);
      connection.connect((err) => {
        if (err) return fail(err);
        if (settled) return;
        settled = true;
        connection.off('error', fail);
        this.#all.add(pooled);
        resolve(pooled);
      });
    });
  }

  #takeIdle(): PooledConnection | undefined {
    for (;;) {
      const pooled = this.#idle.pop();
      if (!pooled) return undefined;
      clearTimeout(pooled.idleTimer);
      if (!pooled.broken) return pooled;
      this.#discard(pooled);
    }
  }

  #release(pooled: PooledConnection): void {
    if (this.#closed || pooled.broken || pooled.messages >= this.#options.maxMessagesPerConnection) {
      this.#discard(pooled, true);
      return;
    }
    pooled.idleTimer = setTimeout(() => {
      const index = this.#idle.indexOf(pooled);
      if (index !== -1) this.#idle.splice(index, 1);
      this.#discard(pooled, true);
    }, this.#options.idleTimeout);
    pooled.idleTimer.unref();
    this.#idle.push(pooled);
  }

  #afterError(pooled: PooledConnection, err: SMTPError): void {
    if (isHostError(err)) {
      this.#discard(pooled);
      return;
    }
    // The host refused this message but the session is fine: reset it and keep the connection.
    pooled.connection.reset((resetErr) => {
      if (resetErr) this.#discard(pooled);
      else this.#release(pooled);
    });
  }

  #discard(pooled: PooledConnection, polite = false): void {
    clearTimeout(pooled.idleTimer);
    this.#forget(pooled);
    if (polite && !pooled.broken) pooled.connection.quit();
    else pooled.connection.close();
  }

  #forget(pooled: PooledConnection): void {
    pooled.broken = true;
    this.#all.delete(pooled);
    const index = this.#idle.indexOf(pooled);
    if (index !== -1) this.#idle.splice(index, 1);
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const pooled of [...this.#idle]) this.#discard(pooled, true);
    for (const pooled of [...this.#all]) this.#discard(pooled);
  }
}
