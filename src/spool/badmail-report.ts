// The .bdr text written beside a message in Badmail: what an administrator needs to see at a glance.
import type { RetryState } from './retry-state.js';

/** A recipient that failed, with the reply that made it fail. */
export interface FailedRecipient {
  recipient: string;
  reply: string;
}

export interface BadmailReportInput {
  reason: string;
  sender?: string | undefined;
  recipients: FailedRecipient[];
  state?: RetryState | undefined;
  smartHost?: string;
  /** What happened about telling the sender, e.g. "sent to <a@b> as <id>" or why not. */
  notification?: string;
  now: Date;
}

export function badmailReport(input: BadmailReportInput): string {
  const lines = [
    'Unable to deliver this message.',
    '',
    `Reason: ${input.reason}`,
  ];
  if (input.sender !== undefined) lines.push(`Sender: <${input.sender}>`);
  if (input.recipients.length > 0) {
    lines.push('Failed recipients:');
    for (const r of input.recipients) lines.push(`  <${r.recipient}>  ${r.reply}`);
  }
  if (input.smartHost) lines.push(`Smart host: ${input.smartHost}`);
  const state = input.state;
  if (state) {
    lines.push(`First queued: ${state.firstQueued.toISOString()}`);
    if (state.firstAttempt) lines.push(`First attempt: ${state.firstAttempt.toISOString()}`);
    if (state.lastAttempt) lines.push(`Last attempt: ${state.lastAttempt.toISOString()}`);
    lines.push(`Attempts: ${state.attempts}`);
  }
  if (input.notification) lines.push(`Non-delivery report: ${input.notification}`);
  lines.push(`Moved to Badmail: ${input.now.toISOString()}`);
  lines.push('', 'To send it again to the recipients above, move the .bad file into the Pickup folder.');
  return lines.join('\r\n') + '\r\n';
}
