// The one comparable form of a domain name, shared by the config (localDomains, routes) and by smtp and
// transport, which compare recipients' domains against it.
import { domainToASCII } from 'node:url';

/**
 * The one form domains are compared in: lower-case ASCII (punycode A-labels), no trailing dot.
 * smtp-server hands us Unicode (it turns xn-- labels into U-labels), the config may hold either.
 * Returns '' for a name that is not a valid domain.
 */
export function canonicalDomain(domain: string): string {
  const text = domain.trim().replace(/\.$/, '');
  if (text === '' || text.startsWith('[')) return '';
  return domainToASCII(text.toLowerCase());
}
