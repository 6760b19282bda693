// Starts the real relay (the server object, in this process) on a fresh temporary mailroot and a free port.
import fs from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import type { Config, ConfigKey } from '../../src/config/schema.js';
import type { Clock } from '../../src/delivery/clock.js';
import { createLogger } from '../../src/log/logger.js';
import { Relay } from '../../src/relay.js';
import { tempDir } from './temp-dir.js';

export async function tempMailroot(): Promise<string> {
  return tempDir('mailroot-test-');
}

export interface TestRelayOptions {
  mailroot?: string;
  smartHost: string;
  settings?: Partial<Record<ConfigKey, unknown>>;
  /** The clock delivery schedules by; a SteppedClock lets a test jump to a retry or probe time. */
  clock?: Clock;
}

/** The tests' relay config: a loopback listener on a free port, short retries and timeouts, then `settings`. */
export function testRelayConfig(mailroot: string, smartHost: string, settings: Partial<Record<ConfigKey, unknown>> = {}): Readonly<Config> {
  return loadConfig({
    env: {},
    cwd: mailroot,
    flags: {
      mailroot,
      listen: ['127.0.0.1:0'],
      hostname: 'relay.test',
      smartHost,
      retry: ['1s'],
      smartHostTimeout: '3s',
      rescanInterval: '1s',
      ...settings,
    },
  });
}

export async function startRelay(options: TestRelayOptions): Promise<Relay> {
  const mailroot = options.mailroot ?? (await tempMailroot());
  const config = testRelayConfig(mailroot, options.smartHost, options.settings);
  const log = createLogger({ level: process.env.TEST_LOG === '1' ? 'debug' : 'error', console: process.env.TEST_LOG === '1' });
  return Relay.start(config, log, options.clock ? { clock: options.clock } : {});
}

interface SteppedTimer {
  at: number;
  fn: () => void;
  real: NodeJS.Timeout | undefined;
}

/**
 * Real time plus the jumps a test makes with advance(): delivery runs as usual in real time, and a test shows
 * that nothing happens before a retry or probe time by jumping to just before it (timers then due fire at once)
 * instead of sleeping through it.
 */
export class SteppedClock implements Clock {
  #offset = 0;
  readonly #timers = new Set<SteppedTimer>();

  now(): number {
    return Date.now() + this.#offset;
  }

  setTimer(fn: () => void, ms: number): unknown {
    const wait = Math.max(0, ms);
    const timer: SteppedTimer = { at: this.now() + wait, fn, real: undefined };
    timer.real = setTimeout(() => this.#fire(timer), Math.min(wait, 2 ** 31 - 1));
    timer.real.unref();
    this.#timers.add(timer);
    return timer;
  }

  clearTimer(timer: unknown): void {
    const t = timer as SteppedTimer | undefined;
    if (t && this.#timers.delete(t)) clearTimeout(t.real);
  }

  /**
   * Moves time forward by `ms`; the timers that are due now fire at once, earliest first. The others' real
   * timeouts are set again to what is left of their wait: one that is due a moment after the jump (its delay was
   * computed from a reading of the clock a millisecond before setTimer's) fires a moment later, not after the
   * whole wait it had before the jump.
   */
  advance(ms: number): void {
    this.#offset += ms;
    const now = this.now();
    const due = [...this.#timers].filter((t) => t.at <= now).sort((a, b) => a.at - b.at);
    for (const timer of due) this.#fire(timer);
    for (const timer of this.#timers) {
      clearTimeout(timer.real);
      timer.real = setTimeout(() => this.#fire(timer), Math.min(Math.max(0, timer.at - this.now()), 2 ** 31 - 1));
      timer.real.unref();
    }
  }

  #fire(timer: SteppedTimer): void {
    if (!this.#timers.delete(timer)) return;
    clearTimeout(timer.real);
    if (timer.at > this.now()) {
      // A real timer can fire a little early; wait for the rest.
      this.#timers.add(timer);
      timer.real = setTimeout(() => this.#fire(timer), Math.min(timer.at - this.now(), 2 ** 31 - 1));
      timer.real.unref();
      return;
    }
    timer.fn();
  }
}

export function relayPort(relay: Relay): number {
  return relay.listening[0]!.port;
}

/** Polls until `check` is true, for outcomes with no event to wait on (files appearing, folders emptying). */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function filesIn(dir: string, suffix = ''): Promise<string[]> {
  return (await fs.readdir(dir)).filter((name) => name.endsWith(suffix) && !name.startsWith('.')).sort();
}

/** Puts a hand-made message into Queue the way an operator would: written elsewhere, then moved in. */
export async function dropIntoQueue(queueDir: string, name: string, sender: string, recipients: string[], message: string): Promise<void> {
  const head = `X-Sender: <${sender}>\r\n` + recipients.map((r) => `X-Receiver: <${r}>\r\n`).join('');
  const outside = path.join(path.dirname(queueDir), `${name}.incoming`);
  await fs.writeFile(outside, head + message);
  await fs.rename(outside, path.join(queueDir, name));
}
