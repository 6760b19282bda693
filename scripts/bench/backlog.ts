// Scenario 4: a backlog queued while the upstream is down (nothing listening on its port), then the upstream
// comes back: how soon delivery starts, and how fast the backlog drains to a local sink.
import fs from 'node:fs/promises';
import path from 'node:path';
import { runLoad } from './client.js';
import { RSS_LIMIT_MB, removeDir, rssTarget, spawnRelay, scenarioDir } from './common.js';
import { Sink } from './sink-control.js';
import { target, type BenchContext, type ScenarioResult } from './types.js';
import { freePort, makeMessage, mb, nowMs, round, sleep } from './util.js';

const START_LIMIT_S = 0.5;
const DRAIN_RATE_TARGET = 1300;
/** Pause between the last 250 and the upstream's return. */
const SETTLE_MS = 1000;
/** If nothing at all is delivered this long after the upstream's return, the drain is reported as not started. */
const FIRST_WAIT_MS = { normal: 15_000, smoke: 5_000 };
/** The drain is watched this long at least (longer for a bigger backlog: 1.5 ms a message); the rate is taken
 * over what arrived by then, so a slow drain does not stretch the run. */
const DRAIN_WAIT_MS = 30_000;

async function countStates(queue: string): Promise<number> {
  return (await fs.readdir(queue).catch(() => [] as string[])).filter((name) => name.endsWith('.rtr')).length;
}

export async function runBacklog(ctx: BenchContext): Promise<ScenarioResult> {
  const { backlog, sessions, size, client } = ctx.options;
  const dir = await scenarioDir(ctx, 's4-backlog');
  const mailroot = path.join(dir, 'mailroot');
  const started = nowMs();
  const firstWaitMs = ctx.options.smoke ? FIRST_WAIT_MS.smoke : FIRST_WAIT_MS.normal;
  const sink = Sink.create();
  try {
    const upstreamPort = await freePort();
    const relay = await spawnRelay(ctx, mailroot, `127.0.0.1:${upstreamPort}`);
    try {
      await relay.waitForGreeting();
      ctx.progress(`scenario 4: queueing ${backlog} messages with the upstream down`);
      const load = await runLoad({
        kind: client,
        port: relay.port,
        sessions,
        total: backlog,
        message: makeMessage(size, 's4'),
        deadline: nowMs() + Math.max(60_000, backlog * 20),
      });
      const acceptRate = load.accepted / ((load.lastAccept - load.start) / 1000);
      await sleep(SETTLE_MS);
      const statesAtReturn = await countStates(path.join(mailroot, 'Queue'));
      ctx.progress(`scenario 4: upstream back, draining ${load.accepted}`);
      const returnedAt = nowMs();
      await sink.listen(upstreamPort);
      let stats = await sink.waitFor(1, firstWaitMs, 10);
      if (stats.count > 0) stats = await sink.waitFor(load.accepted, Math.max(DRAIN_WAIT_MS, backlog * 1.5), 50);
      relay.sample();
      await relay.stop();
      const peak = relay.peakRssKb;
      const startS = stats.firstAt !== null ? (stats.firstAt - returnedAt) / 1000 : null;
      const totalS = stats.lastAt !== null ? (stats.lastAt - returnedAt) / 1000 : null;
      const drainRate = stats.firstAt !== null && stats.lastAt !== null && stats.lastAt > stats.firstAt
        ? stats.count / ((stats.lastAt - stats.firstAt) / 1000)
        : null;
      const complete = stats.count >= load.accepted;
      const note =
        stats.count === 0
          ? `nothing delivered within ${firstWaitMs / 1000} s of the upstream's return; see the relay log with --keep`
          : complete
            ? undefined
            : `the sink got ${stats.count} of ${load.accepted} in the ${round((Math.max(DRAIN_WAIT_MS, backlog * 1.5)) / 1000, 0)} s watched; the rate is over those`;
      return {
        id: 4,
        title: 'Backlog drain after the upstream returns',
        status: 'ok',
        ...(note ? { note } : {}),
        seconds: round((nowMs() - started) / 1000, 1) ?? 0,
        params: { messages: backlog, sessions, size, client, 'upstream returns after last 250 (ms)': SETTLE_MS },
        figures: {
          queued: load.accepted,
          failed: load.failed,
          'accept msg/s while down': round(acceptRate),
          '.rtr files at return': statesAtReturn,
          'first delivery after return s': round(startS, 3),
          'last delivery after return s': complete ? round(totalS, 2) : null,
          'drain msg/s': round(drainRate),
          delivered: stats.count,
          'peak RSS MB': mb(peak),
        },
        targets: [
          target(`drain starts within ${START_LIMIT_S} s`, stats.count === 0 ? firstWaitMs / 1000 : round(startS, 3), '<=', START_LIMIT_S, 's'),
          target(`drain >= ${DRAIN_RATE_TARGET} msg/s`, round(drainRate), '>=', DRAIN_RATE_TARGET, 'msg/s'),
          rssTarget('', peak, RSS_LIMIT_MB.steady),
        ],
      };
    } finally {
      await relay.stop();
    }
  } finally {
    await sink.kill();
    await removeDir(ctx, dir);
  }
}
