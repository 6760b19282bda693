import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Relay } from '../../src/relay.js';
import { readStatusFile } from '../../src/ops/status-file.js';
import { runCli, runCliHere } from '../helpers/cli.js';
import { sendMail } from '../helpers/client.js';
import { eventually, filesIn, relayPort, startRelay, tempMailroot } from '../helpers/relay.js';
import { Upstream } from '../helpers/upstream.js';

// Retries and rescans ten minutes away: only the operator's command (through the Queue watcher) can bring a
// message forward within the test's bounds. A smart host timeout long enough that a reply the test holds back
// is not timed out (that would mark the host down, and the probe would send the message again).
const SLOW = { retry: ['10m'], rescanInterval: '10m', smartHostTimeout: '60s' };

interface ListedMessage {
  id: string;
  held: boolean;
  sender: string;
  recipients: string[];
  attempts: number;
  nextAttempt: string | null;
  lastReply: string;
}

async function queueList(mailroot: string, ...filters: string[]): Promise<ListedMessage[]> {
  const run = await runCliHere(['queue', 'list', '--mailroot', mailroot, '--json', ...filters]);
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout) as ListedMessage[];
}

/** Sends `count` messages the upstream defers (450), and waits until each has its 10-minute wait recorded. */
async function deferredMessages(relay: Relay, upstream: Upstream, count: number, tag = 'deferred'): Promise<ListedMessage[]> {
  upstream.dataScript = () => [450, '4.2.0 Mailbox busy, try later'];
  for (let i = 0; i < count; i++) {
    await sendMail({ port: relayPort(relay), from: 'ca@example.com', to: [`${tag}${i}@example.net`], subject: `${tag} ${i}` });
  }
  const mailroot = relay.spool.layout.root;
  await eventually(async () => (await queueList(mailroot)).filter((m) => m.attempts === 1).length === count, 20_000, `${count} deferred`);
  upstream.dataScript = () => undefined;
  return queueList(mailroot);
}

async function withRelay(test: (relay: Relay, upstream: Upstream, mailroot: string) => Promise<void>): Promise<void> {
  const upstream = await new Upstream().start();
  const mailroot = await tempMailroot();
  const relay = await startRelay({ mailroot, smartHost: upstream.address, settings: SLOW });
  try {
    await test(relay, upstream, mailroot);
  } finally {
    await relay.stop();
    await upstream.stop();
  }
}

