// A disk that stalls must not stall the relay. The real relay process runs with a stall failpoint: the fsync (or
// the rename into Queue) of the first accepted message blocks the thread that makes it for 2 s, as a SAN hiccup
// or a virus scanner would. While that one message waits, another client connects, gets its greeting, sends a
// whole message and has it delivered upstream. No speed is assumed: everything the second client does is only
// required to finish before the stalled client's 250, which cannot come before the 2 s are over.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { RawSmtp } from '../helpers/raw-smtp.js';
import { eventually, filesIn, tempMailroot } from '../helpers/relay.js';
import { RelayProcess } from '../helpers/relay-process.js';
import { Upstream } from '../helpers/upstream.js';
import { unusedPort } from '../helpers/ports.js';

const STALL_MS = 2000;

function message(testId: string): string {
  return `From: ca@example.com\r\nTo: ops@example.net\r\nSubject: stall\r\nX-Test-Id: ${testId}\r\n\r\nbody\r\n`;
}

/** Connect, greeting, EHLO, envelope, DATA: the client is ready to send the message. */
async function openTransaction(port: number): Promise<RawSmtp> {
  const { client, greeting } = await RawSmtp.open({ port });
  assert.equal(greeting.code, 220);
  for (const [line, code] of [
    ['EHLO client.test', 250],
    ['MAIL FROM:<ca@example.com>', 250],
    ['RCPT TO:<ops@example.net>', 250],
    ['DATA', 354],
  ] as const) {
    const reply = await client.command(line);
    assert.equal(reply.code, code, `${line}: ${reply.text}`);
  }
  return client;
}

const isWindows = process.platform === 'win32';

describe('a stalled disk stalls only the message it holds', { skip: isWindows ? 'the stall failpoint needs mkfifo (POSIX)' : false }, () => {
  for (const point of ['stall-accept-fsync', 'stall-accept-rename']) {
    it(`${point}: during a ${STALL_MS} ms stall another client is greeted, answered and delivered`, async () => {
      const upstream = await new Upstream().start();
      const mailroot = await tempMailroot();
      // The failpoint makes its FIFO under the relay's TMPDIR: while that folder has one, the stall is on.
      const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'mr-stall-test-'));
      const relay = new RelayProcess({ mailroot, port: await unusedPort(), smartHost: upstream.address });
      await relay.start({ MR_FAILPOINT: point, MR_STALL_MS: String(STALL_MS), TMPDIR: tmp });
      const stallOn = async () => (await fs.readdir(tmp)).some((name) => name.startsWith('mr-stall-'));
      try {
        // Client A: its message is the one whose fsync / rename hangs.
        const stalled = await openTransaction(relay.options.port);
        const dotSent = performance.now();
        await stalled.write(message('stalled') + '.\r\n');
        const stalledReply = stalled.reply(STALL_MS * 10).then((reply) => ({ reply, at: performance.now() }));
        await eventually(stallOn, 10_000, 'the stall to begin');

        // Client B, while A's message hangs: greeting, every reply, 250, QUIT, and delivery upstream.
        let stalledAnswered = false;
        void stalledReply.then(() => (stalledAnswered = true));
        const other = await openTransaction(relay.options.port);
        await other.write(message('other') + '.\r\n');
        const otherReply = await other.reply();
        assert.equal(otherReply.code, 250, otherReply.text);
        await other.quit();
        const [delivered] = await upstream.waitFor(1, STALL_MS * 10);
        assert.match(delivered!.data.toString('latin1'), /X-Test-Id: other/);
        assert.equal(stalledAnswered, false, 'all of that happened while the stalled message still waited');
        assert.ok(await stallOn(), 'and while the stall was still on');

        // A gets its 250 once the disk comes back, not before, and its message is delivered too.
        const { reply, at } = await stalledReply;
        assert.equal(reply.code, 250, reply.text);
        assert.ok(at - dotSent >= STALL_MS - 50, `the stalled message was answered ${(at - dotSent).toFixed(0)} ms after its dot`);
        await stalled.quit();
        const all = await upstream.waitFor(2, STALL_MS * 10);
        assert.deepEqual(all.map((m) => /X-Test-Id: (\w+)/.exec(m.data.toString('latin1'))?.[1]).sort(), ['other', 'stalled']);
        await eventually(async () => (await filesIn(path.join(mailroot, 'Queue'))).length === 0, 10_000, 'Queue to empty');
      } finally {
        await relay.stop();
        await upstream.stop();
        await fs.rm(tmp, { recursive: true, force: true });
      }
    });
  }
});
