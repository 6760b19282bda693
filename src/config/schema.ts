// Every configuration key: its default, its help text and how a raw value (JSON, env or flag) becomes a typed one.
// The CLI, the environment reader, the file reader and the README table are all derived from this one list.
import os from 'node:os';
import net from 'node:net';
import { parseAuthUser, type AuthUser } from './auth-users.js';
import { failure, ok, type Result } from '../result.js';
import { defaultMailroot } from './default-mailroot.js';
import { formatCidr, isWideCidr, parseCidr, type Cidr } from './cidr.js';
import { canonicalDomain } from './domain.js';
import { isValidHostname, machineFqdn } from './hostname.js';
import { Secret } from './secret.js';
import { TLS_VERSIONS, type TlsVersion } from './tls-versions.js';
import { OUTBOUND_TLS_MODES, parseRoutes, parseSmartHostList, type OutboundTlsMode, type Route, type SmartHostSpec } from './smart-hosts.js';
import { parseDuration, parseSize } from './units.js';

export interface HostPort {
  host: string;
  port: number;
}

export interface Config {
  mailroot: string;
  listen: HostPort[];
  hostname: string;
  smartHost: SmartHostSpec[];
  smartHostTls: OutboundTlsMode;
  smartHostCaFile: string | undefined;
  smartHostUser: string | undefined;
  smartHostPassword: Secret | undefined;
  smartHostPasswordFile: string | undefined;
  routes: Route[];
  hostDownTime: number;
  dnsServers: HostPort[];
  outboundPort: number;
  maxMessagesPerConnection: number;
  maxConnectionsPerDomain: number;
  masqueradeDomain: string | undefined;
  smartHostTimeout: number;
  smartHostConnectTimeout: number;
  retry: number[];
  probeInterval: number;
  expire: number;
  maxMessageSize: number;
  allowConnect: Cidr[];
  allowRelay: Cidr[];
  allowOpenRelay: boolean;
  localDomains: string[];
  maxSessionSize: number;
  maxRecipients: number;
  maxConnections: number;
  maxConnectionsPerIp: number;
  greetingDelay: number;
  idleTimeout: number;
  dataTimeout: number;
  maxCommandLength: number;
  maxHeaderSize: number;
  minFreeSpace: number;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  tlsPfx: string | undefined;
  tlsPassphrase: string | undefined;
  tlsMinVersion: TlsVersion;
  requireTls: boolean;
  authUsers: AuthUser[];
  allowInsecureAuth: boolean;
  concurrency: number;
  maxHopCount: number;
  delayNotify: number;
  ndrCopyTo: string[];
  ndrLimitPerHour: number;
  addMissingHeaders: boolean;
  rescanInterval: number;
  pickupDotStuffed: boolean;
  pickupSettleTime: number;
  pickupMaxRecipients: number;
  logLevel: LogLevel;
  logFile: string | undefined;
  protocolLog: boolean;
  protocolLogDir: string | undefined;
  logRetention: number;
  alertSmartHostDown: number;
  alertQueueAge: number;
  alertBadmail: boolean;
  alertMailTo: string[];
  alertMailVia: HostPort | undefined;
  alertWebhook: string | undefined;
  alertInterval: number;
  eventLog: boolean;
}

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Thrown for any bad configuration value; the message always names the key. Exit code 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Parser<T> = (raw: unknown) => Result<T>;

interface KeySpec<T> {
  description: string;
  /** Shown in --help and the README; undefined means required or computed. */
  defaultText: string;
  default: (() => T) | undefined;
  parse: Parser<T>;
  /** A flag or env var carries a single string: how to split it into a list, when the key is a list. */
  list?: boolean;
}

function describe(raw: unknown): string {
  return JSON.stringify(raw);
}

/** "host:port", "[v6]:port", "[1.2.3.4]" (IIS smart-host syntax), or a bare host with defaultPort. */
/** A smart host's "host:port": its name also goes into notifications (Remote-MTA), so a host name or an IP address, nothing else. */
function parseSmartHostAddress(raw: unknown, defaultPort: number): Result<HostPort> {
  const parsed = parseHostPort(raw, defaultPort);
  if (!parsed.ok) return parsed;
  if (net.isIP(parsed.value.host) === 0 && !isValidHostname(parsed.value.host)) return failure(`must name a host or an IP address (got ${describe(raw)})`);
  return parsed;
}

