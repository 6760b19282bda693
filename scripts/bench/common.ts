// Pieces several scenarios use: a fresh mailroot folder, the relay with the bench's settings, the RSS target.
import fs from 'node:fs/promises';
import path from 'node:path';
import { BenchRelay } from './relay-process.js';
import { target, type BenchContext, type Target } from './types.js';
import { mb } from './util.js';

/** RSS limits from the issue: scenarios 1-4 under 120 MB, start-up with 100 000 queued under 200 MB. */
export const RSS_LIMIT_MB = { steady: 120, startup: 200 } as const;

export async function scenarioDir(ctx: BenchContext, name: string): Promise<string> {
  const dir = path.join(ctx.runDir, name);
  await fs.mkdir(dir, { recursive: true });
  return dir;
}

export async function removeDir(ctx: BenchContext, dir: string): Promise<void> {
  if (!ctx.options.keep) await fs.rm(dir, { recursive: true, force: true });
}

/** The relay with the run's settings; `args` are the scenario's own `mailroot serve` flags. */
export function spawnRelay(ctx: BenchContext, mailroot: string, smartHost: string, args: string[] = []): Promise<BenchRelay> {
  const { relayLogLevel, relayArgs, relayNodeArgs, relayEnv } = ctx.options;
  return BenchRelay.launch({ mailroot, smartHost, logLevel: relayLogLevel, args: [...args, ...relayArgs], nodeArgs: relayNodeArgs, env: relayEnv });
}

export function rssTarget(label: string, peakKb: number | undefined, limitMb: number): Target {
  return target(`${label} peak RSS < ${limitMb} MB`, mb(peakKb), '<=', limitMb, 'MB');
}

/** Scales a default count, keeping at least `min`. */
export function scaled(ctx: BenchContext, count: number, min = 1): number {
  return Math.max(min, Math.round(count * ctx.options.scale));
}
