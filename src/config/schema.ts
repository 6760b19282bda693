// Every configuration key: its default, its help text and how a raw value (JSON, env or flag) becomes a typed one.
// The CLI, the environment reader, the file reader and the README table are all derived from this one list.
import os from 'node:os';
import net from 'node:net';
import { parseDuration, parseSize } from './units.js';

export interface HostPort {
  host: string;
  port: number;
}

export interface Config {
  mailroot: string;
  listen: HostPort[];
  hostname: string;
  smartHost: HostPort;
  smartHostTimeout: number;
  retry: number[];
  expire: number;
  maxMessageSize: number;
  concurrency: number;
  maxHopCount: number;
  delayNotify: number;
  ndrCopyTo: string[];
  ndrLimitPerHour: number;
  rescanInterval: number;
  pickupDotStuffed: boolean;
  pickupSettleTime: number;
  logLevel: LogLevel;
  logFile: string | undefined;
}

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Thrown for any bad configuration value; the message always names the key. Exit code 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export type Parsed<T> = { value: T } | { error: string };
type Parser<T> = (raw: unknown) => Parsed<T>;
const ok = <T>(value: T): Parsed<T> => ({ value });
const bad = (error: string): { error: string } => ({ error });

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
export function parseHostPort(raw: unknown, defaultPort: number | undefined): HostPort | string {
  if (typeof raw !== 'string' || raw.trim() === '') return `must be "host:port" (got ${describe(raw)})`;
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
      return `must put an IPv6 address in brackets, like "[::1]:25" (got ${describe(raw)})`;
    }
    host = lastColon === -1 ? text : text.slice(0, lastColon);
    portText = lastColon === -1 ? undefined : text.slice(lastColon + 1);
  }
  if (host === '' || /\s/.test(host)) return `must be "host:port" (got ${describe(raw)})`;
  if (portText === undefined) {
    if (defaultPort === undefined) return `must include a port, like "127.0.0.1:25" (got ${describe(raw)})`;
    return { host, port: defaultPort };
  }
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) return `has an invalid port (got ${describe(raw)})`;
  return { host, port };
}

function listOf<T>(item: Parser<T>, minLength: number): Parser<T[]> {
  return (raw) => {
    const items = Array.isArray(raw) ? raw : [raw];
    if (items.length < minLength) return bad(`must list at least ${minLength} value(s) (got ${describe(raw)})`);
    const out: T[] = [];
    for (const entry of items) {
      const parsed = item(entry);
      if ('error' in parsed) return parsed;
      out.push(parsed.value);
    }
    return ok(out);
  };
}

const positiveDuration: Parser<number> = (raw) => {
  const ms = parseDuration(raw);
  return ms !== undefined && ms > 0 ? ok(ms) : bad(`must be a duration above zero such as "30s", "15m", "2d" (got ${describe(raw)})`);
};

const durationOrZero: Parser<number> = (raw) => {
  const ms = parseDuration(raw);
  return ms !== undefined ? ok(ms) : bad(`must be a duration such as "12h", or "0" for never (got ${describe(raw)})`);
};

const emailAddress: Parser<string> = (raw) =>
  typeof raw === 'string' && /^[^\s<>@]+@[^\s<>@]+$/.test(raw.trim())
    ? ok(raw.trim())
    : bad(`must be an e-mail address like "admin@example.com" (got ${describe(raw)})`);

const size: Parser<number> = (raw) => {
  const bytes = parseSize(raw);
  return bytes !== undefined ? ok(bytes) : bad(`must be a size such as "2MB", "2048KB" or a byte count (got ${describe(raw)})`);
};

const positiveInteger: Parser<number> = (raw) => {
  const n = typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : raw;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? ok(n) : bad(`must be a whole number above zero (got ${describe(raw)})`);
};

const nonEmptyString: Parser<string> = (raw) =>
  typeof raw === 'string' && raw.trim() !== '' ? ok(raw.trim()) : bad(`must be a non-empty string (got ${describe(raw)})`);

const TRUE_WORDS = ['true', 'yes', 'on', '1'];
const FALSE_WORDS = ['false', 'no', 'off', '0'];

const boolean: Parser<boolean> = (raw) => {
  if (typeof raw === 'boolean') return ok(raw);
  const word = typeof raw === 'string' ? raw.trim().toLowerCase() : undefined;
  if (word !== undefined && TRUE_WORDS.includes(word)) return ok(true);
  if (word !== undefined && FALSE_WORDS.includes(word)) return ok(false);
  return bad(`must be true or false (got ${describe(raw)})`);
};

const listenAddress: Parser<HostPort> = (raw) => {
  const parsed = parseHostPort(raw, undefined);
  if (typeof parsed === 'string') return bad(parsed);
  if (net.isIP(parsed.host) === 0) {
    return bad(`must be an IP address and port, like "127.0.0.1:25" or "[::1]:25" (got ${describe(raw)})`);
  }
  return ok(parsed);
};

export const CONFIG_KEYS = {
  mailroot: {
    description: 'Root folder holding Pickup, Queue, Badmail, Drop and SortTemp (created if missing)',
    defaultText: '"./spool"',
    default: () => './spool',
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
    description: 'Name used in the SMTP greeting, EHLO to the smart host and Received: lines',
    defaultText: 'the machine name',
    default: () => os.hostname(),
    parse: nonEmptyString,
  },
  smartHost: {
    description: 'Upstream SMTP server all mail is forwarded to, "host:port" (port 25 if left out; "[10.0.0.5]" accepted)',
    defaultText: '(required)',
    default: undefined,
    parse: (raw: unknown) => {
      const parsed = parseHostPort(raw, 25);
      return typeof parsed === 'string' ? bad(parsed) : ok(parsed);
    },
  },
  smartHostTimeout: {
    description: 'Give up on a silent smart host after this long (connect, each reply, the end of data)',
    defaultText: '"10m"',
    default: () => 600_000,
    parse: positiveDuration,
  },
  retry: {
    description: 'Waits between delivery attempts; the last one repeats',
    defaultText: '["15m", "30m", "60m", "240m"]',
    default: () => [900_000, 1_800_000, 3_600_000, 14_400_000],
    parse: listOf(positiveDuration, 1),
    list: true,
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
  logLevel: {
    description: `Log verbosity: ${LOG_LEVELS.join(', ')}`,
    defaultText: '"info"',
    default: () => 'info' as LogLevel,
    parse: (raw: unknown) =>
      typeof raw === 'string' && (LOG_LEVELS as readonly string[]).includes(raw)
        ? ok(raw as LogLevel)
        : bad(`must be one of ${LOG_LEVELS.join(', ')} (got ${describe(raw)})`),
  },
  logFile: {
    description: 'Also write the log to this file (JSON lines)',
    defaultText: '(none)',
    default: () => undefined,
    parse: nonEmptyString,
  },
} satisfies { [K in keyof Config]: KeySpec<Config[K]> };

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
