// One relay per mailroot, by an operating-system lock held for the process's life: a PID file naming a live
// process (an unrelated one, or the relay's own PID after a restart in a container) never blocks start-up, and of
// relays started together on a stale lock exactly one runs, kill -9 or not.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { MailrootLockedError } from '../../src/spool/lock.js';
import { Spool } from '../../src/spool/spool.js';
import { tempMailroot } from '../helpers/relay.js';
import { RelayProcess } from '../helpers/relay-process.js';
import { unusedPort } from '../helpers/ports.js';

describe('the mailroot lock', () => {
  it('is not blocked by a PID file naming a live process, its own PID or PID 1', async () => {
    for (const pid of [process.pid, 1, process.ppid]) {
      const root = await tempMailroot();
      await fs.writeFile(path.join(root, 'mailroot.lock'), `${pid}\n`);
      const spool = await Spool.open(root);
      await spool.close();
    }
  });

  it('lets one of two spools opened at once on a mailroot hold it, and the other after the first closes', async () => {
    const root = await tempMailroot();
    await fs.writeFile(path.join(root, 'mailroot.lock'), '999999\n'); // stale
    for (let round = 0; round < 10; round++) {
      const results = await Promise.allSettled([Spool.open(root), Spool.open(root)]);
      const opened = results.filter((r): r is PromiseFulfilledResult<Spool> => r.status === 'fulfilled');
      const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.equal(opened.length, 1, `round ${round}: exactly one holds the mailroot`);
      assert.ok(refused[0]!.reason instanceof MailrootLockedError, String(refused[0]!.reason));
      assert.match(String(refused[0]!.reason), /is in use by (process \d+|another process)/);
      await opened[0]!.value.close();
    }
  });

  it('lets exactly one of two relay processes started together run, and frees the lock at kill -9', async () => {
    const mailroot = await tempMailroot();
    await fs.writeFile(path.join(mailroot, 'mailroot.lock'), '999999\n'); // left by a relay that died
    const smartHost = `127.0.0.1:${await unusedPort()}`;
    const relays = [new RelayProcess({ mailroot, port: await unusedPort(), smartHost }), new RelayProcess({ mailroot, port: await unusedPort(), smartHost })];
    const results = await Promise.allSettled(relays.map((r) => r.start()));
    const running = relays.filter((r) => r.running);
    try {
      assert.equal(running.length, 1, results.map((r) => r.status).join(', '));
      const loser = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.match(String(loser?.reason), /is in use by (process \d+|another process)/);
    } finally {
      for (const relay of relays) await relay.kill9();
    }
    // kill -9 leaves no stale state behind: the mailroot can be held again at once (the race itself is repeated
    // in-process above; a third relay process would only add its start-up).
    const spool = await Spool.open(mailroot);
    await spool.close();
  });
});
