import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { MessageRejectedError, Spool, SpoolWriteError } from '../../src/spool/spool.js';
import { filesIn, tempMailroot } from '../helpers/relay.js';

const body = () => Readable.from([Buffer.from('Subject: t\n\nline one\rline two\r\n')]);
const prefix = () => Buffer.from('Received: test\r\n');

describe('spool: Drop and Queue through one durable path', () => {
  it('writes a Drop file in pickup format with CRLF line ends', async () => {
    const spool = await Spool.open(await tempMailroot(), { lock: false });
    const { id } = await spool.acceptToDrop({ sender: 's@x.example', recipients: ['a@corp.example'] }, body(), { prefix });
    const text = await fs.readFile(path.join(spool.layout.drop, `${id}.eml`), 'latin1');
    assert.equal(text, 'X-Sender: <s@x.example>\r\nX-Receiver: <a@corp.example>\r\nReceived: test\r\nSubject: t\r\n\r\nline one\r\nline two\r\n');
    assert.deepEqual(await filesIn(spool.layout.queue), []);
    assert.deepEqual(await filesIn(spool.layout.sortTemp), []);
  });

  it('writes one message to both with the same id, each with its own recipients', async () => {
    const spool = await Spool.open(await tempMailroot(), { lock: false });
    const { id } = await spool.acceptTo(
      { drop: { sender: 's@x.example', recipients: ['a@corp.example'] }, queue: { sender: 's@x.example', recipients: ['b@remote.example'] } },
      Readable.from([Buffer.alloc(200_000, 'x'), Buffer.from('\r\n')]),
      { prefix },
    );
    const drop = await fs.readFile(path.join(spool.layout.drop, `${id}.eml`), 'latin1');
    const queue = await fs.readFile(path.join(spool.layout.queue, `${id}.eml`), 'latin1');
    assert.ok(drop.startsWith('X-Sender: <s@x.example>\r\nX-Receiver: <a@corp.example>\r\nReceived: test\r\n'));
    assert.ok(queue.startsWith('X-Sender: <s@x.example>\r\nX-Receiver: <b@remote.example>\r\nReceived: test\r\n'));
    assert.equal(drop.slice(drop.indexOf('Received:')), queue.slice(queue.indexOf('Received:')), 'the same message bytes');
    assert.equal(queue.length, 200_000 + 2 + 'X-Sender: <s@x.example>\r\nX-Receiver: <b@remote.example>\r\nReceived: test\r\n'.length);
  });

  it('leaves nothing anywhere when the message is refused or a folder cannot take it', async () => {
    const spool = await Spool.open(await tempMailroot(), { lock: false });
    const both = { drop: { sender: '', recipients: ['a@corp.example'] }, queue: { sender: '', recipients: ['b@remote.example'] } };
    await assert.rejects(spool.acceptTo(both, body(), { verify: () => new MessageRejectedError('too big') }), MessageRejectedError);
    // A file where the Queue folder should be: the Queue rename fails after the Drop one succeeded.
    await fs.rm(spool.layout.queue, { recursive: true });
    await fs.writeFile(spool.layout.queue, 'not a folder');
    await assert.rejects(spool.acceptTo(both, body()), SpoolWriteError);
    assert.deepEqual(await filesIn(spool.layout.drop), [], 'the Drop file was withdrawn');
    assert.deepEqual(await filesIn(spool.layout.sortTemp), []);
  });

  it('cleans up when the body stream fails', async () => {
    const spool = await Spool.open(await tempMailroot(), { lock: false });
    const failing = new Readable({
      read() {
        this.destroy(new Error('client went away'));
      },
    });
    await assert.rejects(spool.acceptTo({ drop: { sender: '', recipients: ['a@c.example'] }, queue: { sender: '', recipients: ['b@r.example'] } }, failing), SpoolWriteError);
    assert.deepEqual(await filesIn(spool.layout.sortTemp), []);
    assert.deepEqual(await filesIn(spool.layout.drop), []);
    assert.deepEqual(await filesIn(spool.layout.queue), []);
  });
});
