// Decides whether a notification is sent, and queues it through the spool like any other message (sender <>).
// Never for a message whose own sender is <> (that is how bounce loops die: a failed NDR just goes to Badmail),
// and at most `limitPerHour` per original sender, so a flood of failures is not a flood of NDRs. The sender's
// RFC 3461 requests are honoured: NOTIFY per recipient (NEVER: nothing; a failure notice only with FAILURE, a
// delay notice only with DELAY, a "relayed" notice for SUCCESS when the smart host cannot carry it on), RET=HDRS,
// ENVID and ORCPT.
import { Readable } from 'node:stream';
import type { Logger } from '../log/logger.js';
import type { RetryState } from '../spool/retry-state.js';
import type { EnvelopeParams, NotifyOn } from '../spool/eml-format.js';
import type { QueuedMessage, Spool } from '../spool/spool.js';
import type { RecipientReply } from '../transport/transport.js';
import { buildDsn, enhancedStatus, type DsnKind, type DsnRecipient, type FailureCause } from './dsn.js';

/** Originals up to this size are returned whole in a failure notice; larger ones only by their headers. */
const RETURN_FULL_ORIGINAL_LIMIT = 256 * 1024;
/** Enough for any real header block, when only the headers are returned. */
const HEADERS_LIMIT = 256 * 1024;
const HOUR = 3_600_000;

export interface BouncerOptions {
  spool: Spool;
  hostname: string;
  /** Also sent a copy of every notification (IIS "Send copy of Non-Delivery Report to"). */
  copyTo: readonly string[];
  limitPerHour: number;
  log: Logger;
  /**
   * false when the smart host is known not to take 8-bit data (no 8BITMIME): an 8-bit original is then returned
   * by its header block only, so the notice itself can still be sent.
   */
  eightBitAccepted?: () => boolean;
  now?: () => Date;
}

/** Whether a recipient's NOTIFY asks for this kind of notice; without NOTIFY, failure and delay notices go out. */
function wants(params: EnvelopeParams | undefined, recipient: string, on: NotifyOn): boolean {
  const notify = params?.recipients?.[recipient]?.notify;
  return notify === undefined ? on !== 'SUCCESS' : notify.includes(on);
}

const SMTP_REPLY = /^\d{3}(?:[ -]|$)/;

/** The name in a host as the transport labels it ("smtp.example:587", "[::1]:25", "mx.example[192.0.2.1]:25"). */
export function mtaName(host: string): string {
  const withoutPort = host.replace(/:\d+$/, '');
  const bracket = withoutPort.indexOf('[');
  if (bracket === 0) return withoutPort.slice(1, -1);
  return bracket > 0 ? withoutPort.slice(0, bracket) : withoutPort;
}

export type NotifyResult = { sent: true; id: string } | { sent: false; why: string };

export class Bouncer {
  readonly #options: BouncerOptions;
  readonly #recent = new Map<string, number[]>();
  readonly #now: () => Date;

  constructor(options: BouncerOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
  }

  /** `remoteMta`: the host that gave the replies (the one that answered, or the last that failed). */
  async failure(message: QueuedMessage, state: RetryState | undefined, failed: RecipientReply[], cause: FailureCause, remoteMta?: string): Promise<NotifyResult> {
    const fallback = cause === 'loop' ? '5.4.6' : cause === 'unreachable' ? '4.4.7' : '5.0.0';
    const wanted = failed.filter((f) => wants(message.envelope.params, f.recipient, 'FAILURE'));
    if (wanted.length === 0) return { sent: false, why: 'the sender asked for no failure notice (NOTIFY)' };
    return this.#notify('failure', cause, message, state, wanted.map((f) => this.#recipient(message, f.recipient, f.reply, fallback, cause === 'loop', remoteMta)));
  }

