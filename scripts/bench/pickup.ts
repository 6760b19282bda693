// Scenario 6: 10 000 files dropped into Pickup at once; time until the upstream has them all. A probe file must
// be taken first (Pickup waits for a file to settle, 2 s by default, before taking it; a smoke run sets 100 ms).
import fs from 'node:fs';
import path from 'node:path';
import { RSS_LIMIT_MB, removeDir, rssTarget, spawnRelay, scenarioDir } from './common.js';
import { Sink } from './sink-control.js';
import type { BenchContext, ScenarioResult } from './types.js';
import { makeMessage, mb, nowMs, round, waitUntil } from './util.js';

/** How long the probe file may sit in Pickup before the scenario gives up. */
const PROBE_WAIT_MS = 15_000;
/** The relay's pickupSettleTime in a smoke run, which only checks that the scenario runs. */
const SMOKE_SETTLE = '100ms';

function pickupFile(message: Buffer, index: number): Buffer {
  return Buffer.concat([Buffer.from(`X-Sender: <bench@example.com>\r\nX-Receiver: <pickup${index % 100}@example.net>\r\n`, 'latin1'), message]);
}

function pickupDirOf(mailroot: string): string {
  const name = fs.readdirSync(mailroot).find((entry) => entry.toLowerCase() === 'pickup') ?? 'Pickup';
  return path.join(mailroot, name);
}

export async function runPickup(ctx: BenchContext): Promise<ScenarioResult> {
  const { pickupFiles, size } = ctx.options;
  const dir = await scenarioDir(ctx, 's6-pickup');
  const mailroot = path.join(dir, 'mailroot');
  const staging = path.join(dir, 'staging');
  const started = nowMs();
  const settle = ctx.options.smoke ? ['--pickup-settle-time', SMOKE_SETTLE] : [];
  const params = { files: pickupFiles, size, 'pickup settle time': ctx.options.smoke ? SMOKE_SETTLE : 'default' };
  const sink = Sink.create();
  try {
    await sink.listen(0);
    const relay = await spawnRelay(ctx, mailroot, `127.0.0.1:${sink.port}`, settle);
    try {
      await relay.waitForGreeting();
      const pickup = pickupDirOf(mailroot);
      const message = makeMessage(size, 's6');
      fs.mkdirSync(staging, { recursive: true });
      // Probe: one file, written elsewhere and moved in whole, as a well-behaved dropping program does.
      const probe = path.join(staging, 'probe.eml');
      fs.writeFileSync(probe, pickupFile(message, 0));
      fs.renameSync(probe, path.join(pickup, 'probe.eml'));
      const consumed = await waitUntil(() => !fs.existsSync(path.join(pickup, 'probe.eml')), PROBE_WAIT_MS, 50);
      if (!consumed) throw new Error(`the relay left a probe file in Pickup for ${PROBE_WAIT_MS / 1000} s`);
      const baseline = (await sink.waitFor(1, 10_000)).count;
      ctx.progress(`scenario 6: dropping ${pickupFiles} files into Pickup`);
      const names: string[] = [];
      for (let i = 0; i < pickupFiles; i++) {
        const name = `drop-${String(i).padStart(6, '0')}.eml`;
        fs.writeFileSync(path.join(staging, name), pickupFile(message, i));
        names.push(name);
      }
      const droppedAt = nowMs();
      for (const name of names) fs.renameSync(path.join(staging, name), path.join(pickup, name));
      const dropSeconds = (nowMs() - droppedAt) / 1000;
      let pickupEmptyAt: number | undefined;
      const stats = await (async () => {
        const deadline = Date.now() + Math.max(30_000, pickupFiles * 3); // then the rate is over what arrived
        for (;;) {
          const s = await sink.stats();
          if (pickupEmptyAt === undefined && fs.readdirSync(pickup).length === 0) pickupEmptyAt = nowMs();
          if (s.count >= baseline + pickupFiles || Date.now() >= deadline) return s;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      })();
      relay.sample();
      await relay.stop();
      const delivered = stats.count - baseline;
      const lastSeconds = stats.lastAt !== null ? (stats.lastAt - droppedAt) / 1000 : null;
      const complete = delivered >= pickupFiles;
      return {
        id: 6,
        title: 'Pickup burst',
        status: 'ok',
        ...(complete ? {} : { note: `the sink got ${delivered} of ${pickupFiles} in the time watched; the rate is over those` }),
        seconds: round((nowMs() - started) / 1000, 1) ?? 0,
        params,
        figures: {
          'drop (rename) s': round(dropSeconds, 2),
          'Pickup empty after s': pickupEmptyAt !== undefined ? round((pickupEmptyAt - droppedAt) / 1000, 2) : null,
          'all delivered after s': complete ? round(lastSeconds, 2) : null,
          'msg/s': lastSeconds ? round(delivered / lastSeconds) : null,
          delivered,
          'peak RSS MB': mb(relay.peakRssKb),
        },
        targets: [rssTarget('', relay.peakRssKb, RSS_LIMIT_MB.steady)],
      };
    } finally {
      await relay.stop();
    }
  } finally {
    await sink.release();
    await removeDir(ctx, dir);
  }
}
