// SMTP AUTH (PLAIN, LOGIN) against the users in the config. Passwords are stored as scrypt hashes:
//
//   scrypt$<log2 N>$<r>$<p>$<salt, base64>$<hash, base64>
//
// No commas or colons, so a user entry "name:hash" survives the comma-separated form of flags and environment.
// `mailroot hash-password` makes one.
import crypto from 'node:crypto';
import { promisify } from 'node:util';

const scrypt = promisify(crypto.scrypt) as (
  password: crypto.BinaryLike,
  salt: crypto.BinaryLike,
  keylen: number,
  options: crypto.ScryptOptions,
) => Promise<Buffer>;

export interface PasswordHash {
  logN: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

export interface AuthUser {
  name: string;
  password: PasswordHash;
}

/** Cost of new hashes: N = 2^15, r = 8, p = 1 uses 32 MB and about 0.1 s per check. */
export const DEFAULT_COST = { logN: 15, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const HASH_BYTES = 32;

function scryptOptions(h: { logN: number; r: number; p: number }): crypto.ScryptOptions {
  const N = 2 ** h.logN;
  return { N, r: h.r, p: h.p, maxmem: 256 * N * h.r + 1024 * 1024 };
}

export async function hashPassword(password: string, cost: { logN: number; r: number; p: number } = DEFAULT_COST): Promise<string> {
  const salt = crypto.randomBytes(SALT_BYTES);
  const hash = await scrypt(password.normalize('NFC'), salt, HASH_BYTES, scryptOptions(cost));
  return `scrypt$${cost.logN}$${cost.r}$${cost.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export function parsePasswordHash(text: string): PasswordHash | string {
  const parts = text.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') {
    return 'must be a password hash made by "mailroot hash-password" (scrypt$15$8$1$<salt>$<hash>)';
  }
  const [logN, r, p] = parts.slice(1, 4).map((n) => (/^\d{1,2}$/.test(n!) ? Number(n) : NaN)) as [number, number, number];
  if (!(logN >= 10 && logN <= 20) || !(r >= 1 && r <= 32) || !(p >= 1 && p <= 16)) {
    return 'has scrypt parameters out of range (log2 N 10-20, r 1-32, p 1-16)';
  }
  if (!BASE64.test(parts[4]!) || !BASE64.test(parts[5]!)) return 'has a salt or hash that is not base64';
  const salt = Buffer.from(parts[4]!, 'base64');
  const hash = Buffer.from(parts[5]!, 'base64');
  if (salt.length < 8 || hash.length < 16) return 'has a salt or hash that is too short';
  return { logN, r, p, salt, hash };
}

/** One authUsers entry: "name:hash". The name is matched without regard to case, as Windows accounts are. */
export function parseAuthUser(raw: unknown): AuthUser | string {
  if (typeof raw !== 'string') return `must be "name:hash" entries (got ${JSON.stringify(raw)})`;
  const colon = raw.indexOf(':');
  if (colon <= 0) return `must be "name:hash" entries, the hash from "mailroot hash-password" (got an entry without a name)`;
  const name = raw.slice(0, colon).trim();
  if (name === '' || /[\x00-\x20\x7f]/.test(name)) return `has a user name with spaces or control characters (${JSON.stringify(name)})`;
  const password = parsePasswordHash(raw.slice(colon + 1).trim());
  if (typeof password === 'string') return `user ${JSON.stringify(name)} ${password}`;
  return { name, password };
}

export async function verifyPassword(password: string, stored: PasswordHash): Promise<boolean> {
  const actual = await scrypt(password.normalize('NFC'), stored.salt, stored.hash.length, scryptOptions(stored));
  return crypto.timingSafeEqual(actual, stored.hash);
}

/** Checks credentials; an unknown user costs the same scrypt run as a known one, so timing tells nothing. */
export class UserDirectory {
  readonly #users = new Map<string, AuthUser>();
  readonly #dummy: PasswordHash;

  constructor(users: readonly AuthUser[]) {
    for (const user of users) this.#users.set(user.name.toLowerCase(), user);
    const cost = users[0]?.password ?? DEFAULT_COST;
    this.#dummy = { logN: cost.logN, r: cost.r, p: cost.p, salt: crypto.randomBytes(SALT_BYTES), hash: crypto.randomBytes(HASH_BYTES) };
  }

  get size(): number {
    return this.#users.size;
  }

  /** The user's configured name when the password is right, undefined otherwise. */
  async authenticate(username: string, password: string): Promise<string | undefined> {
    const user = this.#users.get(username.toLowerCase());
    const ok = await verifyPassword(password, user?.password ?? this.#dummy);
    return ok && user ? user.name : undefined;
  }
}