describe('mailroot queue, with a running relay', () => {
  it('lists deferred messages with attempts, next attempt and last reply; retry makes a running relay send at once', { timeout: 180_000 }, async () => {
    await withRelay(async (relay, upstream, mailroot) => {
      const [listed] = await deferredMessages(relay, upstream, 1);
      assert.equal(listed!.sender, 'ca@example.com');
      assert.deepEqual(listed!.recipients, ['deferred0@example.net']);
      assert.match(listed!.lastReply, /^450 /);
      assert.ok(Date.parse(listed!.nextAttempt!) > Date.now() + 5 * 60_000, 'waiting 10 minutes');
      assert.equal(upstream.received.length, 0);

      const retry = await runCliHere(['queue', 'retry', listed!.id, '--mailroot', mailroot]);
      assert.equal(retry.code, 0, retry.stderr + retry.stdout);
      assert.match(retry.stdout, /due now/);
      // The relay noticed the .rtr change (no rescan, no retry timer for 10 minutes).
      const [received] = await upstream.waitFor(1, 5_000);
      assert.deepEqual(received!.to, ['deferred0@example.net']);
      await eventually(async () => (await filesIn(relay.spool.layout.queue)).length === 0, 5_000, 'Queue empty');
    });
  });

  it('flush makes every queued message due now', { timeout: 180_000 }, async () => {
    await withRelay(async (relay, upstream, mailroot) => {
      await deferredMessages(relay, upstream, 3);
      // As its own process, as an operator runs it beside the relay.
      const flush = await runCli(['queue', 'flush', '--mailroot', mailroot, '--json']);
      assert.equal(flush.code, 0, flush.stderr + flush.stdout);
      const json = JSON.parse(flush.stdout) as { outcomes: Array<{ result: string }> };
      // Once the first one is delivered, its route's other held messages go at once: flush may find them gone.
      assert.equal(json.outcomes.length, 3);
      assert.ok(json.outcomes.every((o) => o.result === 'due-now' || o.result === 'gone'), flush.stdout);
      assert.equal(json.outcomes[0]!.result, 'due-now');
      const received = await upstream.waitFor(3, 5_000);
      assert.deepEqual(received.map((m) => m.to[0]).sort(), ['deferred0@example.net', 'deferred1@example.net', 'deferred2@example.net']);
    });
  });

  it('a held message stays in Hold, untried, across a restart; release sends it at once', { timeout: 180_000 }, async () => {
    const upstream = await new Upstream().start();
    const mailroot = await tempMailroot();
    let relay = await startRelay({ mailroot, smartHost: upstream.address, settings: SLOW });
    try {
      const [message] = await deferredMessages(relay, upstream, 1);
      const hold = await runCliHere(['queue', 'hold', message!.id, '--mailroot', mailroot]);
      assert.equal(hold.code, 0, hold.stderr + hold.stdout);
      assert.deepEqual(await filesIn(path.join(mailroot, 'Hold')), [`${message!.id}.eml`, `${message!.id}.rtr`]);
      assert.deepEqual(await filesIn(relay.spool.layout.queue), []);
      assert.equal((await queueList(mailroot, '--held'))[0]!.id, message!.id);

      // Restart with a retry schedule that would send anything in Queue at once: the held message is not sent.
      await relay.stop();
      relay = await startRelay({ mailroot, smartHost: upstream.address, settings: { rescanInterval: '10m' } });
      await relay.rescan();
      await sendMail({ port: relayPort(relay), from: 'ca@example.com', to: ['after-restart@example.net'] });
      const [first] = await upstream.waitFor(1, 10_000);
      assert.deepEqual(first!.to, ['after-restart@example.net'], 'the relay delivers, and not the held message');
      await relay.rescan();
      assert.equal(upstream.received.length, 1);
      assert.equal((await queueList(mailroot, '--held')).length, 1);

      const release = await runCliHere(['queue', 'release', message!.id, '--mailroot', mailroot]);
      assert.equal(release.code, 0, release.stderr + release.stdout);
      assert.match(release.stdout, /released/);
      const received = await upstream.waitFor(2, 5_000);
      assert.deepEqual(received[1]!.to, ['deferred0@example.net']);
      await eventually(async () => (await filesIn(relay.spool.layout.queue)).length === 0, 5_000, 'Queue empty');
      assert.deepEqual(await filesIn(path.join(mailroot, 'Hold')), []);
    } finally {
      await relay.stop();
      await upstream.stop();
    }
  });

  it('delete removes the .eml and its .rtr; it waits for an attempt in progress instead of racing it', { timeout: 180_000 }, async () => {
    await withRelay(async (relay, upstream, mailroot) => {
      const [message] = await deferredMessages(relay, upstream, 1);
      const del = await runCliHere(['queue', 'delete', message!.id, '--mailroot', mailroot]);
      assert.equal(del.code, 0, del.stderr + del.stdout);
      assert.deepEqual(await filesIn(relay.spool.layout.queue), []);
      assert.deepEqual(await queueList(mailroot), []);

      // A message whose delivery is under way: the upstream holds its reply to the final dot.
      const held = upstream.holdNextData();
      await sendMail({ port: relayPort(relay), from: 'ca@example.com', to: ['in-flight@example.net'] });
      await Promise.race([held.entered, new Promise((_, reject) => setTimeout(() => reject(new Error('delivery never reached DATA')), 20_000).unref())]);
      const [inFlight] = await queueList(mailroot);
      await eventually(async () => (await readStatusFile(mailroot))?.inFlight.includes(`${inFlight!.id}.eml`) === true, 5_000, 'status file lists it');
      let waiting: () => void = () => undefined;
      const saidWaiting = new Promise<void>((resolve) => (waiting = resolve));
      const deleting = runCliHere(['queue', 'delete', inFlight!.id, '--mailroot', mailroot], {
        onStderr: (text) => /is being delivered right now; waiting/.test(text) && waiting(),
      });
      const first = await Promise.race([saidWaiting.then(() => 'waiting'), deleting.then(() => 'finished')]);
      if (first !== 'waiting') {
        held.release();
        const early = await deleting;
        assert.fail(`delete did not wait for the attempt in flight: ${early.stdout} ${early.stderr}`);
      }
      held.release();
      const result = await deleting;
      assert.equal(result.code, 1, 'nothing deleted: it was delivered meanwhile');
      assert.match(result.stdout, /already gone from the queue/);
      assert.deepEqual(upstream.received.map((m) => m.to[0]), ['in-flight@example.net']);
    });
  });
});

