import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { sendMail } from '../helpers/client.js';
import { dropIntoQueue, eventually, filesIn, relayPort, startRelay } from '../helpers/relay.js';
import { Upstream } from '../helpers/upstream.js';

describe('corrupt and foreign files, operator races', () => {
  it('moves corrupt queue files to Badmail with a reason and keeps delivering the rest', async () => {
    const upstream = await new Upstream().start();
    const relay = await startRelay({ smartHost: upstream.address });
    const { queue, badmail } = relay.spool.layout;
    try {
      await fs.writeFile(path.join(queue, 'empty.eml'), '');
      await fs.writeFile(path.join(queue, 'no-envelope.eml'), 'From: a@example.com\r\nSubject: no envelope\r\n\r\nbody\r\n');
      await fs.writeFile(path.join(queue, 'no-receiver.eml'), 'X-Sender: <a@example.com>\r\nSubject: x\r\n\r\nbody\r\n');
      await fs.writeFile(path.join(queue, 'truncated.eml'), 'X-Sender: <a@example.com>\r\nX-Recei');
      await fs.writeFile(path.join(queue, 'binary.eml'), Buffer.from([0, 1, 2, 255, 254, 13, 10, 0]));
      await fs.mkdir(path.join(queue, 'folder.eml'));
      await fs.writeFile(path.join(queue, 'notes.txt'), 'an operator note, not a message');
      await dropIntoQueue(queue, 'good.eml', 'a@example.com', ['b@example.net'], 'Subject: good\r\n\r\nbody\r\n');
      await relay.rescan();
      await upstream.waitFor(1);
      const expected = ['binary', 'empty', 'folder', 'no-envelope', 'no-receiver', 'truncated'];
      await eventually(async () => (await filesIn(badmail, '.bdr')).length === expected.length, 10_000, 'six .bdr files');
      assert.deepEqual((await filesIn(badmail, '.bdr')).map((n) => n.replace(/\.bdr$/, '')), expected);
      assert.match(await fs.readFile(path.join(badmail, 'no-envelope.bdr'), 'utf8'), /Reason: not a valid queue file: no X-Sender line/);
      assert.match(await fs.readFile(path.join(badmail, 'folder.bdr'), 'utf8'), /a folder, not a message file/);
      assert.deepEqual(await filesIn(queue), ['notes.txt'], 'a foreign non-.eml file is left alone');
    } finally {
      await relay.stop();
      await upstream.stop();
    }
  });

  it('survives a message being moved out of Queue during its delivery, without sending it twice', async () => {
    const upstream = await new Upstream().start();
    const relay = await startRelay({ smartHost: upstream.address });
    const { queue, root } = relay.spool.layout;
    try {
      const hold = upstream.holdNextData();
      await dropIntoQueue(queue, 'moving.eml', 'a@example.com', ['b@example.net'], 'Subject: moving\r\n\r\nbody\r\n');
      await hold.entered; // the relay has sent the whole message and waits for the reply to the final dot
      await fs.rename(path.join(queue, 'moving.eml'), path.join(root, 'moved-out.eml'));
      hold.release();
      await upstream.waitFor(1);
      // No crash, no resend; the next message still goes through.
      await sendMail({ port: relayPort(relay), from: 'a@example.com', to: ['c@example.net'] });
      await upstream.waitFor(2);
      await relay.rescan();
      assert.equal(upstream.received.filter((m) => m.to[0] === 'b@example.net').length, 1);
      await eventually(async () => (await filesIn(queue)).length === 0, 10_000, 'Queue to empty');
    } finally {
      await relay.stop();
      await upstream.stop();
    }
  });

  it('delivers a file moved in again under the same name during delivery of the first copy', async () => {
    const upstream = await new Upstream().start();
    // The second copy, moved in under the name of a message in flight, is found by the next rescan.
    const relay = await startRelay({ smartHost: upstream.address, settings: { rescanInterval: '200ms' } });
    const { queue } = relay.spool.layout;
    try {
      const hold = upstream.holdNextData();
      await dropIntoQueue(queue, 'same.eml', 'a@example.com', ['first@example.net'], 'Subject: first copy\r\n\r\nbody\r\n');
      await hold.entered;
      await dropIntoQueue(queue, 'same.eml', 'a@example.com', ['second@example.net'], 'Subject: second copy\r\n\r\nbody\r\n');
      hold.release();
      await upstream.waitFor(2);
      assert.deepEqual(upstream.received.map((m) => m.to[0]), ['first@example.net', 'second@example.net']);
      await eventually(async () => (await filesIn(queue)).length === 0, 10_000, 'Queue to empty');
    } finally {
      await relay.stop();
      await upstream.stop();
    }
  });

  it('keeps working when an operator deletes and recreates the Queue folder', async () => {
    const upstream = await new Upstream().start();
    const relay = await startRelay({ smartHost: upstream.address, settings: { rescanInterval: '200ms' } });
    const { queue } = relay.spool.layout;
    try {
      await sendMail({ port: relayPort(relay), from: 'a@example.com', to: ['one@example.net'] });
      await upstream.waitFor(1);
      await fs.rm(queue, { recursive: true, force: true });
      await relay.rescan(); // notices the folder is gone and recreates the layout
      await eventually(async () => fs.access(queue).then(() => true, () => false), 10_000, 'Queue recreated');
      await sendMail({ port: relayPort(relay), from: 'a@example.com', to: ['two@example.net'] });
      await upstream.waitFor(2);
      await dropIntoQueue(queue, 'after.eml', 'a@example.com', ['three@example.net'], 'Subject: after\r\n\r\nbody\r\n');
      await upstream.waitFor(3);
    } finally {
      await relay.stop();
      await upstream.stop();
    }
  });
});
