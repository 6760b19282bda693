// Pickup reads a file up to 256 KB once, whole, and streams a larger one twice (head, then message). Both ways
// must send the very same bytes: LF-only lines made CRLF, doubled dots halved, Bcc: removed, headers added.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Relay } from '../../src/relay.js';
import { afterPickupReceived, dropFile, maskGenerated, receivedWith } from '../helpers/pickup.js';
import { eventually, filesIn, startRelay } from '../helpers/relay.js';
import { Upstream } from '../helpers/upstream.js';

/** A .NET-style pickup file (LF line ends, dot-stuffed) whose body has `lines` numbered lines. */
function pickupFile(marker: string, lines: number): { file: string; expected: string } {
  const body: string[] = [];
  const sent: string[] = [];
  for (let i = 0; i < lines; i++) {
    const text = i % 10 === 0 ? `.line ${i} of ${marker}, it started with a dot` : `line ${i} of ${marker} ${'x'.repeat(60)}`;
    body.push(text.startsWith('.') ? `.${text}` : text);
    sent.push(text);
  }
  const file =
    'X-Sender: app@example.com\n' +
    'X-Receiver: ops@example.net\n' +
    'From: app@example.com\n' +
    'To: ops@example.net\n' +
    'Bcc: hidden@example.net\n' +
    `Subject: ${marker}\n` +
    '\n' +
    body.join('\n') +
    '\n';
  const expected =
    'From: app@example.com\r\n' +
    'To: ops@example.net\r\n' +
    `Subject: ${marker}\r\n` +
    'Message-ID: <generated>\r\n' +
    'Date: <generated>\r\n' +
    '\r\n' +
    sent.join('\r\n') +
    '\r\n';
  return { file, expected };
}

describe('Pickup: small files read whole, large files streamed, same result', () => {
  let upstream: Upstream;
  let relay: Relay;

  before(async () => {
    upstream = await new Upstream().start();
    relay = await startRelay({ smartHost: upstream.address, settings: { pickupSettleTime: '100ms', maxMessageSize: '4MB' } });
  });
  after(async () => {
    await relay.stop();
    await upstream.stop();
  });

  for (const [label, lines] of [
    ['a 4 KB file (read whole)', 60],
    ['a 256 KB file, just under the limit (read whole)', 3_100],
    ['a 1 MB file (streamed)', 15_000],
  ] as const) {
    it(label, async () => {
      const marker = `size-${lines}`;
      const { file, expected } = pickupFile(marker, lines);
      const bytes = Buffer.from(file);
      if (lines === 3_100) assert.ok(bytes.length < 256 * 1024, `${bytes.length} bytes`);
      if (lines === 15_000) assert.ok(bytes.length > 256 * 1024, `${bytes.length} bytes`);
      await dropFile(relay.spool.layout.pickup, `${marker}.eml`, bytes);
      const message = await receivedWith(upstream, marker);
      assert.deepEqual([message.from, ...message.to], ['app@example.com', 'ops@example.net']);
      const sent = maskGenerated(afterPickupReceived(message.data));
      // Compared whole: a difference anywhere (a dot, a line end at a chunk boundary) fails.
      assert.equal(sent.length, expected.length);
      assert.ok(sent === expected, 'the message as sent equals the expected bytes');
      await eventually(async () => (await filesIn(relay.spool.layout.pickup)).length === 0, 10_000, 'Pickup to empty');
    });
  }
});
