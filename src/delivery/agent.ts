// One delivery attempt for one queued message, and what it leaves behind: the file removed, rewritten to the
// recipients still to do, moved to Badmail with a reason, or kept with its retry state updated.
import { describeDuration } from '../config/units.js';
import { failpoint } from '../failpoints.js';
import type { Logger } from '../log/logger.js';
import type { MailEvents } from '../log/mail-events.js';
import type { RetryState } from '../spool/retry-state.js';
import { idOf, type QueuedMessage, type Spool } from '../spool/spool.js';
import { timeOfId } from '../spool/ids.js';
import type { DeliveryResult, RecipientReply, RouteReport, Transport } from '../transport/transport.js';
import { badmailReport } from '../spool/badmail-report.js';
import type { Bouncer, NotifyResult } from './bouncer.js';
import { headerBlock, type FailureCause } from './dsn.js';
import { decideRetry, type RetryPolicy } from './retry-policy.js';

/** Enough to hold any real header block; only the Received: lines in it are counted. */
const HEADER_READ_LIMIT = 256 * 1024;

/**
 * What became of the message, and (`routes`) what the attempt learned about each route it used: absent when no
 * smart host was asked (a mail loop, a delivered file's removal retried, an unreadable file).
 */
export type AttemptOutcome =
  | { kind: 'delivered'; routes?: RouteReport[] }
  | { kind: 'badmail'; routes?: RouteReport[] }
  /** The file is no longer in Queue (an operator moved it): nothing to do. */
  | { kind: 'gone' }
  /** Its retry state says it is not due yet. */
  | { kind: 'not-due'; at: Date }
  | { kind: 'deferred'; retryAt: Date; reply: string; routes?: RouteReport[] };

export interface AttemptOptions {
  /** Ignore the retry state's next attempt time (a probe, or the backlog after its route came back). */
  force?: boolean;
  /**
   * The scheduler's probe of this route (its name), known down: every host of it is tried; a failure is logged at
   * debug, and a message probed before its own retry time keeps its schedule.
   */
  probe?: string;
}

export interface AgentOptions {
  spool: Spool;
  transport: Transport;
  policy: RetryPolicy;
  events: MailEvents;
  bouncer: Bouncer;
  /** More Received: lines than this means a mail loop: the message fails without an attempt. */
  maxHopCount: number;
  /** Tell the sender once that a message is still undelivered after this long; 0 never. */
  delayNotify: number;
  /** For local errors and possible duplicates (the mail log has the attempts themselves). */
  log?: Logger;
  now?: () => Date;
}

/**
 * Recipients the upstream accepted from a queued file that could not then be removed or rewritten (a virus
 * scanner's handle, an immutable file, a read-only disk). Kept for the life of the process, tied to the file's
 * identity: the message is never sent to them again; only the removal is retried, at the retry interval. A
 * restart forgets it and the message goes out once more: at least once, as documented.
 */
interface DeliveredPending {
  ino: number;
  recipients: Set<string>;
}

export class DeliveryAgent {
  readonly #spool: Spool;
  readonly #transport: Transport;
  readonly #policy: RetryPolicy;
  readonly #events: MailEvents;
  readonly #bouncer: Bouncer;
  readonly #maxHopCount: number;
  readonly #delayNotify: number;
  readonly #log: Logger | undefined;
  readonly #now: () => Date;
  readonly #delivered = new Map<string, DeliveredPending>();

  constructor(options: AgentOptions) {
    this.#spool = options.spool;
    this.#transport = options.transport;
    this.#policy = options.policy;
    this.#events = options.events;
    this.#bouncer = options.bouncer;
    this.#maxHopCount = options.maxHopCount;
    this.#delayNotify = options.delayNotify;
    this.#log = options.log;
    this.#now = options.now ?? (() => new Date());
  }

