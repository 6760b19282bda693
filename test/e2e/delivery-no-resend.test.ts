// A message that may already have been delivered is never sent again before its retry time: not when the
// upstream drops the connection after the final dot, not when its file cannot be removed after the upstream's
// 250. And a retry time far in the future never strands a message.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Relay } from '../../src/relay.js';
import { formatRetryState } from '../../src/spool/retry-state.js';
import { sendMail } from '../helpers/client.js';
import { isRoot } from '../helpers/other-user.js';
import { eventually, filesIn, relayPort, startRelay, SteppedClock, tempMailroot } from '../helpers/relay.js';
import { Upstream } from '../helpers/upstream.js';

const MESSAGE = 'From: app@example.com\r\nTo: x@example.net\r\nSubject: once\r\nMessage-ID: <once@example.com>\r\n\r\nbody\r\n';
const HEAD = 'X-Sender: <app@example.com>\r\nX-Receiver: <x@example.net>\r\n';

async function withRelay(
  settings: Record<string, unknown>,
  body: (relay: Relay, upstream: Upstream) => Promise<void>,
  prepare?: (mailroot: string, upstream: Upstream) => Promise<void>,
  clock?: SteppedClock,
): Promise<void> {
  const upstream = await new Upstream().start();
  const mailroot = await tempMailroot();
  await prepare?.(mailroot, upstream);
  const relay = await startRelay({ mailroot, smartHost: upstream.address, settings, ...(clock ? { clock } : {}) });
  try {
    await body(relay, upstream);
  } finally {
    await relay.stop();
    await upstream.stop();
  }
}

