// Scenario 3: accept latency of sequential messages on one session with the upstream up, down (nothing
// listening) and hanging (accepts TCP, never answers). Promise 1: the three must be the same.
import path from 'node:path';
import { openSession } from './client.js';
import { RSS_LIMIT_MB, removeDir, rssTarget, spawnRelay, scenarioDir } from './common.js';
import { Sink } from './sink-control.js';
import { target, type BenchContext, type Figure, type ScenarioResult } from './types.js';
import { freePort, makeMessage, mb, nowMs, percentile, round } from './util.js';
import { startSilentServer } from '../../test/helpers/upstream.js';

type Mode = 'up' | 'down' | 'hanging';
const P99_LIMIT_MS = 5;
const SPREAD_LIMIT = 1.2;


interface ModeResult {
  mode: Mode;
  transactionMs: number[];
  dataMs: number[];
  peakKb: number | undefined;
}

async function measure(ctx: BenchContext, dir: string, mode: Mode): Promise<ModeResult> {
  const { latencyMessages, warmup, size, client } = ctx.options;
  let smartHost: string;
  let close: () => Promise<void>;
  if (mode === 'up') {
    const sink = Sink.create();
    await sink.listen(0);
    smartHost = `127.0.0.1:${sink.port}`;
    close = () => sink.kill();
  } else if (mode === 'down') {
    smartHost = `127.0.0.1:${await freePort()}`;
    close = async () => undefined;
  } else {
    const silent = await startSilentServer();
    smartHost = `127.0.0.1:${silent.port}`;
    close = silent.close;
  }
  try {
    const relay = await spawnRelay(ctx, path.join(dir, `mailroot-${mode}`), smartHost);
    try {
      await relay.waitForGreeting();
      const session = await openSession(client, relay.port);
      const message = makeMessage(size, `s3-${mode}`);
      const result: ModeResult = { mode, transactionMs: [], dataMs: [], peakKb: undefined };
      const deadline = nowMs() + Math.max(30_000, latencyMessages * 50);
      for (let i = 0; i < warmup + latencyMessages && nowMs() < deadline; i++) {
        const timing = await session.send('bench@example.com', ['sink@example.net'], message);
        if (i < warmup) continue;
        result.transactionMs.push(timing.transactionMs);
        result.dataMs.push(timing.dataMs);
      }
      await session.close();
      await relay.stop(2_000); // a hanging upstream holds deliveries in flight: do not wait out their grace
      result.peakKb = relay.peakRssKb;
      return result;
    } finally {
      await relay.stop(1_000);
    }
  } finally {
    await close();
  }
}

export async function runLatency(ctx: BenchContext): Promise<ScenarioResult> {
  const { latencyMessages, warmup, size, client } = ctx.options;
  const dir = await scenarioDir(ctx, 's3-latency');
  const started = nowMs();
  const results: ModeResult[] = [];
  try {
    for (const mode of ['up', 'down', 'hanging'] as const) {
      ctx.progress(`scenario 3: ${latencyMessages} sequential messages, upstream ${mode}`);
      results.push(await measure(ctx, dir, mode));
    }
  } finally {
    await removeDir(ctx, dir);
  }
  const figures: Record<string, Figure> = {};
  const p99s: number[] = [];
  for (const r of results) {
    const p99 = percentile(r.transactionMs, 99);
    if (p99 !== undefined) p99s.push(p99);
    figures[`${r.mode}: p50 ms`] = round(percentile(r.transactionMs, 50), 2);
    figures[`${r.mode}: p99 ms`] = round(p99, 2);
    figures[`${r.mode}: max ms`] = round(Math.max(...r.transactionMs), 2);
    figures[`${r.mode}: after-dot p99 ms`] = round(percentile(r.dataMs, 99), 2);
    figures[`${r.mode}: peak RSS MB`] = mb(r.peakKb);
  }
  const spread = p99s.length === 3 ? Math.max(...p99s) / Math.min(...p99s) : null;
  figures['p99 spread (max/min)'] = round(spread, 2);
  return {
    id: 3,
    title: 'Accept latency: upstream up, down, hanging',
    status: 'ok',
    seconds: round((nowMs() - started) / 1000, 1) ?? 0,
    params: { messages: latencyMessages, warmup, size, client, sessions: 1, measured: 'MAIL FROM -> 250 after the dot' },
    figures,
    targets: [
      ...results.map((r) => target(`${r.mode}: p99 < ${P99_LIMIT_MS} ms`, round(percentile(r.transactionMs, 99), 2), '<=', P99_LIMIT_MS, 'ms')),
      target(`p99 equal within 20% (max/min <= ${SPREAD_LIMIT})`, round(spread, 2), '<=', SPREAD_LIMIT, 'x'),
      ...results.map((r) => rssTarget(`${r.mode}:`, r.peakKb, RSS_LIMIT_MB.steady)),
    ],
  };
}
