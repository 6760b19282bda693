// MAIL FROM and RCPT TO parameters: which ones mailroot takes (RFC 1870 SIZE, RFC 6152 BODY, RFC 6531 SMTPUTF8,
// RFC 3461 DSN, RFC 4954 AUTH), the refusals for the others, and what is kept with the message. smtp-server has
// already checked the syntax of the values it knows (BODY, RET, NOTIFY, ORCPT, SIZE: 501 5.5.4 when wrong).
import type { SMTPServerAddress, SMTPServerSession } from 'smtp-server';
import type { EnvelopeParams, NotifyOn, RecipientParams } from '../spool/eml-format.js';
import { withAsciiDomain } from './addresses.js';
import { SmtpError } from './smtp-error.js';

const MAIL_PARAMETERS = new Set(['SIZE', 'BODY', 'SMTPUTF8', 'RET', 'ENVID', 'AUTH']);
const RCPT_PARAMETERS = new Set(['NOTIFY', 'ORCPT']);


const NON_ASCII = /[^\x00-\x7f]/;

function unknownParameter(address: SMTPServerAddress, known: Set<string>): SmtpError | undefined {
  const unknown = Object.keys(address.args || {}).filter((key) => !known.has(key.toUpperCase()));
  if (unknown.length === 0) return undefined;
  // RFC 5321 4.1.1.11: a parameter the server does not recognise or implement.
  return new SmtpError(555, '5.5.4', `Unsupported parameter ${unknown.join(', ')}`);
}

/** RFC 6531 3.4: a UTF-8 address needs SMTPUTF8 on MAIL FROM (Postfix answers the same 553 5.6.7). */
function needsSmtpUtf8(address: SMTPServerAddress, session: SMTPServerSession): SmtpError | undefined {
  if (session.envelope.smtpUtf8 || !NON_ASCII.test(address.address.slice(0, address.address.lastIndexOf('@') + 1))) return undefined;
  return new SmtpError(553, '5.6.7', `<${address.address}>: a non-ASCII address needs the SMTPUTF8 parameter on MAIL FROM`);
}

export function checkMailFrom(address: SMTPServerAddress, session: SMTPServerSession): SmtpError | undefined {
  return unknownParameter(address, MAIL_PARAMETERS) ?? needsSmtpUtf8(address, session);
}

export function checkRcptTo(address: SMTPServerAddress, session: SMTPServerSession): SmtpError | undefined {
  return unknownParameter(address, RCPT_PARAMETERS) ?? needsSmtpUtf8(address, session);
}

/** smtp-server decodes xtext byte by byte into a string; a UTF-8 ORCPT/ENVID comes back whole this way. */
function utf8(value: string): string {
  return /^[\x00-\xff]*$/.test(value) && /[\x80-\xff]/.test(value) ? Buffer.from(value, 'latin1').toString('utf8') : value;
}

interface SessionDsn {
  ret?: string | null;
  envid?: string | null;
}

interface RecipientDsn {
  notify?: string[];
  orcpt?: string;
}

/** What the transaction's parameters leave with the message; undefined when it had none worth keeping. */
export function envelopeParams(session: SMTPServerSession): EnvelopeParams | undefined {
  const envelope = session.envelope as SMTPServerSession['envelope'] & { dsn?: SessionDsn; bodyType?: string; smtpUtf8?: boolean };
  const params: EnvelopeParams = {};
  const ret = envelope.dsn?.ret;
  if (ret === 'FULL' || ret === 'HDRS') params.ret = ret;
  if (envelope.dsn?.envid) params.envid = utf8(envelope.dsn.envid);
  if (envelope.bodyType === '8bitmime') params.body8bit = true;
  if (envelope.smtpUtf8) params.smtputf8 = true;
  for (const rcpt of envelope.rcptTo) {
    const dsn = (rcpt as SMTPServerAddress & { dsn?: RecipientDsn }).dsn;
    if (!dsn) continue;
    const entry: RecipientParams = {};
    if (dsn.notify) entry.notify = dsn.notify.includes('NEVER') ? [] : (dsn.notify as NotifyOn[]);
    if (dsn.orcpt) entry.orcpt = utf8(dsn.orcpt);
    (params.recipients ??= {})[withAsciiDomain(rcpt.address)] = entry;
  }
  return Object.keys(params).length > 0 ? params : undefined;
}

/** RFC 6531 3.7.3: UTF8SMTP, UTF8SMTPS, UTF8SMTPA, UTF8SMTPSA for a transaction that used SMTPUTF8. */
export function receivedProtocol(session: SMTPServerSession): string {
  const type = session.transmissionType || 'SMTP';
  const smtpUtf8 = (session.envelope as { smtpUtf8?: boolean }).smtpUtf8 === true;
  return smtpUtf8 ? type.replace(/^E?SMTP/, 'UTF8SMTP') : type;
}
