// Resource limits smtp-server has no option for: connections counted across all listeners and per client
// address, bytes per connection (IIS "session size"), free disk space at MAIL FROM, and a hard deadline on DATA.
import { freeSpace } from '../spool/file-ops.js';
import type { SMTPServer, SMTPServerSession } from 'smtp-server';
import { SmtpError } from './smtp-error.js';

export interface ConnectionLimits {
  maxConnections: number;
  maxConnectionsPerIp: number;
}

/** Open connections, all listeners together and per client address. */
export class ConnectionTracker {
  readonly #limits: ConnectionLimits;
  readonly #perIp = new Map<string, number>();
  /** Sessions counted in, so a connection refused before it was counted is never counted out. */
  readonly #counted = new Map<string, string>();

  constructor(limits: ConnectionLimits) {
    this.#limits = limits;
  }

  get total(): number {
    return this.#counted.size;
  }

  countOf(ip: string): number {
    return this.#perIp.get(ip) ?? 0;
  }

  /** Counts the session in, or returns the 421 error that refuses it. */
  open(sessionId: string, ip: string): SmtpError | undefined {
    if (this.#counted.size >= this.#limits.maxConnections) {
      return new SmtpError(421, '4.7.0', 'Too many connections, try again later', 'too many connections (maxConnections)');
    }
    const current = this.countOf(ip);
    if (current >= this.#limits.maxConnectionsPerIp) {
      return new SmtpError(421, '4.7.0', 'Too many connections from your address, try again later', 'too many connections from this address (maxConnectionsPerIp)');
    }
    this.#perIp.set(ip, current + 1);
    this.#counted.set(sessionId, ip);
    return undefined;
  }

  close(sessionId: string): void {
    const ip = this.#counted.get(sessionId);
    if (ip === undefined) return;
    this.#counted.delete(sessionId);
    const left = this.countOf(ip) - 1;
    if (left > 0) this.#perIp.set(ip, left);
    else this.#perIp.delete(ip);
  }
}

/** Bytes of DATA a connection has sent so far, against maxSessionSize. Keyed by the session object. */
export class SessionBytes {
  readonly #used = new WeakMap<SMTPServerSession, number>();
  readonly limit: number;

  constructor(limit: number) {
    this.limit = limit;
  }

  used(session: SMTPServerSession): number {
    return this.#used.get(session) ?? 0;
  }

  remaining(session: SMTPServerSession): number {
    return Math.max(0, this.limit - this.used(session));
  }

  add(session: SMTPServerSession, bytes: number): void {
    this.#used.set(session, this.used(session) + bytes);
  }
}

export type FreeSpaceProbe = (dir: string) => Promise<number>;

/** Bytes available to this process on the filesystem holding `dir`. */
export const statfsFreeSpace: FreeSpaceProbe = freeSpace;

export interface DiskGateOptions {
  dir: string;
  /** 0 turns the check off. */
  minFreeSpace: number;
  maxMessageSize: number;
  probe?: FreeSpaceProbe;
  onProbeError?: (err: Error) => void;
}

/**
 * Postfix's queue_minfree idea, at MAIL FROM: refuse a message (452 4.3.1, the client keeps it and tries later)
 * when the disk would have less than minFreeSpace left after it. The message counts as its declared SIZE,
 * or maxMessageSize when the client declared none.
 */
export class DiskGate {
  readonly #options: DiskGateOptions;
  readonly #probe: FreeSpaceProbe;

  constructor(options: DiskGateOptions) {
    this.#options = options;
    this.#probe = options.probe ?? statfsFreeSpace;
  }

  async check(declaredSize: number | undefined): Promise<SmtpError | undefined> {
    const { minFreeSpace, maxMessageSize, dir } = this.#options;
    if (minFreeSpace <= 0) return undefined;
    let free: number;
    try {
      free = await this.#probe(dir);
    } catch (err) {
      // A platform without statfs must not stop all mail; a real write failure still gets its 452 at the end.
      this.#options.onProbeError?.(err as Error);
      return undefined;
    }
    const need = declaredSize ?? maxMessageSize;
    if (free - need < minFreeSpace) return new SmtpError(452, '4.3.1', 'Insufficient system storage', 'low disk space (minFreeSpace)');
    return undefined;
  }
}

interface LibraryConnection {
  session: SMTPServerSession;
  send(code: number, text: string): void;
}

/**
 * Sends a reply to the session's client and closes the connection. smtp-server has no public way to end one
 * session from a handler, so this reaches into its `connections` set (present in 3.21.x; the DATA deadline
 * test fails if that changes). A 421 reply makes smtp-server close the connection itself.
 */
export function closeSession(server: SMTPServer, session: SMTPServerSession, code: number, text: string): boolean {
  const connections = (server as unknown as { connections?: Set<LibraryConnection> }).connections;
  for (const connection of connections ?? []) {
    if (connection.session === session) {
      connection.send(code, text);
      return true;
    }
  }
  return false;
}
