// DATA: stream the message into the spool and answer 250 only once it is durably queued.
import { Transform, type TransformCallback } from 'node:stream';
import type { SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import type { MailEvents } from '../log/mail-events.js';
import { MessageRejectedError, SpoolWriteError, type Spool } from '../spool/spool.js';
import { receivedHeader } from './received-header.js';
import { smtpError } from './smtp-error.js';

/** Passes bytes through until the limit, then swallows the rest so an oversized message never fills the disk. */
class SizeLimiter extends Transform {
  readonly #limit: number;
  #bytes = 0;

  constructor(limit: number) {
    super();
    this.#limit = limit;
  }

  get exceeded(): boolean {
    return this.#bytes > this.#limit;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#bytes += chunk.length;
    callback(null, this.exceeded ? undefined : chunk);
  }
}

export interface ReceiveContext {
  spool: Spool;
  events: MailEvents;
  hostname: string;
  maxMessageSize: number;
}

export function envelopeFromSession(session: SMTPServerSession): { sender: string; recipients: string[] } {
  const mailFrom = session.envelope.mailFrom;
  return {
    sender: mailFrom ? mailFrom.address : '',
    recipients: session.envelope.rcptTo.map((rcpt) => rcpt.address),
  };
}

export function createDataHandler(ctx: ReceiveContext) {
  return (
    stream: SMTPServerDataStream,
    session: SMTPServerSession,
    callback: (err?: Error | null, message?: string) => void,
  ): void => {
    const envelope = envelopeFromSession(session);
    const limiter = new SizeLimiter(ctx.maxMessageSize);
    stream.pipe(limiter);
    const helo = typeof session.hostNameAppearsAs === 'string' ? session.hostNameAppearsAs : undefined;
    ctx.spool
      .accept(envelope, limiter, {
        prefix: (id) =>
          receivedHeader({ helo, clientIp: session.remoteAddress, byHost: ctx.hostname, protocol: session.transmissionType || 'SMTP', id }),
        verify: () =>
          limiter.exceeded || stream.sizeExceeded ? new MessageRejectedError('message exceeds the size limit') : undefined,
      })
      .then(({ id, size }) => {
        ctx.events.received({ id, client: session.remoteAddress, from: envelope.sender, recipients: envelope.recipients, size });
        callback(null, `2.0.0 Ok: queued as ${id}`);
      })
      .catch((err: unknown) => {
        // Keep reading what the client still sends, or it blocks and times out instead of getting the reply.
        stream.unpipe(limiter);
        stream.resume();
        if (err instanceof MessageRejectedError) {
          callback(smtpError(552, `5.3.4 Message size exceeds fixed maximum message size (${ctx.maxMessageSize} bytes)`));
        } else if (err instanceof SpoolWriteError && err.code === 'ENOSPC') {
          callback(smtpError(452, '4.3.1 Insufficient system storage'));
        } else {
          callback(smtpError(451, '4.3.0 Local error in processing, message not queued; try again later'));
        }
      });
  };
}
