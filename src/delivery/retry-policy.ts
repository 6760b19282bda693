// When to try a message again, or when to give up. Pure: no clock, no files.

export interface RetryPolicy {
  /** Waits after the 1st, 2nd, ... failed attempt; the last one repeats. */
  retry: readonly number[];
  /** Give up this long after the message was first queued. */
  expire: number;
}

export type RetryDecision = { retryAt: Date } | { giveUp: 'expired' };

/**
 * `attempts` counts failed attempts including the one just made. The last retry is placed exactly at the
 * expiry moment, so a message always gets one attempt at the end of its life before it goes to Badmail.
 */
export function decideRetry(attempts: number, firstQueued: Date, now: Date, policy: RetryPolicy): RetryDecision {
  const deadline = firstQueued.getTime() + policy.expire;
  if (now.getTime() >= deadline) return { giveUp: 'expired' };
  const wait = policy.retry[Math.min(Math.max(attempts, 1), policy.retry.length) - 1]!;
  return { retryAt: new Date(Math.min(now.getTime() + wait, deadline)) };
}
