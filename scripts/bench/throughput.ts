// Scenarios 1 and 2, one run per MTA: 20 workers send 5 000 x 4 KiB over long sessions, then 5 000 more with
// one connection per message. 1 = until the last 250 (accept throughput, both ways); 2 = until the upstream sink
// has every message of the sessions run (end to end). With --peer the same runs go to the peer, and
// smtp-source (Postfix's load client, one connection per message) cross-checks where it is installed.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { runLoad, type ConnectionMode, type LoadResult } from './client.js';
import { RSS_LIMIT_MB, removeDir, rssTarget, scenarioDir } from './common.js';
import { mtasOf, startMta, type MtaName } from './mta.js';
import { Sink } from './sink-control.js';
import { peerTarget, target, type BenchContext, type Figure, type ScenarioResult } from './types.js';
import { makeMessage, mb, nowMs, percentile, round } from './util.js';

const run = promisify(execFile);
const SMTP_SOURCE = '/usr/sbin/smtp-source';

interface MtaThroughput {
  figures1: Record<string, Figure>;
  figures2: Record<string, Figure>;
  note2?: string;
  sessionsRate: number;
  peakRssKb: number | undefined;
}

function modeFigures(label: string, load: LoadResult, latency: string): Record<string, Figure> {
  const seconds = (load.lastAccept - load.start) / 1000;
  return {
    [`${label}: msg/s`]: round(load.accepted / seconds),
    [`${label}: ${latency} p50 ms`]: round(percentile(load.transactionMs, 50), 2),
    [`${label}: ${latency} p99 ms`]: round(percentile(load.transactionMs, 99), 2),
  };
}

