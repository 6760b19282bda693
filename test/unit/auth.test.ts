import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { parseAuthUser, parsePasswordHash, type AuthUser } from '../../src/config/auth-users.js';
import { UserDirectory, hashPassword, verifyPassword } from '../../src/smtp/auth.js';

const CHEAP = { logN: 10, r: 8, p: 1 };

describe('AUTH passwords', () => {
  it('hashes with a fresh salt and verifies only the right password', async () => {
    const a = await hashPassword('s3cret pässword', CHEAP);
    const b = await hashPassword('s3cret pässword', CHEAP);
    assert.match(a, /^scrypt\$10\$8\$1\$[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*$/);
    assert.notEqual(a, b, 'salted');
    const result = parsePasswordHash(a);
    assert.ok(result.ok);
    const parsed = result.value;
    assert.equal(await verifyPassword('s3cret pässword', parsed), true);
    assert.equal(await verifyPassword('s3cret pässword'.normalize('NFD'), parsed), true, 'Unicode normalised');
    assert.equal(await verifyPassword('s3cret password', parsed), false);
    assert.equal(await verifyPassword('', parsed), false);
  });

  it('makes hashes with the default cost', async () => {
    assert.match(await hashPassword('x'), /^scrypt\$15\$8\$1\$/);
  });

  it('refuses malformed hashes and entries', () => {
    for (const bad of ['plain', 'scrypt$15$8$1$salt', 'bcrypt$15$8$1$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA==', 'scrypt$40$8$1$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA==', 'scrypt$15$8$1$!!$aGFzaA==']) {
      assert.equal(parsePasswordHash(bad).ok, false, bad);
    }
    const reason = (raw: string) => (parseAuthUser(raw) as { reason: string }).reason;
    assert.match(reason('nohash'), /"name:hash"/);
    assert.match(reason('bad name:x'), /spaces or control characters/);
    assert.match(reason(':scrypt$15$8$1$a$b'), /without a name/);
  });

  it('finds users without regard to case, and answers unknown users like wrong passwords', async () => {
    const user = (parseAuthUser(`CA-Exit:${await hashPassword('pw', CHEAP)}`) as { value: AuthUser }).value;
    const directory = new UserDirectory([user]);
    assert.equal(await directory.authenticate('ca-exit', 'pw'), 'CA-Exit');
    assert.equal(await directory.authenticate('CA-EXIT', 'pw'), 'CA-Exit');
    assert.equal(await directory.authenticate('ca-exit', 'PW'), undefined);
    assert.equal(await directory.authenticate('nobody', 'pw'), undefined);
  });

  it('mailroot hash-password reads the password from standard input and prints an authUsers entry', async () => {
    const main = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
    const run = spawnSync(process.execPath, [main, 'hash-password', '--user', 'ca-exit'], { input: 'from stdin\n', encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const parsed = parseAuthUser(run.stdout.trim());
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.reason);
    const user = parsed.value;
    assert.equal(user.name, 'ca-exit');
    assert.equal(await verifyPassword('from stdin', user.password), true, 'the trailing newline is not part of the password');
    const empty = spawnSync(process.execPath, [main, 'hash-password'], { input: '', encoding: 'utf8' });
    assert.notEqual(empty.status, 0);
    assert.match(empty.stderr, /empty password/);
  });
});
