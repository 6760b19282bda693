// Turns what nodemailer's SMTP client reports into a DeliveryResult. The only place that reads its error codes.
import type { SMTPError as NodemailerError, SentMessageInfo as SMTPConnectionSendInfo } from 'nodemailer/lib/smtp-connection';
import type { DeliveryResult, RecipientReply } from './transport.js';

/** Codes that mean the smart host itself is unreachable or broke the session: every message waits for it. */
const HOST_ERROR_CODES = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ETLS', 'EPROTOCOL', 'EAUTH', 'ENOAUTH']);

/** The upstream's reply when there was one; otherwise what went wrong, with nodemailer's code (ETIMEDOUT, ...). */
export function replyText(err: NodemailerError): string {
  let text = err.response ?? (err.code && !err.message.includes(err.code) ? `${err.code}: ${err.message}` : err.message);
  // The host's answer to STARTTLS alone ("500 command not recognized") would not say what failed.
  if (err.code === 'ETLS' && err.response !== undefined) text = `STARTTLS failed: ${err.response}`;
  return text.replace(/\s*\r?\n\s*/g, ' ').trim();
}

function isPermanent(code: number | undefined): boolean {
  return code !== undefined && code >= 500 && code < 600;
}

function splitRejected(errors: NodemailerError[] | undefined, rejected: string[]): { deferred: RecipientReply[]; failed: RecipientReply[] } {
  const deferred: RecipientReply[] = [];
  const failed: RecipientReply[] = [];
  const byRecipient = new Map((errors ?? []).map((e) => [e.recipient ?? '', e]));
  for (const recipient of rejected) {
    const err = byRecipient.get(recipient);
    const entry = { recipient, reply: err ? replyText(err) : 'refused at RCPT (no reply text)' };
    (err && isPermanent(err.responseCode) ? failed : deferred).push(entry);
  }
  return { deferred, failed };
}

export function classifySuccess(info: SMTPConnectionSendInfo): DeliveryResult {
  const { deferred, failed } = splitRejected(info.rejectedErrors, info.rejected ?? []);
  return { kind: 'sent', reply: info.response.trim(), accepted: info.accepted ?? [], deferred, failed };
}

/**
 * Replies that mean the relay is not allowed to send at all, whatever the message: 530 "authentication required"
 * and Microsoft's 5.7.3 / 5.7.30 / 5.7.57 / 5.7.139 (bad or basic-auth credentials, client not authenticated).
 * They are the operator's to fix: the mail waits, it is not bounced to its senders.
 */
const NOT_AUTHORISED = /^5\d\d[ -]5\.7\.(?:3|30|57|139)\b/;

export function isHostError(err: NodemailerError): boolean {
  return err.responseCode === 421 || err.responseCode === 530 || HOST_ERROR_CODES.has(err.code ?? '') || NOT_AUTHORISED.test(err.response ?? '');
}

export type OperatorProblem = 'authentication' | 'tls';

/**
 * A failure the operator must fix (credentials, token endpoint, certificate, a host that does not offer
 * STARTTLS when it must), as opposed to a host that is down or busy. undefined for the latter.
 */
export function operatorProblem(err: NodemailerError): OperatorProblem | undefined {
  if (err.code === 'EAUTH' || err.code === 'ENOAUTH' || err.responseCode === 530 || NOT_AUTHORISED.test(err.response ?? '')) return 'authentication';
  if (err.code === 'ETLS') return 'tls';
  return undefined;
}

export interface ErrorContext {
  /** The whole message had been handed to the connection (its final dot included) when the error came. */
  bodySent?: boolean;
}

export function classifyError(err: NodemailerError, context: ErrorContext = {}): DeliveryResult {
  if (isHostError(err)) {
    // No reply to the final dot: a lost connection or a timeout there is not a refusal. The upstream may have
    // the message (the "lost after the dot" case of RFC 5321 6.1), so it must not be resent as a probe.
    if (context.bodySent === true && err.responseCode === undefined) {
      return { kind: 'not-sent', scope: 'host', permanent: false, reply: replyText(err), maybeDelivered: true };
    }
    const problem = operatorProblem(err);
    return { kind: 'not-sent', scope: 'host', permanent: false, reply: replyText(err), ...(problem ? { problem } : {}) };
  }
  if (err.code === 'EENVELOPE' && err.rejectedErrors && err.rejectedErrors.length > 0 && err.command !== 'MAIL FROM') {
    // Every recipient was refused at RCPT: report each one's own reply.
    const { deferred, failed } = splitRejected(err.rejectedErrors, err.rejected ?? err.rejectedErrors.map((e) => e.recipient ?? ''));
    return { kind: 'sent', reply: replyText(err), accepted: [], deferred, failed };
  }
  return { kind: 'not-sent', scope: 'message', permanent: isPermanent(err.responseCode), reply: replyText(err) };
}
