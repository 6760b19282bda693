// Pickup is writable by less privileged users than the relay: a link there must never make the relay read (and
// mail, or quote in a report) a file its writer could not read, and a named pipe must never stall it. Each such
// entry is refused with a .bdr that says why; whatever it pointed at is left alone. Queue files are opened the
// same way: named pipes there must not occupy the thread pool while clients send.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { renameSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Relay } from '../../src/relay.js';
import { sendMail } from '../helpers/client.js';
import { isRoot, otherUserUnavailable, runAsOtherUser } from '../helpers/other-user.js';
import { dropFile, receivedWith } from '../helpers/pickup.js';
import { eventually, filesIn, relayPort, startRelay, tempMailroot } from '../helpers/relay.js';
import { Upstream } from '../helpers/upstream.js';

const posix = process.platform !== 'win32';
const SECRET = 'TOP-SECRET-KEY-MATERIAL-0123456789abcdefghij';
/** A root-only file that looks like a pickup file: mailed to the recipients in its own headers if it is read. */
const SECRET_FILE = `From: root@example.com\r\nTo: attacker@example.net\r\nSubject: stolen\r\n\r\n${SECRET}\r\n`;

async function reports(badmail: string): Promise<string[]> {
  return Promise.all((await filesIn(badmail, '.bdr')).map((name) => fs.readFile(path.join(badmail, name), 'utf8')));
}

describe('Pickup: links and pipes are refused, never followed', { skip: posix ? false : 'POSIX links and named pipes' }, () => {
  let upstream: Upstream;
  let relay: Relay;
  let mailroot: string;
  let secretDir: string;
  let secret: string;

  before(async () => {
    upstream = await new Upstream().start();
    mailroot = await tempMailroot();
    secretDir = await tempMailroot();
    secret = path.join(secretDir, 'key.pem');
    await fs.writeFile(secret, SECRET_FILE, { mode: 0o600 });
    relay = await startRelay({ mailroot, smartHost: upstream.address, settings: { pickupSettleTime: '100ms' } });
    // The writers' side: they may reach Pickup (and nothing else of the mailroot).
    await fs.chmod(mailroot, 0o711);
    await fs.chmod(relay.spool.layout.pickup, 0o1777);
    await fs.chmod(secretDir, 0o711);
  });

  after(async () => {
    await relay?.stop();
    await upstream?.stop();
  });

  it('refuses a symbolic link to a file only the relay may read, leaving the target alone', async (t) => {
    const why = otherUserUnavailable();
    if (why) t.diagnostic(`link made by the current user: ${why}`);
    runAsOtherUser('ln', ['-s', secret, path.join(relay.spool.layout.pickup, 'link.eml')]);
    await eventually(async () => (await reports(relay.spool.layout.badmail)).some((r) => /symbolic link/.test(r)), 20_000, 'a .bdr for the link');
    const all = (await reports(relay.spool.layout.badmail)).join('\n');
    assert.ok(!all.includes('TOP-SECRET'), 'the .bdr quotes nothing of the target');
    assert.match(all, /\[Pickup file "link\.eml"\]/);
    assert.deepEqual(await filesIn(relay.spool.layout.pickup), [], 'the link is gone from Pickup');
    assert.deepEqual(await filesIn(relay.spool.layout.sortTemp), [], 'and from SortTemp');
    assert.deepEqual(await filesIn(relay.spool.layout.badmail, '.bad'), [], 'no link is left in Badmail for a reader to follow');
    assert.equal(await fs.readFile(secret, 'utf8'), SECRET_FILE, 'the target is untouched');
    await relay.rescan();
    assert.ok(!upstream.received.some((m) => m.data.includes(SECRET)), 'the target was not mailed');
  });

  it('refuses a hard link, leaving the other name in place', async () => {
    // Only root can link a file it does not own where fs.protected_hardlinks is set; a writer on a system without
    // that setting (or on Windows/NTFS) links any file it can find.
    const linked = path.join(secretDir, 'linked.eml');
    await fs.writeFile(linked, SECRET_FILE, { mode: 0o600 });
    await fs.link(linked, path.join(relay.spool.layout.pickup, 'hard.eml'));
    await eventually(async () => (await reports(relay.spool.layout.badmail)).some((r) => /hard link/.test(r)), 20_000, 'a .bdr for the hard link');
    assert.equal(await fs.readFile(linked, 'utf8'), SECRET_FILE);
    assert.equal((await fs.stat(linked)).nlink, 1, 'the name in Pickup was removed, the other one kept');
    assert.ok(!(await reports(relay.spool.layout.badmail)).join('\n').includes('TOP-SECRET'));
    assert.ok(!upstream.received.some((m) => m.data.includes(SECRET)));
  });

  it('refuses a named pipe and a link to one, without waiting for a writer, and goes on with the next file', async () => {
    const fifo = path.join(relay.spool.layout.pickup, 'pipe.eml');
    runAsOtherUser('mkfifo', [fifo]);
    runAsOtherUser('ln', ['-s', fifo, path.join(relay.spool.layout.pickup, 'to-pipe.eml')]);
    await dropFile(relay.spool.layout.pickup, 'after.eml', 'From: a@example.com\r\nTo: b@example.net\r\nSubject: after the pipes\r\n\r\nhello\r\n');
    await receivedWith(upstream, 'after the pipes');
    await eventually(async () => (await filesIn(relay.spool.layout.pickup)).length === 0, 20_000, 'Pickup to empty');
    const all = (await reports(relay.spool.layout.badmail)).join('\n');
    assert.match(all, /a named pipe, not a regular file[\s\S]*\[Pickup file "pipe\.eml"\]|\[Pickup file "pipe\.eml"\][\s\S]*named pipe/);
    assert.match(all, /\[Pickup file "to-pipe\.eml"\]/);
  });

  it('makes every spool file 0600 and every folder it creates 0700', async () => {
    await sendMail({ port: relayPort(relay), from: 'a@example.com', to: ['b@example.net'], raw: 'Subject: perms\r\n\r\nhi\r\n' });
    await receivedWith(upstream, 'Subject: perms');
    for (const name of await filesIn(relay.spool.layout.badmail)) {
      assert.equal((await fs.stat(path.join(relay.spool.layout.badmail, name))).mode & 0o777, 0o600, `${name} is 0600`);
    }
    for (const dir of [relay.spool.layout.queue, relay.spool.layout.badmail, relay.spool.layout.sortTemp, relay.spool.layout.drop]) {
      assert.equal((await fs.stat(dir)).mode & 0o777, 0o700, `${dir} is 0700`);
    }
    if (isRoot && !otherUserUnavailable()) {
      // What the issue saw: any local user reading the reports in Badmail.
      const report = path.join(relay.spool.layout.badmail, (await filesIn(relay.spool.layout.badmail, '.bdr'))[0]!);
      assert.throws(() => runAsOtherUser('cat', [report]), 'another user cannot read a .bdr');
    }
  });
});

