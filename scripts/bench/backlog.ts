// Scenario 4: a backlog queued while the upstream is down (nothing listening on its port), then the upstream
// comes back: how soon delivery starts, and how fast the backlog drains to a local sink. With --peer the same
// run goes to the peer, which is told the upstream is back with `postqueue -f` (mailroot's probe finds out).
import fs from 'node:fs/promises';
import path from 'node:path';
import { runLoad } from './client.js';
import { RSS_LIMIT_MB, removeDir, rssTarget, scenarioDir } from './common.js';
import { mtasOf, startMta, type MtaName } from './mta.js';
import { Sink } from './sink-control.js';
import { peerTarget, target, type BenchContext, type Figure, type ScenarioResult } from './types.js';
import { unusedPort, makeMessage, mb, nowMs, round, sleep } from './util.js';

const START_LIMIT_S = 0.5;
const DRAIN_RATE_TARGET = 1300;
const PEER_DRAIN_FACTOR = 1.3;
/** Pause between the last 250 and the upstream's return (a smoke run only checks that the scenario runs). */
const SETTLE_MS = { normal: 1000, smoke: 100 };
/** If nothing at all is delivered this long after the upstream's return, the drain is reported as not started. */
const FIRST_WAIT_MS = { normal: 15_000, smoke: 5_000 };
/** The drain is watched this long at least (longer for a bigger backlog: 1.5 ms a message); the rate is taken
 * over what arrived by then, so a slow drain does not stretch the run. */
const DRAIN_WAIT_MS = 30_000;

async function countStates(queue: string): Promise<number> {
  return (await fs.readdir(queue).catch(() => [] as string[])).filter((name) => name.endsWith('.rtr')).length;
}

interface BacklogRun {
  figures: Record<string, Figure>;
  note?: string;
  startS: number | null;
  drainRate: number | null;
  peakRssKb: number | undefined;
}

async function measure(ctx: BenchContext, name: MtaName, dir: string): Promise<BacklogRun> {
  const { backlog, sessions, size, client } = ctx.options;
  const mailroot = path.join(dir, `mailroot-${name}`);
  const firstWaitMs = ctx.options.smoke ? FIRST_WAIT_MS.smoke : FIRST_WAIT_MS.normal;
  const sink = Sink.create();
  try {
    const upstreamPort = await unusedPort();
    const mta = await startMta(ctx, name, mailroot, `127.0.0.1:${upstreamPort}`);
    try {
      ctx.progress(`scenario 4 ${name}: queueing ${backlog} messages with the upstream down`);
      const load = await runLoad({
        kind: client,
        port: mta.port,
        sessions,
        total: backlog,
        message: makeMessage(size, 's4'),
        deadline: nowMs() + Math.max(60_000, backlog * 20),
      });
      const acceptRate = load.accepted / ((load.lastAccept - load.start) / 1000);
      await sleep(ctx.options.smoke ? SETTLE_MS.smoke : SETTLE_MS.normal);
      const statesAtReturn = name === 'mailroot' ? await countStates(path.join(mailroot, 'Queue')) : null;
      ctx.progress(`scenario 4 ${name}: upstream back, draining ${load.accepted}`);
      const returnedAt = nowMs();
      await sink.listen(upstreamPort);
      await mta.upstreamBack();
      let stats = await sink.waitFor(1, firstWaitMs, 10);
      if (stats.count > 0) stats = await sink.waitFor(load.accepted, Math.max(DRAIN_WAIT_MS, backlog * 1.5), 50);
      const peakPss = await mta.stop();
      const startS = stats.firstAt !== null ? (stats.firstAt - returnedAt) / 1000 : null;
      const totalS = stats.lastAt !== null ? (stats.lastAt - returnedAt) / 1000 : null;
      const drainRate =
        stats.firstAt !== null && stats.lastAt !== null && stats.lastAt > stats.firstAt ? stats.count / ((stats.lastAt - stats.firstAt) / 1000) : null;
      const complete = stats.count >= load.accepted;
      const note =
        stats.count === 0
          ? `${name}: nothing delivered within ${firstWaitMs / 1000} s of the upstream's return; see the relay log with --keep`
          : complete
            ? undefined
            : `${name}: the sink got ${stats.count} of ${load.accepted} in the ${round(Math.max(DRAIN_WAIT_MS, backlog * 1.5) / 1000, 0)} s watched; the rate is over those`;
      return {
        startS: stats.count === 0 ? firstWaitMs / 1000 : round(startS, 3),
        drainRate: round(drainRate),
        peakRssKb: mta.relay?.peakRssKb,
        ...(note ? { note } : {}),
        figures: {
          queued: load.accepted,
          failed: load.failed,
          'accept msg/s while down': round(acceptRate),
          ...(statesAtReturn !== null ? { '.rtr files at return': statesAtReturn } : {}),
          'first delivery after return s': round(startS, 3),
          'last delivery after return s': complete ? round(totalS, 2) : null,
          'drain msg/s': round(drainRate),
          delivered: stats.count,
          ...(mta.relay ? { 'peak RSS MB': mb(mta.relay.peakRssKb) } : {}),
          'peak PSS MB (process tree)': mb(peakPss),
        },
      };
    } finally {
      await mta.stop();
    }
  } finally {
    await sink.release();
  }
}

export async function runBacklog(ctx: BenchContext): Promise<ScenarioResult> {
  const { backlog, sessions, size, client } = ctx.options;
  const dir = await scenarioDir(ctx, 's4-backlog');
  const started = nowMs();
  const runs = new Map<MtaName, BacklogRun>();
  try {
    for (const name of mtasOf(ctx)) runs.set(name, await measure(ctx, name, dir));
  } finally {
    await removeDir(ctx, dir);
  }
  const own = runs.get('mailroot')!;
  const peer = runs.get('postfix');
  const notes = [own.note, peer?.note].filter(Boolean);
  const num = (v: Figure | undefined) => (typeof v === 'number' ? v : null);
  return {
    id: 4,
    title: 'Backlog drain after the upstream returns',
    status: 'ok',
    ...(notes.length ? { note: notes.join('; ') } : {}),
    seconds: round((nowMs() - started) / 1000, 1) ?? 0,
    params: { messages: backlog, sessions, size, client, 'upstream returns after last 250 (ms)': ctx.options.smoke ? SETTLE_MS.smoke : SETTLE_MS.normal },
    figures: own.figures,
    targets: [
      peerTarget(`drain msg/s >= ${PEER_DRAIN_FACTOR} x postfix`, own.drainRate, '>=', PEER_DRAIN_FACTOR, peer?.drainRate ?? undefined, 'msg/s'),
      peerTarget('peak PSS <= postfix', num(own.figures['peak PSS MB (process tree)']), '<=', 1, peer?.figures['peak PSS MB (process tree)'], 'MB'),
      target(`drain starts within ${START_LIMIT_S} s`, own.startS, '<=', START_LIMIT_S, 's'),
      target(`drain >= ${DRAIN_RATE_TARGET} msg/s`, own.drainRate, '>=', DRAIN_RATE_TARGET, 'msg/s'),
      rssTarget('', own.peakRssKb, RSS_LIMIT_MB.steady),
    ],
    ...(peer ? { peer: { name: 'postfix', figures: peer.figures } } : {}),
  };
}
