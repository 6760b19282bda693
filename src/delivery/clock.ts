// Time for the scheduler's parts, injected so that their rules are tested with a mock clock instead of sleeps.
// The system clock looks the timer functions up at each call, so Node's mock.timers also drives it.

export interface Clock {
  /** Epoch ms. */
  now(): number;
  /** Runs `fn` after `ms`; the timer never keeps the process alive. */
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(timer: unknown): void;
}

/** setTimeout cannot wait longer than about 24.8 days: a longer wait wakes up early and looks again. */
const LONGEST_TIMER = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer: (fn, ms) => {
    const timer = setTimeout(fn, Math.min(Math.max(0, ms), LONGEST_TIMER));
    timer.unref?.();
    return timer;
  },
  clearTimer: (timer) => clearTimeout(timer as NodeJS.Timeout | undefined),
};
