// A smart host with TLS and AUTH: a real smtp-server on loopback with a certificate from the test CA, STARTTLS
// (or TLS from the first byte, or STARTTLS hidden as a stripping middlebox would), and AUTH PLAIN/LOGIN with a
// password or XOAUTH2 with a token checked by a callback. It records who signed in and what it received.
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface SecureUpstreamOptions {
  cert: string;
  key: string;
  /** TLS from the first byte (port 465 style). */
  implicit?: boolean;
  /** Do not offer STARTTLS (and refuse it). */
  stripStartTls?: boolean;
  /** Accepted user and password for PLAIN and LOGIN. */
  password?: { user: string; pass: string };
  /** XOAUTH2: is this user's token good? */
  token?: (user: string, token: string) => boolean;
  /** Listen here (a loopback address such as 127.0.0.2) and port; default 127.0.0.1 and any free port. */
  listen?: { host: string; port: number };
  /** How a bad XOAUTH2 token is refused: Google's 334 error challenge then 535, or Microsoft's 535 at once. */
  xoauth2Refusal?: 'google' | 'microsoft';
}

export interface UpstreamMessage {
  from: string;
  to: string[];
  data: string;
  secure: boolean;
  user: string | undefined;
}

export class SecureUpstream {
  readonly received: UpstreamMessage[] = [];
  readonly logins: Array<{ method: string; user: string; ok: boolean; secure: boolean }> = [];
  /** MAIL FROM commands seen, secure or not: none may come over a connection without TLS when TLS is required. */
  readonly mailFrom: Array<{ secure: boolean }> = [];
  #server: SMTPServer | undefined;
  readonly #options: SecureUpstreamOptions;

  constructor(options: SecureUpstreamOptions) {
    this.#options = options;
  }

  get port(): number {
    return (this.#server!.server.address() as AddressInfo).port;
  }

  async start(): Promise<this> {
    const o = this.#options;
    const methods = [...(o.password ? ['PLAIN', 'LOGIN'] : []), ...(o.token ? ['XOAUTH2'] : [])];
    const auth = methods.length > 0;
    const server = new SMTPServer({
      // stop() answers open connections 421 and closes them after this, instead of waiting up to 30 s for the
      // relay to close its idle pooled connection (the exchanger goes down, as a test means by it).
      closeTimeout: 100,
      secure: o.implicit === true,
      key: fs.readFileSync(o.key),
      cert: fs.readFileSync(o.cert),
      hideSTARTTLS: o.stripStartTls === true,
      disabledCommands: [...(o.stripStartTls ? ['STARTTLS'] : []), ...(auth ? [] : ['AUTH'])],
      authMethods: methods,
      authOptional: !auth,
      disableReverseLookup: true,
      logger: false,
      onAuth: (login, session, cb) => {
        const secure = session.secure === true;
        let ok = false;
        if (login.method === 'XOAUTH2') ok = !!o.token && o.token(login.username ?? '', login.accessToken ?? '');
        else ok = !!o.password && login.username === o.password.user && login.password === o.password.pass;
        this.logins.push({ method: login.method, user: login.username ?? '', ok, secure });
        if (ok) return cb(null, { user: login.username });
        if (login.method === 'XOAUTH2' && o.xoauth2Refusal !== 'microsoft') return cb(null, { data: { status: '401', schemes: 'bearer', scope: 'https://mail.google.com/' } });
        cb(Object.assign(new Error('5.7.3 Authentication unsuccessful'), { responseCode: 535 }));
      },
      onMailFrom: (_address, session, cb) => {
        this.mailFrom.push({ secure: session.secure === true });
        cb();
      },
      onData: (stream, session, cb) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          this.received.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            data: Buffer.concat(chunks).toString('utf8'),
            secure: session.secure === true,
            user: typeof session.user === 'string' ? session.user : undefined,
          });
          cb();
        });
      },
    });
    server.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      server.server.once('error', reject);
      server.listen(o.listen?.port ?? 0, o.listen?.host ?? '127.0.0.1', () => resolve());
    });
    this.#server = server;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
