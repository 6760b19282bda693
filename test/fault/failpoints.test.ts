// Each case kills a real relay process (kill -9 by itself, at the failpoint) and then starts the relay again on
// the same mailroot. The restart is the relay's server object in this process: what is tested after the crash is
// the recovery a start-up makes (SortTemp cleaned, Queue read, delivery, Badmail), which is the same code in a
// process or not, and a second child process per case cost about 0.6 s of CPU for loading modules.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Relay } from '../../src/relay.js';
import { sendMail } from '../helpers/client.js';
import { testIdOf } from '../helpers/crash-harness.js';
import { eventually, filesIn, startRelay, tempMailroot } from '../helpers/relay.js';
import { RelayProcess } from '../helpers/relay-process.js';
import { Upstream } from '../helpers/upstream.js';
import { unusedPort } from '../helpers/ports.js';

const RAW = 'From: ca@example.com\r\nTo: ops@example.net\r\nSubject: failpoint\r\nX-Test-Id: fp-1\r\n\r\nbody\r\n';

/** An upstream, a fresh mailroot and the relay process armed with `failpoint`; `restart` starts the relay again. */
async function setup(failpoint: string, upstreamScript?: (u: Upstream) => void) {
  const upstream = await new Upstream().start();
  upstreamScript?.(upstream);
  const mailroot = await tempMailroot();
  const relay = new RelayProcess({ mailroot, port: await unusedPort(), smartHost: upstream.address, args: ['--retry', '1s', '--rescan-interval', '1s'] });
  await relay.start({ MR_FAILPOINT: failpoint });
  let restarted: Relay | undefined;
  return {
    upstream,
    mailroot,
    relay,
    /** After the crash: the relay starts again on the same mailroot (the crashed process's lock is gone with it). */
    restart: async () => {
      assert.equal(relay.running, false, 'the failpoint killed the relay process');
      restarted = await startRelay({ mailroot, smartHost: upstream.address });
    },
    cleanup: async () => {
      await relay.kill9(); // a no-op once the failpoint has killed it
      await restarted?.stop();
      await upstream.stop();
    },
  };
}

/** A hang guard for the failpoint's kill, not a speed check (Windows' node.exe under Wine is slow to start). */
const CRASH_LIMIT_MS = process.platform === 'win32' ? 180_000 : 60_000;

/** Resolves once the relay process has exited; rejects with its output if it still runs after `ms`. */
async function exitedWithin(relay: RelayProcess, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<'running'>((resolve) => (timer = setTimeout(() => resolve('running'), ms)));
  const outcome = await Promise.race([relay.exited(), limit]);
  clearTimeout(timer);
  if (outcome === 'running') throw new Error(`the failpoint did not kill the relay within ${ms / 1000} s:\n${relay.stderr}`);
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

/**
 * Sends the message as a client would, until it gets its 250 or the relay dies of its failpoint; then waits for
 * the crash. A try that fails while the relay lives (a client timeout on a loaded machine, before the message
 * reached the failpoint) is sent again. Resolves with whether the client got a 250.
 */
async function sendUntilCrash(relay: RelayProcess): Promise<boolean> {
  for (let tries = 1; ; tries++) {
    const got250 = await trySend(relay.options.port);
    if (got250 || tries === 3) {
      await exitedWithin(relay, CRASH_LIMIT_MS);
      return got250;
    }
    // No 250: the relay is dying of its failpoint (its exit is seen a moment after the connection drops), or the
    // client gave up first and the relay still runs.
    const dead = await exitedWithin(relay, 5_000).then(() => true, () => false);
    if (dead) return false;
  }
}

describe('crash at each step of receive and delivery', () => {
  for (const failpoint of ['accept-after-write', 'accept-after-fsync']) {
    it(`${failpoint}: the client gets no 250, nothing is queued, SortTemp is cleaned at the next start`, async () => {
      const { upstream, mailroot, relay, restart, cleanup } = await setup(failpoint);
      try {
        assert.equal(await sendUntilCrash(relay), false);
        assert.equal((await filesIn(path.join(mailroot, 'SortTemp'))).length, 1, 'the unacknowledged temp file is there after the crash');
        await restart();
        assert.deepEqual(await filesIn(path.join(mailroot, 'SortTemp')), []);
        assert.deepEqual(await filesIn(path.join(mailroot, 'Queue')), []);
        assert.equal(upstream.received.length, 0);
      } finally {
        await cleanup();
      }
    });
  }

  it('accept-after-rename: no 250, but the message is queued and delivered once after restart (the client may resend it)', async () => {
    const { upstream, mailroot, relay, restart, cleanup } = await setup('accept-after-rename');
    try {
      assert.equal(await sendUntilCrash(relay), false);
      assert.equal((await filesIn(path.join(mailroot, 'Queue'), '.eml')).length, 1);
      await restart();
      const [message] = await upstream.waitFor(1);
      assert.equal(testIdOf(message!.data), 'fp-1');
      await eventually(async () => (await filesIn(path.join(mailroot, 'Queue'))).length === 0, 10_000, 'Queue to empty');
      assert.equal(upstream.received.length, 1, 'delivered once');
    } finally {
      await cleanup();
    }
  });

  it('deliver-after-upstream-250: delivered, crash before the removal, delivered once more after restart (at-least-once)', async () => {
    const { upstream, mailroot, relay, restart, cleanup } = await setup('deliver-after-upstream-250');
    try {
      assert.equal(await sendUntilCrash(relay), true);
      assert.equal(upstream.received.length, 1);
      assert.equal((await filesIn(path.join(mailroot, 'Queue'), '.eml')).length, 1, 'still queued: the crash came before the removal');
      await restart();
      await upstream.waitFor(2);
      await eventually(async () => (await filesIn(path.join(mailroot, 'Queue'))).length === 0, 10_000, 'Queue to empty');
      assert.equal(upstream.received.length, 2, 'exactly one duplicate');
    } finally {
      await cleanup();
    }
  });

  it('badmail-after-report: the message stays in Queue with the reason written, and lands in Badmail after restart', async () => {
    const { mailroot, relay, restart, cleanup } = await setup('badmail-after-report', (u) => {
      u.rcptScript = (rcpt) => (rcpt === 'ops@example.net' ? [550, '5.1.1 unknown'] : undefined);
    });
    try {
      assert.equal(await sendUntilCrash(relay), true);
      assert.equal((await filesIn(path.join(mailroot, 'Queue'), '.eml')).length >= 1, true, 'the message is still in Queue');
      await restart();
      await eventually(async () => (await filesIn(path.join(mailroot, 'Badmail'), '.bad')).length === 1, 10_000, 'the .bad file');
      const badmail = await filesIn(path.join(mailroot, 'Badmail'));
      assert.ok(badmail.some((n) => n.endsWith('.bdr')));
      const [bad] = await filesIn(path.join(mailroot, 'Badmail'), '.bad');
      assert.match(await fs.readFile(path.join(mailroot, 'Badmail', bad!), 'utf8'), /X-Test-Id: fp-1/);
    } finally {
      await cleanup();
    }
  });
});
