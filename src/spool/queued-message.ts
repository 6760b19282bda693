// A message read from Queue, and the stream of its bytes after the envelope lines.
import type { Readable } from 'node:stream';
import { bufferStream } from '../util/buffer-stream.js';
import type { Envelope } from './eml-format.js';
import { untrustedStream } from './untrusted-file.js';

export interface QueuedMessage {
  name: string;
  id: string;
  path: string;
  envelope: Envelope;
  bodyOffset: number;
  size: number;
  /** File identity when read: a different file moved in under the same name is not this message. */
  ino: number;
  /** The start of the message as read with the envelope lines, and whether it is the whole message. */
  peek?: { bytes: Buffer; complete: boolean } | undefined;
}

/**
 * The message bytes after the envelope lines: the bytes read with them when that was the whole message (most
 * are), else streamed from disk, in reads sized to the message (64 KB at most): each read allocates a buffer
 * of the full high-water mark, so a fixed 64 KB would make mostly garbage for a small message.
 */
export function openBody(message: QueuedMessage): Readable {
  // Usually the read that found the envelope lines got the whole message: no second read of the file.
  if (message.peek?.complete) return bufferStream(message.peek.bytes);
  const highWaterMark = Math.min(64 * 1024, Math.max(1024, message.size - message.bodyOffset + 1));
  return untrustedStream(message.path, message.bodyOffset, highWaterMark, message.ino);
}
