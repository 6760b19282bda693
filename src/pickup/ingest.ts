// One claimed Pickup file into Queue: read its head, work out the envelope, then stream the file through the
// spool with the header changes applied. Says what happened; the caller moves the claimed file accordingly.
//
// Two kinds of file:
// - mailroot's own (Queue, Badmail, Drop files moved into Pickup; see isMailrootFile): already a finished
//   message. Its envelope lines are the envelope and the rest is kept byte for byte (no dot removal, no header
//   removed), under this hop's Received: line. The NUL guard and line-ending normalisation still apply: the
//   marks of a mailroot file can be forged by any writer.
// - anything else: line endings made CRLF, leading dots removed when pickupDotStuffed, envelope from the
//   X-Sender/X-Receiver lines or the headers, Bcc: removed, Message-ID:/Date: added when missing, and a
//   "Received: from mail pickup service" line on top.
import { pipeline, type Readable, type Transform } from 'node:stream';
import { rfc5322Date } from '../mail/rfc5322-date.js';
import { CrlfNormalizer } from '../mail/crlf.js';
import { failure, ok, type Result } from '../result.js';
import { ENVELOPE_LINES_PER_TURN, isMailrootFile, newEnvelopeParseState, parseEnvelopeHead, type Envelope, type ParsedHead } from '../spool/eml-format.js';
import { closeUntrusted, fdStream, openUntrusted, readFromFd, UntrustedFileError, type UntrustedFile } from '../spool/untrusted-file.js';
import { MessageRejectedError, newMessageId, SpoolWriteError, type PickupClaim, type Spool } from '../spool/spool.js';
import { bufferStream } from '../util/buffer-stream.js';
import { errorCode } from '../util/error-code.js';
import { envelopeOf, findHeaderEnd, pickupReceivedLine, rewriteHeaders, splitHeaderFields, type HeaderEnd } from './headers.js';
import { DotUnstuffer, FileChangedError, NulGuard, ReplacePrefix, SizeGuard } from './transforms.js';

export interface IngestContext {
  spool: Spool;
  hostname: string;
  maxMessageSize: number;
  dotStuffed: boolean;
  /** pickupMaxRecipients: a file listing more goes to Badmail. */
  maxRecipients: number;
}

export type IngestOutcome =
  | { kind: 'queued'; id: string; envelope: Envelope; size: number; mailrootFile: boolean }
  /**
   * Not a message mailroot can send: the file goes to Badmail with this reason. `refused`: not read at all (a
   * link, a pipe): only the reason goes to Badmail, and the name is removed, whatever it pointed at left alone.
   */
  | { kind: 'bad'; reason: string; envelope?: Envelope; refused?: boolean }
  /** Nothing is wrong with the file that time will not fix: put it back in Pickup. `spool`: the spool failed. */
  | { kind: 'retry'; reason: string; spool: boolean }
  /** The claimed file disappeared. */
  | { kind: 'gone' };

/** Envelope lines plus header section longer than this are refused (Postfix allows 100 KB of headers). */
const MAX_HEAD_BYTES = 8 * 1024 * 1024;
const CHUNK = 64 * 1024;
/** Headers are usually a few KB: read the head in smaller steps. */
const HEAD_CHUNK = 16 * 1024;
/**
 * A file up to this size is read once, whole, and both passes (head, then message) run over those bytes: two
 * file streams per file, their reads and the errors thrown when the head pass stopped early cost more main-thread
 * time than the message itself.
 */
const WHOLE_FILE_LIMIT = 256 * 1024;
/** Errors reading a file that may pass: try again later rather than give up on the message. */
const TRANSIENT_READ_CODES = new Set(['EBUSY', 'EMFILE', 'ENFILE', 'EAGAIN', 'EINTR', 'EIO']);

/** Joins a file stream and transforms; an error anywhere reaches the returned (last) stream. */
function chain(source: Readable, transforms: Transform[]): Readable {
  if (transforms.length === 0) return source;
  return pipeline([source, ...transforms], () => undefined) as unknown as Readable;
}

/** Resolves once the stream is closed. Not once(): that rejects on the 'error' a failed pipeline emits first. */
async function closed(stream: Readable): Promise<void> {
  if (!stream.closed) await new Promise<void>((resolve) => stream.once('close', () => resolve()));
}

function normalizing(dots: boolean): Transform[] {
  return dots ? [new CrlfNormalizer(), new DotUnstuffer()] : [new CrlfNormalizer()];
}

