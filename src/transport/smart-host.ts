// Delivery to the one configured smart host over a small pool of reused SMTP connections.
//
// nodemailer's SMTPConnection is used directly rather than its Mailer/SMTPPool: the Mailer runs envelope
// addresses through its address parser (which has rewritten quoted local parts before), while a relay must hand
// the upstream exactly the addresses it accepted. The pool here is the few lines that layer would have added.
//
// The message's own parameters go on when the smart host offers them: DSN (RET, ENVID, NOTIFY, ORCPT; nodemailer
// takes one NOTIFY/ORCPT per transaction, so recipients that differ in them go in separate transactions) and
// BODY=8BITMIME. When it does not: a message that needs SMTPUTF8 is returned (RFC 6531 3.2), one with 8-bit data
// that needs 8BITMIME is returned (RFC 6152 3 allows that instead of a conversion), and NOTIFY=SUCCESS ends in a
// "relayed" notice (RFC 3461 5.2.2) made by the delivery agent.
import type { Readable } from 'node:stream';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { SMTPError } from 'nodemailer/lib/smtp-connection';
import type { SmartHostSpec } from '../config/smart-hosts.js';
import type { Logger } from '../log/logger.js';
import type { ProtocolLog } from '../ops/protocol-log.js';
import { outboundLogger } from '../ops/protocol-observer.js';
import type { Envelope } from '../spool/eml-format.js';
import { hasEightBitData } from './eight-bit.js';
import { classifyError, classifySuccess, isHostError } from './classify.js';
import { connectionOptions } from './connection-options.js';
import type { Authenticator } from './host-auth.js';
import type { DeliveryResult, Transport } from './transport.js';

const MAX_RECIPIENTS_PER_TRANSACTION = 100;

export interface SmartHostOptions {
  /** Where, and how: port, TLS mode, certificate checks (see connection-options.ts). */
  smartHost: SmartHostSpec;
  /** AUTH after EHLO (and STARTTLS), when the host needs it. */
  authenticate?: Authenticator | undefined;
  /** EHLO name. */
  hostname: string;
  /** For each reply and the reply to the final dot (and connect and greeting without connectTimeout). */
  timeout: number;
  /** For the TCP connect and the greeting (smartHostConnectTimeout). */
  connectTimeout?: number | undefined;
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
  readonly #options: Required<Omit<SmartHostOptions, 'authenticate' | 'protocolLog' | 'connectTimeout'>> & Pick<SmartHostOptions, 'authenticate' | 'protocolLog' | 'connectTimeout'>;
  readonly #idle: PooledConnection[] = [];
  readonly #all = new Set<PooledConnection>();
  #closed = false;
  /** Connections being opened (greeting, EHLO, STARTTLS, AUTH): close() cuts them too. */
  readonly #opening = new Set<SMTPConnection>();
  /** What the smart host offered in its last EHLO reply; undefined until a connection was made. */
  #offered: Set<string> | undefined;

  constructor(options: SmartHostOptions) {
    this.#options = { maxMessagesPerConnection: options.smartHost.maxMessagesPerConnection ?? 100, idleTimeout: 10_000, ...options };
  }

