// A smart host that goes down and up every few hundred ms while messages flow; counts what arrived how often.
// Used small by the fault tests in `npm test` and at full size by scripts/fault.ts --flapping.
import nodemailer from 'nodemailer';
import { prng, testIdOf } from './crash-harness.js';
import { eventually, filesIn, relayPort, startRelay } from './relay.js';
import { Upstream } from './upstream.js';

export interface FlappingReport {
  sent: number;
  delivered: number;
  duplicates: number;
  missing: number;
  queueLeft: number;
}

export interface FlappingOptions {
  /** The relay's retry interval (default 1s). */
  retry?: string;
}

export async function runFlapping(count: number, seed: number, drainTimeout: number, options: FlappingOptions = {}): Promise<FlappingReport> {
  const upstream = await new Upstream().start();
  const relay = await startRelay({ smartHost: upstream.address, settings: { retry: [options.retry ?? '1s'] } });
  const random = prng(seed);
  let flapping = true;
  let cycles = 0;
  let cycleDone = () => undefined as void;
  const flapper = (async () => {
    while (flapping) {
      await new Promise((resolve) => setTimeout(resolve, 100 + random() * 300));
      await upstream.flapDown();
      await new Promise((resolve) => setTimeout(resolve, 100 + random() * 300));
      await upstream.flapUp();
      cycles++;
      cycleDone();
    }
  })();
  /** Resolves once the smart host has gone down and come up again `n` more times. */
  const moreCycles = async (n: number) => {
    const until = cycles + n;
    while (cycles < until) await new Promise<void>((resolve) => (cycleDone = resolve));
  };
  try {
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: relayPort(relay), ignoreTLS: true, pool: true, maxConnections: 5 });
    await Promise.all(
      Array.from({ length: count }, (_, i) =>
        transport.sendMail({ envelope: { from: 'a@example.com', to: ['b@example.net'] }, raw: `Subject: ${i}\r\nX-Test-Id: f${i}\r\n\r\nbody\r\n` }),
      ),
    );
    transport.close();
    await Promise.race([moreCycles(2), flapper]); // a few more flaps with mail still queued (or the flapper's error)
    flapping = false;
    await flapper;
    await upstream.waitFor(count, drainTimeout).catch(() => undefined);
    await eventually(async () => (await filesIn(relay.spool.layout.queue)).length === 0, 30_000, 'Queue to empty').catch(() => undefined);
    const ids = upstream.received.map((m) => testIdOf(m.data));
    const unique = new Set(ids);
    return {
      sent: count,
      delivered: unique.size,
      duplicates: ids.length - unique.size,
      missing: count - unique.size,
      queueLeft: (await filesIn(relay.spool.layout.queue)).length,
    };
  } finally {
    flapping = false;
    await flapper;
    await relay.stop();
    await upstream.stop();
  }
}
