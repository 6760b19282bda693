// kill -9 under load: SMTP clients send numbered messages while the relay is killed and restarted at random
// moments. Every message a client got 250 for must reach the upstream; duplicates are counted.
// Used small by the fault tests in `npm test` and at full size by scripts/fault.ts.
import fs from 'node:fs/promises';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { readEnvelopeHead } from '../../src/spool/eml-format.js';
import { RelayProcess } from './relay-process.js';
import { tempMailroot } from './relay.js';
import { Upstream } from './upstream.js';
import { unusedPort } from './ports.js';
import { prng } from './prng.js';

export { prng };

export interface CrashHarnessOptions {
  messages: number;
  /** Files dropped into Pickup (written elsewhere, then moved in) while the kills go on. */
  pickupFiles?: number;
  kills: number;
  clients: number;
  /** Kill after a random wait in [minGap, maxGap] ms of running. */
  minGap: number;
  maxGap: number;
  /**
   * Instead of the wait: kill once the clients have had a random number in [min, max] of 250s from the relay since
   * it (re)started, so that each kill falls in the middle of the load however fast the machine is.
   */
  killAfterAcks?: [number, number];
  seed: number;
  /** Give up waiting for the drain after this long. */
  drainTimeout: number;
  log?: (line: string) => void;
}

export interface CrashHarnessReport {
  acked: number;
  delivered: number;
  lost: string[];
  duplicates: number;
  ghosts: number;
  kills: number;
  /** Kills made while the clients were still sending. */
  killsUnderLoad: number;
  sortTempLeftovers: string[];
  invalidQueueFiles: string[];
  /** Files still in Queue or Pickup after the drain. */
  queueLeft: number;
}

export function testIdOf(data: Buffer): string | undefined {
  return /^X-Test-Id: (\S+)\r$/m.exec(data.toString('latin1'))?.[1];
}

async function checkSpool(mailroot: string): Promise<{ sortTemp: string[]; invalid: string[] }> {
  const sortTemp = await fs.readdir(path.join(mailroot, 'SortTemp')).catch(() => []);
  const invalid: string[] = [];
  for (const dir of ['Queue', 'Badmail']) {
    for (const name of await fs.readdir(path.join(mailroot, dir)).catch(() => [] as string[])) {
      if (!/\.(eml|bad)$/.test(name)) continue;
      const head = await readEnvelopeHead(path.join(mailroot, dir, name)).catch((err: Error) => ({ ok: false, reason: err.message }));
      if (!head.ok) invalid.push(`${dir}/${name}: ${'reason' in head ? head.reason : ''}`);
    }
  }
  return { sortTemp, invalid };
}