  /** Whether the smart host offered an extension (e.g. 8BITMIME) when last connected; undefined when not known. */
  offers(extension: string): boolean | undefined {
    return this.#offered?.has(extension.toUpperCase());
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
    for (const group of byDsnRequest(envelope)) {
      for (let i = 0; i < group.length; i += MAX_RECIPIENTS_PER_TRANSACTION) chunks.push(group.slice(i, i + MAX_RECIPIENTS_PER_TRANSACTION));
    }
    if (chunks.length <= 1) return this.#deliverOnce(envelope, openBody);
    const total: Extract<DeliveryResult, { kind: 'sent' }> = { kind: 'sent', reply: '', accepted: [], deferred: [], failed: [] };
    for (const [index, recipients] of chunks.entries()) {
      const result = await this.#deliverOnce({ ...envelope, recipients }, openBody);
      if (result.kind === 'sent') {
        total.reply = result.reply;
        total.accepted.push(...result.accepted);
        total.deferred.push(...result.deferred);
        total.failed.push(...result.failed);
        if (result.relayedWithoutDsn) (total.relayedWithoutDsn ??= []).push(...result.relayedWithoutDsn);
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
      const extensions = extensionsOf(pooled.connection);
      let refusal: DeliveryResult | undefined;
      try {
        refusal = await unsupported(envelope, extensions, openBody);
      } catch (err) {
        this.#release(pooled);
        throw err;
      }
      if (refusal) {
        this.#release(pooled);
        return refusal;
      }
      const body = openBody();
      const outcome = await this.#send(pooled, envelope, body);
      if ('result' in outcome) {
        const result = outcome.result;
        if (result.kind === 'sent' && result.accepted.length > 0 && extensions && !extensions.has('DSN') && asksForSuccess(envelope)) {
          return { ...result, relayedWithoutDsn: result.accepted };
        }
        return result;
      }
      const unsent = !body.readableDidRead;
      const bodySent = body.readableEnded;
      body.destroy();
      if (reused && unsent && attempt === 1 && isHostError(outcome.error)) continue;
      return classifyError(outcome.error, { bodySent });
    }
  }

  #send(pooled: PooledConnection, envelope: Envelope, body: Readable): Promise<{ result: DeliveryResult } | { error: SMTPError }> {
    return new Promise((resolve) => {
      pooled.connection.send(wireEnvelope(envelope), body, (err, info) => {
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

  /**
   * Opens a connection (greeting, EHLO, TLS, AUTH) without sending a message, and keeps it for the next one:
   * undefined when the host is fit for mail, else why not. A host coming back is probed this way, so that a host
   * that hangs keeps no message waiting.
   */
  async check(): Promise<DeliveryResult | undefined> {
    try {
      this.#release(await this.#connect());
      return undefined;
    } catch (err) {
      return classifyError(err as SMTPError);
    }
  }

  #connect(): Promise<PooledConnection> {
    // Closed (the relay is stopping): an attempt cut by close() must not fail over to a fresh connection.
    if (this.#closed) return Promise.reject(Object.assign(new Error('Transport closed: the relay is stopping'), { code: 'ECONNECTION' }));
    const { smartHost, hostname, timeout, connectTimeout, log, authenticate, protocolLog } = this.#options;
    const connection = new SMTPConnection({
      ...connectionOptions(smartHost, { hostname, timeout, connectTimeout }),
      ...(protocolLog ? { transactionLog: true, logger: outboundLogger(protocolLog, smartHost) as never } : {}),
    });
    const pooled: PooledConnection = { connection, messages: 0, broken: false, idleTimer: undefined };
    connection.on('error', (err: Error) => {
      pooled.broken = true;
      log.debug('smart host connection error', { error: err.message });
    });
    connection.on('end', () => this.#forget(pooled));
    this.#opening.add(connection);
    return new Promise<PooledConnection>((resolve, reject) => {
      // A failure while connecting arrives as an 'error' event, not through the connect callback.
      let settled = false;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        connection.close();
        reject(err);
      };
      connection.once('error', fail);
      // Cut by close() while opening: no error event comes then.
      connection.once('end', () => fail(Object.assign(new Error('Connection closed'), { code: 'ECONNECTION' })));
      connection.connect((err) => {
        if (err) return fail(err);
        if (settled) return;
        if (authenticate) {
          authenticate(connection).then(ready, fail);
          return;
        }
        ready();
      });
      const ready = () => {
        if (settled) return;
        settled = true;
        connection.off('error', fail);
        this.#offered = extensionsOf(connection) ?? this.#offered;
        this.#all.add(pooled);
        resolve(pooled);
      };
    }).finally(() => this.#opening.delete(connection));
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
    for (const connection of this.#opening) connection.close();
    for (const pooled of [...this.#idle]) this.#discard(pooled, true);
    for (const pooled of [...this.#all]) this.#discard(pooled);
  }
}

/** Extensions the smart host offered in its EHLO reply; nodemailer keeps them in a field of its own. */
function extensionsOf(connection: SMTPConnection): Set<string> | undefined {
  const list = (connection as unknown as { _supportedExtensions?: unknown })._supportedExtensions;
  return Array.isArray(list) ? new Set(list.map((e) => String(e).toUpperCase())) : undefined;
}

/** Recipients grouped by their NOTIFY and ORCPT, in their order: one group per transaction's worth of DSN request. */
function byDsnRequest(envelope: Envelope): string[][] {
  const requests = envelope.params?.recipients;
  if (!requests) return [envelope.recipients];
  const groups = new Map<string, string[]>();
  for (const recipient of envelope.recipients) {
    const request = requests[recipient];
    const key = request ? `${request.notify?.join(',') ?? '-'}|${request.orcpt ?? ''}` : '';
    const group = groups.get(key);
    if (group) group.push(recipient);
    else groups.set(key, [recipient]);
  }
  return [...groups.values()];
}

function asksForSuccess(envelope: Envelope): boolean {
  const requests = envelope.params?.recipients;
  return requests !== undefined && envelope.recipients.some((r) => requests[r]?.notify?.includes('SUCCESS'));
}

/** The envelope as nodemailer sends it: every recipient of one transaction shares one NOTIFY/ORCPT (see byDsnRequest). */
function wireEnvelope(envelope: Envelope): SMTPConnection.Envelope {
  const params = envelope.params;
  const wire: SMTPConnection.Envelope = { from: envelope.sender, to: envelope.recipients };
  if (!params) return wire;
  if (params.body8bit) wire.use8BitMime = true;
  const request = params.recipients?.[envelope.recipients[0]!];
  const notify = request?.notify;
  if (params.ret || params.envid !== undefined || notify || request?.orcpt) {
    wire.dsn = {
      ret: params.ret ?? null,
      envid: params.envid ?? null,
      notify: notify === undefined ? null : notify.length === 0 ? 'NEVER' : notify,
      orcpt: request?.orcpt ?? null,
    };
  }
  return wire;
}

const NON_ASCII = /[^\x00-\x7f]/;

/**
 * The permanent refusal for a message this smart host cannot take as it is: it needs SMTPUTF8 (a UTF-8 address, or
 * UTF-8 in its header) or 8BITMIME (8-bit data declared BODY=8BITMIME) and the host does not offer it. A message
 * flagged but pure ASCII where it matters goes as it is. Unknown extensions (nodemailer changed): no check.
 */
async function unsupported(envelope: Envelope, extensions: Set<string> | undefined, openBody: () => Readable): Promise<DeliveryResult | undefined> {
  const params = envelope.params;
  if (!params || !extensions) return undefined;
  if (params.smtputf8 && !extensions.has('SMTPUTF8')) {
    const utf8Address = [envelope.sender, ...envelope.recipients].some((a) => NON_ASCII.test(a));
    if (utf8Address || (await hasEightBitData(openBody(), 'header'))) {
      return { kind: 'not-sent', scope: 'message', permanent: true, reply: '5.6.7 Not sent: the message needs SMTPUTF8 (UTF-8 addresses or header fields) and the smart host does not offer it' };
    }
  }
  if (params.body8bit && !extensions.has('8BITMIME') && (await hasEightBitData(openBody(), 'all'))) {
    return { kind: 'not-sent', scope: 'message', permanent: true, reply: '5.6.3 Not sent: the message has 8-bit data and the smart host does not offer 8BITMIME' };
  }
  return undefined;
}
