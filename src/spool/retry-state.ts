// The delivery state kept beside a queued message as <id>.rtr: plain text an operator can read in Notepad,
// and the only place the retry schedule lives, so it survives restarts. A message without one is new.
//
//   First-Queued: 2026-11-30T04:11:28.123Z
//   First-Attempt: 2026-11-30T04:11:28.200Z
//   Attempts: 2
//   Last-Attempt: 2026-11-30T04:26:28.000Z
//   Next-Attempt: 2026-11-30T04:56:28.000Z
//   Host-Deferred: yes
//   Delay-Notified: no
//   Last-Reply: 421 4.3.2 Service not available

export interface RetryState {
  firstQueued: Date;
  firstAttempt: Date | undefined;
  attempts: number;
  lastAttempt: Date | undefined;
  nextAttempt: Date | undefined;
  /** The last failure was the smart host being unreachable rather than a reply about this message. */
  hostDeferred: boolean;
  /** A delay notification (DSN "delayed") went to the sender; it is sent once. */
  delayNotified: boolean;
  lastReply: string;
}

export function formatRetryState(state: RetryState): string {
  const lines = [
    `First-Queued: ${state.firstQueued.toISOString()}`,
    `First-Attempt: ${state.firstAttempt?.toISOString() ?? ''}`,
    `Attempts: ${state.attempts}`,
    `Last-Attempt: ${state.lastAttempt?.toISOString() ?? ''}`,
    `Next-Attempt: ${state.nextAttempt?.toISOString() ?? ''}`,
    `Host-Deferred: ${state.hostDeferred ? 'yes' : 'no'}`,
    `Delay-Notified: ${state.delayNotified ? 'yes' : 'no'}`,
    `Last-Reply: ${oneLine(state.lastReply)}`,
  ];
  return lines.join('\r\n') + '\r\n';
}

function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

function parseDate(text: string | undefined): Date | undefined {
  if (!text) return undefined;
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** Tolerant: a hand-edited or damaged file yields what can be read; a missing First-Queued yields undefined. */
export function parseRetryState(text: string): RetryState | undefined {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const firstQueued = parseDate(fields.get('first-queued'));
  if (!firstQueued) return undefined;
  const attempts = Number(fields.get('attempts'));
  return {
    firstQueued,
    firstAttempt: parseDate(fields.get('first-attempt')),
    attempts: Number.isInteger(attempts) && attempts >= 0 ? attempts : 0,
    lastAttempt: parseDate(fields.get('last-attempt')),
    nextAttempt: parseDate(fields.get('next-attempt')),
    hostDeferred: fields.get('host-deferred') === 'yes',
    delayNotified: fields.get('delay-notified') === 'yes',
    lastReply: fields.get('last-reply') ?? '',
  };
}

/**
 * The state an operator's "retry now" (or a release from Hold) writes: due at `now`, everything else kept. A
 * message that has no .rtr yet gets one dated from when it was queued, with no attempts counted.
 */
export function dueNowState(previous: RetryState | undefined, queuedAt: Date, now: Date): RetryState {
  if (previous) return { ...previous, nextAttempt: now };
  return {
    firstQueued: queuedAt,
    firstAttempt: undefined,
    attempts: 0,
    lastAttempt: undefined,
    nextAttempt: now,
    hostDeferred: false,
    delayNotified: false,
    lastReply: '',
  };
}