interface Head {
  /** The start of the file as the message stream will see it (CRLF, dots removed when asked). */
  data: Buffer;
  head: ParsedHead;
  headerEnd: HeaderEnd;
  complete: boolean;
}

/**
 * Reads just enough of the file for its envelope lines and header section. The bytes gather in one buffer that
 * doubles as needed, and the search resumes where it stopped: a big file without a blank line costs O(n).
 */
async function readHead(file: FileBytes, dots: boolean, maxRecipients: number): Promise<Result<Head>> {
  const source = file.open(HEAD_CHUNK);
  const stream = chain(source, normalizing(dots));
  let buffer = Buffer.alloc(0);
  let length = 0;
  let envelope: ParsedHead | undefined;
  let searchFrom = 0;
  const progress = newEnvelopeParseState(ENVELOPE_LINES_PER_TURN);
  const analyse = async (complete: boolean): Promise<Result<Head> | 'need-more'> => {
    const data = buffer.subarray(0, length);
    if (!envelope) {
      let parsed = parseEnvelopeHead(data, complete, progress);
      while (parsed === 'need-more' && progress.paused) {
        // Past the cap there is nothing more to learn: the file goes to Badmail, its other lines unread.
        if (progress.recipients.length > maxRecipients) return failure(tooMany(progress.recipients.length, maxRecipients, true));
        await new Promise((resolve) => setImmediate(resolve)); // a long head is parsed a few hundred lines a turn
        parsed = parseEnvelopeHead(data, complete, progress);
      }
      if (parsed === 'need-more') {
        if (progress.recipients.length > maxRecipients) return failure(tooMany(progress.recipients.length, maxRecipients, true));
        return 'need-more';
      }
      if (!parsed.ok) return parsed;
      envelope = parsed.value;
      searchFrom = envelope.bodyOffset;
    }
    const headerEnd = findHeaderEnd(data, envelope.bodyOffset, complete, searchFrom);
    if (headerEnd === 'need-more') {
      searchFrom = Math.max(envelope.bodyOffset, length - 3);
      return 'need-more';
    }
    return ok({ data, head: envelope, headerEnd, complete });
  };
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (length + chunk.length > buffer.length) {
        const grown = Buffer.allocUnsafe(Math.max(buffer.length * 2, length + chunk.length, HEAD_CHUNK));
        buffer.copy(grown, 0, 0, length);
        buffer = grown;
      }
      chunk.copy(buffer, length);
      length += chunk.length;
      if (!file.whole && chunk.includes(0x0a)) {
        // Only a new line end can complete a line, a header section or the envelope lines. (A file read whole
        // is passed to the end, so that no stream is cut short.)
        const result = await analyse(false);
        if (result !== 'need-more') return result;
      }
      if (length > MAX_HEAD_BYTES) return failure(`no end to the envelope lines and headers in the first ${MAX_HEAD_BYTES} bytes`);
    }
    const result = await analyse(true);
    return result === 'need-more' ? failure('unreadable head') : result;
  } finally {
    stream.destroy();
    source.destroy();
    await closed(source);
  }
}

function tooMany(count: number, max: number, atLeast: boolean): string {
  return `${atLeast ? 'at least ' : ''}${count} recipients, more than pickupMaxRecipients (${max}) allows for one file`;
}

export async function ingest(claim: PickupClaim, ctx: IngestContext): Promise<IngestOutcome> {
  try {
    return await ingestFile(claim, ctx);
  } catch (err) {
    const code = errorCode(err);
    if (code === 'ENOENT') return { kind: 'gone' };
    if (code !== undefined && TRANSIENT_READ_CODES.has(code)) return { kind: 'retry', reason: (err as Error).message, spool: false };
    if (code !== undefined) return { kind: 'bad', reason: `cannot read the file: ${(err as Error).message}` };
    throw err;
  }
}

/** The claimed file's bytes as streams: from memory when it was small enough to read whole. */
interface FileBytes {
  whole: boolean;
  open(chunkSize: number): Readable;
}

/** Every byte comes from the one descriptor opened by openUntrusted: the path is never opened again. */
async function fileBytes(opened: UntrustedFile, file: string): Promise<FileBytes> {
  const size = opened.stats.size;
  const bytes = size <= WHOLE_FILE_LIMIT ? await readWhole(opened.fd, size) : undefined;
  if (bytes) return { whole: true, open: () => bufferStream(bytes) };
  return { whole: false, open: (chunkSize) => fdStream(opened.fd, file, 0, chunkSize) };
}