describe('Queue: named pipes do not occupy the thread pool', { skip: posix ? false : 'POSIX named pipes' }, () => {
  it('moves four pipes in Queue to Badmail while two clients send, and delivers their mail', async () => {
    const upstream = await new Upstream().start();
    const mailroot = await tempMailroot();
    await fs.mkdir(path.join(mailroot, 'Queue'), { recursive: true });
    // One more pipe than libuv's default of four threads.
    for (let i = 0; i < 5; i++) execFileSync('mkfifo', [path.join(mailroot, 'Queue', `pipe-${i}.eml`)]);
    const relay = await startRelay({ mailroot, smartHost: upstream.address });
    try {
      const port = relayPort(relay);
      const sends = Array.from({ length: 2 }, (_, i) =>
        sendMail({ port, from: 'a@example.com', to: ['b@example.net'], raw: `Subject: beside the pipes ${i}\r\n\r\nhi\r\n` }),
      );
      await Promise.all(sends);
      await upstream.waitFor(2, 20_000);
      await eventually(async () => (await filesIn(relay.spool.layout.badmail, '.bdr')).length === 5, 20_000, 'five .bdr files');
      const all = (await reports(relay.spool.layout.badmail)).join('\n');
      assert.match(all, /named pipe/);
    } finally {
      await relay.stop();
      await upstream.stop();
    }
  });
});

describe('Pickup: a file swapped for a named pipe while it is read', { skip: posix ? false : 'POSIX named pipes' }, () => {
  it('reads the file it opened (or refuses the pipe), and SMTP clients are still served', async () => {
    const upstream = await new Upstream().start();
    const relay = await startRelay({ smartHost: upstream.address, settings: { pickupSettleTime: '100ms', maxMessageSize: '16MB' } });
    const { pickup, sortTemp } = relay.spool.layout;
    // As soon as a claimed file appears in SortTemp, a pipe takes its name: the old code opened the path a second
    // time for the message after reading the head (here, 3 MB of header lines read in 16 KB steps), and that open
    // waited for a writer that never came, one libuv thread per file.
    const swapped = new Set<string>();
    const watcher = (await import('node:fs')).watch(sortTemp, (_event, name) => {
      const file = String(name ?? '');
      if (!file.endsWith('.pickup') || swapped.has(file)) return;
      swapped.add(file);
      const fifo = path.join(path.dirname(sortTemp), `fifo-${swapped.size}`);
      try {
        execFileSync('mkfifo', [fifo]);
        (require_rename())(fifo, path.join(sortTemp, file));
      } catch {
        // the claim has already moved on
      }
    });
    try {
      const headers = Array.from({ length: 40_000 }, (_, i) => `X-Trace-${i}: ${'t'.repeat(60)}\r\n`).join('');
      for (let i = 0; i < 4; i++) {
        await dropFile(pickup, `big-${i}.eml`, `From: a@example.com\r\nTo: b@example.net\r\nSubject: swapped ${i}\r\n${headers}\r\nbody\r\n`);
      }
      await eventually(() => swapped.size === 4, 20_000, 'four claims swapped');
      const port = relayPort(relay);
      await Promise.all([0, 1].map((i) => sendMail({ port, from: 'a@example.com', to: ['b@example.net'], raw: `Subject: beside ${i}\r\n\r\nhi\r\n` })));
      await receivedWith(upstream, 'Subject: beside 0');
      await receivedWith(upstream, 'Subject: beside 1');
      await eventually(async () => (await filesIn(sortTemp)).length === 0, 20_000, 'SortTemp to empty');
      // Each file was either read whole from what was opened (sent intact) or refused as a pipe with a .bdr.
      const sent = () => upstream.received.filter((m) => m.data.includes('Subject: swapped')).length;
      const refused = async () => (await reports(relay.spool.layout.badmail)).filter((r) => /named pipe/.test(r)).length;
      await eventually(async () => sent() + (await refused()) === 4, 30_000, 'each file sent or refused');
      for (const m of upstream.received.filter((x) => x.data.includes('Subject: swapped'))) assert.ok(m.data.includes('X-Trace-39999:'), 'sent whole');
    } finally {
      watcher.close();
      await relay.stop();
      await upstream.stop();
    }
  });
});

function require_rename(): (from: string, to: string) => void {
  return (from, to) => renameSync(from, to);
}