  async attempt(name: string, options: AttemptOptions = {}): Promise<AttemptOutcome> {
    const { force = false } = options;
    const probe = options.probe !== undefined;
    const read = await this.#read(name);
    if ('kind' in read) {
      this.#delivered.delete(name);
      return read;
    }
    // A message without an .rtr has never had a failed attempt recorded: the failed open says so.
    const state = await this.#spool.readRetryState(name);
    const notDueUntil = await this.#dueTime(name, state, this.#now());
    if (!force && notDueUntil) return { kind: 'not-due', at: notDueUntil };

    const message = this.#withoutDelivered(read);
    if (message.envelope.recipients.length === 0) return this.#finishRemoval(read, state);

    const hops = await this.#countHops(message);
    if (hops > this.#maxHopCount) {
      const reply = `554 5.4.6 Hop count exceeded: ${hops} Received: lines, the limit is ${this.#maxHopCount} - possible mail loop`;
      const failed = everyRecipient(message, reply);
      return this.#toBadmail(message, state, 'mail loop: too many Received: lines (maxHopCount)', failed, 'loop');
    }

    const result = await this.#transport.deliver(message.envelope, () => this.#spool.openBody(message), options.probe !== undefined ? { probe: options.probe } : {});
    const routes = result.routes;
    try {
      if (probe && notDueUntil && result.kind === 'not-sent' && result.scope === 'host' && !result.permanent && !result.maybeDelivered) {
        // An extra try on the route's behalf, before this message's own time: its schedule stands.
        return { kind: 'deferred', retryAt: notDueUntil, reply: result.reply, ...(routes ? { routes } : {}) };
      }
      const outcome = await this.#applyResult(message, state, result, probe);
      return outcome.kind === 'gone' || outcome.kind === 'not-due' || !routes ? outcome : { ...outcome, routes };
    } catch (err) {
      return this.#localFailure(message, state, result, err);
    }
  }

