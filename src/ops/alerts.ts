// Alerts for the operator (never the sender): the smart host unreachable for a while, the oldest queued message
// getting old, Badmail receiving its first file of the day. Each goes to the log at error level, to every
// onAlert listener (the Windows Event Log hooks in here), and optionally to a webhook and as a mail sent
// directly (alertMailVia, else the smart host), never through Queue, where it would wait behind the outage it
// reports. Each kind is sent at most once per alertInterval.
import fsp from 'node:fs/promises';
import nodemailer from 'nodemailer';
import type { HostPort } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { BadmailEvent, HostStateEvent, MailEventObserver } from '../log/mail-events.js';
import { isQueueMessageName, idOf } from '../spool/spool.js';
import { timeOfId } from '../spool/ids.js';

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
  /** The smart hosts (not "mx"), tried after mailVia. They get no AUTH: an alert route should be a host that trusts this relay. */
  smartHosts: HostPort[];
  queueDir: string;
  log: Logger;
}

const SEND_TIMEOUT = 10_000;

export class Alerts implements MailEventObserver {
  readonly #options: AlertOptions;
  readonly #listeners: Array<(alert: Alert) => void> = [];
  readonly #lastSent = new Map<AlertKind, number>();
  #hostDownTimer: NodeJS.Timeout | undefined;
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
      clearTimeout(this.#hostDownTimer);
      this.#hostDownTimer = undefined;
      return;
    }
    if (this.#hostDownTimer) return;
    const since = new Date();
    this.#hostDownTimer = setTimeout(() => {
      this.#hostDownTimer = undefined;
      this.#raise('smart-host-unreachable', `the smart host ${e.host} has been unreachable since ${since.toISOString()}: ${e.reply ?? ''}`.trim());
    }, after);
    this.#hostDownTimer.unref();
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
    this.#queueTimer = setInterval(() => void this.#checkQueueAge(), every);
    this.#queueTimer.unref();
  }

  async #checkQueueAge(): Promise<void> {
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

  /** Straight to an SMTP server, the alert route first, then the smart host: never through Queue. */
  async #mail(alert: Alert): Promise<void> {
    const { mailTo, mailVia, smartHosts, hostname } = this.#options;
    if (mailTo.length === 0) return;
    const routes = [...(mailVia ? [mailVia] : []), ...smartHosts];
    const errors: string[] = [];
    for (const route of routes) {
      const transport = nodemailer.createTransport({
        host: route.host,
        port: route.port,
        name: hostname,
        connectionTimeout: SEND_TIMEOUT,
        greetingTimeout: SEND_TIMEOUT,
        socketTimeout: SEND_TIMEOUT,
        tls: { rejectUnauthorized: false },
      });
      try {
        await transport.sendMail({
          from: `mailroot@${hostname}`,
          to: mailTo,
          subject: `[mailroot ${hostname}] ${alert.kind}: ${alert.message}`.slice(0, 200),
          text: `${alert.message}\n\nRelay: ${hostname}\nTime: ${alert.at}\nAlert: ${alert.kind}\n`,
        });
        return;
      } catch (err) {
        errors.push(`${route.host}:${route.port}: ${(err as Error).message}`);
      } finally {
        transport.close();
      }
    }
    this.#options.log.warn('cannot mail an alert on any route', { alert: alert.kind, errors });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#hostDownTimer);
    clearInterval(this.#queueTimer);
    await Promise.allSettled([...this.#sending]);
  }
}
