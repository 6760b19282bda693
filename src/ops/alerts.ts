// Alerts for the operator (never the sender): the smart host unreachable for a while, the oldest queued message
// getting old, Badmail receiving its first file of the day. Each goes to the log at error level, to every
// onAlert listener (the Windows Event Log hooks in here), and optionally to a webhook and as a mail sent
// directly (alertMailVia, else the smart hosts), never through Queue, where it would wait behind the outage it
// reports. Each kind is sent at most once per alertInterval.
import fsp from 'node:fs/promises';
import { Readable } from 'node:stream';
import MailComposer from 'nodemailer/lib/mail-composer';
import type { HostPort } from '../config/schema.js';
import { hostLabel, type SmartHostSpec } from '../config/smart-hosts.js';
import type { Logger } from '../log/logger.js';
import type { BadmailEvent, HostStateEvent, MailEventObserver } from '../log/mail-events.js';
import { isQueueMessageName, idOf } from '../spool/spool.js';
import { timeOfId } from '../spool/ids.js';
import { authenticator } from '../transport/host-auth.js';
import type { TokenProviders } from '../transport/oauth2-token.js';
import { SmartHostTransport } from '../transport/smart-host.js';

export type AlertKind = 'smart-host-unreachable' | 'queue-age' | 'badmail';

export interface Alert {
  kind: AlertKind;
  message: string;
  at: string;
  hostname: string;
}

export interface AlertOptions {
  /** Alert when the smart host has been unreachable this long; 0 off. */
  smartHostDown: number;
  /** Alert when the oldest queued message is older than this; 0 off. */
  queueAge: number;
  badmail: boolean;
  mailTo: string[];
  /** The SMTP server alert mail goes to first; the smart host is tried after it. */
  mailVia: HostPort | undefined;
  webhook: string | undefined;
  /** Most one alert of each kind per this long. */
  interval: number;
  hostname: string;
  /**
   * The smart hosts (not "mx"), tried after mailVia, each with its own settings: TLS mode, CA file and AUTH (a
   * Microsoft 365 or SendGrid user has no other way out). mailVia gets opportunistic TLS and no AUTH.
   */
  smartHosts: SmartHostSpec[];
  /** The OAuth2 accounts' tokens, shared with queued mail (RoutingTransport.tokens). */
  tokens: TokenProviders;
  queueDir: string;
  log: Logger;
}

const SEND_TIMEOUT = 10_000;

export class Alerts implements MailEventObserver {
  readonly #options: AlertOptions;
  readonly #listeners: Array<(alert: Alert) => void> = [];
  readonly #lastSent = new Map<AlertKind, number>();
  /** Per route ("hosts (route corp.example)" or the default route's hosts): one route's return must not cancel another's alert. */
  readonly #hostDownTimers = new Map<string, NodeJS.Timeout>();
  #queueTimer: NodeJS.Timeout | undefined;
  #badmailDay = '';
  #stopped = false;
  /** Sends in progress (mail, webhook), awaited by stop(). */
  readonly #sending = new Set<Promise<void>>();

  constructor(options: AlertOptions) {
    this.#options = options;
  }

  /** Called for every alert raised (after rate limiting). The Windows service writes these to the Event Log. */
  onAlert(listener: (alert: Alert) => void): void {
    this.#listeners.push(listener);
  }