export function parseHostPort(raw: unknown, defaultPort: number | undefined): Result<HostPort> {
  if (typeof raw !== 'string' || raw.trim() === '') return failure(`must be "host:port" (got ${describe(raw)})`);
  const text = raw.trim();
  let host: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) {
    host = bracketed[1]!.replace(/^ipv6:/i, '');
    portText = bracketed[2];
  } else {
    const lastColon = text.lastIndexOf(':');
    if (lastColon !== -1 && text.indexOf(':') !== lastColon) {
      return failure(`must put an IPv6 address in brackets, like "[::1]:25" (got ${describe(raw)})`);
    }
    host = lastColon === -1 ? text : text.slice(0, lastColon);
    portText = lastColon === -1 ? undefined : text.slice(lastColon + 1);
  }
  if (host === '' || /\s/.test(host)) return failure(`must be "host:port" (got ${describe(raw)})`);
  if (portText === undefined) {
    if (defaultPort === undefined) return failure(`must include a port, like "127.0.0.1:25" (got ${describe(raw)})`);
    return ok({ host, port: defaultPort });
  }
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) return failure(`has an invalid port (got ${describe(raw)})`);
  return ok({ host, port });
}

function listOf<T>(item: Parser<T>, minLength: number): Parser<T[]> {
  return (raw) => {
    const items = Array.isArray(raw) ? raw : [raw];
    if (items.length < minLength) return failure(`must list at least ${minLength} value(s) (got ${describe(raw)})`);
    const out: T[] = [];
    for (const entry of items) {
      const parsed = item(entry);
      if (!parsed.ok) return parsed;
      out.push(parsed.value);
    }
    return ok(out);
  };
}

const positiveDuration: Parser<number> = (raw) => {
  const ms = parseDuration(raw);
  return ms !== undefined && ms > 0 ? ok(ms) : failure(`must be a duration above zero such as "30s", "15m", "2d" (got ${describe(raw)})`);
};

const durationOrZero: Parser<number> = (raw) => {
  const ms = parseDuration(raw);
  return ms !== undefined ? ok(ms) : failure(`must be a duration such as "12h", or "0" for never (got ${describe(raw)})`);
};

const greetingDelay: Parser<number> = (raw) => {
  const ms = parseDuration(raw);
  return ms !== undefined && ms <= 60_000 ? ok(ms) : failure(`must be a duration from "0" to "60s" such as "100ms" (got ${describe(raw)})`);
};

const emailAddress: Parser<string> = (raw) =>
  typeof raw === 'string' && /^[^\s<>@\x00-\x1f\x7f]+@[^\s<>@\x00-\x1f\x7f]+$/.test(raw.trim())
    ? ok(raw.trim())
    : failure(`must be an e-mail address like "admin@example.com" (got ${describe(raw)})`);

const size: Parser<number> = (raw) => {
  const bytes = parseSize(raw);
  return bytes !== undefined ? ok(bytes) : failure(`must be a size such as "2MB", "2048KB" or a byte count (got ${describe(raw)})`);
};

const positiveInteger: Parser<number> = (raw) => {
  const n = typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : raw;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? ok(n) : failure(`must be a whole number above zero (got ${describe(raw)})`);
};

const nonEmptyString: Parser<string> = (raw) =>
  typeof raw === 'string' && raw.trim() !== '' ? ok(raw.trim()) : failure(`must be a non-empty string (got ${describe(raw)})`);

/** true/false, yes/no, on/off, 1/0; a flag given alone (an empty value) means true. */
const boolean: Parser<boolean> = (raw) => {
  if (typeof raw === 'boolean') return ok(raw);
  const text = typeof raw === 'string' || typeof raw === 'number' ? String(raw).trim().toLowerCase() : undefined;
  if (text !== undefined && ['', 'true', 'yes', 'on', '1'].includes(text)) return ok(true);
  if (text !== undefined && ['false', 'no', 'off', '0'].includes(text)) return ok(false);
  return failure(`must be true or false (got ${describe(raw)})`);
};

