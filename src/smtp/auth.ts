// SMTP AUTH (PLAIN, LOGIN) against the users in the config. Passwords are stored as scrypt hashes (the format
// is in config/auth-users.ts, which parses the authUsers key); `mailroot hash-password` makes one.
import crypto from 'node:crypto';
import { promisify } from 'node:util';
import type { AuthUser, PasswordHash } from '../config/auth-users.js';

const scrypt = promisify(crypto.scrypt) as (
  password: crypto.BinaryLike,
  salt: crypto.BinaryLike,
  keylen: number,
  options: crypto.ScryptOptions,
) => Promise<Buffer>;

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
