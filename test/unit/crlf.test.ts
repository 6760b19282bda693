import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { CrlfNormalizer } from '../../src/mail/crlf.js';

/** The rule, byte by byte: CRLF stays, a lone CR or a lone LF becomes CRLF. */
function reference(input: Buffer): Buffer {
  const out: number[] = [];
  for (let i = 0; i < input.length; i++) {
    const byte = input[i]!;
    if (byte === 0x0d) {
      out.push(0x0d, 0x0a);
      if (input[i + 1] === 0x0a) i++;
    } else if (byte === 0x0a) {
      out.push(0x0d, 0x0a);
    } else {
      out.push(byte);
    }
  }
  return Buffer.from(out);
}

async function normalize(chunks: Buffer[]): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const chunk of Readable.from(chunks, { objectMode: false }).pipe(new CrlfNormalizer())) out.push(chunk as Buffer);
  return Buffer.concat(out);
}

/** A deterministic pseudo-random generator, so a failure can be replayed. */
function random(seed: number): () => number {
  return () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
}

describe('CrlfNormalizer', () => {
  it('handles the edge cases across chunk boundaries', async () => {
    assert.equal((await normalize([Buffer.from('a\r'), Buffer.from('\nb')])).toString(), 'a\r\nb');
    assert.equal((await normalize([Buffer.from('a\r'), Buffer.from('b')])).toString(), 'a\r\nb');
    assert.equal((await normalize([Buffer.from('a\r')])).toString(), 'a\r\n');
    assert.equal((await normalize([Buffer.from('\n\r\r\n\n')])).toString(), '\r\n\r\n\r\n\r\n');
    assert.equal((await normalize([Buffer.from('a\r'), Buffer.alloc(0), Buffer.from('\n')])).toString(), 'a\r\n');
    const unchanged = Buffer.from('x\r\ny\r\n');
    assert.equal((await normalize([unchanged])).toString(), 'x\r\ny\r\n');
  });

  it('matches the byte-by-byte rule on random text split at random places', async () => {
    const next = random(42);
    const alphabet = ['\r', '\n', '\r\n', 'a', 'b', '.', ' '];
    for (let round = 0; round < 300; round++) {
      const input = Buffer.from(Array.from({ length: Math.floor(next() * 60) }, () => alphabet[Math.floor(next() * alphabet.length)]).join(''));
      const chunks: Buffer[] = [];
      for (let at = 0; at < input.length; ) {
        const size = 1 + Math.floor(next() * 8);
        chunks.push(input.subarray(at, at + size));
        at += size;
      }
      assert.deepEqual(await normalize(chunks), reference(input), JSON.stringify(input.toString()));
    }
  });
});
