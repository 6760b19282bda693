// The spool's side of the queue commands: each change moves or writes the right files, keeps a file's own
// name, and says 'gone' or refuses a taken name instead of overwriting.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { holdFolder, markDueNow, moveToHold, moveToQueue, NameTakenError, parseRetryState, prepareLayout, removeMessage } from '../../src/spool/spool.js';
import { filesIn, tempMailroot } from '../helpers/relay.js';

const MESSAGE = 'X-Sender: <a@x.example>\r\nX-Receiver: <b@y.example>\r\n\r\nSubject: t\r\n\r\nbody\r\n';
const QUEUED_AT = new Date('2026-12-01T10:00:00Z');
const NOW = new Date('2026-12-02T10:00:00Z');

async function mailroot() {
  const root = await tempMailroot();
  const layout = await prepareLayout(root);
  const hold = await holdFolder(root, { create: true });
  return { layout, hold };
}

describe('spool: the operator changes', () => {
  it('holds and releases a hand-made X.EML under its own name, with a due-now .rtr on release', async () => {
    const { layout, hold } = await mailroot();
    await fs.writeFile(path.join(layout.queue, 'X.EML'), MESSAGE);
    const message = { id: 'X', name: 'X.EML', dir: layout.queue, state: undefined, queuedAt: QUEUED_AT };
    assert.equal(await moveToHold(layout, hold, message), 'held');
    assert.deepEqual(await filesIn(hold), ['X.EML']);
    assert.deepEqual(await filesIn(layout.queue), []);

    assert.equal(await moveToQueue(layout, { ...message, dir: hold }, NOW), 'released');
    assert.deepEqual(await filesIn(layout.queue), ['X.EML', 'X.rtr']);
    assert.deepEqual(await filesIn(hold), []);
    const state = parseRetryState(await fs.readFile(path.join(layout.queue, 'X.rtr'), 'utf8'))!;
    assert.deepEqual([state.firstQueued, state.nextAttempt, state.attempts], [QUEUED_AT, NOW, 0]);
    assert.deepEqual(await filesIn(layout.sortTemp), [], 'no temp file left');
  });

  it('moves the .rtr with the message and refuses a name the other folder already has', async () => {
    const { layout, hold } = await mailroot();
    await fs.writeFile(path.join(layout.queue, 'm1.eml'), MESSAGE);
    await fs.writeFile(path.join(layout.queue, 'm1.rtr'), 'First-Queued: 2026-12-01T10:00:00Z\r\nAttempts: 3\r\n');
    const message = { id: 'm1', name: 'm1.eml', dir: layout.queue, state: undefined, queuedAt: QUEUED_AT };
    assert.equal(await moveToHold(layout, hold, message), 'held');
    assert.deepEqual(await filesIn(hold), ['m1.eml', 'm1.rtr']);

    await fs.writeFile(path.join(layout.queue, 'm1.eml'), MESSAGE); // someone dropped a file of the same name
    await assert.rejects(moveToQueue(layout, { ...message, dir: hold }, NOW), NameTakenError);
    assert.deepEqual(await filesIn(hold), ['m1.eml', 'm1.rtr'], 'nothing moved');
    await assert.rejects(moveToHold(layout, hold, message), NameTakenError);
  });

  it("says 'gone' for a message that left, and leaves no orphan .rtr", async () => {
    const { layout, hold } = await mailroot();
    const message = { id: 'm2', name: 'm2.eml', dir: layout.queue, state: undefined, queuedAt: QUEUED_AT };
    assert.equal(await markDueNow(layout, message, NOW), 'gone');
    assert.equal(await moveToHold(layout, hold, message), 'gone');
    assert.equal(await removeMessage(message), 'gone');
    assert.deepEqual(await filesIn(layout.queue), []);
    assert.deepEqual(await filesIn(hold), []);
  });

  it('marks a queued message due now and deletes it with its .rtr', async () => {
    const { layout } = await mailroot();
    await fs.writeFile(path.join(layout.queue, 'm3.eml'), MESSAGE);
    const message = { id: 'm3', name: 'm3.eml', dir: layout.queue, state: undefined, queuedAt: QUEUED_AT };
    assert.equal(await markDueNow(layout, message, NOW), 'due-now');
    assert.deepEqual(parseRetryState(await fs.readFile(path.join(layout.queue, 'm3.rtr'), 'utf8'))!.nextAttempt, NOW);
    assert.equal(await removeMessage(message), 'deleted');
    assert.deepEqual(await filesIn(layout.queue), []);
  });
});
