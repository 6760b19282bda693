import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, it } from 'node:test';
import { MissingHeaders } from '../../src/smtp/missing-headers.js';

async function complete(chunks: string[], limit = 1024): Promise<string> {
  const completer = new MissingHeaders({ limit, messageId: () => '<id@relay.test>', date: () => 'Tue, 1 Dec 2026 10:00:00 +0000' });
  return (await buffer(Readable.from(chunks.map((c) => Buffer.from(c))).pipe(completer))).toString();
}

describe('MissingHeaders', () => {
  it('adds what is missing at the end of the header block, wherever the chunks split it', async () => {
    const added = 'Message-ID: <id@relay.test>\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n';
    assert.equal(await complete(['Subject: a\r\n\r\nbody\r\n']), `Subject: a\r\n${added}\r\nbody\r\n`);
    assert.equal(await complete(['Subject: a\r', '\n\r', '\nbo', 'dy\r\n']), `Subject: a\r\n${added}\r\nbody\r\n`);
    assert.equal(await complete(['Subject: a\n\nbody\n']), `Subject: a\n${added}\nbody\n`);
    assert.equal(await complete(['\r\nbody only\r\n']), `${added}\r\nbody only\r\n`);
    assert.equal(await complete(['Subject: headers only']), `Subject: headers only\r\n${added}`);
  });

  it('leaves present fields alone (any case) and adds only the other one', async () => {
    assert.equal(await complete(['message-id: <x@y>\r\nDATE: Mon, 30 Nov 2026 00:00:00 +0000\r\n\r\nb\r\n']), 'message-id: <x@y>\r\nDATE: Mon, 30 Nov 2026 00:00:00 +0000\r\n\r\nb\r\n');
    assert.equal(await complete(['Message-ID: <x@y>\r\n\r\nb\r\n']), 'Message-ID: <x@y>\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n\r\nb\r\n');
    assert.equal(await complete(['X-Note: the Date: is later\r\nMessage-ID: <x@y>\r\n\r\nDate: in the body\r\n']), 'X-Note: the Date: is later\r\nMessage-ID: <x@y>\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n\r\nDate: in the body\r\n');
  });

  it('passes a header block longer than its limit on untouched', async () => {
    const long = `X-Long: ${'a'.repeat(2000)}\r\n\r\nb\r\n`;
    assert.equal(await complete([long.slice(0, 1500), long.slice(1500)], 1024), long);
  });
});