describe('no resend before the retry time', () => {
  it('counts a connection lost after the final dot as an attempt and waits the retry interval (never a probe)', async () => {
    const clock = new SteppedClock();
    await withRelay({ retry: ['1h'], probeInterval: '100ms' }, async (relay, upstream) => {
      const copies: number[] = [];
      upstream.dataScript = () => {
        copies.push(clock.now());
        return 'drop'; // Postfix's smtp-sink -q .: the message is read, then the connection is closed
      };
      await sendMail({ port: relayPort(relay), from: 'app@example.com', to: ['x@example.net'], raw: MESSAGE });
      const queue = relay.spool.layout.queue;
      const state = async () => {
        const [rtr] = await filesIn(queue, '.rtr');
        return rtr ? fs.readFile(path.join(queue, rtr), 'utf8').catch(() => '') : '';
      };
      await eventually(async () => /^Attempts: 1\r$/m.test(await state()) && relay.scheduler.inFlight === 0, 10_000, 'the first copy counted as an attempt');
      const first = await state();
      assert.match(first, /may have been delivered/);
      const nextAttempt = Date.parse(/^Next-Attempt: (.*)\r$/m.exec(first)![1]!);
      // The old code sent one every probeInterval (100 ms here). Time jumps a probeInterval at a time, then to
      // just before the retry time: no attempt starts (a timer due on a jump starts its attempt at once).
      for (let i = 0; i < 5; i++) {
        clock.advance(100);
        assert.equal(relay.scheduler.inFlight, 0, `an attempt ${(i + 1) * 100} ms after the first copy`);
      }
      clock.advance(nextAttempt - 1 - clock.now());
      assert.equal(relay.scheduler.inFlight, 0, 'an attempt before the retry time');
      assert.equal(copies.length, 1);
      clock.advance(1);
      await eventually(async () => /^Attempts: 2\r$/m.test(await state()), 10_000, 'the second copy counted as an attempt');
      assert.equal(copies.length, 2, 'each copy counted as an attempt');
      assert.ok(copies[1]! >= nextAttempt, `the second copy came ${nextAttempt - copies[1]!} ms before its retry time`);
    }, undefined, clock);
  });

  it('sends a delivered message whose file cannot be removed once, and removes it when it can', { skip: process.platform === 'win32' && 'the file is made undeletable with chattr +i or a read-only folder, which Windows does not have (there a scanner\'s open handle does it)' }, async (t) => {
    let queueFile = '';
    let release: () => Promise<void> = async () => undefined;
    const clock = new SteppedClock();
    await withRelay(
      { retry: ['1h'] },
      async (relay, upstream) => {
        await upstream.waitFor(1, 10_000);
        await eventually(() => relay.scheduler.inFlight === 0, 10_000, 'the attempt to settle');
        // The old code resent it in a tight loop (thousands of copies in seconds), then every retry interval.
        // Time jumps to each retry time: the removal is tried again (an attempt starts at once), nothing is sent.
        for (let retry = 1; retry <= 3; retry++) {
          clock.advance(3_600_000);
          assert.equal(relay.scheduler.inFlight, 1, `retry ${retry} of the removal at its retry time`);
          await eventually(() => relay.scheduler.inFlight === 0, 10_000, `retry ${retry} to settle`);
          assert.equal(upstream.received.length, 1, 'one copy only');
        }
        assert.ok((await filesIn(relay.spool.layout.queue, '.eml')).length === 1, 'still in Queue');
        await release();
        clock.advance(3_600_000);
        await eventually(async () => (await filesIn(relay.spool.layout.queue, '.eml')).length === 0, 10_000, 'the removal at its next retry');
        assert.equal(upstream.received.length, 1, 'and still one copy');
      },
      async (mailroot) => {
        const queue = path.join(mailroot, 'Queue');
        await fs.mkdir(queue, { recursive: true });
        queueFile = path.join(queue, 'stuck.eml');
        await fs.writeFile(queueFile, HEAD + MESSAGE);
        if (isRoot) {
          // A Windows virus scanner's or backup agent's handle does this there; here, the immutable flag.
          try {
            execFileSync('chattr', ['+i', queueFile]);
          } catch (err) {
            t.skip(`chattr +i not available: ${(err as Error).message}`);
            return;
          }
          release = async () => {
            try {
              execFileSync('chattr', ['-i', queueFile], { stdio: 'pipe' });
            } catch {
              // already removed
            }
          };
        } else {
          await fs.chmod(queue, 0o500); // no unlink in Queue for a non-root user
          release = async () => fs.chmod(queue, 0o700).catch(() => undefined);
        }
      },
      clock,
    ).finally(() => release());
  });

  it('tries a message whose Next-Attempt is years ahead within the longest retry interval', async () => {
    const clock = new SteppedClock();
    await withRelay(
      { retry: ['1m', '1h'] },
      async (relay, upstream) => {
        const rtr = path.join(relay.spool.layout.queue, 'future.rtr');
        // Found at start-up: its Next-Attempt is cut to the longest retry interval from now, and written down.
        let cut = NaN;
        await eventually(async () => {
          cut = Date.parse(/^Next-Attempt: (.*)\r$/m.exec(await fs.readFile(rtr, 'utf8').catch(() => ''))?.[1] ?? '');
          return cut < Date.parse('2036-01-01T00:00:00Z');
        }, 10_000, 'the Next-Attempt cut');
        assert.ok(Math.abs(cut - (clock.now() + 3_600_000)) < 60_000, 'an hour (the longest retry interval) from now');
        await eventually(() => relay.scheduler.inFlight === 0, 10_000, 'the look at it to settle');
        clock.advance(cut - clock.now());
        await upstream.waitFor(1, 15_000);
        await eventually(async () => (await filesIn(relay.spool.layout.queue)).length === 0, 10_000, 'Queue to empty');
      },
      async (mailroot) => {
        const queue = path.join(mailroot, 'Queue');
        await fs.mkdir(queue, { recursive: true });
        await fs.writeFile(path.join(queue, 'future.eml'), HEAD + MESSAGE);
        const now = Date.now();
        await fs.writeFile(
          path.join(queue, 'future.rtr'),
          formatRetryState({
            firstQueued: new Date(now - 60_000),
            firstAttempt: new Date(now - 60_000),
            attempts: 1,
            lastAttempt: new Date(now - 60_000),
            nextAttempt: new Date('2036-01-01T00:00:00Z'), // a clock that was stepped back, or a hand edit
            hostDeferred: false,
            delayNotified: false,
            lastReply: '451 4.3.0 try later',
          }),
        );
      },
      clock,
    );
  });

  it('expires a message whose Next-Attempt is years ahead once its expiry has passed', async () => {
    await withRelay(
      { retry: ['1s'], expire: '1h' },
      async (relay, upstream) => {
        await eventually(async () => (await filesIn(relay.spool.layout.badmail, '.bdr')).length === 1, 15_000, 'the expired message in Badmail');
        const [bdr] = await filesIn(relay.spool.layout.badmail, '.bdr');
        assert.match(await fs.readFile(path.join(relay.spool.layout.badmail, bdr!), 'utf8'), /expired/);
      },
      async (mailroot, upstream) => {
        upstream.rcptScript = () => [451, '4.3.0 try later'];
        const queue = path.join(mailroot, 'Queue');
        await fs.mkdir(queue, { recursive: true });
        await fs.writeFile(path.join(queue, 'old.eml'), HEAD + MESSAGE);
        const dayAgo = new Date(Date.now() - 86_400_000);
        await fs.writeFile(
          path.join(queue, 'old.rtr'),
          formatRetryState({
            firstQueued: dayAgo,
            firstAttempt: dayAgo,
            attempts: 3,
            lastAttempt: dayAgo,
            nextAttempt: new Date('2036-01-01T00:00:00Z'),
            hostDeferred: false,
            delayNotified: true,
            lastReply: '451 4.3.0 try later',
          }),
        );
      },
    );
  });
});