/** A size, or 0 to turn the check off. */
const sizeOrZero: Parser<number> = (raw) => (raw === 0 || (typeof raw === 'string' && raw.trim() === '0') ? ok(0) : size(raw));

const cidr: Parser<Cidr> = parseCidr;

/** allowRelay: CIDRs, or the single word "none" (no address may relay; only authenticated clients can). */
const relayList: Parser<Cidr[]> = (raw) => {
  const items = Array.isArray(raw) ? raw : [raw];
  if (items.some((item) => typeof item === 'string' && item.trim().toLowerCase() === 'none')) {
    return items.length === 1 ? ok([]) : failure(`cannot mix "none" with addresses (got ${describe(raw)})`);
  }
  return listOf(cidr, 1)(raw);
};

const domain: Parser<string> = (raw) => {
  if (typeof raw === 'string' && /^\s*\[/.test(raw)) return failure(`cannot hold an IP literal (got ${describe(raw)}); list domain names`);
  const canonical = typeof raw === 'string' ? canonicalDomain(raw) : '';
  return /^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*$/.test(canonical)
    ? ok(canonical)
    : failure(`must hold domain names such as "corp.example" (got ${describe(raw)})`);
};

const authUser: Parser<AuthUser> = parseAuthUser;

const listenAddress: Parser<HostPort> = (raw) => {
  const parsed = parseHostPort(raw, undefined);
  if (!parsed.ok) return failure(parsed.reason);
  if (net.isIP(parsed.value.host) === 0) {
    return failure(`must be an IP address and port, like "127.0.0.1:25" or "[::1]:25" (got ${describe(raw)})`);
  }
  return ok(parsed.value);
};

export const CONFIG_KEYS = {
  mailroot: {
    description: 'Root folder holding Pickup, Queue, Badmail, Drop and SortTemp (created if missing)',
    defaultText: '"./spool"; on Windows "C:\\inetpub\\mailroot" when that folder exists',
    default: () => defaultMailroot(),
    parse: nonEmptyString,
  },
  listen: {
    description: 'Addresses to accept SMTP on, "ip:port" each; IPv6 in brackets',
    defaultText: '["127.0.0.1:25", "[::1]:25"]',
    default: () => [
      { host: '127.0.0.1', port: 25 },
      { host: '::1', port: 25 },
    ],
    parse: listOf(listenAddress, 1),
    list: true,
  },
  hostname: {
    description:
      'Name used in the SMTP greeting, EHLO to the smart host, Received: lines and postmaster@ of notifications; ' +
      'a host name or an address literal such as "[192.0.2.1]". A warning at start when only a short name is found',
    defaultText: "the machine's fully qualified name",
    default: () => machineFqdn(),
    parse: (raw: unknown) =>
      typeof raw === 'string' && isValidHostname(raw.trim())
        ? ok(raw.trim().replace(/\.$/, ''))
        : failure(`must be a host name such as "relay.corp.example" or an address literal such as "[192.0.2.1]" (got ${describe(raw)})`),
  },
  smartHost: {
    description:
      'Upstream SMTP servers mail is forwarded to, tried in order: "host:port" each (port 25 if left out; "[10.0.0.5]" accepted); ' +
      'in the JSON file an entry may be an object with its own port, tls, caFile, servername, auth and maxMessagesPerConnection (see "Smart hosts")',
    defaultText: '(required)',
    default: undefined,
    parse: (raw: unknown) => parseSmartHostList(raw, 'smartHost', parseSmartHostAddress),
    list: true,
  },
  smartHostTls: {
    description: `TLS to smart hosts given as "host:port": ${OUTBOUND_TLS_MODES.join(', ')}. required and implicit verify the certificate; a host on port 465 is implicit, a host with AUTH required unless set per host`,
    defaultText: '"opportunistic"',
    default: () => 'opportunistic' as OutboundTlsMode,
    parse: (raw: unknown) =>
      typeof raw === 'string' && (OUTBOUND_TLS_MODES as readonly string[]).includes(raw)
        ? ok(raw as OutboundTlsMode)
        : failure(`must be one of ${OUTBOUND_TLS_MODES.join(', ')} (got ${describe(raw)})`),
  },
  smartHostCaFile: {
    description: 'PEM file of the CAs a smart host\'s certificate may be signed by (an internal CA); the system\'s CAs when unset',
    defaultText: "(Node's CAs)",
    default: () => undefined,
    parse: nonEmptyString,
  },
  smartHostUser: {
    description: 'User name for AUTH PLAIN/LOGIN at smart hosts that have no auth of their own (with smartHostPassword or smartHostPasswordFile)',
    defaultText: '(none)',
    default: () => undefined,
    parse: nonEmptyString,
  },
  smartHostPassword: {
    description: 'Password (or API key) for smartHostUser; better set as MAILROOT_SMART_HOST_PASSWORD or with smartHostPasswordFile. Never logged',
    defaultText: '(none)',
    default: () => undefined,
    parse: (raw: unknown) => (typeof raw === 'string' && raw !== '' ? ok(new Secret({ value: raw }, 'smartHostPassword')) : failure('must be a non-empty string')),
  },
  smartHostPasswordFile: {
    description: 'File holding the password for smartHostUser (one line)',
    defaultText: '(none)',
    default: () => undefined,
    parse: nonEmptyString,
  },
  routes: {
    description:
      'Per-domain routes (IIS "remote domains"): {"corp.example": "[10.0.0.5]", "*.corp.example": ["a:25", "b:25"]}; ' +
      'other domains go to smartHost. Hosts are written as in smartHost',
    defaultText: '{}',
    default: () => [] as Route[],
    parse: (raw: unknown) => parseRoutes(raw, parseSmartHostAddress),
  },
  hostDownTime: {
    description: 'A smart host that failed (no connection, 421, refused login or certificate) is skipped this long while another host of its route works; then a connection without a message tries it again',
    defaultText: '"30s"',
    default: () => 30_000,
    parse: positiveDuration,
  },
  dnsServers: {
    description: 'DNS servers for delivery by MX ("mx" in smartHost or routes), "ip" or "ip:port" each; the system\'s when empty',
    defaultText: '[]',
    default: () => [] as HostPort[],
    parse: listOf((raw: unknown) => {
      const parsed = parseHostPort(raw, 53);
      return !parsed.ok || net.isIP(parsed.value.host) === 0
        ? failure(`must be IP addresses like "10.0.0.1" or "[::1]:53" (got ${describe(raw)})`)
        : ok(parsed.value);
    }, 0),
    list: true,
  },
  outboundPort: {
    description: 'Port of the mail exchangers for delivery by MX (IIS "outbound TCP port"); smart hosts have their own',
    defaultText: '25',
    default: () => 25,
    parse: (raw: unknown) => {
      const n = typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : raw;
      return typeof n === 'number' && Number.isInteger(n) && n > 0 && n < 65536 ? ok(n) : failure(`must be a port number (got ${describe(raw)})`);
    },
  },
  maxMessagesPerConnection: {
    description: 'Messages sent over one connection to a smart host or exchanger before a new one is opened (IIS: 20); a host entry may set its own',
    defaultText: '100',
    default: () => 100,
    parse: positiveInteger,
  },
  maxConnectionsPerDomain: {
    description: 'Most messages handed at once to one recipient domain\'s exchangers, in delivery by MX (IIS "limit connections per domain")',
    defaultText: '100',
    default: () => 100,
    parse: positiveInteger,
  },
  masqueradeDomain: {
    description: 'Replace the domain of every envelope sender (MAIL FROM) with this one on the way out (IIS "masquerade domain"); headers are not changed',
    defaultText: '(none)',
    default: () => undefined,
    parse: domain,
  },
  smartHostTimeout: {
    description: 'Give up on a silent smart host after this long (connect, each reply, the end of data)',
    defaultText: '"10m"',
    default: () => 600_000,
    parse: positiveDuration,
  },
  smartHostConnectTimeout: {
    description:
      'Give up on a smart host (or mail exchanger) that does not connect and greet within this long, and try the next host; at most smartHostTimeout',
    defaultText: '"30s"',
    default: () => 30_000,
    parse: positiveDuration,
  },
  retry: {
    description: 'Waits between delivery attempts; the last one repeats',
    defaultText: '["15m", "30m", "60m", "240m"]',
    default: () => [900_000, 1_800_000, 3_600_000, 14_400_000],
    parse: listOf(positiveDuration, 1),
    list: true,
  },
  probeInterval: {
    description: 'While every smart host of a route is unreachable, one message of that route at a time is tried this often, so its return is noticed within this time and the route\'s backlog goes out at once',
    defaultText: '"250ms"',
    default: () => 250,
    parse: positiveDuration,
  },
  expire: {
    description: 'A message not delivered this long after it was queued goes to Badmail',
    defaultText: '"2d"',
    default: () => 172_800_000,
    parse: positiveDuration,
  },
  maxMessageSize: {
    description: 'Largest message accepted (advertised in EHLO SIZE); larger ones get 552',
    defaultText: '"2MB"',
    default: () => 2 * 1024 * 1024,
    parse: size,
  },
  allowConnect: {
    description: 'Client addresses (IPs and CIDRs, IPv4 and IPv6) that may connect at all; others get 554 at once (IIS "connection control"). The default is everyone who can reach a listener',
    defaultText: '["0.0.0.0/0", "::/0"]',
    default: () => [
      { address: '0.0.0.0', prefix: 0, family: 'ipv4' as const },
      { address: '::', prefix: 0, family: 'ipv6' as const },
    ],
    parse: listOf(cidr, 1),
    list: true,
  },
  allowRelay: {
    description: 'Client addresses that may send to any domain; others may send only to localDomains (550 5.7.1 otherwise). "none" for no address (IIS "relay restrictions")',
    defaultText: '["127.0.0.0/8", "::1/128"]',
    default: () => [
      { address: '127.0.0.0', prefix: 8, family: 'ipv4' as const },
      { address: '::1', prefix: 128, family: 'ipv6' as const },
    ],
    parse: relayList,
    list: true,
  },
  allowOpenRelay: {
    description: 'Needed to start with an allowRelay range wider than /8 (IPv4) or /16 (IPv6) on a listener that is not loopback',
    defaultText: 'false',
    default: () => false,
    parse: boolean,
  },
  localDomains: {
    description: 'Domains delivered here, to the Drop folder (pickup format), from any client; compared without case, punycode or Unicode',
    defaultText: '[]',
    default: () => [] as string[],
    parse: listOf(domain, 0),
    list: true,
  },
  maxSessionSize: {
    description: 'Most message bytes one connection may send in all; past it 452 4.3.1 (IIS "limit session size")',
    defaultText: '"10MB"',
    default: () => 10 * 1024 * 1024,
    parse: size,
  },
  maxRecipients: {
    description: 'Most recipients per message; the next RCPT gets 452 4.5.3',
    defaultText: '100',
    default: () => 100,
    parse: positiveInteger,
  },
  maxConnections: {
    description: 'Most client connections at once, all listeners together; past it 421',
    defaultText: '500',
    default: () => 500,
    parse: positiveInteger,
  },
  maxConnectionsPerIp: {
    description: 'Most client connections at once from one address; past it 421',
    defaultText: '250',
    default: () => 250,
    parse: positiveInteger,
  },
  greetingDelay: {
    description: 'Wait before the 220 greeting; a client that talks before it gets 421. 0 greets at once',
    defaultText: '0',
    default: () => 0,
    parse: greetingDelay,
  },
  idleTimeout: {
    description: 'A client silent this long is disconnected with 421 (IIS connection time-out)',
    defaultText: '"10m"',
    default: () => 600_000,
    parse: positiveDuration,
  },
  dataTimeout: {
    description: 'Longest one DATA transfer may take however busy the client looks (slowloris guard); then 421 and nothing is kept',
    defaultText: '"30m"',
    default: () => 1_800_000,
    parse: positiveDuration,
  },
  maxCommandLength: {
    description: 'Longest SMTP command line; a longer one gets 421 and the connection is closed',
    defaultText: '"16KB"',
    default: () => 16 * 1024,
    parse: size,
  },
  maxHeaderSize: {
    description: 'Largest header block of a message (everything before the first empty line); larger gets 552',
    defaultText: '"256KB"',
    default: () => 256 * 1024,
    parse: size,
  },
  minFreeSpace: {
    description: 'MAIL FROM gets 452 4.3.1 when the mailroot disk would have less than this free after the message (its SIZE, else maxMessageSize); 0 turns the check off',
    defaultText: '"100MB"',
    default: () => 100 * 1024 * 1024,
    parse: sizeOrZero,
  },
  tlsCert: {
    description: 'Server certificate for STARTTLS, a PEM file (with tlsKey); STARTTLS is offered only when a certificate is set',
    defaultText: '(none)',
    default: () => undefined,
    parse: nonEmptyString,
  },
  tlsKey: {
    description: 'Private key for tlsCert, a PEM file (encrypted with tlsPassphrase, or not encrypted)',
    defaultText: '(none)',
    default: () => undefined,
    parse: nonEmptyString,
  },
  tlsPfx: {
    description: 'Certificate and key for STARTTLS in one PFX/PKCS#12 file, as Windows exports it (instead of tlsCert and tlsKey)',
    defaultText: '(none)',
    default: () => undefined,
    parse: nonEmptyString,
  },
  tlsPassphrase: {
    description: 'Password of tlsPfx or of an encrypted tlsKey (better set through the environment than on the command line)',
    defaultText: '(none)',
    default: () => undefined,
    parse: (raw: unknown) => (typeof raw === 'string' && raw !== '' ? ok(raw) : failure('must be a non-empty string')),
  },
  tlsMinVersion: {
    description: `Oldest TLS version accepted: ${TLS_VERSIONS.join(', ')} (lower it only for old devices)`,
    defaultText: '"TLSv1.2"',
    default: () => 'TLSv1.2' as TlsVersion,
    parse: (raw: unknown) =>
      typeof raw === 'string' && (TLS_VERSIONS as readonly string[]).includes(raw)
        ? ok(raw as TlsVersion)
        : failure(`must be one of ${TLS_VERSIONS.join(', ')} (got ${describe(raw)})`),
  },
  requireTls: {
    description: 'Refuse MAIL FROM (530 5.7.0) until the client has used STARTTLS',
    defaultText: 'false',
    default: () => false,
    parse: boolean,
  },
  authUsers: {
    description: 'Users for SMTP AUTH PLAIN/LOGIN, "name:hash" each, the hash from "mailroot hash-password"; authenticated clients may relay. AUTH is offered only when users are set',
    defaultText: '[]',
    default: () => [] as AuthUser[],
    parse: listOf(authUser, 0),
    list: true,
  },
  allowInsecureAuth: {
    description: 'Offer AUTH without TLS too (passwords then cross the network readable; the AD CS exit module\'s "Basic" needs it when there is no certificate)',
    defaultText: 'false',
    default: () => false,
    parse: boolean,
  },
  concurrency: {
    description: 'Most messages handed to the smart host at once (also the connection pool size)',
    defaultText: '10',
    default: () => 10,
    parse: positiveInteger,
  },
  maxHopCount: {
    description: 'A message with more Received: lines than this is a mail loop: Badmail and a non-delivery report',
    defaultText: '15',
    default: () => 15,
    parse: positiveInteger,
  },
  delayNotify: {
    description: 'Warn the sender once (a "delayed" notification) when a message is still queued this long; "0" never',
    defaultText: '"12h"',
    default: () => 43_200_000,
    parse: durationOrZero,
  },
  ndrCopyTo: {
    description: 'Also send a copy of every non-delivery report to these addresses (IIS "Send copy of NDR to")',
    defaultText: '[]',
    default: () => [] as string[],
    parse: listOf(emailAddress, 0),
    list: true,
  },
  ndrLimitPerHour: {
    description: 'Most notifications sent to one sender in an hour; failures past it go to Badmail without one',
    defaultText: '10',
    default: () => 10,
    parse: positiveInteger,
  },
  addMissingHeaders: {
    description:
      'Add Message-ID: and Date: to SMTP mail that lacks them, from clients allowed to relay (allowRelay or ' +
      'authenticated), as IIS and Postfix do for local clients; mail from others is left as it is',
    defaultText: 'true',
    default: () => true,
    parse: boolean,
  },
  rescanInterval: {
    description: 'How often Queue and Pickup are listed in full, to catch files the watchers missed',
    defaultText: '"30s"',
    default: () => 30_000,
    parse: positiveDuration,
  },
  pickupDotStuffed: {
    description:
      'Pickup files are dot-stuffed, as IIS assumes (SmtpDotStuffPickupDirFiles): one leading dot is removed from ' +
      'each line. false: lines are sent as written (modern .NET, MailKit, scripts)',
    defaultText: 'true',
    default: () => true,
    parse: boolean,
  },
  pickupSettleTime: {
    description:
      'A Pickup file is taken once its size and modification time have not changed for this long ' +
      '(on Windows, also only once no other program has it open). Pickup is also listed in full every rescanInterval',
    defaultText: '"2s"',
    default: () => 2000,
    parse: positiveDuration,
  },
  pickupMaxRecipients: {
    description:
      'Most recipients one Pickup file may list (X-Receiver lines, or To:/Cc:/Bcc: without them); a file with more ' +
      'goes to Badmail with a .bdr (IIS: 100 recipients per message)',
    defaultText: '100',
    default: () => 100,
    parse: positiveInteger,
  },
  logLevel: {
    description: `Log verbosity: ${LOG_LEVELS.join(', ')}`,
    defaultText: '"info"',
    default: () => 'info' as LogLevel,
    parse: (raw: unknown) =>
      typeof raw === 'string' && (LOG_LEVELS as readonly string[]).includes(raw)
        ? ok(raw as LogLevel)
        : failure(`must be one of ${LOG_LEVELS.join(', ')} (got ${describe(raw)})`),
  },
  logFile: {
    description: 'Also write the log to files (JSON lines), one per UTC day: mailroot.log becomes mailroot-YYYY-MM-DD.log',
    defaultText: '(none)',
    default: () => undefined,
    parse: nonEmptyString,
  },
  protocolLog: {
    description: 'Write the SMTP protocol log in IIS\'s W3C extended format, one exYYMMDD.log a day (UTC), inbound commands and outbound OutboundConnectionCommand/Response lines',
    defaultText: 'false',
    default: () => false,
    parse: boolean,
  },
  protocolLogDir: {
    description: 'Folder of the protocol log files',
    defaultText: '"LogFiles" beside the mailroot',
    default: () => undefined,
    parse: nonEmptyString,
  },
  logRetention: {
    description: 'Daily logFile files older than this are deleted (whole days)',
    defaultText: '"14d"',
    default: () => 14 * 86_400_000,
    parse: positiveDuration,
  },
  alertSmartHostDown: {
    description: 'Alert the operator (error log, Event Log, alertMailTo, alertWebhook) when the smart host has been unreachable this long; "0" never',
    defaultText: '"15m"',
    default: () => 900_000,
    parse: durationOrZero,
  },
  alertQueueAge: {
    description: 'Alert the operator when the oldest queued message has waited this long; "0" never',
    defaultText: '"1h"',
    default: () => 3_600_000,
    parse: durationOrZero,
  },
  alertBadmail: {
    description: 'Alert the operator when Badmail receives its first file of the day (UTC)',
    defaultText: 'true',
    default: () => true,
    parse: boolean,
  },
  alertMailTo: {
    description: 'Mail each alert to these addresses, sent directly (alertMailVia, then the smart host), never queued',
    defaultText: '[]',
    default: () => [] as string[],
    parse: listOf(emailAddress, 0),
    list: true,
  },
  alertMailVia: {
    description: 'SMTP server "host:port" tried first for alert mail, so an alert about the smart host still gets out',
    defaultText: '(the smart host only)',
    default: () => undefined,
    parse: (raw: unknown) => {
      return parseHostPort(raw, 25);
    },
  },
  alertWebhook: {
    description: 'POST each alert as JSON ({kind, message, at, hostname}) to this http(s) URL',
    defaultText: '(none)',
    default: () => undefined,
    parse: (raw: unknown) =>
      typeof raw === 'string' && /^https?:\/\/\S+$/i.test(raw.trim()) ? ok(raw.trim()) : failure(`must be an http:// or https:// URL (got ${describe(raw)})`),
  },
  alertInterval: {
    description: 'Most one alert of each kind per this long (Badmail: once a day)',
    defaultText: '"1h"',
    default: () => 3_600_000,
    parse: positiveDuration,
  },
  eventLog: {
    description: 'Windows only: also write start, stop, smart host down and up, the first Badmail message and errors to the Application event log, source "mailroot"',
    defaultText: 'true on Windows, false elsewhere',
    default: () => process.platform === 'win32',
    parse: boolean,
  },
} satisfies { [K in keyof Config]: KeySpec<Config[K]> };

/** Loopback addresses: 127.0.0.0/8, ::1 and their IPv4-mapped forms. */
export function isLoopbackIp(ip: string): boolean {
  const list = new net.BlockList();
  list.addSubnet('127.0.0.0', 8, 'ipv4');
  list.addAddress('::1', 'ipv6');
  return list.check(ip, net.isIP(ip) === 6 ? 'ipv6' : 'ipv4');
}

/** Rules between keys, checked once all keys are parsed. Each error names the keys involved. */
export function checkConfig(config: Config): void {
  if (config.tlsPfx !== undefined && (config.tlsCert !== undefined || config.tlsKey !== undefined)) {
    throw new ConfigError('config: set either tlsPfx or tlsCert with tlsKey, not both');
  }
  if ((config.tlsCert === undefined) !== (config.tlsKey === undefined)) {
    throw new ConfigError('config: tlsCert and tlsKey go together: set both (or tlsPfx instead)');
  }
  const tls = config.tlsPfx !== undefined || config.tlsCert !== undefined;
  if (config.requireTls && !tls) {
    throw new ConfigError('config: requireTls needs a certificate: set tlsCert and tlsKey, or tlsPfx');
  }
  const names = new Set<string>();
  for (const user of config.authUsers) {
    const name = user.name.toLowerCase();
    if (names.has(name)) throw new ConfigError(`config: authUsers lists user ${JSON.stringify(user.name)} twice`);
    names.add(name);
  }
  if (config.authUsers.length > 0 && !tls && !config.allowInsecureAuth) {
    throw new ConfigError(
      'config: authUsers is set but AUTH is offered only over TLS: set tlsCert and tlsKey (or tlsPfx), ' +
        'or allowInsecureAuth to accept passwords without TLS',
    );
  }
  const publicListeners = config.listen.filter((address) => !isLoopbackIp(address.host));
  const wide = config.allowRelay.filter(isWideCidr);
  if (wide.length > 0 && publicListeners.length > 0 && !config.allowOpenRelay) {
    throw new ConfigError(
      `config: allowRelay ${wide.map(formatCidr).join(', ')} with listen ${publicListeners.map((a) => a.host).join(', ')} ` +
        'makes an open relay: anyone who can reach it may send mail anywhere. Narrow allowRelay, or set allowOpenRelay ' +
        'to true if that is really meant',
    );
  }
}

export type ConfigKey = keyof Config;
export const KEY_NAMES = Object.keys(CONFIG_KEYS) as ConfigKey[];
export type ConfigKeySpec = KeySpec<unknown>;

export function keySpec(key: ConfigKey): ConfigKeySpec {
  return CONFIG_KEYS[key] as ConfigKeySpec;
}

/** smartHost -> MAILROOT_SMART_HOST */
export function envName(key: ConfigKey): string {
  return 'MAILROOT_' + key.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase();
}

/** smartHost -> smart-host */
export function flagName(key: ConfigKey): string {
  return key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}
