// Many files dropped into Pickup at once: every one delivered exactly once, and memory stays flat because files
// are streamed a few at a time (never all read, never all held). 1 000 files take 10-25 s here, almost all of
// it in delivery (the Queue watcher), so npm test drops 100 of 128 KB (the same 12.8 MB in all as 200 of 64 KB,
// well above the heap limit below, at half the deliveries); PICKUP_BURST_FILES=1000 npm test runs the full size.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { after, before, describe, it } from 'node:test';
import type { Relay } from '../../src/relay.js';
import { eventually, filesIn, startRelay } from '../helpers/relay.js';
import { Upstream } from '../helpers/upstream.js';

const FILES = Number(process.env.PICKUP_BURST_FILES ?? 100);
const BODY_BYTES = 128 * 1024;
/** Generous: the relay's whole working set (10 deliveries, 4 pickups, their buffers) fits well inside. */
const RSS_GROWTH_LIMIT = 160 * 2 ** 20;
/** Heap still in use once everything is delivered and collected: nothing per file may stay (a body is 128 KB). */
const HEAP_RETAINED_LIMIT = 8 * 2 ** 20;

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function collectedHeap(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe(`Pickup: ${FILES} files at once`, () => {
  let upstream: Upstream;
  let relay: Relay;
  const seen = new Map<string, number>();

  before(async () => {
    upstream = await new Upstream().start();
    // Keep only which file arrived: the test's own copy of every message would hide the relay's memory use.
    upstream.dataScript = (message) => {
      const tag = /^Subject: burst (\d+)\r$/m.exec(message.data.toString('latin1', 0, 2048))?.[1] ?? 'unknown';
      seen.set(tag, (seen.get(tag) ?? 0) + 1);
      message.data = Buffer.alloc(0);
      return undefined;
    };
    relay = await startRelay({ smartHost: upstream.address, settings: { pickupSettleTime: '100ms' } });
  });
  after(async () => {
    await relay.stop();
    await upstream.stop();
  });

  it('delivers every file exactly once, with memory that does not grow with the number of files', async () => {
    const { pickup, root } = relay.spool.layout;
    const staging = path.join(root, 'staging');
    await fs.mkdir(staging);
    const line = 'a line of text to fill the body of this message, seventy-four bytes long.\r\n';
    const body = line.repeat(Math.ceil(BODY_BYTES / line.length));
    for (let i = 0; i < FILES; i++) {
      await fs.writeFile(path.join(staging, `${i}.eml`), `From: a@example.com\r\nTo: b${i % 7}@example.net\r\nSubject: burst ${i}\r\n\r\n${body}`);
    }
    const heapBefore = collectedHeap();
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 100);
    try {
      await Promise.all(Array.from({ length: FILES }, (_, i) => fs.rename(path.join(staging, `${i}.eml`), path.join(pickup, `${i}.eml`))));
      await eventually(() => upstream.received.length >= FILES, 120_000, `${FILES} messages upstream`);
      await eventually(async () => (await filesIn(relay.spool.layout.queue)).length === 0, 30_000, 'Queue to empty');
    } finally {
      clearInterval(sampler);
    }
    await relay.pickup.rescan();
    assert.equal(upstream.received.length, FILES);
    assert.equal(seen.size, FILES, 'every file arrived');
    assert.ok([...seen.values()].every((n) => n === 1), 'none twice');
    assert.deepEqual(await filesIn(pickup), []);
    assert.deepEqual(await filesIn(relay.spool.layout.sortTemp), []);
    assert.deepEqual(await filesIn(relay.spool.layout.badmail), []);
    upstream.received.length = 0;
    const retained = collectedHeap() - heapBefore;
    const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
    process.stderr.write(`# pickup burst ${FILES} x ${BODY_BYTES} B: RSS ${mib(baseline)} peak +${mib(peak - baseline)}, heap retained ${mib(retained)}\n`);
    assert.ok(peak - baseline < RSS_GROWTH_LIMIT, `RSS grew by ${mib(peak - baseline)}`);
    assert.ok(retained < HEAP_RETAINED_LIMIT, `${mib(retained)} of heap still held after ${FILES} files`);
  });
});