/** The whole file, or undefined when it is longer than `size` (it grew since it was measured). */
async function readWhole(fd: number, size: number): Promise<Buffer | undefined> {
  const bytes = await readFromFd(fd, 0, size + 1);
  return bytes.length > size ? undefined : bytes;
}

async function ingestFile(claim: PickupClaim, ctx: IngestContext): Promise<IngestOutcome> {
  let opened: UntrustedFile;
  try {
    opened = await openUntrusted(claim.path);
  } catch (err) {
    if (err instanceof UntrustedFileError) return { kind: 'bad', reason: err.message, refused: true };
    throw err;
  }
  try {
    return await ingestOpened(opened, claim, ctx);
  } finally {
    await closeUntrusted(opened.fd);
  }
}

async function ingestOpened(opened: UntrustedFile, claim: PickupClaim, ctx: IngestContext): Promise<IngestOutcome> {
  const size = opened.stats.size;
  if (size === 0) return { kind: 'bad', reason: 'the file is empty' };
  const file = await fileBytes(opened, claim.path);
  const read = await readHead(file, ctx.dotStuffed, ctx.maxRecipients);
  if (!read.ok) return { kind: 'bad', reason: read.reason };
  const { data, head, headerEnd } = read.value;

  // Before anything else, mailroot's own files included: what marks a file as mailroot's own can be forged.
  if (data.includes(0)) return { kind: 'bad', reason: 'binary file: it holds NUL bytes, not a mail message' };
  const mailrootFile = isMailrootFile(data, head);
  let envelope: Envelope;
  let expected: Buffer;
  let replacement: Buffer = Buffer.alloc(0);
  if (mailrootFile) {
    envelope = { sender: head.sender!, recipients: head.recipients, ...(head.params ? { params: head.params } : {}) };
    expected = data.subarray(0, head.bodyOffset);
  } else {
    if (head.bodyOffset >= data.length) return { kind: 'bad', reason: 'no message: the file holds envelope lines only' };
    const fields = splitHeaderFields(data.subarray(head.bodyOffset, headerEnd.end));
    if (fields[0] !== undefined && fields[0].name === undefined) {
      return { kind: 'bad', reason: `not a mail message: it does not start with a header field (${JSON.stringify(fields[0].value.slice(0, 40))})` };
    }
    const derived = envelopeOf(head, fields);
    if (!derived.ok) return { kind: 'bad', reason: derived.reason };
    envelope = derived.value;
    expected = data.subarray(0, headerEnd.end);
    replacement = rewriteHeaders(fields, {
      messageId: () => `<${newMessageId()}@${ctx.hostname}>`,
      date: () => rfc5322Date(),
    });
  }
  if (envelope.recipients.length > ctx.maxRecipients) {
    return { kind: 'bad', reason: tooMany(envelope.recipients.length, ctx.maxRecipients, false), envelope: { sender: envelope.sender, recipients: [] } };
  }
  const messageSize = size - head.bodyOffset;
  if (messageSize > ctx.maxMessageSize) {
    return { kind: 'bad', reason: `the message is ${messageSize} bytes, larger than maxMessageSize (${ctx.maxMessageSize} bytes)`, envelope };
  }

  const source = file.open(CHUNK);
  const steps = mailrootFile
    ? [new CrlfNormalizer(), new ReplacePrefix(expected, replacement), new NulGuard(), new SizeGuard(ctx.maxMessageSize)]
    : [...normalizing(ctx.dotStuffed), new ReplacePrefix(expected, replacement), new NulGuard(), new SizeGuard(ctx.maxMessageSize)];
  const body = chain(source, steps);
  try {
    const date = rfc5322Date();
    // Every file that comes through Pickup gets this hop's trace line, mailroot's own files too: a writer can
    // forge the "(mailroot)" line that marks them, so it must not buy a message out of its trace.
    const queued = await ctx.spool.accept(envelope, body, { prefix: (id) => pickupReceivedLine(ctx.hostname, id, date) });
    return { kind: 'queued', id: queued.id, envelope, size: queued.size, mailrootFile };
  } catch (err) {
    if (err instanceof MessageRejectedError) return { kind: 'bad', reason: err.message, envelope };
    if (!(err instanceof SpoolWriteError)) throw err;
    const cause = err.cause as NodeJS.ErrnoException | undefined;
    if (cause instanceof FileChangedError) return { kind: 'retry', reason: cause.message, spool: false };
    if (cause?.path === claim.path) throw cause; // reading the Pickup file failed, not writing the spool
    return { kind: 'retry', reason: err.message, spool: true };
  } finally {
    body.destroy();
    source.destroy();
    await closed(source);
  }
}
