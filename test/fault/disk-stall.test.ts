// A disk that stalls must not stall the relay. The real relay process runs with a stall failpoint: the fsync (or
// the rename into Queue) of the first accepted message blocks the thread that makes it, as a SAN hiccup or a virus
// scanner would. While that one message waits, another client connects, gets its greeting, sends a whole message
// and has it delivered upstream. No speed is assumed: the stall lasts until the test ends it (by opening the
// stall's FIFO, once all of that is done), with MR_STALL_MS only as a guard against a test that never does.
import assert from 'node:assert/strict';
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { RawSmtp } from '../helpers/raw-smtp.js';
import { eventually, filesIn, tempMailroot } from '../helpers/relay.js';
import { RelayProcess } from '../helpers/relay-process.js';
import { Upstream } from '../helpers/upstream.js';
import { unusedPort } from '../helpers/ports.js';

/** The stall's own end, far beyond the test: the test ends the stall itself. */
const STALL_GUARD_MS = 60_000;

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

/** Ends the stall: opens the FIFO the blocked pool thread is opening for reading (once it is in open(2)). */
async function endStall(tmp: string): Promise<void> {
  await eventually(
    async () => {
      const dir = (await fs.readdir(tmp)).find((name) => name.startsWith('mr-stall-'));
      if (dir === undefined) return false;
      try {
        await (await fs.open(path.join(tmp, dir, 'fifo'), fsConstants.O_WRONLY | fsConstants.O_NONBLOCK)).close();
        return true;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENXIO' || code === 'ENOENT') return false; // the thread is not in open(2) yet, or no FIFO yet
        throw err;
      }
    },
    10_000,
    'the stall to end',
  );
}

const isWindows = process.platform === 'win32';

describe('a stalled disk stalls only the message it holds', { skip: isWindows ? 'the stall failpoint needs mkfifo (POSIX)' : false }, () => {
  for (const point of ['stall-accept-fsync', 'stall-accept-rename']) {
    it(`${point}: during a stall another client is greeted, answered and delivered`, async () => {
      const upstream = await new Upstream().start();
      const mailroot = await tempMailroot();
      // The failpoint makes its FIFO under the relay's TMPDIR: while that folder has one, the stall is on.
      const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'mr-stall-test-'));
      const relay = new RelayProcess({ mailroot, port: await unusedPort(), smartHost: upstream.address });
      await relay.start({ MR_FAILPOINT: point, MR_STALL_MS: String(STALL_GUARD_MS), TMPDIR: tmp });
      const stallOn = async () => (await fs.readdir(tmp)).some((name) => name.startsWith('mr-stall-'));
      try {
        // Client A: its message is the one whose fsync / rename hangs.
        const stalled = await openTransaction(relay.options.port);
        const dotSent = performance.now();
        await stalled.write(message('stalled') + '.\r\n');
        const stalledReply = stalled.reply(STALL_GUARD_MS).then((reply) => ({ reply, at: performance.now() }));
        await eventually(stallOn, 10_000, 'the stall to begin');

        // Client B, while A's message hangs: greeting, every reply, 250, QUIT, and delivery upstream.
        let stalledAnswered = false;
        void stalledReply.then(() => (stalledAnswered = true));
        const other = await openTransaction(relay.options.port);
        await other.write(message('other') + '.\r\n');
        const otherReply = await other.reply();
        assert.equal(otherReply.code, 250, otherReply.text);
        await other.quit();
        const [delivered] = await upstream.waitFor(1, 20_000);
        assert.match(delivered!.data.toString('latin1'), /X-Test-Id: other/);
        assert.equal(stalledAnswered, false, 'all of that happened while the stalled message still waited');
        assert.ok(await stallOn(), 'and while the stall was still on');

        // A gets its 250 once the disk comes back, not before, and its message is delivered too.
        const endedAt = performance.now();
        await endStall(tmp);
        const { reply, at } = await stalledReply;
        assert.equal(reply.code, 250, reply.text);
        assert.ok(at >= endedAt, `the stalled message was answered ${(endedAt - at).toFixed(0)} ms before the stall ended`);
        assert.ok(at - dotSent < STALL_GUARD_MS, 'the test ended the stall, not its guard');
        await stalled.quit();
        const all = await upstream.waitFor(2, 20_000);
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
