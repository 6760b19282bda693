import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { MessageRejectedError, Spool } from '../../src/spool/spool.js';
import { filesIn, tempMailroot } from '../helpers/relay.js';

const body = () => Readable.from([Buffer.from('Subject: t\r\n\r\nhello\r\n')]);
const envelope = { sender: 's@x.example', recipients: ['a@remote.example'] };

describe('spool: onQueued reports each message it puts into Queue', () => {
  it('tells onQueued once, with the Queue file name', async () => {
    const spool = await Spool.open(await tempMailroot(), { lock: false });
    const seen: string[] = [];
    spool.onQueued((name) => seen.push(name));
    const { id } = await spool.accept(envelope, body());
    const name = `${id}.eml`;
    assert.deepEqual(seen, [name], 'one notice');
    assert.deepEqual(await filesIn(spool.layout.queue), [name]);
  });

  it('has the file in Queue by the time onQueued is told', async () => {
    const spool = await Spool.open(await tempMailroot(), { lock: false });
    const inQueue: boolean[] = [];
    spool.onQueued((name) => inQueue.push(existsSync(path.join(spool.layout.queue, name))));
    await spool.accept(envelope, body());
    assert.deepEqual(inQueue, [true]);
  });

  it('tells only of Queue files, and nothing when the accept fails', async () => {
    const spool = await Spool.open(await tempMailroot(), { lock: false });
    const notices: string[] = [];
    spool.onQueued((name) => notices.push(name));

    // Drop only: no Queue file, no notice.
    await spool.acceptToDrop(envelope, body());
    assert.deepEqual(notices, []);

    // Refused after writing: nothing queued, no notice.
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
    assert.deepEqual(notices, []);
    assert.deepEqual(await filesIn(spool.layout.queue), []);
  });

  it('keeps concurrent accepts apart: one notice each', async () => {
    const spool = await Spool.open(await tempMailroot(), { lock: false });
    const notices: string[] = [];
    spool.onQueued((name) => notices.push(name));
    const results = await Promise.all(Array.from({ length: 5 }, () => spool.accept(envelope, body())));
    const names = results.map(({ id }) => `${id}.eml`);
    assert.deepEqual([...notices].sort(), [...names].sort());
  });
});
