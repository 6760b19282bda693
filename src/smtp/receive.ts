// DATA: stream the message into the spool and answer 250 only once it is durably written. Recipients in
// localDomains go to Drop, the others to Queue; a message with both is written to both, all or nothing.
import type { SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import type { Logger } from '../log/logger.js';
import type { MailEvents } from '../log/mail-events.js';
import type { Envelope } from '../spool/eml-format.js';
import { rfc5322Date } from '../mail/rfc5322-date.js';
import { MessageRejectedError, newMessageId, SpoolWriteError, type Spool } from '../spool/spool.js';
import type { Access } from './access.js';
import { withAsciiDomain } from './addresses.js';
import { DataGuard } from './data-guard.js';
import type { SessionBytes } from './limits.js';
import { MissingHeaders } from './missing-headers.js';
import { envelopeParams, receivedProtocol } from './parameters.js';
import { receivedHeader } from './received-header.js';
import { SmtpError } from './smtp-error.js';

export interface ReceiveContext {
  spool: Spool;
  events: MailEvents;
  log: Logger;
  hostname: string;
  access: Access;
  sessionBytes: SessionBytes;
  maxMessageSize: number;
  maxHeaderSize: number;
  /** Longest a DATA transfer may take, however busy the client keeps it. */
  dataTimeout: number;
  /** Replies and closes the client's connection; false when the connection was not found. */
  closeSession: (session: SMTPServerSession, code: number, text: string) => boolean;
  /** Add Message-ID:/Date: when missing, for clients allowed to relay (the addMissingHeaders key). */
  addMissingHeaders: boolean;
}

/** The envelope as stored: domains in ASCII form (see withAsciiDomain), local parts exactly as sent. */
export function envelopeFromSession(session: SMTPServerSession): Envelope {
  const mailFrom = session.envelope.mailFrom;
  const params = envelopeParams(session);
  return {
    sender: mailFrom ? withAsciiDomain(mailFrom.address) : '',
    recipients: session.envelope.rcptTo.map((rcpt) => withAsciiDomain(rcpt.address)),
    ...(params ? { params } : {}),
  };
}

/** The Drop part (local domains) and the Queue part (everything else) of an envelope. */
export function routeEnvelope(envelope: Envelope, isLocal: (address: string) => boolean): { drop?: Envelope; queue?: Envelope } {
  const local = envelope.recipients.filter(isLocal);
  const remote = envelope.recipients.filter((r) => !isLocal(r));
  return {
    ...(local.length > 0 ? { drop: { ...envelope, recipients: local } } : {}),
    ...(remote.length > 0 ? { queue: { ...envelope, recipients: remote } } : {}),
  };
}

export function createDataHandler(ctx: ReceiveContext) {
  return (
    stream: SMTPServerDataStream,
    session: SMTPServerSession,
    callback: (err?: Error | null, message?: string) => void,
  ): void => {
    const envelope = envelopeFromSession(session);
    const targets = routeEnvelope(envelope, (address) => ctx.access.isLocal(address));
    const guard = new DataGuard({
      maxMessageSize: ctx.maxMessageSize,
      sessionRemaining: ctx.sessionBytes.remaining(session),
      maxHeaderSize: ctx.maxHeaderSize,
    });
    let answered = false;
    const answer = (err: Error | null, message?: string) => {
      if (answered) return;
      answered = true;
      clearTimeout(deadline);
      ctx.sessionBytes.add(session, guard.bytes);
      callback(err, message);
    };
    // The spool must hear about a client that went away mid-message, or the temp file would stay open forever:
    // pipe() passes on neither errors nor a close without an end.
    const abort = (reason: Error) => {
      if (!guard.destroyed) guard.destroy(reason);
    };
    // The spool sees the guard's error through its pipeline; until that pipeline is set up (the temp file is
    // being opened) nothing else listens, and an unheard 'error' would crash the process. Found by the fuzz test.
    guard.on('error', () => undefined);
    stream.on('error', abort);
    stream.once('close', () => {
      if (!stream.readableEnded) abort(new Error('the client went away before the end of the message'));
    });
    const deadline = setTimeout(() => {
      ctx.log.warn('DATA took longer than dataTimeout, closing the connection', { client: session.remoteAddress });
      if (!ctx.closeSession(session, 421, '4.4.2 DATA took too long, closing connection')) {
        ctx.log.error('could not find the session to close it');
      }
      abort(new Error('dataTimeout passed'));
    }, ctx.dataTimeout);
    deadline.unref();
    stream.pipe(guard);
    let body: DataGuard | MissingHeaders = guard;
    if (ctx.addMissingHeaders && ctx.access.mayRelay(session.remoteAddress, Boolean(session.user))) {
      const completer = new MissingHeaders({
        limit: ctx.maxHeaderSize,
        messageId: () => `<${newMessageId()}@${ctx.hostname}>`,
        date: () => rfc5322Date(),
      });
      // The spool hears of an aborted message through the stream it reads: pass the guard's error on (and, as
      // for the guard, listen before the spool's pipeline does).
      completer.on('error', () => undefined);
      guard.on('error', (err) => completer.destroy(err));
      body = guard.pipe(completer);
    }

    const helo = typeof session.hostNameAppearsAs === 'string' ? session.hostNameAppearsAs : undefined;
    // smtp-server sends 354 only after this handler returns: start the spool's work (creating the file) a
    // microtask later, so the client is already sending the message meanwhile.
    Promise.resolve()
      .then(() => ctx.spool.acceptTo(targets, body, {
        prefix: (id) =>
          receivedHeader({ helo, clientIp: session.remoteAddress, byHost: ctx.hostname, protocol: receivedProtocol(session), id }),
        verify: () => {
          const rejection = guard.rejection();
          return rejection ? new MessageRejectedError(rejection.text) : undefined;
        },
      }))
      .then(({ id, size }) => {
        ctx.events.received({
          id,
          client: session.remoteAddress,
          from: envelope.sender,
          recipients: envelope.recipients,
          size,
          ...(targets.drop ? { local: targets.drop.recipients } : {}),
        });
        answer(null, `2.0.0 Ok: queued as ${id}`);
      })
      .catch((err: unknown) => {
        // Keep reading what the client still sends, or it blocks and times out instead of getting the reply.
        stream.unpipe(guard);
        stream.resume();
        const rejection = guard.rejection();
        if (err instanceof MessageRejectedError && rejection) {
          answer(rejection);
        } else if (err instanceof SpoolWriteError && err.code === 'ENOSPC') {
          answer(new SmtpError(452, '4.3.1', 'Insufficient system storage'));
        } else {
          answer(new SmtpError(451, '4.3.0', 'Local error in processing, message not queued; try again later'));
        }
      });
  };
}
