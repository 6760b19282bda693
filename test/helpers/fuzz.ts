// Random and hostile SMTP sessions for the inbound fuzz test: a deterministic generator (seeded) and a
// driver that plays one session against the relay within a time budget.
import { setTimeout as sleep } from 'node:timers/promises';
import { RawSmtp } from './raw-smtp.js';
import { prng } from './prng.js';

export const SESSION_BUDGET_MS = 1500;

export class Dice {
  readonly #next: () => number;
  constructor(seed: number) {
    this.#next = prng(seed);
  }
  int(max: number): number {
    return Math.floor(this.#next() * max);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  chance(p: number): boolean {
    return this.#next() < p;
  }
  bytes(length: number): Buffer {
    const out = Buffer.alloc(length);
    for (let i = 0; i < length; i++) out[i] = this.int(256);
    return out;
  }
}

const ADDRESSES = [
  'a@corp.example', 'B@CORP.EXAMPLE', 'x@xn--bcher-kva.example', 'someone@remote.example', 'user%evil.example@corp.example',
  '@corp.example:user@evil.example', 'evil!user@corp.example', '"q@evil.example"@corp.example', 'user@[127.0.0.1]',
  'postmaster', '', 'a@b@c', 'ünï@cörp.example', 'x'.repeat(300) + '@corp.example',
];
const EOD_TRICKS = ['\n.\n', '\n.\r\n', '\r\n.\n', '\r.\r', '\r.\r\n', '\r\n.\r', '\r\n\0.\r\n', '\r\n.\0\r\n', '\n..\r\n', '\r\n..\r\n'];
const JUNK_COMMANDS = [
  'STARTTLS', 'AUTH PLAIN AGFhAGI=', 'AUTH LOGIN', 'AUTH CRAM-MD5', 'BDAT 10 LAST', 'XCLIENT ADDR=127.0.0.1',
  'XFORWARD ADDR=127.0.0.1', 'PROXY TCP4 127.0.0.1 127.0.0.1 1 25', 'GET / HTTP/1.1', 'VRFY root', 'EXPN all',
  'HELP', 'WIZ x', 'SHELL', 'KILL', 'TURN', 'ETRN corp.example', 'MAIL FROM:<a@b.example> SIZE=99999999999',
  'MAIL FROM:<a@b.example> BODY=BINARYMIME', 'RCPT TO:<a@corp.example> NOTIFY=NEVER,SUCCESS', 'EHLO', 'HELO',
];

function randomAction(d: Dice): string | Buffer {
  switch (d.int(12)) {
    case 0:
      return `EHLO ${d.pick(['client.test', '[127.0.0.1]', 'x'.repeat(400), 'a\tb'])}\r\n`;
    case 1:
      return `MAIL FROM:<${d.pick(ADDRESSES)}>${d.chance(0.3) ? ` SIZE=${d.int(200_000)}` : ''}\r\n`;
    case 2:
      return `RCPT TO:<${d.pick(ADDRESSES)}>\r\n`;
    case 3: {
      const body = d.chance(0.5) ? d.bytes(d.int(3000)).toString('latin1') : 'x'.repeat(d.int(100_000));
      return `DATA\r\nSubject: fuzz\r\n\r\n${body}${d.pick(EOD_TRICKS)}MAIL FROM:<admin@bank.example>\r\n${d.chance(0.7) ? '\r\n.\r\n' : ''}`;
    }
    case 4:
      return `${d.pick(JUNK_COMMANDS)}\r\n`;
    case 5:
      return d.bytes(d.int(2000));
    case 6:
      return `NOOP ${'y'.repeat(d.int(5000))}\r\n`; // around maxCommandLength
    case 7:
      return Array.from({ length: d.int(300) }, () => `RCPT TO:<${d.pick(ADDRESSES)}>\r\n`).join('');
    case 8:
      return d.pick(['RSET\r\n', 'NOOP\r\n', 'QUIT\r\n', '\r\n', '\n', '\0\r\n']);
    case 9:
      return `${d.pick(['MAIL', 'RCPT', 'DATA', 'EHLO'])}${d.bytes(d.int(40)).toString('latin1')}\r\n`;
    case 10:
      return `${d.pick(JUNK_COMMANDS)}\n`; // bare LF
    default:
      return Buffer.from([0xff, 0xfe, 0x00, 0x0d, 0x2e, 0x0d, 0x0a, 0x2e, 0x2e, 0x0a]);
  }
}

/** A plausible transaction with mutations: junk between steps, odd line ends, smuggling tricks in the body. */
function mutatedTransaction(d: Dice): Array<string | Buffer> {
  const ending = () => (d.chance(0.1) ? '\n' : '\r\n');
  const steps: Array<string | Buffer> = [`EHLO fuzz.test${ending()}`, `MAIL FROM:<${d.pick(ADDRESSES)}>${ending()}`];
  for (let i = 0, n = 1 + d.int(3); i < n; i++) steps.push(`RCPT TO:<${d.pick(ADDRESSES)}>${ending()}`);
  steps.push('DATA\r\n');
  const body = d.chance(0.3) ? d.bytes(d.int(4000)).toString('latin1') : `line\r\n${'b'.repeat(d.int(80_000))}`;
  const trick = d.chance(0.6) ? `${d.pick(EOD_TRICKS)}MAIL FROM:<admin@bank.example>\r\nRCPT TO:<v@remote.example>\r\nDATA\r\n` : '';
  steps.push(`Subject: fuzz\r\n\r\n${body}${trick}`, d.chance(0.9) ? '\r\n.\r\n' : '');
  for (let i = 0; i < steps.length; i++) {
    if (d.chance(0.1)) steps.splice(i, 0, randomAction(d));
  }
  return steps;
}

export async function fuzzSession(port: number, d: Dice): Promise<void> {
  const localAddress = d.pick(['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4']);
  let client: RawSmtp;
  try {
    client = await RawSmtp.connect({ port, localAddress, timeoutMs: SESSION_BUDGET_MS });
  } catch {
    return;
  }
  const deadline = Date.now() + SESSION_BUDGET_MS;
  // However the server behaves, the session ends on time: a write the server never reads is cut off here.
  const killer = setTimeout(() => client.destroy(), SESSION_BUDGET_MS + 500);
  try {
    if (d.chance(0.8)) await client.reply(500).catch(() => undefined); // sometimes talk before the greeting
    const script = d.chance(0.6)
      ? [...mutatedTransaction(d), ...(d.chance(0.3) ? mutatedTransaction(d) : [])]
      : Array.from({ length: 1 + d.int(15) }, () => randomAction(d));
    for (let i = 0; i < script.length && !client.isClosed && Date.now() < deadline; i++) {
      const drawn = script[i]!;
      const action = typeof drawn === 'string' ? Buffer.from(drawn, 'utf8') : drawn;
      if (d.chance(0.2) && action.length > 4) {
        const cut = 1 + d.int(action.length - 1); // split across TCP segments
        await client.writeSegments([action.subarray(0, cut), action.subarray(cut)], d.int(30)).catch(() => undefined);
      } else {
        await client.write(action).catch(() => undefined);
      }
      if (d.chance(0.5)) await sleep(d.int(20));
    }
    // QUIT and a half-close end when the server closes; a reset at once; a client that just stops talking is
    // dropped after a short look at what the server still says.
    const ending = d.int(4);
    const leftMs = Math.max(1, Math.min(200, deadline - Date.now()));
    if (ending === 0) await client.write('QUIT\r\n').catch(() => undefined);
    else if (ending === 1) client.socket.resetAndDestroy();
    else if (ending === 2) client.socket.end();
    if (ending === 0 || ending === 2) await client.repliesUntilClosed(leftMs).catch(() => undefined);
    else if (ending === 3) await sleep(leftMs);
  } finally {
    clearTimeout(killer);
    client.destroy();
  }
}

