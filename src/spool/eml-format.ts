// The .eml file format shared by Queue, Drop, Badmail and Pickup (IIS pickup format):
//
//   X-Sender: <reverse-path>
//   X-Receiver: <forward-path>        (one line per recipient)
//   <the message as received>
//
// This module is the only one that reads or writes those envelope lines.
import { closeFile, fstatFile, openExisting, readAt } from './file-ops.js';

export interface Envelope {
  /** The reverse-path without brackets; '' is the null sender <>. */
  sender: string;
  recipients: string[];
}

export interface ParsedHead {
  /** undefined when the head had no X-Sender line (a pickup file may rely on From:/Sender: instead). */
  sender: string | undefined;
  recipients: string[];
  /** Byte offset of the first message byte after the envelope lines. */
  bodyOffset: number;
}

export type HeadResult = { ok: true; head: ParsedHead } | { ok: false; reason: string };

/** Characters that never belong in an envelope address; they would let a file inject SMTP commands. */
const FORBIDDEN_IN_ADDRESS = /[\x00-\x20<>\x7f]/;

export function isValidEnvelopeAddress(address: string): boolean {
  return !FORBIDDEN_IN_ADDRESS.test(address) && address.length <= 512;
}

export function formatEnvelopeHead(envelope: Envelope): Buffer {
  const lines = [`X-Sender: <${envelope.sender}>\r\n`];
  for (const recipient of envelope.recipients) lines.push(`X-Receiver: <${recipient}>\r\n`);
  return Buffer.from(lines.join(''), 'utf8');
}

/**
 * The address in an X-Sender/X-Receiver value: `<a@b>`, `a@b`, `"Name" <a@b>`, `Name <a@b>`, `"Name" a@b`, each
 * possibly followed by parameters (Exchange appends `NOTIFY=...`), which are ignored.
 */
export function addressFromEnvelopeValue(value: string): string | undefined {
  let text = value.trim();
  // A quoted display name, when a space or '<' follows it (otherwise it is a quoted local part: "a b"@c).
  const quotedName = /^"(?:[^"\\]|\\.)*"(?=[\s<])\s*/.exec(text);
  if (quotedName) text = text.slice(quotedName[0].length);
  const first = text.split(/\s+/)[0] ?? '';
  if (first.includes('@') && !first.includes('<')) return first; // a bare address, then parameters
  const bracketed = /<([^<>]*)>/.exec(text);
  if (bracketed) return bracketed[1]!.trim();
  return first === '' ? undefined : first;
}

const ENVELOPE_LINE = /^(x-sender|x-receiver)[ \t]*:(.*)$/i;

/**
 * Parses the envelope lines at the top of a file. `data` must hold at least the whole head; `complete` says
 * whether it is the whole file (otherwise a head that runs to the end of `data` is reported as too long).
 * A value may be folded onto continuation lines (System.Net.Mail folds a long `"Name" <address>`).
 */
export function parseEnvelopeHead(data: Buffer, complete: boolean): HeadResult | 'need-more' {
  let offset = 0;
  let sender: string | undefined;
  const recipients: string[] = [];
  let lineNumber = 0;
  for (;;) {
    const newline = data.indexOf(0x0a, offset);
    if (newline === -1) {
      if (!complete) return 'need-more';
      // A file that is nothing but envelope lines has an empty message.
      if (offset < data.length && ENVELOPE_LINE.test(data.subarray(offset).toString('latin1'))) {
        return { ok: false, reason: 'the file holds envelope lines but no message' };
      }
      break;
    }
    const line = data.subarray(offset, newline).toString('utf8').replace(/\r$/, '');
    const match = ENVELOPE_LINE.exec(line);
    if (!match) break;
    lineNumber++;
    let value = match[2]!;
    let end = newline + 1;
    while (end < data.length && (data[end] === 0x20 || data[end] === 0x09)) {
      const next = data.indexOf(0x0a, end);
      if (next === -1) {
        if (!complete) return 'need-more';
        return { ok: false, reason: 'the file holds envelope lines but no message' };
      }
      value += data.subarray(end, next).toString('utf8').replace(/\r$/, '');
      end = next + 1;
    }
    if (end >= data.length && !complete) return 'need-more'; // a continuation line may follow
    const address = addressFromEnvelopeValue(value);
    const field = match[1]!.toLowerCase() === 'x-sender' ? 'X-Sender' : 'X-Receiver';
    if (address === undefined) return { ok: false, reason: `line ${lineNumber}: ${field} has no address` };
    if (!isValidEnvelopeAddress(address)) {
      return { ok: false, reason: `line ${lineNumber}: ${field} address ${JSON.stringify(address)} has characters not allowed in an address` };
    }
    if (field === 'X-Sender') {
      sender ??= address; // .NET puts an application-supplied X-Sender after its own; the first one wins
    } else {
      if (address === '') return { ok: false, reason: `line ${lineNumber}: X-Receiver is empty` };
      if (!recipients.includes(address)) recipients.push(address);
    }
    offset = end;
  }
  return { ok: true, head: { sender, recipients, bodyOffset: offset } };
}

