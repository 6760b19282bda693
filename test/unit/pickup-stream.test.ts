// The byte-stream steps and the settle rule, each on its own.
import assert from 'node:assert/strict';
import { Readable, type Transform } from 'node:stream';
import { describe, it } from 'node:test';
import { SettleTracker } from '../../src/pickup/settle.js';
import { DotUnstuffer, FileChangedError, ReplacePrefix, SizeGuard } from '../../src/pickup/transforms.js';
import { MessageRejectedError } from '../../src/spool/spool.js';

async function run(transform: Transform, chunks: string[]): Promise<string> {
  const out: Buffer[] = [];
  for await (const chunk of Readable.from(chunks.map((c) => Buffer.from(c))).pipe(transform)) out.push(chunk as Buffer);
  return Buffer.concat(out).toString();
}

/** Every way to cut `text` in two. */
function splits(text: string): string[][] {
  return Array.from({ length: text.length + 1 }, (_, i) => [text.slice(0, i), text.slice(i)]);
}

describe('DotUnstuffer', () => {
  it('removes one leading dot per line, wherever the chunks are cut', async () => {
    const input = '.a\r\n..b\r\n.\r\nc.d\r\n...\r\n\r\n.';
    const expected = 'a\r\n.b\r\n\r\nc.d\r\n..\r\n\r\n';
    for (const chunks of splits(input)) assert.equal(await run(new DotUnstuffer(), chunks), expected, JSON.stringify(chunks));
    assert.equal(await run(new DotUnstuffer(), ['.', '.', '.', '\r\n', '.']), '..\r\n');
  });
});

describe('ReplacePrefix', () => {
  it('swaps the expected start for the replacement, across chunks', async () => {
    for (const chunks of splits('HEADERbody')) {
      assert.equal(await run(new ReplacePrefix(Buffer.from('HEADER'), Buffer.from('new:')), chunks), 'new:body');
    }
    assert.equal(await run(new ReplacePrefix(Buffer.from(''), Buffer.from('new:')), ['body']), 'new:body');
    assert.equal(await run(new ReplacePrefix(Buffer.from('ALL'), Buffer.from('x')), ['ALL']), 'x');
  });

  it('fails when the file does not start as it did a moment ago', async () => {
    await assert.rejects(run(new ReplacePrefix(Buffer.from('HEADER'), Buffer.from('')), ['HEADxR']), FileChangedError);
    await assert.rejects(run(new ReplacePrefix(Buffer.from('HEADER'), Buffer.from('')), ['HEAD']), FileChangedError);
  });
});

describe('SizeGuard', () => {
  it('passes up to the limit and fails beyond it', async () => {
    assert.equal(await run(new SizeGuard(6), ['abc', 'def']), 'abcdef');
    await assert.rejects(run(new SizeGuard(6), ['abc', 'defg']), MessageRejectedError);
  });
});

describe('SettleTracker', () => {
  const sig = (size: number, mtimeMs = 1, ino = 7) => ({ size, mtimeMs, ino });

  it('is ready once a file has looked the same for settleTime', () => {
    const t = new SettleTracker(1000);
    assert.equal(t.observe('f', sig(10), 0), false);
    assert.equal(t.observe('f', sig(10), 999), false);
    assert.equal(t.observe('f', sig(20), 1500), false, 'it grew: the wait starts again');
    assert.equal(t.nextDue(), 2500);
    assert.equal(t.observe('f', sig(20, 2), 2000), false, 'touched');
    assert.equal(t.observe('f', sig(20, 2, 8), 3000), false, 'replaced by another file of the same name');
    assert.equal(t.observe('f', sig(20, 2, 8), 4000), true);
  });

  it('defers a file that could not be taken, and forgets files that are gone', () => {
    const t = new SettleTracker(0);
    assert.equal(t.observe('f', sig(1), 0), true, 'settleTime 0: ready when first seen');
    t.defer('f', 100, 1000);
    assert.equal(t.nextDue(), 1100);
    assert.equal(t.observe('f', sig(1), 500), false);
    assert.equal(t.observe('f', sig(1), 1100), true);
    t.observe('g', sig(1), 0);
    t.retainOnly(new Set(['f']));
    assert.deepEqual(t.names, ['f']);
  });
});
