// The message header section of a Pickup file, as IIS read it: where it ends, its fields (folded lines joined),
// the envelope when the file has no X-Sender/X-Receiver lines, and the header lines mailroot sends instead.
// Input is always CRLF-only (normalised before it gets here).
import addressparser from 'nodemailer/lib/addressparser';
import { failure, ok, type Result } from '../result.js';
import { isValidEnvelopeAddress, type Envelope, type ParsedHead } from '../spool/eml-format.js';

const CRLF = Buffer.from('\r\n');
const BLANK_LINE = Buffer.from('\r\n\r\n');

export interface HeaderEnd {
  /** Offset just past the last header line (its CRLF included when it has one). */
  end: number;
  /** An empty line follows the headers (and then the body); false when the file ends inside the headers. */
  blankLine: boolean;
}

/**
 * Finds where the header lines starting at `start` end; 'need-more' until `data` shows it (or is complete).
 * `searchFrom` skips bytes an earlier call already searched (it must leave 3 bytes of overlap).
 */
export function findHeaderEnd(data: Buffer, start: number, complete: boolean, searchFrom = start): HeaderEnd | 'need-more' {
  if (data.length - start >= 2 && data[start] === 0x0d && data[start + 1] === 0x0a) return { end: start, blankLine: true };
  if (data.length - start < 2 && !complete) return 'need-more';
  const blank = data.indexOf(BLANK_LINE, Math.max(start, searchFrom));
  if (blank !== -1) return { end: blank + 2, blankLine: true };
  if (!complete) return 'need-more';
  return { end: data.length, blankLine: false };
}

export interface HeaderField {
  /** undefined for a line that is not a header field (kept as it is, never parsed). */
  name: string | undefined;
  /** The value with its folding removed. */
  value: string;
  /** The field's bytes as in the file, continuation lines and CRLFs included. */
  raw: Buffer;
}

const FIELD_START = /^([\x21-\x39\x3b-\x7e]+)[ \t]*:/;

/** Splits header lines (CRLF-terminated, the last one possibly not) into fields. */
export function splitHeaderFields(block: Buffer): HeaderField[] {
  const fields: Array<{ name: string | undefined; value: string; start: number; end: number }> = [];
  let offset = 0;
  while (offset < block.length) {
    const crlf = block.indexOf(CRLF, offset);
    const end = crlf === -1 ? block.length : crlf + 2;
    const text = block.subarray(offset, crlf === -1 ? block.length : crlf).toString('utf8');
    const last = fields[fields.length - 1];
    const match = FIELD_START.exec(text);
    if ((text.startsWith(' ') || text.startsWith('\t')) && last?.name !== undefined) {
      last.value += text;
      last.end = end;
    } else if (match) {
      fields.push({ name: match[1]!, value: text.slice(match[0].length), start: offset, end });
    } else {
      fields.push({ name: undefined, value: text, start: offset, end });
    }
    offset = end;
  }
  return fields.map((f) => ({ name: f.name, value: f.value.trim(), raw: block.subarray(f.start, f.end) }));
}

function fieldsNamed(fields: HeaderField[], name: string): HeaderField[] {
  return fields.filter((f) => f.name !== undefined && f.name.toLowerCase() === name);
}

interface AddressList {
  addresses: string[];
  /** Entries that are not usable envelope addresses, as written. */
  unusable: string[];
}

/** The addresses in every field called `name` (groups flattened, comments and display names dropped). */
function addressesIn(fields: HeaderField[], name: string): AddressList {
  const list: AddressList = { addresses: [], unusable: [] };
  for (const field of fieldsNamed(fields, name)) {
    for (const entry of addressparser(field.value, { flatten: true })) {
      const address = entry.address.trim();
      if (address === '') {
        if (entry.name.trim() !== '') list.unusable.push(entry.name.trim()); // "To: someone": no address at all
      } else if (!address.includes('@') || !isValidEnvelopeAddress(address)) {
        list.unusable.push(address);
      } else {
        list.addresses.push(address);
      }
    }
  }
  return list;
}

/**
 * The envelope of a Pickup file: X-Sender/X-Receiver lines when there are any; otherwise the sender from
 * Sender: then From:, the recipients from To:, Cc: and Bcc: (duplicates removed, ignoring case). A recipient
 * header entry that is not an address makes the whole file bad rather than silently losing that recipient.
 */
export function envelopeOf(head: ParsedHead, fields: HeaderField[]): Result<Envelope> {
  let sender = head.sender;
  if (sender === undefined) {
    for (const name of ['sender', 'from']) {
      const found = addressesIn(fields, name).addresses[0];
      if (found !== undefined) {
        sender = found;
        break;
      }
    }
  }
  if (sender === undefined) {
    return failure('no sender: no X-Sender line, and no address in a Sender: or From: header');
  }
  let recipients = head.recipients;
  if (recipients.length === 0) {
    const seen = new Set<string>();
    recipients = [];
    for (const name of ['to', 'cc', 'bcc']) {
      const list = addressesIn(fields, name);
      if (list.unusable.length > 0) {
        const header = name === 'to' ? 'To' : name === 'cc' ? 'Cc' : 'Bcc';
        return failure(`not an e-mail address in ${header}: ${list.unusable.map((u) => JSON.stringify(u)).join(', ')}`);
      }
      for (const address of list.addresses) {
        const key = address.toLowerCase();
        if (!seen.has(key)) {
          seen.add(key);
          recipients.push(address);
        }
      }
    }
  }
  if (recipients.length === 0) {
    return failure('no recipients: no X-Receiver line, and no address in a To:, Cc: or Bcc: header');
  }
  return ok({ sender, recipients });
}

export interface AddedHeaders {
  messageId: () => string;
  date: () => string;
}

/**
 * The header lines mailroot sends for a Pickup file: the file's own, without Bcc: (the recipients stay in the
 * envelope only; IIS sent Bcc: on, a leak), plus Message-ID: and Date: when the file has none.
 */
export function rewriteHeaders(fields: HeaderField[], added: AddedHeaders): Buffer {
  const parts: Buffer[] = [];
  for (const field of fields) if (field.name?.toLowerCase() !== 'bcc') parts.push(field.raw);
  const extra: string[] = [];
  if (fieldsNamed(fields, 'message-id').length === 0) extra.push(`Message-ID: ${added.messageId()}\r\n`);
  if (fieldsNamed(fields, 'date').length === 0) extra.push(`Date: ${added.date()}\r\n`);
  if (extra.length > 0) {
    const last = parts[parts.length - 1];
    if (last && !last.subarray(-2).equals(CRLF)) parts.push(CRLF); // the file ended inside its last header line
    parts.push(Buffer.from(extra.join(''), 'utf8'));
  }
  return Buffer.concat(parts);
}

/** The trace line IIS added ("from mail pickup service by <host>"); "(mailroot)" marks mailroot's own files. */
export function pickupReceivedLine(hostname: string, id: string, date: string): Buffer {
  return Buffer.from(`Received: from mail pickup service by ${hostname} (mailroot) with Pickup id ${id};\r\n\t${date}\r\n`, 'utf8');
}
