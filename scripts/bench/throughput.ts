// Scenarios 1 and 2, one run: 20 sessions send 5 000 x 4 KiB. 1 = until the last 250 (accept throughput);
// 2 = until the upstream sink has every message (end to end).
import path from 'node:path';
import { runLoad } from './client.js';
import { RSS_LIMIT_MB, removeDir, rssTarget, spawnRelay, scenarioDir } from './common.js';
import { Sink } from './sink-control.js';
import { target, type BenchContext, type ScenarioResult } from './types.js';
import { makeMessage, mb, nowMs, percentile, round } from './util.js';

export async function runThroughput(ctx: BenchContext): Promise<ScenarioResult[]> {
  const { messages, sessions, size, client } = ctx.options;
  const dir = await scenarioDir(ctx, 's1-throughput');
  const sink = Sink.create();
  const started = nowMs();
  try {
    await sink.listen(0);
    const relay = await spawnRelay(ctx, path.join(dir, 'mailroot'), `127.0.0.1:${sink.port}`);
    try {
      await relay.waitForGreeting();
      relay.sample();
      const cpuBefore = relay.cpuSeconds;
      const sinkCpuBefore = sink.cpuSeconds;
      const clientCpuBefore = process.cpuUsage();
      ctx.progress(`scenario 1/2: ${messages} x ${size} B from ${sessions} sessions`);
      const load = await runLoad({
        kind: client,
        port: relay.port,
        sessions,
        total: messages,
        message: makeMessage(size, 's1'),
        deadline: nowMs() + Math.max(60_000, messages * 20),
      });
      const clientCpu = process.cpuUsage(clientCpuBefore);
      const acceptSeconds = (load.lastAccept - load.start) / 1000;
      const stats = await sink.waitFor(load.accepted, Math.max(60_000, messages * 20));
      relay.sample();
      const cpuSeconds = relay.cpuSeconds !== undefined && cpuBefore !== undefined ? relay.cpuSeconds - cpuBefore : undefined;
      const sinkCpuAfter = sink.cpuSeconds;
      const sinkSeconds = sinkCpuAfter !== undefined && sinkCpuBefore !== undefined ? sinkCpuAfter - sinkCpuBefore : undefined;
      const perMessageMs = (seconds: number | undefined) => (seconds !== undefined ? round((seconds * 1000) / load.accepted, 3) : null);
      const e2eSeconds = stats.lastAt !== null ? (stats.lastAt - load.start) / 1000 : Number.NaN;
      const acceptRate = load.accepted / acceptSeconds;
      const disk = ctx.results.get(7)?.figures[`${sessions} writers, cycles/s`];
      const diskRate = typeof disk === 'number' ? disk : null;
      const params = { messages, sessions, size, client };
      await relay.stop();
      const peak = relay.peakRssKb;
      const s1: ScenarioResult = {
        id: 1,
        title: 'Accept throughput',
        status: 'ok',
        seconds: 0,
        params,
        figures: {
          accepted: load.accepted,
          failed: load.failed,
          'msg/s': round(acceptRate),
          [`x disk (${sessions} writers)`]: diskRate ? round(acceptRate / diskRate, 2) : null,
          'txn p50 ms': round(percentile(load.transactionMs, 50), 2),
          'txn p99 ms': round(percentile(load.transactionMs, 99), 2),
          // The whole machine's work per message, to set against its cores: relay, upstream sink, load client.
          'relay CPU ms/msg': perMessageMs(cpuSeconds),
          'sink CPU ms/msg': perMessageMs(sinkSeconds),
          'client CPU ms/msg': perMessageMs((clientCpu.user + clientCpu.system) / 1e6),
          'peak RSS MB': mb(peak),
          ...(load.errors.length ? { errors: load.errors.join(' | ') } : {}),
        },
        targets: [
          target(`msg/s >= 0.7 x disk ${sessions}-writer cycles/s`, round(acceptRate), '>=', diskRate ? round(0.7 * diskRate) : null, 'msg/s'),
          rssTarget('', peak, RSS_LIMIT_MB.steady),
        ],
      };
      const s2: ScenarioResult = {
        id: 2,
        title: 'End-to-end throughput',
        status: 'ok',
        ...(stats.count >= load.accepted ? {} : { note: `the sink got ${stats.count} of ${load.accepted} within the time allowed` }),
        seconds: 0,
        params,
        figures: {
          delivered: stats.count,
          'msg/s': round(stats.count / e2eSeconds),
          'seconds to last delivery': round(e2eSeconds, 2),
          'sink connections': stats.connections,
          'peak RSS MB': mb(peak),
        },
        targets: [rssTarget('', peak, RSS_LIMIT_MB.steady)],
      };
      const seconds = round((nowMs() - started) / 1000, 1) ?? 0;
      s1.seconds = seconds;
      s2.seconds = seconds;
      return [s1, s2];
    } finally {
      await relay.stop();
    }
  } finally {
    await sink.kill();
    await removeDir(ctx, dir);
  }
}
