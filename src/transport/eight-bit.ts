// Whether a message has bytes above 127, in its header block or anywhere: read from the spool file when a
// smart host lacks 8BITMIME or SMTPUTF8, so only the messages that really need the extension are returned.
import type { Readable } from 'node:stream';

const HEADER_END = Buffer.from('\r\n\r\n');

export async function hasEightBitData(body: Readable, where: 'header' | 'all'): Promise<boolean> {
  let tail = Buffer.alloc(0);
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      // In 'header' mode, look only up to the first empty line (which may span two chunks).
      let scan = chunk;
      if (where === 'header') {
        const joined = Buffer.concat([tail, chunk]);
        const end = joined.indexOf(HEADER_END);
        if (end !== -1) scan = joined.subarray(tail.length > end ? end : tail.length, end);
        for (const byte of scan) if (byte >= 0x80) return true;
        if (end !== -1) return false;
        tail = joined.subarray(Math.max(0, joined.length - 3));
        continue;
      }
      for (const byte of scan) if (byte >= 0x80) return true;
    }
    return false;
  } finally {
    body.destroy();
  }
}