  /**
   * When a message with a recorded schedule is due; undefined when it is due now. A Next-Attempt further ahead
   * than the longest retry interval (a clock stepped back, a hand edit) is cut to that from now, and an expired
   * message is due at once, so that it is tried once more and then expires (Postfix treats future queue times
   * the same way). Either way the message is never stranded.
   */
  async #dueTime(name: string, state: RetryState | undefined, now: Date): Promise<Date | undefined> {
    if (!state?.nextAttempt || state.nextAttempt <= now) return undefined;
    if (now.getTime() >= state.firstQueued.getTime() + this.#policy.expire) return undefined;
    const longest = new Date(now.getTime() + Math.max(...this.#policy.retry));
    if (state.nextAttempt <= longest) return state.nextAttempt;
    this.#log?.warn('retry time further ahead than the longest retry interval; waiting that long instead', {
      name,
      nextAttempt: state.nextAttempt.toISOString(),
      instead: longest.toISOString(),
    });
    // Written down, or the next look would cut it to "longest from then" again, for ever.
    state.nextAttempt = longest;
    await this.#spool.writeRetryState(name, state).catch((err: Error) => {
      this.#log?.error('cannot correct the retry time in the .rtr', { name, error: err.message });
    });
    return longest;
  }

  /** The message without the recipients the upstream already took from this very file (see DeliveredPending). */
  #withoutDelivered(message: QueuedMessage): QueuedMessage {
    const pending = this.#delivered.get(message.name);
    if (!pending) return message;
    if (pending.ino !== message.ino) {
      this.#delivered.delete(message.name); // another file under that name: a new message
      return message;
    }
    const recipients = message.envelope.recipients.filter((r) => !pending.recipients.has(r));
    return { ...message, envelope: { sender: message.envelope.sender, recipients } };
  }

  #noteDelivered(message: QueuedMessage, accepted: string[]): void {
    let pending = this.#delivered.get(message.name);
    if (!pending || pending.ino !== message.ino) {
      pending = { ino: message.ino, recipients: new Set() };
      this.#delivered.set(message.name, pending);
    }
    for (const recipient of accepted) pending.recipients.add(recipient);
  }

  /** Every recipient has it already; only the file's removal failed before. Nothing is sent. */
  async #finishRemoval(message: QueuedMessage, state: RetryState | undefined): Promise<AttemptOutcome> {
    try {
      await this.#spool.removeDelivered(message);
    } catch (err) {
      return this.#localFailure(message, state, undefined, err);
    }
    this.#delivered.delete(message.name);
    this.#log?.info('delivered message removed from Queue at last', { id: message.id });
    this.#events.attempt({ id: message.id, result: 'delivered', reply: 'removed after an earlier failed removal', recipients: [] });
    return { kind: 'delivered' };
  }

  /**
   * A local error after the delivery attempt (the .rtr cannot be written on a full disk, the delivered file
   * cannot be removed). It goes through the same route state and timing as any failure: a route is down only if
   * the transport said so, and the message waits for its next retry time, counted from now, even though that
   * could not be written down. It never comes back before then, and never as a probe once the upstream may have
   * it (the transport reports no route down then).
   */
  #localFailure(message: QueuedMessage, state: RetryState | undefined, result: DeliveryResult | undefined, err: unknown): AttemptOutcome {
    const now = this.#now();
    const decision = decideRetry((state?.attempts ?? 0) + 1, state?.firstQueued ?? this.#firstQueued(message.name, now), now, this.#policy);
    const retryAt = 'retryAt' in decision && decision.retryAt > now ? decision.retryAt : new Date(now.getTime() + this.#policy.retry[0]!);
    const hostDown = result?.kind === 'not-sent' && result.scope === 'host' && !result.maybeDelivered;
    const error = (err as Error).message;
    this.#log?.error('local error after a delivery attempt; the message waits for its next retry time', {
      id: message.id,
      error,
      smartHost: result ? (result.kind === 'sent' ? `accepted ${result.accepted.length} recipient(s)` : result.reply) : 'not contacted',
      nextAttemptAt: retryAt.toISOString(),
    });
    const reply = hostDown ? result.reply : `local error: ${error}`;
    return { kind: 'deferred', retryAt, reply, ...(result?.routes ? { routes: result.routes } : {}) };
  }

  /**
   * When a message without an .rtr was queued: the accept time its id holds. An id that is not one of ours, in
   * the future (a clock stepped back) or older than the expiry (a file replayed into Queue under its old name)
   * starts the clock now instead, so that a message is never expired before its first retry.
   */
  #firstQueued(name: string, now: Date): Date {
    const at = timeOfId(idOf(name));
    if (!at || at > now || now.getTime() - at.getTime() >= this.#policy.expire) return now;
    return at;
  }

  /** The queued message, or the outcome when there is none to deliver (gone, or unreadable: to Badmail). */
  async #read(name: string): Promise<QueuedMessage | AttemptOutcome> {
    const read = await this.#spool.readQueuedMessage(name);
    if (read.ok) return read.value;
    if (read.reason.missing) return { kind: 'gone' };
    return this.#quarantineUnreadable(name, read.reason.text);
  }

  async #applyResult(
    message: QueuedMessage,
    state: RetryState | undefined,
    result: DeliveryResult,
    probe: boolean,
  ): Promise<AttemptOutcome> {
    const recipients = message.envelope.recipients;
    /** The host that answered (or last failed): the Remote-MTA of its replies. */
    const host = result.host;
    if (result.kind === 'not-sent') {
      if (result.maybeDelivered) {
        const reply = `${result.reply} (after the final dot, before a reply: the message may have been delivered and may arrive twice)`;
        this.#log?.warn('connection lost after the final dot: possible duplicate; retried at its retry time, never as a probe', {
          id: message.id,
          reply: result.reply,
        });
        return this.#recordFailure(message, state, reply, false, { host });
      }
      if (result.permanent) {
        const failed = everyRecipient(message, result.reply);
        return this.#toBadmail(message, state, 'the smart host refused the message permanently', failed, 'refused', host);
      }
      // A route known down, not tried at all: the log has said so already (see Scheduler).
      const untried = result.routes !== undefined && result.routes.length > 0 && result.routes.every((r) => r.state === 'untried');
      const quiet = result.scope === 'host' && (probe || untried);
      return this.#recordFailure(message, state, result.reply, result.scope === 'host', { quiet, host });
    }

    const { accepted, deferred, failed } = result;
    if (accepted.length > 0) {
      failpoint('deliver-after-upstream-250');
      this.#noteDelivered(message, accepted); // until the file no longer lists them (see DeliveredPending)
    }
    if (result.relayedWithoutDsn?.length) await this.#bouncer.relayed(message, state, result.relayedWithoutDsn, result.reply, host);
    const onHost = host ? { host } : {};
    if (failed.length === 0 && deferred.length === 0) {
      await this.#spool.removeDelivered(message);
      this.#delivered.delete(message.name);
      this.#events.attempt({ id: message.id, result: 'delivered', reply: result.reply, recipients: accepted, ...onHost });
      return { kind: 'delivered' };
    }
    if (deferred.length === 0 && accepted.length === 0) {
      return this.#toBadmail(message, state, 'the smart host refused every recipient permanently', failed, 'refused', host);
    }
    // Mixed: some recipients are done for good. Write the failed ones to Badmail, keep only the deferred ones.
    if (failed.length > 0) {
      const notice = await this.#bouncer.failure(message, state, failed, 'refused', host);
      const report = this.#report('the smart host refused these recipients permanently', message, state, failed, notice, host);
      await this.#spool.quarantine(message.name, report, { message, recipients: failed.map((f) => f.recipient) });
      this.#events.badmail({ id: message.id, reason: 'recipients refused', recipients: failed.map((f) => f.recipient) });
    }
    if (deferred.length === 0) {
      await this.#spool.removeDelivered(message);
      this.#delivered.delete(message.name);
      this.#events.attempt({ id: message.id, result: 'partial', reply: result.reply, recipients: accepted, ...onHost });
      return { kind: 'delivered' };
    }
    let remaining = message;
    if (deferred.length < recipients.length) {
      remaining = await this.#spool.rewriteRecipients(message, deferred.map((d) => d.recipient));
      this.#delivered.delete(message.name); // the file now lists only the recipients still to do
      this.#events.attempt({ id: message.id, result: 'partial', reply: result.reply, recipients: accepted, ...onHost });
    }
    const reply = deferred.length === 1 ? deferred[0]!.reply : deferred.map((d) => `<${d.recipient}> ${d.reply}`).join('; ');
    return this.#recordFailure(remaining, state, reply, false, { perRecipient: deferred, host });
  }

  async #recordFailure(
    message: QueuedMessage,
    previous: RetryState | undefined,
    reply: string,
    hostDown: boolean,
    options: { perRecipient?: RecipientReply[]; quiet?: boolean; host?: string | undefined } = {},
  ): Promise<AttemptOutcome> {
    const { perRecipient, quiet = false, host } = options;
    const now = this.#now();
    const state: RetryState = {
      // A First-Queued in the future (a clock stepped back, a hand edit) would put off expiry: it counts from now.
      firstQueued: previous && previous.firstQueued <= now ? previous.firstQueued : this.#firstQueued(message.name, now),
      firstAttempt: previous?.firstAttempt ?? now,
      attempts: (previous?.attempts ?? 0) + 1,
      lastAttempt: now,
      nextAttempt: undefined,
      hostDeferred: hostDown,
      delayNotified: previous?.delayNotified ?? false,
      lastReply: reply,
    };
    const decision = decideRetry(state.attempts, state.firstQueued, now, this.#policy);
    if ('giveUp' in decision) {
      const failed = perRecipient ?? everyRecipient(message, reply);
      const cause: FailureCause = hostDown ? 'unreachable' : 'refused';
      return this.#toBadmail(message, state, `expired: not delivered within ${describeDuration(this.#policy.expire)} of being queued`, failed, cause, host);
    }
    state.nextAttempt = decision.retryAt;
    if (!state.delayNotified && this.#delayNotify > 0 && now.getTime() - state.firstQueued.getTime() >= this.#delayNotify) {
      // Marked before sending: a crash may lose this warning, but never sends it twice.
      state.delayNotified = true;
      await this.#spool.writeRetryState(message.name, state);
      await this.#bouncer.delay(message, state, new Date(state.firstQueued.getTime() + this.#policy.expire), host);
    } else {
      await this.#spool.writeRetryState(message.name, state);
    }
    this.#events.attempt({ id: message.id, result: 'deferred', reply, attempts: state.attempts, nextAttemptAt: decision.retryAt, ...(host ? { host } : {}) }, { quiet });
    return { kind: 'deferred', retryAt: decision.retryAt, reply };
  }

  async #countHops(message: QueuedMessage): Promise<number> {
    // The bytes read with the envelope usually hold the whole header block; read more only when they do not.
    const peek = message.peek;
    const { bytes } =
      peek && (peek.complete || peek.bytes.includes('\r\n\r\n')) ? peek : await this.#spool.readMessageStart(message, HEADER_READ_LIMIT);
    return headerBlock(bytes).toString('latin1').match(/^Received:/gim)?.length ?? 0;
  }

  #report(reason: string, message: QueuedMessage, state: RetryState | undefined, failed: RecipientReply[], notice: NotifyResult, host: string | undefined): string {
    return badmailReport({
      reason,
      sender: message.envelope.sender,
      recipients: failed,
      state,
      smartHost: host ?? this.#transport.description,
      notification: notice.sent ? `sent to <${message.envelope.sender}> as ${notice.id}` : `not sent: ${notice.why}`,
      now: this.#now(),
    });
  }

  /** Tells the sender first, then moves the file: a crash in between repeats the notice, never loses it. */
  async #toBadmail(
    message: QueuedMessage,
    state: RetryState | undefined,
    reason: string,
    failed: RecipientReply[],
    cause: FailureCause,
    host?: string,
  ): Promise<AttemptOutcome> {
    const notice = await this.#bouncer.failure(message, state, failed, cause, host);
    await this.#spool.quarantine(message.name, this.#report(reason, message, state, failed, notice, host));
    this.#events.badmail({ id: message.id, reason, recipients: failed.map((f) => f.recipient) });
    return { kind: 'badmail' };
  }

  async #quarantineUnreadable(name: string, reason: string): Promise<AttemptOutcome> {
    const report = badmailReport({ reason: `not a valid queue file: ${reason}`, recipients: [], now: this.#now() });
    try {
      await this.#spool.quarantine(name, report);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'gone' };
      throw err;
    }
    this.#events.badmail({ id: name, reason, recipients: [] });
    return { kind: 'badmail' };
  }
}

/** Every recipient of the message, each with the same reply. */
function everyRecipient(message: QueuedMessage, reply: string): RecipientReply[] {
  return message.envelope.recipients.map((recipient) => ({ recipient, reply }));
}
