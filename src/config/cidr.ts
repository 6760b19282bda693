// Strict parsing of the IP and CIDR entries in allowConnect and allowRelay. Strict on purpose: a lenient parser
// that reads "127.1" or "10.0.0.1/8" somehow widens an access rule without anyone noticing.
import net from 'node:net';
import { failure, ok, type Result } from '../result.js';

export interface Cidr {
  /** The network address, in the form net.BlockList takes. */
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** "10.0.0.0/8", "2001:db8::/32", ... as the entry is written back in messages and logs. */
export function formatCidr(cidr: Cidr): string {
  return `${cidr.address}/${cidr.prefix}`;
}

function ipv4ToBigInt(address: string): bigint {
  return address.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

/** The 128-bit value of an IPv6 address that net.isIPv6 accepted (zone ids are refused before this). */
function ipv6ToBigInt(address: string): bigint {
  let text = address;
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    // Embedded IPv4 (::ffff:127.0.0.1): turn the dotted quad into two hex groups.
    const v4 = ipv4ToBigInt(tail);
    text = `${text.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const headGroups = head === '' ? [] : head.split(':');
  const restGroups = rest === undefined || rest === '' ? [] : rest.split(':');
  const zeros = rest === undefined ? 0 : 8 - headGroups.length - restGroups.length;
  const groups = [...headGroups, ...Array<string>(zeros).fill('0'), ...restGroups];
  return groups.reduce((acc, group) => (acc << 16n) | BigInt(parseInt(group, 16)), 0n);
}

function ipv4FromBigInt(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
}

const MAPPED_PREFIX = 0xffffn << 32n; // ::ffff:0:0/96

/**
 * Parses "ip" or "ip/prefix". Refuses, with the reason, anything not written exactly: short forms such as
 * "127.1", prefixes out of range ("/33"), host bits set ("10.1.2.3/8"), zone ids, signs or spaces.
 * IPv4-mapped IPv6 entries (::ffff:127.0.0.1) become the IPv4 entry they stand for.
 */
export function parseCidr(raw: unknown): Result<Cidr> {
  if (typeof raw !== 'string') return failure(`must be an IP address or CIDR such as "10.0.0.0/8" (got ${JSON.stringify(raw)})`);
  const text = raw.trim();
  const slash = text.indexOf('/');
  const ip = slash === -1 ? text : text.slice(0, slash);
  const prefixText = slash === -1 ? undefined : text.slice(slash + 1);
  const version = ip.includes('%') ? 0 : net.isIP(ip);
  if (version === 0) {
    return failure(`has ${JSON.stringify(raw)}, which is not an IP address or CIDR (write addresses in full, like "127.0.0.1" or "10.0.0.0/8")`);
  }
  const bits = version === 4 ? 32 : 128;
  let prefix = bits;
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > bits) {
      return failure(`has ${JSON.stringify(raw)}: the prefix length must be a number from 0 to ${bits}`);
    }
    prefix = Number(prefixText);
  }
  const value = version === 4 ? ipv4ToBigInt(ip) : ipv6ToBigInt(ip);
  const hostMask = (1n << BigInt(bits - prefix)) - 1n;
  if ((value & hostMask) !== 0n) {
    const network = value & ~hostMask;
    const suggestion = version === 4 ? ipv4FromBigInt(network) : undefined;
    return failure(
      `has ${JSON.stringify(raw)}: the address has bits set beyond the /${prefix} prefix` +
        (suggestion ? ` (the network is ${suggestion}/${prefix})` : ''),
    );
  }
  if (version === 6 && prefix >= 96 && value >> 32n === MAPPED_PREFIX >> 32n) {
    return ok({ address: ipv4FromBigInt(value & 0xffffffffn), prefix: prefix - 96, family: 'ipv4' });
  }
  return ok({ address: ip.toLowerCase(), prefix, family: version === 4 ? 'ipv4' : 'ipv6' });
}

/**
 * An entry that lets in a large share of the Internet: an IPv4 prefix shorter than /8, an IPv6 prefix shorter
 * than /16, or an IPv6 range holding all of IPv4 (::/80, ::ffff:0:0/96 ...). In allowRelay, with a listener
 * other clients can reach, that is an open relay.
 */
export function isWideCidr(cidr: Cidr): boolean {
  if (cidr.family === 'ipv4') return cidr.prefix < 8;
  if (cidr.prefix < 16) return true;
  if (cidr.prefix > 96) return false;
  const shift = BigInt(128 - cidr.prefix);
  return ipv6ToBigInt(cidr.address) >> shift === MAPPED_PREFIX >> shift;
}
