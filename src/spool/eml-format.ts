// The .eml file format shared by Queue, Drop, Badmail and Pickup (IIS pickup format):
//
//   X-Sender: <reverse-path>
//   X-Receiver: <forward-path>        (one line per recipient)
//   <the message as received>
//
// SMTP transaction parameters that must stay with the message (RFC 3461 DSN, RFC 6152 BODY, RFC 6531 SMTPUTF8)
// follow the address on the same line, as Exchange writes them in its Pickup/Replay files:
//
//   X-Sender: <a@example.com> RET=HDRS; ENVID=QQ314159; BODY=8BITMIME; SMTPUTF8
//   X-Receiver: <b@example.net> NOTIFY=SUCCESS,FAILURE; ORCPT=rfc822;b@example.net
//
// Values are xtext (RFC 3461 4), so they never hold a space, ';' aside. A message without parameters has lines
// byte for byte as before, and readers that take the first address on the line and ignore what follows (our
// Pickup, Exchange's) read both.
//
// This module is the only one that reads or writes those envelope lines.
import { failure, ok, type Result } from '../result.js';
import { closeUntrusted, openUntrusted, readFromFd } from './untrusted-file.js';

export interface Envelope {
  /** The reverse-path without brackets; '' is the null sender <>. */
  sender: string;
  recipients: string[];
  /** The transaction's parameters, when it had any; see EnvelopeParams. */
  params?: EnvelopeParams | undefined;
}

export type NotifyOn = 'SUCCESS' | 'FAILURE' | 'DELAY';

/** RCPT TO parameters (RFC 3461 4.1, 4.2). */
export interface RecipientParams {
  /** NOTIFY=: [] is NEVER; undefined is no NOTIFY (failure and delay notices, as if FAILURE,DELAY). */
  notify?: NotifyOn[] | undefined;
  /** ORCPT= decoded: "rfc822;a@b" (address type, ';', the original address). */
  orcpt?: string | undefined;
}

/** MAIL FROM parameters, and the RCPT TO parameters by recipient (keyed by the recipient as in `recipients`). */
export interface EnvelopeParams {
  ret?: 'FULL' | 'HDRS' | undefined;
  envid?: string | undefined;
  /** BODY=8BITMIME: the message has 8-bit bytes (RFC 6152). */
  body8bit?: boolean | undefined;
  /** SMTPUTF8: an address or a header field is UTF-8 (RFC 6531). */
  smtputf8?: boolean | undefined;
  recipients?: Record<string, RecipientParams> | undefined;
}

export interface ParsedHead {
  /** undefined when the head had no X-Sender line (a pickup file may rely on From:/Sender: instead). */
  sender: string | undefined;
  recipients: string[];
  /** Byte offset of the first message byte after the envelope lines. */
  bodyOffset: number;
  /** Parameters after the addresses, when any line had some mailroot knows (see EnvelopeParams). */
  params?: EnvelopeParams;
}

/** Characters that never belong in an envelope address; they would let a file inject SMTP commands. */
const FORBIDDEN_IN_ADDRESS = /[\x00-\x20<>\x7f]/;

/** A quoted local part (RFC 5321 4.1.2 Quoted-string): printable ASCII, spaces included, or UTF-8 (RFC 6531). */
const QUOTED_LOCAL_PART = /^"(?:[^"\\\x00-\x1f\x7f<>]|\\[\x20-\x3b\x3d\x3f-\x7e])*"(?=@)/;

export function isValidEnvelopeAddress(address: string): boolean {
  if (address.length > 512) return false;
  const quoted = QUOTED_LOCAL_PART.exec(address);
  return !FORBIDDEN_IN_ADDRESS.test(quoted ? address.slice(quoted[0].length) : address);
}