/**
 * Whether `data` (the start of a file, parsed into `head`) is a file mailroot wrote itself (Queue, Badmail, Drop):
 * envelope lines exactly as formatEnvelopeHead writes them, then mailroot's own trace line, a `Received:` field
 * carrying "(mailroot)" (smtp/received-header.ts and pickup/headers.ts write it). Such a file is already a
 * finished message: Pickup sends it on byte for byte, whatever its dot setting.
 */
export function isMailrootFile(data: Buffer, head: ParsedHead): boolean {
  if (head.sender === undefined || head.recipients.length === 0) return false;
  const envelope = formatEnvelopeHead({ sender: head.sender, recipients: head.recipients });
  if (head.bodyOffset !== envelope.length || !data.subarray(0, envelope.length).equals(envelope)) return false;
  const start = data.subarray(head.bodyOffset, head.bodyOffset + 4096).toString('latin1');
  const received = /^Received:[^\r\n]*(?:\r\n[ \t][^\r\n]*)*/.exec(start);
  return received !== null && received[0].includes('(mailroot)');
}

const READ_CHUNK = 64 * 1024;
/** A head longer than this is not an envelope: 10 000 recipients fit easily. */
const MAX_HEAD_BYTES = 4 * 1024 * 1024;

/** Reads only as much of the file as the envelope lines need. */
export interface HeadRead {
  size?: number;
  ino?: number;
  /** The message bytes read past the envelope lines (often the whole message), and whether that is all of it. */
  peek?: Buffer;
  peekComplete?: boolean;
}

export async function readEnvelopeHead(file: string): Promise<HeadResult & HeadRead> {
  const fd = await openExisting(file);
  try {
    const stats = await fstatFile(fd);
    const { size, ino } = stats;
    // Windows opens a folder like a file (and reads nothing from it): name it as POSIX's read() does.
    if (stats.isDirectory()) throw Object.assign(new Error(`EISDIR: a folder, ${file}`), { code: 'EISDIR' });
    let buffer = Buffer.alloc(0);
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(READ_CHUNK, Math.max(0, size - buffer.length)));
      const bytesRead = chunk.length > 0 ? await readAt(fd, chunk, 0, chunk.length, buffer.length) : 0;
      buffer = buffer.length === 0 ? chunk.subarray(0, bytesRead) : Buffer.concat([buffer, chunk.subarray(0, bytesRead)]);
      const complete = bytesRead === 0 || buffer.length >= size;
      const result = parseEnvelopeHead(buffer, complete);
      if (result !== 'need-more') {
        const peek = result.ok ? buffer.subarray(result.head.bodyOffset) : undefined;
        return { ...result, size, ino, peek, peekComplete: complete };
      }
      if (buffer.length > MAX_HEAD_BYTES) return { ok: false, reason: 'the envelope lines are longer than 4 MB', size, ino };
    }
  } finally {
    await closeFile(fd);
  }
}

/** A queued message must carry an X-Sender line and at least one X-Receiver line. */
export function envelopeOf(head: ParsedHead): Envelope | string {
  if (head.sender === undefined) return 'no X-Sender line at the top of the file';
  if (head.recipients.length === 0) return 'no X-Receiver line at the top of the file';
  return { sender: head.sender, recipients: head.recipients };
}