export async function runCrashHarness(options: CrashHarnessOptions): Promise<CrashHarnessReport> {
  const log = options.log ?? (() => undefined);
  const random = prng(options.seed);
  const upstream = await new Upstream().start();
  const mailroot = await tempMailroot();
  const port = await unusedPort();
  const relay = new RelayProcess({ mailroot, port, smartHost: upstream.address, args: ['--retry', '1s', '--rescan-interval', '2s', '--log-level', 'warn'] });
  await relay.start();

  const acked = new Set<string>(); // got 250, or was moved into Pickup: the relay owns it
  let smtpAcks = 0;
  let killsUnderLoad = 0;
  let onAck = () => undefined as void;
  const pending = Array.from({ length: options.messages }, (_, i) => `m${options.seed}-${i}`);
  const sortTempLeftovers: string[] = [];
  const invalidQueueFiles: string[] = [];
  let loadDone = false;
  let chaosFailed = false; // e.g. a restart that timed out: the clients stop instead of retrying forever

  const client = async () => {
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port, ignoreTLS: true, pool: false, connectionTimeout: 2000, greetingTimeout: 2000, socketTimeout: 5000 });
    try {
      for (let id = pending.shift(); id !== undefined && !chaosFailed; id = pending.shift()) {
        try {
          await transport.sendMail({
            envelope: { from: 'ca@example.com', to: ['ops@example.net'] },
            raw: `From: ca@example.com\r\nTo: ops@example.net\r\nSubject: ${id}\r\nX-Test-Id: ${id}\r\n\r\n${'x'.repeat(512)}\r\n`,
          });
          acked.add(id);
          smtpAcks++;
          onAck();
        } catch {
          pending.push(id); // no 250: the client still owns it and sends it again
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    } finally {
      transport.close();
    }
  };

  /** Resolves after `n` more 250s to the clients, or at once when the clients are done. */
  const moreAcks = async (n: number) => {
    const until = smtpAcks + n;
    while (smtpAcks < until && !loadDone) await new Promise<void>((resolve) => (onAck = resolve));
  };
  const chaos = async () => {
    for (let kill = 1; kill <= options.kills; kill++) {
      if (options.killAfterAcks) {
        const [min, max] = options.killAfterAcks;
        await moreAcks(min + Math.floor(random() * (max - min + 1)));
      } else {
        await new Promise((resolve) => setTimeout(resolve, options.minGap + random() * (options.maxGap - options.minGap)));
      }
      if (!loadDone) killsUnderLoad++;
      await relay.kill9();
      const check = await checkSpool(mailroot);
      invalidQueueFiles.push(...check.invalid);
      await relay.start();
      log(`kill ${kill}/${options.kills}: acked ${acked.size}, delivered ${upstream.received.length}`);
      if (loadDone && kill >= options.kills) break;
    }
  };

  const pickupWriter = async () => {
    const staging = path.join(mailroot, 'staging');
    await fs.mkdir(staging, { recursive: true });
    for (let i = 0; i < (options.pickupFiles ?? 0); i++) {
      const id = `p${options.seed}-${i}`;
      await fs.writeFile(path.join(staging, `${id}.eml`), `X-Sender: <app@example.com>\r\nX-Receiver: <ops@example.net>\r\nSubject: ${id}\r\nX-Test-Id: ${id}\r\n\r\nbody\r\n`);
      await fs.rename(path.join(staging, `${id}.eml`), path.join(mailroot, 'Pickup', `${id}.eml`));
      acked.add(id);
      await new Promise((resolve) => setTimeout(resolve, 5 + random() * 20));
    }
  };

  const load = Promise.all([...Array.from({ length: options.clients }, client), pickupWriter()]).then(() => {
    loadDone = true;
    onAck();
  });
  await Promise.all([
    load,
    chaos().catch((err: unknown) => {
      chaosFailed = true;
      throw err;
    }),
  ]);

  // Drain: every acknowledged message must arrive.
  const deadline = Date.now() + options.drainTimeout;
  const delivered = () => new Set(upstream.received.map((m) => testIdOf(m.data)));
  while (Date.now() < deadline && [...acked].some((id) => !delivered().has(id))) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  // A message's file leaves Queue just after the upstream's 250 (the unlink is a thread-pool call): on a busy
  // machine the last one may still be there when it arrives, so count what is left once that had its time.
  const left = async () =>
    (await fs.readdir(path.join(mailroot, 'Queue'))).filter((n) => n.endsWith('.eml')).length +
    (await fs.readdir(path.join(mailroot, 'Pickup'))).length;
  while (Date.now() < deadline && (await left()) > 0) await new Promise((resolve) => setTimeout(resolve, 50));
  const queueLeft = await left();
  await relay.stop();
  await upstream.stop();
  const final = await checkSpool(mailroot);
  sortTempLeftovers.push(...final.sortTemp);
  invalidQueueFiles.push(...final.invalid);

  const counts = new Map<string, number>();
  for (const m of upstream.received) {
    const id = testIdOf(m.data) ?? '?';
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return {
    acked: acked.size,
    delivered: counts.size,
    lost: [...acked].filter((id) => !counts.has(id)),
    duplicates: [...counts.values()].reduce((sum, n) => sum + n - 1, 0),
    ghosts: [...counts.keys()].filter((id) => !acked.has(id)).length,
    kills: options.kills,
    killsUnderLoad,
    sortTempLeftovers,
    invalidQueueFiles,
    queueLeft,
  };
}