export function formatEnvelopeHead(envelope: Envelope): Buffer {
  const params = envelope.params;
  const lines = [`X-Sender: <${envelope.sender}>${withParams(senderParams(params))}\r\n`];
  for (const recipient of envelope.recipients) {
    lines.push(`X-Receiver: <${recipient}>${withParams(recipientParams(params?.recipients?.[recipient]))}\r\n`);
  }
  return Buffer.from(lines.join(''), 'utf8');
}

function withParams(params: string[]): string {
  return params.length === 0 ? '' : ` ${params.join('; ')}`;
}

function senderParams(params: EnvelopeParams | undefined): string[] {
  if (!params) return [];
  const out: string[] = [];
  if (params.ret) out.push(`RET=${params.ret}`);
  if (params.envid !== undefined) out.push(`ENVID=${encodeXtext(params.envid)}`);
  if (params.body8bit) out.push('BODY=8BITMIME');
  if (params.smtputf8) out.push('SMTPUTF8');
  return out;
}

function recipientParams(params: RecipientParams | undefined): string[] {
  if (!params) return [];
  const out: string[] = [];
  if (params.notify) out.push(`NOTIFY=${params.notify.length === 0 ? 'NEVER' : params.notify.join(',')}`);
  if (params.orcpt !== undefined) out.push(`ORCPT=${encodeXtext(params.orcpt)}`);
  return out;
}

