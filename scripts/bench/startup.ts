// Scenario 5: start-up with a big Queue. Valid queue files are written straight into Queue, then the relay is
// started: time until a client gets its first 250, and peak RSS during start-up and the drain that follows.
import fs from 'node:fs';
import path from 'node:path';
import { newMessageId } from '../../src/spool/ids.js';
import { openSession } from './client.js';
import { RSS_LIMIT_MB, removeDir, rssTarget, spawnRelay, scenarioDir } from './common.js';
import type { BenchRelay } from './relay-process.js';
import { Sink } from './sink-control.js';
import { target, type BenchContext, type ScenarioResult } from './types.js';
import { makeMessage, mb, nowMs, round, sleep } from './util.js';

const FIRST_250_LIMIT_S = 1;

/** Writes `count` queue files in IIS pickup format (not fsynced: they only need to exist for this test). */
function fillQueue(queue: string, count: number, size: number): void {
  fs.mkdirSync(queue, { recursive: true });
  const message = makeMessage(size, 's5');
  const base = Date.now() - 3_600_000;
  for (let i = 0; i < count; i++) {
    const head = Buffer.from(`X-Sender: <bench@example.com>\r\nX-Receiver: <sink${i % 100}@example.net>\r\n`, 'latin1');
    fs.writeFileSync(path.join(queue, `${newMessageId(new Date(base + Math.floor(i / 10)))}.eml`), Buffer.concat([head, message]));
  }
}

/** Connects as soon as the relay listens and sends one message; returns when its 250 came (nowMs clock). */
async function firstAccept(relay: BenchRelay, ctx: BenchContext, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  const message = makeMessage(ctx.options.size, 's5-first');
  for (;;) {
    if (!relay.running) throw new Error(`relay exited; see ${relay.logFile}`);
    const session = await openSession('raw', relay.port, 5_000).catch(() => undefined);
    if (session) {
      const timing = await session.send('bench@example.com', ['first@example.net'], message);
      await session.close();
      return timing.at;
    }
    if (Date.now() > deadline) throw new Error(`no 250 within ${timeoutMs} ms`);
    await sleep(2);
  }
}

export async function runStartup(ctx: BenchContext): Promise<ScenarioResult> {
  const { startupFiles, startupDrainSeconds, size } = ctx.options;
  const dir = await scenarioDir(ctx, 's5-startup');
  const started = nowMs();
  const sink = Sink.create();
  try {
    await sink.listen(0);
    // Reference: the same start with an empty Queue (node start-up, module loading, listening).
    const empty = await spawnRelay(ctx, path.join(dir, 'mailroot-empty'), `127.0.0.1:${sink.port}`);
    let emptyFirst: number;
    try {
      emptyFirst = (await firstAccept(empty, ctx, 30_000)) - empty.spawnedAt;
    } finally {
      await empty.stop();
    }
    const baseline = (await sink.waitFor(1, 10_000)).count;

    const mailroot = path.join(dir, 'mailroot');
    ctx.progress(`scenario 5: writing ${startupFiles} queue files`);
    fillQueue(path.join(mailroot, 'Queue'), startupFiles, size);
    ctx.progress(`scenario 5: starting the relay on ${startupFiles} queued files`);
    const relay = await spawnRelay(ctx, mailroot, `127.0.0.1:${sink.port}`);
    try {
      const firstAt = await firstAccept(relay, ctx, 60_000);
      const rssAtFirst = relay.sample().rssKb;
      const first = (firstAt - relay.spawnedAt) / 1000;
      const total = startupFiles + 1;
      const stats = await sink.waitFor(baseline + total, startupDrainSeconds * 1000, 100);
      relay.sample();
      const cpu = relay.cpuSeconds;
      await relay.stop();
      const delivered = stats.count - baseline;
      const drainSeconds = stats.lastAt !== null ? (stats.lastAt - relay.spawnedAt) / 1000 : null;
      return {
        id: 5,
        title: `Start-up with ${startupFiles} files queued`,
        status: 'ok',
        seconds: round((nowMs() - started) / 1000, 1) ?? 0,
        params: { queued: startupFiles, size, 'drain observed for at most (s)': startupDrainSeconds },
        figures: {
          'first 250 s (empty Queue)': round(emptyFirst / 1000, 3),
          'first 250 s': round(first, 3),
          'RSS at first 250 MB': mb(rssAtFirst),
          'delivered in window': delivered,
          'all delivered': delivered >= total,
          'drain msg/s (since spawn)': drainSeconds ? round(delivered / drainSeconds) : null,
          'relay CPU s': round(cpu, 2),
          'peak RSS MB': mb(relay.peakRssKb),
        },
        targets: [
          target(`first 250 within ${FIRST_250_LIMIT_S} s`, round(first, 3), '<=', FIRST_250_LIMIT_S, 's'),
          rssTarget('start-up and drain', relay.peakRssKb, RSS_LIMIT_MB.startup),
        ],
      };
    } finally {
      await relay.stop();
    }
  } finally {
    await sink.release();
    ctx.progress('scenario 5: removing the queue files');
    await removeDir(ctx, dir);
  }
}
