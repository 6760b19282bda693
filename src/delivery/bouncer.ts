// Decides whether a notification is sent, and queues it through the spool like any other message (sender <>).
// Never for a message whose own sender is <> (that is how bounce loops die: a failed NDR just goes to Badmail),
// and at most `limitPerHour` per original sender, so a flood of failures is not a flood of NDRs.
import { Readable } from 'node:stream';
import type { Logger } from '../log/logger.js';
import type { RetryState } from '../spool/retry-state.js';
import type { QueuedMessage, Spool } from '../spool/spool.js';
import type { RecipientReply } from '../transport/transport.js';
import { buildDsn, enhancedStatus, type DsnKind, type FailureCause } from './dsn.js';

/** Originals up to this size are returned whole in a failure notice; larger ones only by their headers. */
const RETURN_FULL_ORIGINAL_LIMIT = 256 * 1024;
const HOUR = 3_600_000;

export interface BouncerOptions {
  spool: Spool;
  hostname: string;
  /** Also sent a copy of every notification (IIS "Send copy of Non-Delivery Report to"). */
  copyTo: readonly string[];
  limitPerHour: number;
  log: Logger;
  now?: () => Date;
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

  async failure(message: QueuedMessage, state: RetryState | undefined, failed: RecipientReply[], cause: FailureCause): Promise<NotifyResult> {
    const fallback = cause === 'loop' ? '5.4.6' : cause === 'unreachable' ? '4.4.7' : '5.0.0';
    return this.#notify('failure', cause, message, state, failed.map((f) => ({
      recipient: f.recipient,
      status: enhancedStatus(f.reply, fallback),
      diagnostic: /^\d{3}\b/.test(f.reply) ? f.reply : undefined,
    })));
  }

  async delay(message: QueuedMessage, state: RetryState, willRetryUntil: Date): Promise<NotifyResult> {
    const status = enhancedStatus(state.lastReply, '4.4.7');
    return this.#notify('delay', 'unreachable', message, state, message.envelope.recipients.map((recipient) => ({
      recipient,
      status: status.startsWith('4.') ? status : '4.4.7',
      diagnostic: /^\d{3}\b/.test(state.lastReply) ? state.lastReply : undefined,
    })), willRetryUntil);
  }

  async #notify(
    kind: DsnKind,
    cause: FailureCause,
    message: QueuedMessage,
    state: RetryState | undefined,
    recipients: Array<{ recipient: string; status: string; diagnostic: string | undefined }>,
    willRetryUntil?: Date,
  ): Promise<NotifyResult> {
    const sender = message.envelope.sender;
    if (sender === '') return { sent: false, why: 'the message has the null sender <>: no notification for a notification' };
    if (!this.#withinLimit(sender)) {
      this.#options.log.warn('notification suppressed by the hourly limit', { id: message.id, to: sender, kind });
      return { sent: false, why: `more than ${this.#options.limitPerHour} notifications to <${sender}> in the last hour` };
    }
    const original = await this.#options.spool.readMessageStart(message, RETURN_FULL_ORIGINAL_LIMIT);
    const dsn = buildDsn({
      kind,
      cause,
      reportingHost: this.#options.hostname,
      to: sender,
      recipients,
      arrivalDate: state?.firstQueued ?? this.#now(),
      ...(willRetryUntil ? { willRetryUntil } : {}),
      original,
      now: this.#now(),
    });
    const to = [sender, ...this.#options.copyTo.filter((copy) => copy !== sender)];
    const { id } = await this.#options.spool.accept({ sender: '', recipients: to }, Readable.from([dsn]));
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