/** RFC 3461 4: bytes outside '!'..'~', and '+' and '=', as "+HH" (of the UTF-8 bytes). */
export function encodeXtext(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    out += byte >= 0x21 && byte <= 0x7e && byte !== 0x2b && byte !== 0x3d ? String.fromCharCode(byte) : `+${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function decodeXtext(value: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const hex = value[i] === '+' ? /^[0-9A-Fa-f]{2}$/.exec(value.slice(i + 1, i + 3)) : null;
    if (hex) {
      bytes.push(parseInt(hex[0], 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(value[i]!, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

const NOTIFY_VALUES = new Set(['SUCCESS', 'FAILURE', 'DELAY']);

/** NOTIFY's value: NEVER is [], an unknown word makes it undefined (the default applies). */
export function parseNotify(value: string): NotifyOn[] | undefined {
  const words = value.toUpperCase().split(',');
  if (words.length === 1 && words[0] === 'NEVER') return [];
  return words.every((w) => NOTIFY_VALUES.has(w)) ? (words as NotifyOn[]) : undefined;
}

/** The KEY=value words after the address on an envelope line; words mailroot does not know are ignored. */
function lineParams(value: string): Map<string, string | true> {
  const params = new Map<string, string | true>();
  const text = value.trim().replace(/^"(?:[^"\\]|\\.)*"(?=[\s<])\s*/, '');
  const close = text.indexOf('>');
  const rest = close !== -1 ? text.slice(close + 1) : text.split(/\s+/).slice(1).join(' ');
  for (const raw of rest.split(/\s+/)) {
    const word = raw.replace(/;$/, '');
    if (word === '') continue;
    const eq = word.indexOf('=');
    if (eq === -1) params.set(word.toUpperCase(), true);
    else params.set(word.slice(0, eq).toUpperCase(), word.slice(eq + 1));
  }
  return params;
}

function applySenderParams(value: string, into: EnvelopeParams): void {
  const params = lineParams(value);
  const ret = params.get('RET');
  if (typeof ret === 'string' && /^(FULL|HDRS)$/i.test(ret)) into.ret = ret.toUpperCase() as 'FULL' | 'HDRS';
  const envid = params.get('ENVID');
  if (typeof envid === 'string') into.envid = decodeXtext(envid);
  const body = params.get('BODY');
  if (typeof body === 'string' && body.toUpperCase() === '8BITMIME') into.body8bit = true;
  if (params.get('SMTPUTF8') === true) into.smtputf8 = true;
}

function recipientParamsOf(value: string): RecipientParams | undefined {
  const params = lineParams(value);
  const out: RecipientParams = {};
  const notify = params.get('NOTIFY');
  if (typeof notify === 'string') out.notify = parseNotify(notify);
  const orcpt = params.get('ORCPT');
  if (typeof orcpt === 'string' && orcpt.includes(';')) out.orcpt = decodeXtext(orcpt);
  return out.notify !== undefined || out.orcpt !== undefined ? out : undefined;
}

function hasParams(params: EnvelopeParams): boolean {
  return Object.values(params).some((v) => v !== undefined);
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
 * Where a parse of the envelope lines stopped for want of data. Passing the same object again with more data
 * (the same bytes, extended) resumes at the line it stopped at: a long head read in chunks is parsed once, not
 * from byte 0 after every chunk.
 */
export interface EnvelopeParseState {
  offset: number;
  sender: string | undefined;
  recipients: string[];
  /** The recipients so far, for de-duplication in O(1). */
  seen: Set<string>;
  /** Parameters read so far from X-Sender and X-Receiver lines. */
  params: EnvelopeParams;
  lineNumber: number;
  /**
   * Lines parsed per call at most (undefined: no limit). When it runs out the call returns 'need-more' with
   * `paused` set: the caller yields to the event loop and calls again with the same data. 40 000 envelope lines
   * in one call held the event loop for a second on a busy machine.
   */
  budget?: number | undefined;
  paused: boolean;
}

export function newEnvelopeParseState(budget?: number): EnvelopeParseState {
  return { offset: 0, sender: undefined, recipients: [], seen: new Set(), params: {}, lineNumber: 0, budget, paused: false };
}

/** A budget for EnvelopeParseState: about a millisecond of parsing. */
export const ENVELOPE_LINES_PER_TURN = 500;

/**
 * Parses the envelope lines at the top of a file. `data` must hold at least the whole head; `complete` says
 * whether it is the whole file (otherwise a head that runs to the end of `data` is reported as too long).
 * A value may be folded onto continuation lines (System.Net.Mail folds a long `"Name" <address>`).
 * `resume`: see EnvelopeParseState.
 */
export function parseEnvelopeHead(data: Buffer, complete: boolean, resume: EnvelopeParseState = newEnvelopeParseState()): Result<ParsedHead> | 'need-more' {
  let offset = resume.offset;
  let sender = resume.sender;
  const { recipients, seen, params } = resume;
  let lineNumber = resume.lineNumber;
  let budget = resume.budget ?? Infinity;
  resume.paused = false;
  const needMore = (): 'need-more' => {
    resume.offset = offset;
    resume.sender = sender;
    resume.lineNumber = lineNumber;
    return 'need-more';
  };
  for (;;) {
    if (budget-- <= 0) {
      resume.paused = true;
      return needMore();
    }
    const newline = data.indexOf(0x0a, offset);
    if (newline === -1) {
      if (!complete) return needMore();
      // A file that is nothing but envelope lines has an empty message.
      if (offset < data.length && ENVELOPE_LINE.test(data.subarray(offset).toString('latin1'))) {
        return failure('the file holds envelope lines but no message');
      }
      break;
    }
    const line = data.subarray(offset, newline).toString('utf8').replace(/\r$/, '');
    const match = ENVELOPE_LINE.exec(line);
    if (!match) break;
    let value = match[2]!;
    let end = newline + 1;
    while (end < data.length && (data[end] === 0x20 || data[end] === 0x09)) {
      const next = data.indexOf(0x0a, end);
      if (next === -1) {
        if (!complete) return needMore();
        return failure('the file holds envelope lines but no message');
      }
      value += data.subarray(end, next).toString('utf8').replace(/\r$/, '');
      end = next + 1;
    }
    if (end >= data.length && !complete) return needMore(); // a continuation line may follow
    lineNumber++;
    const address = addressFromEnvelopeValue(value);
    const field = match[1]!.toLowerCase() === 'x-sender' ? 'X-Sender' : 'X-Receiver';
    if (address === undefined) return failure(`line ${lineNumber}: ${field} has no address`);
    if (!isValidEnvelopeAddress(address)) {
      return failure(`line ${lineNumber}: ${field} address ${JSON.stringify(address)} has characters not allowed in an address`);
    }
    if (field === 'X-Sender') {
      // .NET puts an application-supplied X-Sender after its own; the first one wins
      if (sender === undefined) applySenderParams(value, params);
      sender ??= address;
    } else {
      if (address === '') return failure(`line ${lineNumber}: X-Receiver is empty`);
      if (!seen.has(address)) {
        seen.add(address);
        recipients.push(address);
        const rcpt = recipientParamsOf(value);
        if (rcpt) (params.recipients ??= {})[address] = rcpt;
      }
    }
    offset = end;
  }
  return ok({ sender, recipients, bodyOffset: offset, ...(hasParams(params) ? { params } : {}) });
}

/**
 * Whether `data` (the start of a file, parsed into `head`) is a file mailroot wrote itself (Queue, Badmail, Drop):
 * envelope lines exactly as formatEnvelopeHead writes them, then mailroot's own trace line, a `Received:` field
 * carrying "(mailroot)" (smtp/received-header.ts and pickup/headers.ts write it). Such a file is already a
 * finished message: Pickup sends it on byte for byte, whatever its dot setting.
 */
export function isMailrootFile(data: Buffer, head: ParsedHead): boolean {
  if (head.sender === undefined || head.recipients.length === 0) return false;
  // The cheap test first: formatting a long envelope again costs more than this.
  const start = data.subarray(head.bodyOffset, head.bodyOffset + 4096).toString('latin1');
  const received = /^Received:[^\r\n]*(?:\r\n[ \t][^\r\n]*)*/.exec(start);
  if (received === null || !received[0].includes('(mailroot)')) return false;
  const envelope = formatEnvelopeHead({ sender: head.sender, recipients: head.recipients, params: head.params });
  return head.bodyOffset === envelope.length && data.subarray(0, envelope.length).equals(envelope);
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

export async function readEnvelopeHead(file: string): Promise<Result<ParsedHead> & HeadRead> {
  const { fd, stats } = await openUntrusted(file);
  try {
    const { size, ino } = stats;
    const progress = newEnvelopeParseState(ENVELOPE_LINES_PER_TURN);
    let buffer = Buffer.allocUnsafe(Math.min(READ_CHUNK, size));
    let length = 0;
    for (;;) {
      const want = Math.min(READ_CHUNK, Math.max(0, size - length));
      if (length + want > buffer.length) {
        const grown = Buffer.allocUnsafe(Math.max(buffer.length * 2, length + want));
        buffer.copy(grown, 0, 0, length);
        buffer = grown;
      }
      const chunk = want > 0 ? await readFromFd(fd, length, want) : Buffer.alloc(0);
      chunk.copy(buffer, length);
      length += chunk.length;
      const data = buffer.subarray(0, length);
      const complete = chunk.length === 0 || length >= size;
      let result = parseEnvelopeHead(data, complete, progress);
      while (result === 'need-more' && progress.paused) {
        await new Promise((resolve) => setImmediate(resolve));
        result = parseEnvelopeHead(data, complete, progress);
      }
      if (result !== 'need-more') {
        const peek = result.ok ? data.subarray(result.value.bodyOffset) : undefined;
        return { ...result, size, ino, peek, peekComplete: complete };
      }
      if (length > MAX_HEAD_BYTES) return { ...failure('the envelope lines are longer than 4 MB'), size, ino };
    }
  } finally {
    await closeUntrusted(fd);
  }
}

/** A queued message must carry an X-Sender line and at least one X-Receiver line. */
export function envelopeOf(head: ParsedHead): Result<Envelope> {
  if (head.sender === undefined) return failure('no X-Sender line at the top of the file');
  if (head.recipients.length === 0) return failure('no X-Receiver line at the top of the file');
  return ok({ sender: head.sender, recipients: head.recipients, ...(head.params ? { params: head.params } : {}) });
}
