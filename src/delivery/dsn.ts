// Builds delivery status notifications (RFC 3464 multipart/report) shaped and worded like the ones IIS SMTPSVC
// sent, so people and scripts used to those recognise them. Pure: text in, bytes out.
import crypto from 'node:crypto';
import { rfc5322Date } from '../mail/rfc5322-date.js';

export type DsnKind = 'failure' | 'delay';

/** Why the recipients failed; picks IIS's sentence for the readable part. */
export type FailureCause = 'refused' | 'unreachable' | 'loop';

export interface DsnRecipient {
  recipient: string;
  /** Enhanced status code, e.g. 5.1.1. */
  status: string;
  /** The upstream's full reply; omitted when there was none (could not connect). */
  diagnostic?: string | undefined;
}

export interface DsnInput {
  kind: DsnKind;
  cause: FailureCause;
  reportingHost: string;
  /** The original reverse-path: the DSN goes to it. */
  to: string;
  recipients: DsnRecipient[];
  arrivalDate: Date;
  willRetryUntil?: Date;
  /** The start of the original message; `complete` false means only its header block is returned. */
  original: { bytes: Buffer; complete: boolean };
  now: Date;
}

const INTRO = 'This is a MIME-formatted message.  \r\nPortions of this message may be unreadable without a MIME-capable mail program.\r\n';

const SENTENCES: Record<FailureCause, string> = {
  refused: 'Delivery to the following recipients failed.',
  unreachable:
    'Unable to deliver message to the following recipients, due to being unable to connect successfully to the destination mail server.',
  loop:
    'Unable to deliver message to the following recipients, because the message was forwarded more than the maximum allowed times. This could indicate a mail loop.',
};

const DELAY_TEXT =
  'This is an automatically generated Delivery Status Notification.\r\n\r\nTHIS IS A WARNING MESSAGE ONLY.\r\n\r\n' +
  'YOU DO NOT NEED TO RESEND YOUR MESSAGE.\r\n\r\nDelivery to the following recipients has been delayed.\r\n';

/** "550 5.1.1 <a@b>: unknown" -> 5.1.1 (the first reply in the text); otherwise derived from the reply's class, or the fallback. */
export function enhancedStatus(reply: string | undefined, fallback: string): string {
  const enhanced = reply ? /\b\d{3}[ -]([245]\.\d{1,3}\.\d{1,3})\b/.exec(reply) : null;
  if (enhanced) return enhanced[1]!;
  const basic = reply ? /^([245])\d\d\b/.exec(reply) : null;
  return basic ? `${basic[1]}.0.0` : fallback;
}

/** The header block of a message: everything up to the first empty line. */
export function headerBlock(bytes: Buffer): Buffer {
  const end = bytes.indexOf('\r\n\r\n');
  return end === -1 ? bytes : bytes.subarray(0, end + 2);
}

export function buildDsn(input: DsnInput): Buffer {
  const boundary = `${crypto.randomBytes(12).toString('hex')}DSN=_${input.reportingHost.replace(/[^A-Za-z0-9.]/g, '?')}`;
  const subject = input.kind === 'delay' ? 'Delivery Status Notification (Delay)' : 'Delivery Status Notification (Failure)';
  const action = input.kind === 'delay' ? 'delayed' : 'failed';
  const list = input.recipients.map((r) => `       ${r.recipient}`).join('\r\n');
  const readable =
    input.kind === 'delay'
      ? `${DELAY_TEXT}\r\n${list}\r\n\r\n\r\n\r\n\r\n`
      : `This is an automatically generated Delivery Status Notification.\r\n\r\n${SENTENCES[input.cause]}\r\n\r\n${list}\r\n\r\n\r\n\r\n\r\n`;

  const perMessage = [`Reporting-MTA: dns;${input.reportingHost}`, `Arrival-Date: ${rfc5322Date(input.arrivalDate)}`];
  const perRecipient = input.recipients.map((r) => {
    const fields = [`Final-Recipient: rfc822;${r.recipient}`, `Action: ${action}`, `Status: ${r.status}`];
    if (r.diagnostic) fields.push(`Diagnostic-Code: smtp;${r.diagnostic.replace(/[\r\n]+/g, ' ')}`);
    if (input.kind === 'delay' && input.willRetryUntil) fields.push(`Will-Retry-Until: ${rfc5322Date(input.willRetryUntil)}`);
    return fields.join('\r\n');
  });
  const status = [perMessage.join('\r\n'), ...perRecipient].join('\r\n\r\n') + '\r\n';

  const returned = input.original.complete
    ? `Content-Type: message/rfc822\r\n\r\n`
    : `Content-Type: text/rfc822-headers\r\n\r\n`;
  const originalBytes = input.original.complete ? input.original.bytes : headerBlock(input.original.bytes);

  const head = [
    `From: postmaster@${input.reportingHost}`,
    `To: <${input.to}>`,
    `Date: ${rfc5322Date(input.now)}`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary="${boundary}"`,
    `Message-ID: <${crypto.randomBytes(10).toString('hex')}@${input.reportingHost}>`,
    `Subject: ${subject}`,
    'Auto-Submitted: auto-replied',
    'Return-Path: <>',
  ].join('\r\n');

  const withFinalCrlf = originalBytes.length === 0 || originalBytes.subarray(-2).toString() === '\r\n' ? originalBytes : Buffer.concat([originalBytes, Buffer.from('\r\n')]);
  return Buffer.concat([
    Buffer.from(
      `${head}\r\n\r\n${INTRO}\r\n--${boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${readable}\r\n` +
        `--${boundary}\r\nContent-Type: message/delivery-status\r\n\r\n${status}\r\n--${boundary}\r\n${returned}`,
      'utf8',
    ),
    withFinalCrlf,
    Buffer.from(`--${boundary}--\r\n`),
  ]);
}
