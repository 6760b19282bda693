import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { DataGuard, type DataLimits } from '../../src/smtp/data-guard.js';

async function run(chunks: Array<string | Buffer>, limits: Partial<DataLimits>): Promise<{ out: Buffer; guard: DataGuard }> {
  const guard = new DataGuard({ maxMessageSize: 1_000_000, sessionRemaining: 1_000_000, maxHeaderSize: 1_000_000, ...limits });
  const parts: Buffer[] = [];
  guard.on('data', (c: Buffer) => parts.push(c));
  const done = new Promise((resolve) => guard.on('end', resolve));
  Readable.from(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c, 'latin1') : c))).pipe(guard);
  await done;
  return { out: Buffer.concat(parts), guard };
}

describe('DATA guard', () => {
  it('passes a message of exactly maxMessageSize and swallows one byte more', async () => {
    const ok = await run(['a'.repeat(60), 'b'.repeat(40)], { maxMessageSize: 100 });
    assert.equal(ok.guard.rejection(), undefined);
    assert.equal(ok.out.length, 100);
    const over = await run(['a'.repeat(60), 'b'.repeat(41), 'c'.repeat(1000)], { maxMessageSize: 100 });
    assert.equal(over.guard.rejection()?.code, 552);
    assert.equal(over.guard.bytes, 1101, 'counts every byte, kept or not');
    assert.ok(over.out.length <= 100, 'nothing past the limit reaches the disk');
  });

  it('measures the header block up to the empty line, across chunks and line-end styles', async () => {
    const header = 'Subject: x\r\nX-A: 1234\r\n';
    const size = header.length; // the empty line after it does not count
    assert.equal((await run([header, '\r\nbody'], { maxHeaderSize: size })).guard.rejection(), undefined);
    assert.equal((await run([header, '\r\nbody'], { maxHeaderSize: size - 1 })).guard.rejection()?.code, 552);
    assert.equal((await run(['Subject: x\r', '\nX-A: 1234\r', '\n\r', '\nbody'], { maxHeaderSize: size })).guard.rejection(), undefined);
    assert.equal((await run(['Subject: x\r', '\nX-A: 1234\r', '\n\r', '\nbody'], { maxHeaderSize: size - 1 })).guard.rejection()?.code, 552);
    const lf = 'Subject: x\nX-A: 12345\n';
    assert.equal((await run([`${lf}\nbody`], { maxHeaderSize: lf.length })).guard.rejection(), undefined, 'bare LF line ends');
    assert.equal((await run([`${lf}\nbody`], { maxHeaderSize: lf.length - 1 })).guard.rejection()?.code, 552, 'bare LF line ends');
    const cr = 'Subject: x\rX-A: 12345\r';
    assert.equal((await run([`${cr}\rbody`], { maxHeaderSize: cr.length })).guard.rejection(), undefined, 'bare CR line ends');
    assert.equal((await run([`${cr}\rbody`], { maxHeaderSize: cr.length - 1 })).guard.rejection()?.code, 552, 'bare CR line ends');
    assert.equal((await run([`${'H: v\r\n'.repeat(100)}\r\n${'b'.repeat(10_000)}`], { maxHeaderSize: 600 })).guard.rejection(), undefined, 'the body does not count');
    assert.equal((await run([`H: ${'v'.repeat(5000)}`], { maxHeaderSize: 600 })).guard.rejection()?.code, 552, 'an endless first line');
    assert.equal((await run([`${'H: v\r\n'.repeat(200)}\r\nbody`], { maxHeaderSize: 600 })).guard.rejection()?.code, 552, 'header and body in one chunk');
  });

  it('refuses past the session remainder with a temporary 452', async () => {
    assert.equal((await run(['x'.repeat(50)], { sessionRemaining: 50 })).guard.rejection(), undefined);
    assert.equal((await run(['x'.repeat(51)], { sessionRemaining: 50 })).guard.rejection()?.code, 452);
  });

  it('removes NUL bytes', async () => {
    const { out } = await run(['a\0b\r\n\0.\r\n', Buffer.from([0, 0, 0x41])], {});
    assert.equal(out.toString('latin1'), 'ab\r\n.\r\nA');
  });
});