/** smtp-source's own rate against `port`, one connection per message; null when it is not installed or fails. */
async function smtpSourceRate(ctx: BenchContext, port: number, messages: number): Promise<number | null> {
  const { sessions, size } = ctx.options;
  const started = nowMs();
  try {
    await run(SMTP_SOURCE, ['-s', String(sessions), '-m', String(messages), '-l', String(size), '-f', 'bench@example.com', '-t', 'sink@example.net', `127.0.0.1:${port}`], {
      timeout: Math.max(60_000, messages * 20),
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') ctx.progress(`smtp-source failed: ${(err as Error).message}`);
    return null;
  }
  return round(messages / ((nowMs() - started) / 1000));
}

async function measure(ctx: BenchContext, name: MtaName, dir: string): Promise<MtaThroughput> {
  const { messages, sessions, size, client } = ctx.options;
  const sink = Sink.create();
  try {
    await sink.listen(0);
    const mta = await startMta(ctx, name, path.join(dir, `mailroot-${name}`), `127.0.0.1:${sink.port}`);
    try {
      const relay = mta.relay;
      relay?.sample();
      const cpuBefore = relay?.cpuSeconds;
      const sinkCpuBefore = sink.cpuSeconds;
      const clientCpuBefore = process.cpuUsage();
      const treeCpuBefore = mta.cpuSeconds();
      const load = async (mode: ConnectionMode, total: number) => {
        ctx.progress(`scenario 1/2 ${name}: ${total} x ${size} B from ${sessions} workers, ${mode}`);
        return runLoad({ kind: client, port: mta.port, mode, sessions, total, message: makeMessage(size, `s1-${mode}`), deadline: nowMs() + Math.max(60_000, total * 20) });
      };
      const sessionsLoad = await load('sessions', messages);
      const clientCpu = process.cpuUsage(clientCpuBefore);
      const stats = await sink.waitFor(sessionsLoad.accepted, Math.max(60_000, messages * 20));
      relay?.sample();
      const cpuSeconds = relay?.cpuSeconds !== undefined && cpuBefore !== undefined ? relay.cpuSeconds - cpuBefore : undefined;
      const sinkCpuAfter = sink.cpuSeconds;
      const sinkSeconds = sinkCpuAfter !== undefined && sinkCpuBefore !== undefined ? sinkCpuAfter - sinkCpuBefore : undefined;
      const perMessageMs = (seconds: number | undefined) => (seconds !== undefined ? round((seconds * 1000) / sessionsLoad.accepted, 3) : null);
      const e2eSeconds = stats.lastAt !== null ? (stats.lastAt - sessionsLoad.start) / 1000 : Number.NaN;

      const treeCpuAfter = mta.cpuSeconds();
      const treeCpu = treeCpuBefore !== undefined && treeCpuAfter !== undefined ? treeCpuAfter - treeCpuBefore : undefined;
      const perConnection = await load('per-connection', messages);
      await sink.waitFor(sessionsLoad.accepted + perConnection.accepted, Math.max(60_000, messages * 20));
      ctx.progress(`scenario 1 ${name}: smtp-source cross-check`);
      const smtpSource = await smtpSourceRate(ctx, mta.port, messages);
      const peakPss = await mta.stop();
      const errors = [...sessionsLoad.errors, ...perConnection.errors];
      return {
        sessionsRate: sessionsLoad.accepted / ((sessionsLoad.lastAccept - sessionsLoad.start) / 1000),
        peakRssKb: relay?.peakRssKb,
        figures1: {
          accepted: sessionsLoad.accepted,
          failed: sessionsLoad.failed + perConnection.failed,
          ...modeFigures('sessions', sessionsLoad, 'MAIL-to-250'),
          'per connection: accepted': perConnection.accepted,
          ...modeFigures('per connection', perConnection, 'connect-to-250'),
          'smtp-source per connection: msg/s': smtpSource,
          // Accepting and delivering, all processes of the MTA, over the sessions run and its delivery.
          'MTA CPU ms/msg (process tree)': perMessageMs(treeCpu),
          ...(relay
            ? {
                // The whole machine's work per message (sessions run), to set against its cores.
                'relay CPU ms/msg': perMessageMs(cpuSeconds),
                'sink CPU ms/msg': perMessageMs(sinkSeconds),
                'client CPU ms/msg': perMessageMs((clientCpu.user + clientCpu.system) / 1e6),
                'peak RSS MB': mb(relay.peakRssKb),
              }
            : {}),
          'peak PSS MB (process tree)': mb(peakPss),
          ...(errors.length ? { errors: errors.join(' | ') } : {}),
        },
        figures2: {
          delivered: stats.count,
          'msg/s': round(stats.count / e2eSeconds),
          'seconds to last delivery': round(e2eSeconds, 2),
          'sink connections': stats.connections,
        },
        ...(stats.count >= sessionsLoad.accepted ? {} : { note2: `the sink got ${stats.count} of ${sessionsLoad.accepted} within the time allowed` }),
      };
    } finally {
      await mta.stop(5_000);
    }
  } finally {
    await sink.release();
  }
}

export async function runThroughput(ctx: BenchContext): Promise<ScenarioResult[]> {
  const { messages, sessions, size, client } = ctx.options;
  const dir = await scenarioDir(ctx, 's1-throughput');
  const started = nowMs();
  const measured = new Map<MtaName, MtaThroughput>();
  try {
    for (const name of mtasOf(ctx)) measured.set(name, await measure(ctx, name, dir));
  } finally {
    await removeDir(ctx, dir);
  }
  const own = measured.get('mailroot')!;
  const peer = measured.get('postfix');
  const f = own.figures1;
  const p = peer?.figures1;
  const num = (v: Figure | undefined) => (typeof v === 'number' ? v : null);
  const disk = ctx.results.get(7)?.figures[`${sessions} writers, cycles/s`];
  const diskRate = typeof disk === 'number' ? disk : null;
  f[`x disk (${sessions} writers)`] = diskRate ? round(own.sessionsRate / diskRate, 2) : null;
  const params = { messages, sessions, size, client, 'per connection': 'connect, 220, EHLO, MAIL, RCPT, DATA, 250, QUIT' };
  const seconds = round((nowMs() - started) / 1000, 1) ?? 0;
  const s1: ScenarioResult = {
    id: 1,
    title: 'Accept throughput (long sessions and one connection per message)',
    status: 'ok',
    seconds,
    params,
    figures: f,
    targets: [
      peerTarget('sessions: msg/s >= 1.5 x postfix', num(f['sessions: msg/s']), '>=', 1.5, p?.['sessions: msg/s'], 'msg/s'),
      peerTarget('per connection: msg/s >= 1.5 x postfix', num(f['per connection: msg/s']), '>=', 1.5, p?.['per connection: msg/s'], 'msg/s'),
      peerTarget('smtp-source: msg/s >= 1.5 x postfix', num(f['smtp-source per connection: msg/s']), '>=', 1.5, p?.['smtp-source per connection: msg/s'], 'msg/s'),
      peerTarget('peak PSS <= postfix', num(f['peak PSS MB (process tree)']), '<=', 1, p?.['peak PSS MB (process tree)'], 'MB'),
      target(`sessions: msg/s >= 0.7 x disk ${sessions}-writer cycles/s`, num(f['sessions: msg/s']), '>=', diskRate ? round(0.7 * diskRate) : null, 'msg/s'),
      rssTarget('', own.peakRssKb, RSS_LIMIT_MB.steady),
    ],
    ...(peer ? { peer: { name: 'postfix', figures: peer.figures1 } } : {}),
  };
  const s2: ScenarioResult = {
    id: 2,
    title: 'End-to-end throughput (sessions run)',
    status: 'ok',
    ...(own.note2 ? { note: own.note2 } : {}),
    seconds,
    params,
    figures: own.figures2,
    targets: [rssTarget('', own.peakRssKb, RSS_LIMIT_MB.steady)],
    ...(peer ? { peer: { name: 'postfix', figures: peer.figures2 } } : {}),
  };
  return [s1, s2];
}