  async delay(message: QueuedMessage, state: RetryState, willRetryUntil: Date, remoteMta?: string): Promise<NotifyResult> {
    const recipients = message.envelope.recipients.filter((r) => wants(message.envelope.params, r, 'DELAY'));
    if (recipients.length === 0) return { sent: false, why: 'the sender asked for no delay notice (NOTIFY)' };
    return this.#notify('delay', 'unreachable', message, state, recipients.map((recipient) => {
      const entry = this.#recipient(message, recipient, state.lastReply, '4.4.7', false, remoteMta);
      return { ...entry, status: entry.status.startsWith('4.') ? entry.status : '4.4.7' };
    }), willRetryUntil);
  }

  /**
   * RFC 3461 5.2.2: recipients that asked for NOTIFY=SUCCESS, handed to a smart host that does not offer DSN,
   * get a "relayed" notice. Never throws: the message is already delivered, and a lost notice must not resend it.
   */
  async relayed(message: QueuedMessage, state: RetryState | undefined, recipients: string[], reply: string, remoteMta?: string): Promise<NotifyResult> {
    const wanted = recipients.filter((r) => wants(message.envelope.params, r, 'SUCCESS'));
    if (wanted.length === 0) return { sent: false, why: 'no recipient asked for NOTIFY=SUCCESS' };
    try {
      return await this.#notify('relayed', 'refused', message, state, wanted.map((recipient) => ({
        ...this.#recipient(message, recipient, reply, '2.0.0', false, remoteMta),
        status: '2.0.0',
      })));
    } catch (err) {
      this.#options.log.error('cannot queue a relayed notification', { id: message.id, error: (err as Error).message });
      return { sent: false, why: (err as Error).message };
    }
  }

  /** One recipient's fields: an SMTP reply from the smart host, or mailroot's own reason (`local`, or no reply code). */
  #recipient(message: QueuedMessage, recipient: string, reply: string, fallback: string, local: boolean, remoteMta: string | undefined): DsnRecipient {
    const fromSmartHost = !local && SMTP_REPLY.test(reply);
    const text = reply.trim();
    return {
      recipient,
      status: enhancedStatus(text, fallback),
      diagnostic: text === '' ? undefined : { type: fromSmartHost ? 'smtp' : 'X-mailroot', text },
      remoteMta: fromSmartHost && remoteMta !== undefined ? mtaName(remoteMta) : undefined,
      originalRecipient: message.envelope.params?.recipients?.[recipient]?.orcpt,
    };
  }

  async #notify(
    kind: DsnKind,
    cause: FailureCause,
    message: QueuedMessage,
    state: RetryState | undefined,
    recipients: DsnRecipient[],
    willRetryUntil?: Date,
  ): Promise<NotifyResult> {
    const sender = message.envelope.sender;
    if (sender === '') return { sent: false, why: 'the message has the null sender <>: no notification for a notification' };
    if (!this.#withinLimit(sender)) {
      this.#options.log.warn('notification suppressed by the hourly limit', { id: message.id, to: sender, kind });
      return { sent: false, why: `more than ${this.#options.limitPerHour} notifications to <${sender}> in the last hour` };
    }
    const params = message.envelope.params;
    // The whole original only in a failure notice, and not when the sender asked for headers only (RET=HDRS).
    const whole = kind === 'failure' && params?.ret !== 'HDRS';
    const original = await this.#options.spool.readMessageStart(message, whole ? RETURN_FULL_ORIGINAL_LIMIT : HEADERS_LIMIT);
    const eightBitRefused = whole && this.#options.eightBitAccepted?.() === false && original.bytes.some((byte) => byte >= 0x80);
    const dsn = buildDsn({
      kind,
      cause,
      reportingHost: this.#options.hostname,
      to: sender,
      recipients,
      arrivalDate: state?.firstQueued ?? this.#now(),
      ...(willRetryUntil ? { willRetryUntil } : {}),
      envelopeId: params?.envid,
      original: whole && !eightBitRefused ? original : { bytes: original.bytes, complete: false },
      now: this.#now(),
    });
    const to = [sender, ...this.#options.copyTo.filter((copy) => copy !== sender)];
    const notice = { sender: '', recipients: to, params: { body8bit: dsn.eightBit || undefined, smtputf8: dsn.utf8 || undefined } };
    const { id } = await this.#options.spool.accept(notice, Readable.from([dsn.bytes]));
    this.#options.log.info('notification queued', { id, kind, about: message.id, to });
    return { sent: true, id };
  }

  #withinLimit(sender: string): boolean {
    const now = this.#now().getTime();
    const key = sender.toLowerCase();
    const times = (this.#recent.get(key) ?? []).filter((t) => now - t < HOUR);
    if (times.length >= this.#options.limitPerHour) {
      this.#recent.set(key, times);
      return false;
    }
    times.push(now);
    this.#recent.set(key, times);
    if (this.#recent.size > 10_000) this.#recent.delete(this.#recent.keys().next().value!);
    return true;
  }
}
