// Each case kills a real relay process (kill -9 by itself, at the failpoint) and then starts the relay again on
// the same mailroot. The restart is the relay's server object in this process: what is tested after the crash is
// the recovery a start-up makes (SortTemp cleaned, Queue read, delivery, Badmail), which is the same code in a
// process or not, and a second child process per case cost about 0.6 s of CPU for loading modules.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import type { Relay } from '../../src/relay.js';
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
  await relay.start({ MR_FAILPOINT: failpoint }).catch(async (err: unknown) => {
    await upstream.stop(); // or its server would keep this test process alive
    throw err;
  });
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

/**
 * Sends the message once and waits for the crash; resolves with whether the client got its 250. The client waits
 * as long as the crash guard for each reply (nodemailer's own greeting timeout is 30 s), so that on a slow machine
 * its try ends only when the relay dies: under Wine at load 18 a try once ended with the relay alive and nothing
 * accepted, and the test waited for a crash that could not come.
 */
async function sendUntilCrash(relay: RelayProcess): Promise<boolean> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: relay.options.port,
    ignoreTLS: true,
    connectionTimeout: CRASH_LIMIT_MS,
    greetingTimeout: CRASH_LIMIT_MS,
    socketTimeout: CRASH_LIMIT_MS,
  });
  const got250 = await transport.sendMail({ envelope: { from: 'ca@example.com', to: ['ops@example.net'] }, raw: RAW }).then(
    () => true,
    () => false,
  );
  transport.close();
  await exitedWithin(relay, CRASH_LIMIT_MS);
  return got250;
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
