// Recipient addresses as far as relaying is concerned: which domain an address really goes to, in one
// comparable form, and the old tricks that make a local-looking address route somewhere else.
import { canonicalDomain } from '../config/domain.js';

export interface SplitAddress {
  localPart: string;
  /** The domain as written (smtp-server gives U-labels); '' when the address has none ("postmaster"). */
  domain: string;
  /** canonicalDomain(domain); '' for IP literals and invalid names, which are never local. */
  canonical: string;
  ipLiteral: boolean;
}

/** Splits at the last "@" (a quoted local part may hold another "@"). */
export function splitAddress(address: string): SplitAddress {
  const at = address.lastIndexOf('@');
  if (at === -1) return { localPart: address, domain: '', canonical: '', ipLiteral: false };
  const domain = address.slice(at + 1);
  const ipLiteral = domain.startsWith('[');
  return { localPart: address.slice(0, at), domain, canonical: ipLiteral ? '' : canonicalDomain(domain), ipLiteral };
}

/**
 * A local part that asks the receiving system to route the message further: the percent hack
 * (user%other@here), bang paths (other!user@here), a quoted local part (which can hide "@" or "%"), or
 * what is left of a source route (smtp-server already strips "@a,@b:" before the address reaches us).
 * Postfix refuses these from untrusted clients (allow_untrusted_routing = no); so do we.
 */
export function hasRoutingLocalPart(localPart: string): boolean {
  return /[%!@":]/.test(localPart);
}


/**
 * The address with its domain in ASCII (A-labels, lower case): smtp-server turns "xn--" labels into Unicode,
 * which an upstream without SMTPUTF8 would refuse. IP literals, domainless and invalid names are left as they are.
 */
export function withAsciiDomain(address: string): string {
  const { localPart, domain, canonical } = splitAddress(address);
  return canonical === '' || canonical === domain ? address : `${localPart}@${canonical}`;
}