  hostState(e: HostStateEvent): void {
    const after = this.#options.smartHostDown;
    if (e.up || after <= 0) {
      clearTimeout(this.#hostDownTimers.get(e.host));
      this.#hostDownTimers.delete(e.host);
      return;
    }
    if (this.#hostDownTimers.has(e.host)) return;
    const since = new Date();
    const timer = setTimeout(() => {
      this.#hostDownTimers.delete(e.host);
      this.#raise('smart-host-unreachable', `the smart host ${e.host} has been unreachable since ${since.toISOString()}: ${e.reply ?? ''}`.trim());
    }, after);
    timer.unref();
    this.#hostDownTimers.set(e.host, timer);
  }

  badmail(e: BadmailEvent): void {
    if (!this.#options.badmail) return;
    const day = new Date().toISOString().slice(0, 10);
    if (day === this.#badmailDay) return;
    this.#badmailDay = day;
    this.#raise('badmail', `Badmail received its first file today (${e.id}): ${e.reason}`, true);
  }

  start(): void {
    const age = this.#options.queueAge;
    if (age <= 0) return;
    const every = Math.max(250, Math.min(60_000, age / 2));
    this.#queueTimer = setInterval(() => void this.checkQueueAge(), every);
    this.#queueTimer.unref();
  }

  /** The check the queue-age timer runs: alerts (at most once per interval) when the oldest message is too old. */
  async checkQueueAge(): Promise<void> {
    let oldest: number | undefined;
    try {
      // Ids sort by arrival: the smallest name is the oldest message (one listing, no file opened).
      for (const name of await fsp.readdir(this.#options.queueDir)) {
        if (!isQueueMessageName(name)) continue;
        const at = timeOfId(idOf(name))?.getTime();
        if (at !== undefined && (oldest === undefined || at < oldest)) oldest = at;
      }
    } catch {
      return;
    }
    if (oldest === undefined) return;
    const age = Date.now() - oldest;
    if (age > this.#options.queueAge) {
      this.#raise('queue-age', `the oldest queued message has waited ${Math.round(age / 60_000)} minute(s), since ${new Date(oldest).toISOString()}`);
    }
  }

  #raise(kind: AlertKind, message: string, daily = false): void {
    if (this.#stopped) return;
    const now = Date.now();
    const last = this.#lastSent.get(kind);
    if (!daily && last !== undefined && now - last < this.#options.interval) return;
    this.#lastSent.set(kind, now);
    const alert: Alert = { kind, message, at: new Date(now).toISOString(), hostname: this.#options.hostname };
    this.#options.log.error(`ALERT: ${message}`, { alert: kind });
    for (const listener of this.#listeners) {
      try {
        listener(alert);
      } catch (err) {
        this.#options.log.warn('alert listener failed', { error: (err as Error).message });
      }
    }
    this.#track(this.#webhook(alert));
    this.#track(this.#mail(alert));
  }

  #track(sending: Promise<void>): void {
    this.#sending.add(sending);
    void sending.finally(() => this.#sending.delete(sending));
  }

  async #webhook(alert: Alert): Promise<void> {
    const url = this.#options.webhook;
    if (!url) return;
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(alert),
        signal: AbortSignal.timeout(SEND_TIMEOUT),
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
    } catch (err) {
      this.#options.log.warn('cannot send an alert to the webhook', { alert: alert.kind, error: (err as Error).message });
    }
  }

  /** Straight to an SMTP server, the alert route first, then the smart hosts in order: never through Queue. */
  async #mail(alert: Alert): Promise<void> {
    const { mailTo, mailVia, smartHosts, hostname, log } = this.#options;
    if (mailTo.length === 0) return;
    const from = `mailroot@${hostname}`;
    const message = await new MailComposer({
      from,
      to: mailTo,
      subject: `[mailroot ${hostname}] ${alert.kind}: ${alert.message}`.slice(0, 200),
      text: `${alert.message}\n\nRelay: ${hostname}\nTime: ${alert.at}\nAlert: ${alert.kind}\n`,
    }).compile().build();
    const routes: SmartHostSpec[] = [...(mailVia ? [{ ...mailVia, tls: 'opportunistic' as const }] : []), ...smartHosts];
    const errors: string[] = [];
    for (const spec of routes) {
      // The smart host's own sender, for this one message: its TLS mode, certificate checks and login.
      const sender = new SmartHostTransport({
        smartHost: spec,
        authenticate: spec.auth ? authenticator(spec.auth, (auth) => this.#options.tokens.for(auth)) : undefined,
        hostname,
        timeout: SEND_TIMEOUT,
        log,
        maxMessagesPerConnection: 1,
      });
      try {
        const result = await sender.deliver({ sender: from, recipients: mailTo }, () => Readable.from([message]));
        if (result.kind === 'sent' && result.accepted.length > 0) return;
        const reply = result.kind === 'sent' ? [...result.failed, ...result.deferred].map((r) => r.reply).join('; ') : result.reply;
        errors.push(`${hostLabel(spec)}: ${reply}`);
      } finally {
        await sender.close();
      }
    }
    log.warn('cannot mail an alert on any route', { alert: alert.kind, errors });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#hostDownTimers.values()) clearTimeout(timer);
    this.#hostDownTimers.clear();
    clearInterval(this.#queueTimer);
    await Promise.allSettled([...this.#sending]);
  }
}
