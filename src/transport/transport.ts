// The seam between delivery and the wire: hand over one message, learn what happened to each recipient.
import type { Readable } from 'node:stream';
import type { Envelope } from '../spool/eml-format.js';

export interface RecipientReply {
  recipient: string;
  /** The upstream's full reply, e.g. "550 5.1.1 <a@b>: user unknown". */
  reply: string;
}

export type DeliveryResult =
  /** The upstream took the message for `accepted`; the others were refused at RCPT. */
  | {
      kind: 'sent';
      reply: string;
      accepted: string[];
      deferred: RecipientReply[];
      failed: RecipientReply[];
      /** Accepted by a smart host that does not offer DSN: their NOTIFY requests end here (RFC 3461 5.2.2). */
      relayedWithoutDsn?: string[];
    }
  /**
   * Nothing was delivered. scope 'host': the smart host could not be reached or talked to (all mail waits);
   * scope 'message': the host answered, but refused this message as a whole. `problem`: the host refused the
   * relay's credentials or certificate checks failed, which the operator must fix.
   */
  | {
      kind: 'not-sent';
      scope: 'host' | 'message';
      permanent: boolean;
      reply: string;
      /**
       * The connection was lost (or timed out) after the whole message and its final dot had gone out, before
       * the reply: the upstream may have taken it (RFC 5321 6.1). Never to be resent before its retry time.
       */
      maybeDelivered?: boolean;
      /** The host refused the relay's credentials, or its certificate checks failed: the operator must fix it. */
      problem?: 'authentication' | 'tls';
    };

export interface Transport {
  /** `openBody` may be called more than once when a pooled connection turns out dead before any byte is sent. */
  deliver(envelope: Envelope, openBody: () => Readable): Promise<DeliveryResult>;
  close(): Promise<void>;
  readonly description: string;
}
