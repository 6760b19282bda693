// Who may connect and who may relay. IP matching is net.BlockList's: it matches an IPv4-mapped IPv6 address
// (::ffff:127.0.0.2, what a dual-stack socket reports) against IPv4 rules, which hand-rolled CIDR code gets wrong.
import net from 'node:net';
import type { Cidr } from '../config/cidr.js';
import { failure, ok, type Result } from '../result.js';
import { hasRoutingLocalPart, splitAddress } from './addresses.js';
import { SmtpError } from './smtp-error.js';

export class AddressList {
  readonly #list = new net.BlockList();
  readonly size: number;

  constructor(entries: readonly Cidr[]) {
    for (const entry of entries) this.#list.addSubnet(entry.address, entry.prefix, entry.family);
    this.size = entries.length;
  }

  /** Fails closed: an address that is not an IP (it never should be) matches nothing. */
  has(ip: string): boolean {
    const version = net.isIP(ip);
    if (version === 0) return false;
    return this.#list.check(ip, version === 6 ? 'ipv6' : 'ipv4');
  }
}

export interface AccessPolicy {
  allowConnect: readonly Cidr[];
  allowRelay: readonly Cidr[];
  localDomains: readonly string[];
}

/** An accepted recipient (`local`: for a local domain, delivered to Drop), or the refusal to send the client. */
export type RecipientDecision = Result<{ local: boolean }, SmtpError>;

export class Access {
  readonly #connect: AddressList;
  readonly #relay: AddressList;
  readonly #local: ReadonlySet<string>;

  constructor(policy: AccessPolicy) {
    this.#connect = new AddressList(policy.allowConnect);
    this.#relay = new AddressList(policy.allowRelay);
    this.#local = new Set(policy.localDomains);
  }

  mayConnect(ip: string): boolean {
    return this.#connect.has(ip);
  }

  /** Relaying (any destination) is for allowRelay addresses and authenticated users. */
  mayRelay(ip: string, authenticated: boolean): boolean {
    return authenticated || this.#relay.has(ip);
  }

  /** Whether an address is for a local domain: delivered to Drop, never to the smart host. */
  isLocal(address: string): boolean {
    const { canonical } = splitAddress(address);
    return canonical !== '' && this.#local.has(canonical);
  }

  /**
   * The decision for one RCPT TO, on the address smtp-server parsed (source route already stripped, domain in
   * Unicode). The domain is compared in its canonical form; IP literals are never local.
   */
  recipient(address: string, client: { ip: string; authenticated: boolean }): RecipientDecision {
    const parts = splitAddress(address);
    if (parts.domain === '') {
      // "postmaster" without a domain: there is no local mailbox to give it to, and the smart host would have
      // to guess the domain.
      return failure(new SmtpError(550, '5.1.3', `<${address}>: a recipient needs a domain`, 'no domain'));
    }
    const local = parts.canonical !== '' && this.#local.has(parts.canonical);
    if (this.mayRelay(client.ip, client.authenticated)) return ok({ local });
    if (!local) {
      return failure(new SmtpError(550, '5.7.1', `Unable to relay for <${address}>`, 'relay denied'));
    }
    if (hasRoutingLocalPart(parts.localPart)) {
      const text = `Unable to relay for <${address}>: routing characters in the local part`;
      return failure(new SmtpError(550, '5.7.1', text, 'routing local part'));
    }
    return ok({ local: true });
  }
}
