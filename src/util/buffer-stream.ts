// A readable stream of one buffer, for code that takes a message as a stream when its bytes are already in memory.
import { Readable } from 'node:stream';

export function bufferStream(bytes: Buffer): Readable {
  return new Readable({
    read() {
      this.push(bytes);
      this.push(null);
    },
  });
}
