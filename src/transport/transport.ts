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
      /** The host that answered ("smtp.example:587"): the Remote-MTA of its replies. */
      host?: string;
      /** What the attempt learned about each route it used (RoutingTransport). */
      routes?: RouteReport[];
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
      /** The host that answered, or the last one that failed. */
      host?: string;
      routes?: RouteReport[];
    };

/**
 * A route's condition as one attempt found it: `up` (a host of it answered), `down` (every host of it failed),
 * or `untried` (every host of it is known down and none is due for a probe, so none was tried: nothing new).
 * Routes by MX have no state of their own (each domain's exchangers are their own matter) and are not reported.
 */
export interface RouteReport {
  /** "default" (smartHost), or the route's domain as configured ("corp.example", "*.corp.example"). */
  route: string;
  state: 'up' | 'down' | 'untried';
  /** Why it is down (down, untried). */
  reply?: string;
  /** Down: every host answered with an SMTP reply (421): up and busy, not to be asked every probeInterval. */
  busy?: boolean;
}

export interface DeliverOptions {
  /**
   * The delivery scheduler's probe of this route (its name, as in RouteReport), known down: every host of that
   * route is tried, in order, even those that host health would skip. The message's other routes are attempted
   * as usual (not connected at all while they are down), so their hosts cannot hold up this probe.
   */
  probe?: string;
}

export interface Transport {
  /** `openBody` may be called more than once when a pooled connection turns out dead before any byte is sent. */
  deliver(envelope: Envelope, openBody: () => Readable, options?: DeliverOptions): Promise<DeliveryResult>;
  close(): Promise<void>;
  readonly description: string;
}
