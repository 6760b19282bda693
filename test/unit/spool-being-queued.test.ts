import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { MessageRejectedError, Spool } from '../../src/spool/spool.js';
import { filesIn, tempMailroot } from '../helpers/relay.js';

const body = () => Readable.from([Buffer.from('Subject: t\r\n\r\nhello\r\n')]);
const envelope = { sender: 's@x.example', recipients: ['a@remote.example'] };

describe('spool: a file being queued is reported by onQueued, not by a Queue watcher', () => {
  it('is marked as being queued when onQueued is told, and no longer once accept resolves', async () => {
    const spool = await Spool.open(await tempMailroot(), { lock: false });
    const seen: Array<{ name: string; beingQueued: boolean }> = [];
    // Synchronous, as the Queue watcher's check is: the state at the moment of the notice.
    spool.onQueued((name) => seen.push({ name, beingQueued: spool.isBeingQueued(name) }));
    const { id } = await spool.accept(envelope, body());
    const name = `${id}.eml`;
    assert.equal(seen.length, 1, 'one notice');
    assert.equal(seen[0]!.name, name);
    assert.equal(seen[0]!.beingQueued, true, 'a watcher event meanwhile is left to onQueued');
    assert.equal(spool.isBeingQueued(name), false, 'after accept resolves, a watcher event for it is news again');
    assert.deepEqual(await filesIn(spool.layout.queue), [name]);
  });

  it('has the file in Queue by the time onQueued is told', async () => {
    const spool = await Spool.open(await tempMailroot(), { lock: false });
    const inQueue: boolean[] = [];
    spool.onQueued((name) => inQueue.push(existsSync(path.join(spool.layout.queue, name))));
    await spool.accept(envelope, body());
    assert.deepEqual(inQueue, [true]);
  });

  it('marks only Queue files, and clears the mark when the accept fails', async () => {
    const spool = await Spool.open(await tempMailroot(), { lock: false });
    const notices: string[] = [];
    spool.onQueued((name) => notices.push(name));

    // Drop only: no Queue file, no notice, never marked.
    let dropId = '';
    let markedDuringDrop: boolean | undefined;
    await spool.acceptToDrop(envelope, body(), {
      prefix: (id) => {
        dropId = id;
        return Buffer.alloc(0);
      },
      verify: () => {
        markedDuringDrop = spool.isBeingQueued(`${dropId}.eml`);
        return undefined;
      },
    });
    assert.equal(markedDuringDrop, false);
    assert.deepEqual(notices, []);

    // Refused after writing: nothing queued, no notice, and the name is not left marked.
    let refusedId = '';
    await assert.rejects(
      spool.accept(envelope, body(), {
        prefix: (id) => {
          refusedId = id;
          return Buffer.alloc(0);
        },
        verify: () => new MessageRejectedError('too big'),
      }),
      MessageRejectedError,
    );
    assert.notEqual(refusedId, '');
    assert.equal(spool.isBeingQueued(`${refusedId}.eml`), false);
    assert.deepEqual(notices, []);
    assert.deepEqual(await filesIn(spool.layout.queue), []);
  });

  it('keeps concurrent accepts apart: each is marked until its own notice', async () => {
    const spool = await Spool.open(await tempMailroot(), { lock: false });
    const atNotice = new Map<string, boolean>();
    spool.onQueued((name) => atNotice.set(name, spool.isBeingQueued(name)));
    const results = await Promise.all(Array.from({ length: 5 }, () => spool.accept(envelope, body())));
    const names = results.map(({ id }) => `${id}.eml`);
    assert.deepEqual([...atNotice.keys()].sort(), [...names].sort());
    for (const name of names) {
      assert.equal(atNotice.get(name), true, `${name} marked at its notice`);
      assert.equal(spool.isBeingQueued(name), false, `${name} unmarked afterwards`);
    }
  });
});
