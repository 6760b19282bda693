// One delivery attempt for one queued message, and what it leaves behind: the file removed, rewritten to the
// recipients still to do, moved to Badmail with a reason, or kept with its retry state updated.
import type { MailEvents } from '../log/mail-events.js';
import type { RetryState } from '../spool/retry-state.js';
import type { QueuedMessage, Spool } from '../spool/spool.js';
import type { DeliveryResult, RecipientReply, Transport } from '../transport/transport.js';
import { badmailReport } from './badmail-report.js';
import { decideRetry, type RetryPolicy } from './retry-policy.js';

export type AttemptOutcome =
  | { kind: 'delivered' }
  | { kind: 'badmail' }
  /** The file is no longer in Queue (an operator moved it): nothing to do. */
  | { kind: 'gone' }
  /** Its retry state says it is not due yet. */
  | { kind: 'not-due'; at: Date }
  | { kind: 'deferred'; retryAt: Date; hostDown: boolean; reply: string };

export interface AgentOptions {
  spool: Spool;
  transport: Transport;
  policy: RetryPolicy;
  events: MailEvents;
  now?: () => Date;
}

export class DeliveryAgent {
  readonly #spool: Spool;
  readonly #transport: Transport;
  readonly #policy: RetryPolicy;
  readonly #events: MailEvents;
  readonly #now: () => Date;

  constructor(options: AgentOptions) {
    this.#spool = options.spool;
    this.#transport = options.transport;
    this.#policy = options.policy;
    this.#events = options.events;
    this.#now = options.now ?? (() => new Date());
  }

  /** `force` ignores the retry state's next attempt time (a probe, or the backlog after the host came back). */
  async attempt(name: string, force: boolean): Promise<AttemptOutcome> {
    const read = await this.#spool.readQueued(name);
    if (!read.ok) {
      if ('missing' in read) return { kind: 'gone' };
      return this.#quarantineUnreadable(name, read.reason);
    }
    const message = read.message;
    const state = await this.#spool.readRetryState(name);
    const now = this.#now();
    if (!force && state?.nextAttempt && state.nextAttempt > now) return { kind: 'not-due', at: state.nextAttempt };

    const result = await this.#transport.deliver(message.envelope, () => this.#spool.openBody(message));
    return this.#applyResult(message, state, result);
  }

  /**
   * Records a failed attempt for a message that was not itself sent because the smart host is down (a probe
   * on its behalf just failed). Its schedule moves on exactly as if it had been tried.
   */
  async deferUnattempted(name: string, reply: string): Promise<AttemptOutcome> {
    const read = await this.#spool.readQueued(name);
    if (!read.ok) {
      if ('missing' in read) return { kind: 'gone' };
      return this.#quarantineUnreadable(name, read.reason);
    }
    const state = await this.#spool.readRetryState(name);
    return this.#recordFailure(read.message, state, reply, true);
  }

  async #applyResult(message: QueuedMessage, state: RetryState | undefined, result: DeliveryResult): Promise<AttemptOutcome> {
    const recipients = message.envelope.recipients;
    if (result.kind === 'not-sent') {
      if (result.permanent) {
        const failed = recipients.map((recipient) => ({ recipient, reply: result.reply }));
        return this.#toBadmail(message, state, 'the smart host refused the message permanently', failed);
      }
      return this.#recordFailure(message, state, result.reply, result.scope === 'host');
    }

    const { accepted, deferred, failed } = result;
    if (failed.length === 0 && deferred.length === 0) {
      await this.#spool.removeDelivered(message);
      this.#events.attempt({ id: message.id, result: 'delivered', reply: result.reply, recipients: accepted });
      return { kind: 'delivered' };
    }
    if (deferred.length === 0 && accepted.length === 0) {
      return this.#toBadmail(message, state, 'the smart host refused every recipient permanently', failed);
    }
    // Mixed: some recipients are done for good. Write the failed ones to Badmail, keep only the deferred ones.
    if (failed.length > 0) {
      const report = this.#report('the smart host refused these recipients permanently', message, state, failed);
      await this.#spool.quarantine(message.name, report, { message, recipients: failed.map((f) => f.recipient) });
      this.#events.badmail({ id: message.id, reason: 'recipients refused', recipients: failed.map((f) => f.recipient) });
    }
    if (deferred.length === 0) {
      await this.#spool.removeDelivered(message);
      this.#events.attempt({ id: message.id, result: 'partial', reply: result.reply, recipients: accepted });
      return { kind: 'delivered' };
    }
    const remaining = await this.#spool.rewriteRecipients(message, deferred.map((d) => d.recipient));
    this.#events.attempt({ id: message.id, result: 'partial', reply: result.reply, recipients: accepted });
    return this.#recordFailure(remaining, state, deferred.map((d) => `<${d.recipient}> ${d.reply}`).join('; '), false, deferred);
  }

  async #recordFailure(
    message: QueuedMessage,
    previous: RetryState | undefined,
    reply: string,
    hostDown: boolean,
    perRecipient?: RecipientReply[],
  ): Promise<AttemptOutcome> {
    const now = this.#now();
    const state: RetryState = {
      firstQueued: previous?.firstQueued ?? now,
      attempts: (previous?.attempts ?? 0) + 1,
      lastAttempt: now,
      nextAttempt: undefined,
      hostDeferred: hostDown,
      lastReply: reply,
    };
    const decision = decideRetry(state.attempts, state.firstQueued, now, this.#policy);
    if ('giveUp' in decision) {
      const failed = perRecipient ?? message.envelope.recipients.map((recipient) => ({ recipient, reply }));
      return this.#toBadmail(message, state, `expired: not delivered within ${Math.round(this.#policy.expire / 60_000)} minutes`, failed);
    }
    state.nextAttempt = decision.retryAt;
    await this.#spool.writeRetryState(message.name, state);
    this.#events.attempt({ id: message.id, result: 'deferred', reply, attempts: state.attempts, nextAttemptAt: decision.retryAt });
    return { kind: 'deferred', retryAt: decision.retryAt, hostDown, reply };
  }

  #report(reason: string, message: QueuedMessage, state: RetryState | undefined, failed: RecipientReply[]): string {
    return badmailReport({
      reason,
      sender: message.envelope.sender,
      recipients: failed,
      state,
      smartHost: this.#transport.description,
      now: this.#now(),
    });
  }

  async #toBadmail(message: QueuedMessage, state: RetryState | undefined, reason: string, failed: RecipientReply[]): Promise<AttemptOutcome> {
    await this.#spool.quarantine(message.name, this.#report(reason, message, state, failed));
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
