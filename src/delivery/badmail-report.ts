// The .bdr text written beside a message in Badmail: what an administrator needs to see at a glance.
import type { RecipientReply } from '../transport/transport.js';
import type { RetryState } from '../spool/retry-state.js';

export interface BadmailReportInput {
  reason: string;
  sender?: string | undefined;
  recipients: RecipientReply[];
  state?: RetryState | undefined;
  smartHost?: string;
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
    if (state.lastAttempt) lines.push(`Last attempt: ${state.lastAttempt.toISOString()}`);
    lines.push(`Attempts: ${state.attempts}`);
  }
  lines.push(`Moved to Badmail: ${input.now.toISOString()}`);
  lines.push('', 'To send it again to the recipients above, move the .bad file into the Pickup folder.');
  return lines.join('\r\n') + '\r\n';
}
