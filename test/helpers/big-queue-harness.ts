// A large queue at start-up: `count` messages lie in Queue when the relay starts; one new message is sent at once.
// Used small by test/fault/big-queue-at-start.test.ts in `npm test` and at full size by scripts/fault.ts --big-queue.
import fs from 'node:fs/promises';
import path from 'node:path';
import { sendMail } from './client.js';
import { eventually, filesIn, relayPort, startRelay, tempMailroot } from './relay.js';
import { Upstream } from './upstream.js';

export interface BigQueueReport {
  /** The reply to the new message. */
  response: string;
  /** From the start of the new message's SMTP session to its 250. */
  acceptMs: number;
  /** From the same start to the arrival of the last message upstream. */
  drainMs: number;
  /** Old messages the upstream had when the new one got its 250. */
  deliveredWhenAccepted: number;
  /** Distinct recipients that arrived (count + 1 when all did). */
  delivered: number;
}

export async function runBigQueue(count: number, drainLimitMs: number): Promise<BigQueueReport> {
  const mailroot = await tempMailroot();
  const queue = path.join(mailroot, 'Queue');
  await fs.mkdir(queue, { recursive: true });
  const write = (i: number) =>
    fs.writeFile(path.join(queue, `old-${String(i).padStart(6, '0')}.eml`), `X-Sender: <a@example.com>\r\nX-Receiver: <old${i}@example.net>\r\nSubject: old ${i}\r\n\r\nbody\r\n`);
  for (let i = 0; i < count; i += 50) await Promise.all(Array.from({ length: Math.min(50, count - i) }, (_, j) => write(i + j)));
  const upstream = await new Upstream().start();
  const relay = await startRelay({ mailroot, smartHost: upstream.address, settings: { concurrency: 10 } });
  try {
    const started = performance.now();
    const { response } = await sendMail({ port: relayPort(relay), from: 'a@example.com', to: ['new@example.net'] });
    const acceptMs = performance.now() - started;
    const deliveredWhenAccepted = upstream.received.length;
    await upstream.waitFor(count + 1, drainLimitMs);
    const drainMs = performance.now() - started;
    await eventually(async () => (await filesIn(queue)).length === 0, 20_000, 'Queue to empty');
    return { response, acceptMs, drainMs, deliveredWhenAccepted, delivered: new Set(upstream.received.map((m) => m.to[0])).size };
  } finally {
    await relay.stop();
    await upstream.stop();
  }
}
