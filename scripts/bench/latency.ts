// Scenario 3: accept latency of sequential messages from one client with the upstream up, down (nothing
// listening) and hanging (accepts TCP, never answers), both ways a client connects: over one long session
// (MAIL FROM -> 250 after the dot) and with one connection per message (connect() -> 250 after the dot, what a
// .NET SmtpClient or the AD CS exit module waits for). Promise 1: the three upstream states must look the same.
// With --peer the same runs go to the peer, and the targets are ratios against it.
import path from 'node:path';
import { openSession, sendOnOwnConnection, type ConnectionMode, type SendTiming } from './client.js';
import { RSS_LIMIT_MB, removeDir, rssTarget, scenarioDir } from './common.js';
import { mtasOf, startMta, type MtaName } from './mta.js';
import { Sink } from './sink-control.js';
import { peerTarget, target, type BenchContext, type Figure, type ScenarioResult, type Target } from './types.js';
import { unusedPort, makeMessage, mb, nowMs, percentile, round } from './util.js';
import { startSilentServer } from '../../test/helpers/upstream.js';

type Upstream = 'up' | 'down' | 'hanging';
const UPSTREAMS: Upstream[] = ['up', 'down', 'hanging'];
const MODES: ConnectionMode[] = ['per-connection', 'sessions'];
const SPREAD_LIMIT = 1.2;
const PEER_P99_FACTOR = 0.5;

const label = (upstream: Upstream, mode: ConnectionMode) =>
  `${upstream}, ${mode === 'sessions' ? 'session: MAIL' : 'per connection: connect'}-to-250`;

/** The upstream in `state`; its close may be called more than once. */
async function upstreamFor(state: Upstream): Promise<{ smartHost: string; close: () => Promise<void> }> {
  const { smartHost, close } = await startUpstream(state);
  let closed: Promise<void> | undefined;
  return { smartHost, close: () => (closed ??= close()) };
}

async function startUpstream(state: Upstream): Promise<{ smartHost: string; close: () => Promise<void> }> {
  if (state === 'up') {
    const sink = Sink.create();
    await sink.listen(0);
    return { smartHost: `127.0.0.1:${sink.port}`, close: () => sink.release() };
  }
  if (state === 'down') return { smartHost: `127.0.0.1:${await unusedPort()}`, close: async () => undefined };
  const silent = await startSilentServer();
  return { smartHost: `127.0.0.1:${silent.port}`, close: silent.close };
}

async function measure(ctx: BenchContext, dir: string, name: MtaName, state: Upstream, figures: Record<string, Figure>): Promise<number | undefined> {
  const { latencyMessages, warmup, size, client } = ctx.options;
  const upstream = await upstreamFor(state);
  try {
    const mta = await startMta(ctx, name, path.join(dir, `mailroot-${name}-${state}`), upstream.smartHost);
    try {
      const message = makeMessage(size, `s3-${state}`);
      for (const mode of MODES) {
        ctx.progress(`scenario 3 ${name}: ${latencyMessages} sequential messages, upstream ${state}, ${mode}`);
        const session = mode === 'sessions' ? await openSession(client, mta.port) : undefined;
        const times: number[] = [];
        const deadline = nowMs() + Math.max(30_000, latencyMessages * 50);
        for (let i = 0; i < warmup + latencyMessages && nowMs() < deadline; i++) {
          const to = ['sink@example.net'];
          const timing: SendTiming = session
            ? await session.send('bench@example.com', to, message)
            : await sendOnOwnConnection(client, mta.port, 'bench@example.com', to, message);
          if (i >= warmup) times.push(timing.transactionMs);
        }
        await session?.close();
        figures[`${label(state, mode)} p50 ms`] = round(percentile(times, 50), 2);
        figures[`${label(state, mode)} p99 ms`] = round(percentile(times, 99), 2);
        figures[`${label(state, mode)} max ms`] = round(Math.max(...times), 2);
      }
      // The upstream goes first: a hanging one holds the relay's deliveries in flight, and its stop would wait them out.
      await upstream.close();
      const pss = await mta.stop(2_000);
      figures[`${state}: peak PSS MB`] = mb(pss);
      if (mta.relay) figures[`${state}: peak RSS MB`] = mb(mta.relay.peakRssKb);
      return mta.relay?.peakRssKb;
    } finally {
      await mta.stop(1_000);
    }
  } finally {
    await upstream.close();
  }
}

export async function runLatency(ctx: BenchContext): Promise<ScenarioResult> {
  const { latencyMessages, warmup, size, client } = ctx.options;
  const dir = await scenarioDir(ctx, 's3-latency');
  const started = nowMs();
  const figures = new Map<MtaName, Record<string, Figure>>();
  const rss: Array<[Upstream, number | undefined]> = [];
  try {
    for (const name of mtasOf(ctx)) {
      const own: Record<string, Figure> = {};
      figures.set(name, own);
      for (const state of UPSTREAMS) {
        const peak = await measure(ctx, dir, name, state, own);
        if (name === 'mailroot') rss.push([state, peak]);
      }
    }
  } finally {
    await removeDir(ctx, dir);
  }
  const own = figures.get('mailroot')!;
  const peer = figures.get('postfix');
  const num = (v: Figure | undefined) => (typeof v === 'number' ? v : null);
  const targets: Target[] = [];
  for (const mode of MODES) {
    const p99 = (state: Upstream) => num(own[`${label(state, mode)} p99 ms`]);
    for (const state of UPSTREAMS) {
      const key = `${label(state, mode)} p99 ms`;
      targets.push(peerTarget(`${state}, ${mode}: p99 <= ${PEER_P99_FACTOR} x postfix`, p99(state), '<=', PEER_P99_FACTOR, peer?.[key], 'ms'));
    }
    const up = p99('up');
    for (const state of ['down', 'hanging'] as const) {
      const value = p99(state);
      const ratio = up && value !== null ? round(value / up, 2) : null;
      own[`${state}/up p99, ${mode}`] = ratio;
      targets.push(target(`${state}, ${mode}: p99 <= ${SPREAD_LIMIT} x up`, ratio, '<=', SPREAD_LIMIT, 'x'));
    }
  }
  for (const state of UPSTREAMS) {
    targets.push(peerTarget(`${state}: peak PSS <= postfix`, num(own[`${state}: peak PSS MB`]), '<=', 1, peer?.[`${state}: peak PSS MB`], 'MB'));
  }
  targets.push(...rss.map(([state, kb]) => rssTarget(`${state}:`, kb, RSS_LIMIT_MB.steady)));
  return {
    id: 3,
    title: 'Accept latency: upstream up, down, hanging; per connection and in one session',
    status: 'ok',
    seconds: round((nowMs() - started) / 1000, 1) ?? 0,
    params: { messages: latencyMessages, warmup, size, client, clients: 1 },
    figures: own,
    targets,
    ...(peer ? { peer: { name: 'postfix', figures: peer } } : {}),
  };
}
