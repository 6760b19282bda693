import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { sendMail } from '../helpers/client.js';
import { eventually, filesIn, relayPort, startRelay } from '../helpers/relay.js';
import { Upstream } from '../helpers/upstream.js';

const BURST = 9;

/** id -> .rtr text, for every message in Queue that has one. */
async function retryStates(queue: string): Promise<Map<string, string>> {
  const states = new Map<string, string>();
  for (const name of await filesIn(queue, '.rtr')) {
    const text = await fs.readFile(path.join(queue, name), 'utf8').catch(() => undefined);
    if (text !== undefined) states.set(name.slice(0, -'.rtr'.length), text);
  }
  return states;
}

function field(state: string, name: string): string {
  const match = new RegExp(`^${name}: (.*)\\r$`, 'm').exec(state);
  assert.ok(match, `${name}: line in\n${state}`);
  return match[1]!;
}

describe('smart host outage: messages queued meanwhile are held in memory', () => {
  it('writes no .rtr for a held message until its first retry, then dates it from when it was held; all go out once the host is back', async () => {
    const upstream = await new Upstream().start();
    const port = upstream.port;
    await upstream.stop();
    const relay = await startRelay({ smartHost: `127.0.0.1:${port}`, settings: { retry: ['4s', '60s'], probeInterval: '100ms' } });
    try {
      const queue = relay.spool.layout.queue;
      const send = (i: number) => sendMail({ port: relayPort(relay), from: 'ca@example.com', to: [`r${i}@example.net`], subject: `held ${i}` });

      // The first message finds the host down with a real attempt of its own.
      assert.match((await send(0)).response, /^250 /);
      await eventually(() => relay.scheduler.hostDown, 10_000, 'the host to be known down');
      await eventually(async () => (await retryStates(queue)).size === 1, 10_000, "the first message's .rtr");

      // A burst while the host is known down: each probe (every 100 ms) tries one of them for real; the failed
      // probe defers the rest in memory only.
      const burstStart = Date.now();
      const replies = await Promise.all(Array.from({ length: BURST }, (_, i) => send(i + 1)));
      for (const { response } of replies) assert.match(response, /^250 /);

      // Several failed probes after the last one was queued: every message has been either tried or held.
      await sleep(800);
      const early = await retryStates(queue);
      await sleep(300);
      const snapshotAt = Date.now();
      const again = await retryStates(queue);
      assert.ok(relay.scheduler.hostDown, 'the host is known down');
      const queued = (await filesIn(queue, '.eml')).map((name) => name.slice(0, -'.eml'.length));
      assert.equal(queued.length, BURST + 1, 'every message is in Queue');
      assert.deepEqual([...again.keys()], [...early.keys()], 'no .rtr appears while the held messages wait (probes keep failing)');
      for (const [id, state] of early) {
        assert.equal(again.get(id), state, `${id}.rtr unchanged by later failed probes`);
        assert.equal(field(state, 'Attempts'), '1', `${id} was tried once, by the probe that carried it`);
      }
      const held = queued.filter((id) => !early.has(id));
      assert.ok(held.length >= 1, `some messages held without a .rtr (${held.length} held, ${early.size} tried)`);
      assert.equal(upstream.connections, 0);

      // After the first retry interval every held message has its deferral recorded: two attempts, its clock
      // started when it was first held. Polled often enough to see each one's first .rtr.
      const firstSeen = new Map<string, { state: string; mtimeMs: number }>();
      await eventually(
        async () => {
          for (const [id, state] of await retryStates(queue)) {
            if (!held.includes(id) || firstSeen.has(id)) continue;
            const stat = await fs.stat(path.join(queue, `${id}.rtr`)).catch(() => undefined);
            if (stat) firstSeen.set(id, { state, mtimeMs: stat.mtimeMs });
          }
          return firstSeen.size === held.length;
        },
        15_000,
        'a .rtr for every held message',
      );
      // Whether a probe carries it or a probe's failure defers it, each held message is dated from its hold.
      for (const id of held) {
        const { state, mtimeMs } = firstSeen.get(id)!;
        assert.equal(field(state, 'Attempts'), '2', `${id}: held once, then deferred or tried`);
        const firstQueued = Date.parse(field(state, 'First-Queued'));
        assert.ok(firstQueued >= burstStart, `${id}: First-Queued ${field(state, 'First-Queued')} not before it was sent`);
        assert.ok(firstQueued <= snapshotAt, `${id}: First-Queued ${field(state, 'First-Queued')} is when it was held, not when recorded`);
        assert.ok(
          mtimeMs - firstQueued >= 3_000,
          `${id}: .rtr written ${Math.round(mtimeMs - firstQueued)} ms after First-Queued; expected at least the 4 s hold`,
        );
        assert.equal(field(state, 'First-Attempt'), field(state, 'First-Queued'));
        assert.equal(field(state, 'Host-Deferred'), 'yes');
        assert.match(field(state, 'Last-Reply'), /ECONNREFUSED/);
        assert.ok(Date.parse(field(state, 'Next-Attempt')) - Date.parse(field(state, 'Last-Attempt')) >= 59_000, 'next wait is retry[1]');
      }
      assert.ok(relay.scheduler.hostDown);

      await upstream.start(port);
      const received = await upstream.waitFor(BURST + 1, 20_000);
      await eventually(async () => (await filesIn(queue)).length === 0, 10_000, 'Queue to empty (no .eml, no .rtr)');
      assert.equal(received.length, BURST + 1, 'each message delivered exactly once');
      assert.deepEqual(
        received.map((m) => m.to[0]).sort(),
        Array.from({ length: BURST + 1 }, (_, i) => `r${i}@example.net`).sort(),
      );
    } finally {
      await relay.stop();
      await upstream.stop();
    }
  });

  it(
    'dates a held message from when it was held even when, its hold over, a probe carries it',
    async () => {
      const upstream = await new Upstream().start();
      const port = upstream.port;
      await upstream.stop();
      const relay = await startRelay({ smartHost: `127.0.0.1:${port}`, settings: { retry: ['2s', '60s'], probeInterval: '100ms' } });
      try {
        const queue = relay.spool.layout.queue;
        const send = (i: number) => sendMail({ port: relayPort(relay), from: 'ca@example.com', to: [`r${i}@example.net`], subject: `held ${i}` });
        await send(0);
        await eventually(async () => relay.scheduler.hostDown && (await retryStates(queue)).size === 1, 10_000, 'the host known down');
        const [first] = (await retryStates(queue)).keys();
        const burstStart = Date.now();
        await Promise.all([1, 2, 3, 4].map(send));
        await sleep(600);
        const tried = [...(await retryStates(queue)).keys()].filter((id) => id !== first);
        const held = (await filesIn(queue, '.eml')).map((name) => name.slice(0, -'.eml'.length)).filter((id) => id !== first && !tried.includes(id));
        const heldBy = Date.now();
        assert.ok(held.length >= 1, 'a message held in memory');
        // An operator moves the burst messages that were tried out of Queue: no other message comes due just
        // before the held ones, so the first probe after their hold carries one of them.
        for (const id of tried) {
          await fs.rename(path.join(queue, `${id}.eml`), path.join(relay.spool.layout.root, `${id}.eml`));
          await fs.rm(path.join(queue, `${id}.rtr`));
        }
        await eventually(async () => {
          const states = await retryStates(queue);
          return held.every((id) => states.has(id));
        }, 10_000, 'a .rtr for every held message');
        const states = await retryStates(queue);
        for (const id of held) {
          const state = states.get(id)!;
          const firstQueued = Date.parse(field(state, 'First-Queued'));
          assert.ok(firstQueued >= burstStart && firstQueued <= heldBy, `${id}: First-Queued ${field(state, 'First-Queued')} is when it was held`);
          assert.equal(field(state, 'Attempts'), '2', `${id}: held once, then deferred or tried`);
        }
      } finally {
        await relay.stop();
        await upstream.stop();
      }
    },
  );
});