describe('mailroot queue, relay stopped', () => {
  it('show, filters, holds and releases through the files alone; unknown ids and bad filters get clear errors', { timeout: 180_000 }, async () => {
    const mailroot = await tempMailroot();
    const init = await runCliHere(['init', '--mailroot', mailroot, '--smart-host', '127.0.0.1:2525', '--config', path.join(mailroot, 'mailroot.json')]);
    assert.equal(init.code, 0, init.stderr);
    const queue = path.join(mailroot, 'Queue');
    const a = '20261201T100000000Z-0001-aaaaaaaaaa';
    const b = '20261201T110000000Z-0002-bbbbbbbbbb';
    await fs.writeFile(path.join(queue, `${a}.eml`), 'X-Sender: <ca@pki.example>\r\nX-Receiver: <ops@example.net>\r\nSubject: cert issued\r\nFrom: ca@pki.example\r\n\r\nbody\r\n');
    await fs.writeFile(path.join(queue, `${a}.rtr`), 'First-Queued: 2026-12-01T10:00:00.000Z\r\nAttempts: 4\r\nNext-Attempt: 2099-01-01T00:00:00.000Z\r\nLast-Reply: 452 4.2.2 Mailbox full\r\n');
    await fs.writeFile(path.join(queue, `${b}.eml`), 'X-Sender: <app@example.com>\r\nX-Receiver: <x@example.org>\r\nX-Receiver: <y@example.org>\r\nSubject: other\r\n\r\nbody\r\n');

    assert.deepEqual((await queueList(mailroot, '--sender', 'PKI')).map((m) => m.id), [a]);
    assert.deepEqual((await queueList(mailroot, '--recipient', 'y@example')).map((m) => m.id), [b]);
    assert.deepEqual((await queueList(mailroot, '--reply', 'mailbox full')).map((m) => m.id), [a]);
    assert.deepEqual((await queueList(mailroot, '--older-than', '5000d')).map((m) => m.id), []);
    const badAge = await runCliHere(['queue', 'list', '--mailroot', mailroot, '--older-than', 'soon']);
    assert.equal(badAge.code, 2);
    assert.match(badAge.stderr, /--older-than must be a duration/);

    // The mailroot comes from the config file, as serve reads it.
    const show = await runCliHere(['queue', 'show', a.slice(0, 12), '--config', path.join(mailroot, 'mailroot.json')]);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /Sender: +<ca@pki\.example>/);
    assert.match(show.stdout, /Attempts: +4/);
    assert.match(show.stdout, /Last reply: +452 4\.2\.2 Mailbox full/);
    assert.match(show.stdout, /Subject: cert issued/);

    const ambiguous = await runCliHere(['queue', 'show', '2026', '--mailroot', mailroot]);
    assert.equal(ambiguous.code, 1);
    assert.match(ambiguous.stderr, /matches 2 messages/);

    const hold = await runCliHere(['queue', 'hold', a, b, '--mailroot', mailroot]);
    assert.equal(hold.code, 0, hold.stderr + hold.stdout);
    assert.deepEqual(await filesIn(queue), []);
    const retryHeld = await runCliHere(['queue', 'retry', a, '--mailroot', mailroot]);
    assert.equal(retryHeld.code, 1);
    assert.match(retryHeld.stdout, /it is held: release it/);

    const release = await runCliHere(['queue', 'release', '--all', '--mailroot', mailroot]);
    assert.equal(release.code, 0, release.stderr + release.stdout);
    assert.deepEqual(await filesIn(queue), [`${a}.eml`, `${a}.rtr`, `${b}.eml`, `${b}.rtr`]);
    // Released means due now; the rest of the retry state is kept (attempts, first queued, last reply).
    const state = await fs.readFile(path.join(queue, `${a}.rtr`), 'utf8');
    assert.match(state, /^Attempts: 4\r$/m);
    assert.match(state, /^First-Queued: 2026-12-01T10:00:00\.000Z\r$/m);
    assert.ok(Date.parse(/^Next-Attempt: (.*)\r$/m.exec(state)![1]!) <= Date.now());
    const created = await fs.readFile(path.join(queue, `${b}.rtr`), 'utf8');
    assert.match(created, /^First-Queued: 2026-12-01T11:00:00\.000Z\r$/m, 'dated from its id');
    assert.match(created, /^Attempts: 0\r$/m);

    const missing = await runCliHere(['queue', 'delete', 'nope', '--mailroot', mailroot]);
    assert.equal(missing.code, 1);
    assert.match(missing.stdout, /nope: error: no message "nope"/);
    const noMailroot = await runCliHere(['queue', 'list', '--mailroot', path.join(mailroot, 'absent')]);
    assert.equal(noMailroot.code, 2);
    assert.match(noMailroot.stderr, /no mailroot at/);
  });
});
