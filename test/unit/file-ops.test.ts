import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { closeFile, createFile, syncFile, writeAll } from '../../src/spool/file-ops.js';
import { Spool } from '../../src/spool/spool.js';
import { filesIn, tempMailroot } from '../helpers/relay.js';

const MESSAGE = 'Subject: both ways\nTo: a@remote.example\n\nline one\rline two\r\n.\r\nlast line\n';
const MESSAGE_CRLF = 'Subject: both ways\r\nTo: a@remote.example\r\n\r\nline one\r\nline two\r\n.\r\nlast line\r\n';

describe('spool file operations (all in the thread pool)', () => {
  it('accept, read, rewrite, quarantine and remove a queued message', async () => {
    const spool = await Spool.open(await tempMailroot(), { lock: false });
    const { queue, badmail, sortTemp } = spool.layout;
    const envelope = { sender: 's@x.example', recipients: ['a@remote.example', 'b@remote.example', 'c@remote.example'] };

    const { id, size } = await spool.accept(envelope, Readable.from([Buffer.from(MESSAGE)]));
    const name = `${id}.eml`;
    const head = 'X-Sender: <s@x.example>\r\nX-Receiver: <a@remote.example>\r\nX-Receiver: <b@remote.example>\r\nX-Receiver: <c@remote.example>\r\n';
    assert.equal(await fs.readFile(path.join(queue, name), 'latin1'), head + MESSAGE_CRLF);
    assert.equal(size, head.length + MESSAGE_CRLF.length);
    assert.deepEqual(await filesIn(queue), [name]);
    assert.deepEqual(await filesIn(sortTemp), []);

    const read = await spool.readQueuedMessage(name);
    assert.ok(read.ok);
    const message = read.value;
    assert.equal(message.id, id);
    assert.deepEqual(message.envelope, envelope);
    assert.equal(message.bodyOffset, head.length);
    assert.equal(message.size, head.length + MESSAGE_CRLF.length);
    assert.equal(message.ino, (await fs.stat(path.join(queue, name))).ino);

    const state = {
      firstQueued: new Date('2026-01-02T03:04:05.000Z'),
      firstAttempt: new Date('2026-01-02T03:04:06.000Z'),
      attempts: 1,
      lastAttempt: new Date('2026-01-02T03:04:06.000Z'),
      nextAttempt: new Date('2026-01-02T03:19:06.000Z'),
      hostDeferred: false,
      delayNotified: false,
      lastReply: '451 4.3.0 later',
    };
    await spool.writeRetryState(name, state);
    assert.deepEqual(await spool.readRetryState(name), state);

    const rewritten = await spool.rewriteRecipients(message, ['b@remote.example', 'c@remote.example']);
    const head2 = 'X-Sender: <s@x.example>\r\nX-Receiver: <b@remote.example>\r\nX-Receiver: <c@remote.example>\r\n';
    assert.equal(await fs.readFile(path.join(queue, name), 'latin1'), head2 + MESSAGE_CRLF);
    assert.deepEqual(rewritten.envelope.recipients, ['b@remote.example', 'c@remote.example']);
    assert.equal(rewritten.bodyOffset, head2.length);
    assert.equal(rewritten.size, head2.length + MESSAGE_CRLF.length);
    assert.equal(rewritten.ino, (await fs.stat(path.join(queue, name))).ino);
    const reread = await spool.readQueuedMessage(name);
    assert.ok(reread.ok);
    assert.deepEqual(reread.value.envelope, rewritten.envelope);

    // Some recipients to Badmail: a .bad listing only them, the queued file left as it was.
    const stem = await spool.quarantine(name, 'refused: c\r\n', { message: rewritten, recipients: ['c@remote.example'] });
    assert.equal(stem, id);
    assert.equal(
      await fs.readFile(path.join(badmail, `${id}.bad`), 'latin1'),
      'X-Sender: <s@x.example>\r\nX-Receiver: <c@remote.example>\r\n' + MESSAGE_CRLF,
    );
    assert.equal(await fs.readFile(path.join(badmail, `${id}.bdr`), 'utf8'), 'refused: c\r\n');
    assert.equal(await fs.readFile(path.join(queue, name), 'latin1'), head2 + MESSAGE_CRLF);

    await spool.removeDelivered(rewritten);
    assert.deepEqual(await filesIn(queue), [], 'message and .rtr removed');

    // A whole message to Badmail: moved, its .rtr removed; a second pair for the same id gets a new stem.
    const second = await spool.accept({ sender: '', recipients: ['d@remote.example'] }, Readable.from([Buffer.from(MESSAGE)]));
    const secondName = `${second.id}.eml`;
    await spool.writeRetryState(secondName, state);
    assert.equal(await spool.quarantine(secondName, 'expired\r\n'), second.id);
    assert.deepEqual(await filesIn(queue), []);
    assert.equal(
      await fs.readFile(path.join(badmail, `${second.id}.bad`), 'latin1'),
      'X-Sender: <>\r\nX-Receiver: <d@remote.example>\r\n' + MESSAGE_CRLF,
    );
    assert.equal(await fs.readFile(path.join(badmail, `${second.id}.bdr`), 'utf8'), 'expired\r\n');

    // removeDelivered leaves alone another file moved in under the same name.
    const third = await spool.accept({ sender: 's@x.example', recipients: ['e@remote.example'] }, Readable.from([Buffer.from(MESSAGE)]));
    const thirdName = `${third.id}.eml`;
    const thirdRead = await spool.readQueuedMessage(thirdName);
    assert.ok(thirdRead.ok);
    const replacement = path.join(spool.layout.root, 'replacement.eml');
    await fs.writeFile(replacement, 'X-Sender: <o@x.example>\r\nX-Receiver: <f@remote.example>\r\n\r\nother\r\n');
    await fs.rename(replacement, path.join(queue, thirdName));
    await spool.removeDelivered(thirdRead.value);
    assert.deepEqual(await filesIn(queue), [thirdName], 'the replacement stays');
    const replaced = await spool.readQueuedMessage(thirdName);
    assert.ok(replaced.ok);
    await spool.removeDelivered(replaced.value);
    assert.deepEqual(await filesIn(queue), []);

    assert.deepEqual(await filesIn(sortTemp), [], 'no temp file left behind');
    assert.deepEqual((await filesIn(badmail)).sort(), [`${id}.bad`, `${id}.bdr`, `${second.id}.bad`, `${second.id}.bdr`].sort());
  });

  it('accepts several messages at once', async () => {
    const spool = await Spool.open(await tempMailroot(), { lock: false });
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        spool.accept({ sender: 's@x.example', recipients: [`r${i}@remote.example`] }, Readable.from([Buffer.from(`Subject: ${i}\n\nbody ${i}\n`)])),
      ),
    );
    assert.deepEqual(await filesIn(spool.layout.queue), results.map((r) => `${r.id}.eml`).sort());
    for (const [i, { id }] of results.entries()) {
      assert.equal(
        await fs.readFile(path.join(spool.layout.queue, `${id}.eml`), 'latin1'),
        `X-Sender: <s@x.example>\r\nX-Receiver: <r${i}@remote.example>\r\nSubject: ${i}\r\n\r\nbody ${i}\r\n`,
      );
    }
    assert.deepEqual(await filesIn(spool.layout.sortTemp), []);
  });

  it('createFile(exclusive) refuses an existing file with EEXIST', async () => {
    const dir = await tempMailroot();
    const file = path.join(dir, 'taken.tmp');
    await fs.writeFile(file, 'already here');
    await assert.rejects(createFile(file, true), (err: NodeJS.ErrnoException) => {
      assert.equal(err.code, 'EEXIST');
      return true;
    });
    assert.equal(await fs.readFile(file, 'utf8'), 'already here', 'left as it was');
    // Not exclusive: the same file is truncated and opened.
    const fd = await createFile(file, false);
    await closeFile(fd);
    assert.equal((await fs.stat(file)).size, 0);
  });

  it('writeAll writes every buffer, in order, fully', async () => {
    const dir = await tempMailroot();
    const file = path.join(dir, 'out.tmp');
    const big = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    const buffers = [Buffer.from('head\r\n'), Buffer.alloc(0), big, Buffer.from('middle'), big.subarray(5, 70_000), Buffer.from('end\r\n')];
    for (let round = 0; round < 2; round++) {
      const fd = await createFile(file, false);
      try {
        await writeAll(fd, buffers);
        await writeAll(fd, []);
        await writeAll(fd, [Buffer.from('!')]);
        await syncFile(fd);
      } finally {
        await closeFile(fd);
      }
      const written = await fs.readFile(file);
      assert.ok(written.equals(Buffer.concat([...buffers, Buffer.from('!')])), `the bytes written match (round ${round})`);
      assert.ok(buffers[2]!.equals(big), 'the caller’s buffers are not changed');
    }
  });
});
