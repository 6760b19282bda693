import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { sendMail } from '../helpers/client.js';
import { testIdOf } from '../helpers/crash-harness.js';
import { eventually, filesIn, tempMailroot } from '../helpers/relay.js';
import { RelayProcess } from '../helpers/relay-process.js';
import { Upstream } from '../helpers/upstream.js';
import { unusedPort } from '../helpers/ports.js';

const RAW = 'From: ca@example.com\r\nTo: ops@example.net\r\nSubject: failpoint\r\nX-Test-Id: fp-1\r\n\r\nbody\r\n';

async function setup(failpoint: string, upstreamScript?: (u: Upstream) => void) {
  const upstream = await new Upstream().start();
  upstreamScript?.(upstream);
  const mailroot = await tempMailroot();
  const relay = new RelayProcess({ mailroot, port: await unusedPort(), smartHost: upstream.address, args: ['--retry', '1s', '--rescan-interval', '1s'] });
  await relay.start({ MR_FAILPOINT: failpoint });
  return { upstream, mailroot, relay };
}

/** Sends one message; resolves with whether the client got its 250 (false when the relay died first). */
async function trySend(port: number): Promise<boolean> {
  try {
    await sendMail({ port, from: 'ca@example.com', to: ['ops@example.net'], raw: RAW });
    return true;
  } catch {
    return false;
  }
}

describe('crash at each step of receive and delivery', () => {
  for (const failpoint of ['accept-after-write', 'accept-after-fsync']) {
    it(`${failpoint}: the client gets no 250, nothing is queued, SortTemp is cleaned at the next start`, async () => {
      const { upstream, mailroot, relay } = await setup(failpoint);
      try {
        assert.equal(await trySend(relay.options.port), false);
        await relay.exited();
        assert.equal((await filesIn(path.join(mailroot, 'SortTemp'))).length, 1, 'the unacknowledged temp file is there after the crash');
        await relay.start();
        assert.deepEqual(await filesIn(path.join(mailroot, 'SortTemp')), []);
        assert.deepEqual(await filesIn(path.join(mailroot, 'Queue')), []);
        assert.equal(upstream.received.length, 0);
      } finally {
        await relay.stop();
        await upstream.stop();
      }
    });
  }

  it('accept-after-rename: no 250, but the message is queued and delivered once after restart (the client may resend it)', async () => {
    const { upstream, mailroot, relay } = await setup('accept-after-rename');
    try {
      assert.equal(await trySend(relay.options.port), false);
      await relay.exited();
      assert.equal((await filesIn(path.join(mailroot, 'Queue'), '.eml')).length, 1);
      await relay.start();
      const [message] = await upstream.waitFor(1);
      assert.equal(testIdOf(message!.data), 'fp-1');
      await eventually(async () => (await filesIn(path.join(mailroot, 'Queue'))).length === 0, 10_000, 'Queue to empty');
    } finally {
      await relay.stop();
      await upstream.stop();
    }
  });

  it('deliver-after-upstream-250: delivered, crash before the removal, delivered once more after restart (at-least-once)', async () => {
    const { upstream, mailroot, relay } = await setup('deliver-after-upstream-250');
    try {
      assert.equal(await trySend(relay.options.port), true);
      await relay.exited();
      assert.equal(upstream.received.length, 1);
      assert.equal((await filesIn(path.join(mailroot, 'Queue'), '.eml')).length, 1, 'still queued: the crash came before the removal');
      await relay.start();
      await upstream.waitFor(2);
      await eventually(async () => (await filesIn(path.join(mailroot, 'Queue'))).length === 0, 10_000, 'Queue to empty');
      assert.equal(upstream.received.length, 2, 'exactly one duplicate');
    } finally {
      await relay.stop();
      await upstream.stop();
    }
  });

  it('badmail-after-report: the message stays in Queue with the reason written, and lands in Badmail after restart', async () => {
    const { upstream, mailroot, relay } = await setup('badmail-after-report', (u) => {
      u.rcptScript = (rcpt) => (rcpt === 'ops@example.net' ? [550, '5.1.1 unknown'] : undefined);
    });
    try {
      assert.equal(await trySend(relay.options.port), true);
      await relay.exited();
      assert.equal((await filesIn(path.join(mailroot, 'Queue'), '.eml')).length >= 1, true, 'the message is still in Queue');
      await relay.start();
      await eventually(async () => (await filesIn(path.join(mailroot, 'Badmail'), '.bad')).length === 1, 10_000, 'the .bad file');
      const badmail = await filesIn(path.join(mailroot, 'Badmail'));
      assert.ok(badmail.some((n) => n.endsWith('.bdr')));
      const [bad] = await filesIn(path.join(mailroot, 'Badmail'), '.bad');
      assert.match(await fs.readFile(path.join(mailroot, 'Badmail', bad!), 'utf8'), /X-Test-Id: fp-1/);
    } finally {
      await relay.stop();
      await upstream.stop();
    }
  });
});
