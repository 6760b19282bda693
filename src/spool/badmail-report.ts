// The .bdr text written beside a message in Badmail: what an administrator needs to see at a glance.
// Written by delivery (refused or expired messages) and by Pickup (files that are not a sendable message).
import type { RetryState } from './retry-state.js';

export interface BadmailReportInput {
  reason: string;
  /** The Pickup file the .bad file was, when it came from Pickup. */
  pickupFile?: string | undefined;
  sender?: string | undefined;
  /** Same shape as transport's RecipientReply: the address and the upstream's reply. */
  recipients: Array<{ recipient: string; reply: string }>;
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
  if (input.pickupFile !== undefined) lines.push(`Pickup file: ${input.pickupFile}`);
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
  lines.push(
    '',
    input.recipients.length > 0
      ? 'To send it again to the recipients above, move the .bad file into the Pickup folder.'
      : 'To send it, correct the .bad file and move it into the Pickup folder.',
  );
  return lines.join('\r\n') + '\r\n';
}
