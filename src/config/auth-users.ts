// authUsers entries, "name:hash", as the config holds them. The hash is made by `mailroot hash-password`
// (smtp/auth.ts, which also checks passwords against it):
//
//   scrypt$<log2 N>$<r>$<p>$<salt, base64>$<hash, base64>
//
// No commas or colons, so a user entry "name:hash" survives the comma-separated form of flags and environment.
import { failure, ok, type Result } from '../result.js';

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

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export function parsePasswordHash(text: string): Result<PasswordHash> {
  const parts = text.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') {
    return failure('must be a password hash made by "mailroot hash-password" (scrypt$15$8$1$<salt>$<hash>)');
  }
  const [logN, r, p] = parts.slice(1, 4).map((n) => (/^\d{1,2}$/.test(n!) ? Number(n) : NaN)) as [number, number, number];
  if (!(logN >= 10 && logN <= 20) || !(r >= 1 && r <= 32) || !(p >= 1 && p <= 16)) {
    return failure('has scrypt parameters out of range (log2 N 10-20, r 1-32, p 1-16)');
  }
  if (!BASE64.test(parts[4]!) || !BASE64.test(parts[5]!)) return failure('has a salt or hash that is not base64');
  const salt = Buffer.from(parts[4]!, 'base64');
  const hash = Buffer.from(parts[5]!, 'base64');
  if (salt.length < 8 || hash.length < 16) return failure('has a salt or hash that is too short');
  return ok({ logN, r, p, salt, hash });
}

/** One authUsers entry: "name:hash". The name is matched without regard to case, as Windows accounts are. */
export function parseAuthUser(raw: unknown): Result<AuthUser> {
  if (typeof raw !== 'string') return failure(`must be "name:hash" entries (got ${JSON.stringify(raw)})`);
  const colon = raw.indexOf(':');
  if (colon <= 0) return failure(`must be "name:hash" entries, the hash from "mailroot hash-password" (got an entry without a name)`);
  const name = raw.slice(0, colon).trim();
  if (name === '' || /[\x00-\x20\x7f]/.test(name)) return failure(`has a user name with spaces or control characters (${JSON.stringify(name)})`);
  const password = parsePasswordHash(raw.slice(colon + 1).trim());
  if (!password.ok) return failure(`user ${JSON.stringify(name)} ${password.reason}`);
  return ok({ name, password: password.value });
}

