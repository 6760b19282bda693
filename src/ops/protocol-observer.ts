// Feeds the protocol log without touching the SMTP session's logic: inbound, by wrapping smtp-server's
// callbacks (each wrapper calls the original and notes the reply it gave); outbound, through nodemailer's
// transaction log (a bunyan-style logger that receives each command and reply).
import type { SMTPServerOptions, SMTPServerSession } from 'smtp-server';
import type { ProtocolLog } from './protocol-log.js';

type Callback = (err?: (Error & { responseCode?: number }) | null, ...rest: unknown[]) => void;

interface SessionTimes {
  opened: number;
  ehloLogged: boolean;
}

function replyCode(err: (Error & { responseCode?: number }) | null | undefined, ok: number): number {
  if (!err) return ok;
  return typeof err.responseCode === 'number' ? err.responseCode : 451;
}

/** Returns smtp-server options whose callbacks also write protocol log lines. */
export function observeInbound(options: SMTPServerOptions, log: ProtocolLog): SMTPServerOptions {
  const sessions = new Map<string, SessionTimes>();
  const base = (session: SMTPServerSession) => ({
    clientIp: session.remoteAddress,
    username: session.hostNameAppearsAs || undefined,
    serverIp: session.localAddress,
    serverPort: session.localPort,
  });
  const ehlo = (session: SMTPServerSession) => {
    const times = sessions.get(session.id);
    if (!times || times.ehloLogged || !session.hostNameAppearsAs) return;
    times.ehloLogged = true;
    const method = session.transmissionType?.startsWith('E') ? 'EHLO' : 'HELO';
    log.write({ ...base(session), method, query: `+${session.hostNameAppearsAs}`, status: 250 });
  };
  /** Wraps a callback-last hook: the line is written with the reply the original gave and the time it took. */
  const wrap = <A extends unknown[]>(
    original: ((...args: [...A, SMTPServerSession, Callback]) => void) | undefined,
    line: (args: A, session: SMTPServerSession, code: number, reply: unknown) => { method: string; query?: string; bytesReceived?: number },
    ok = 250,
  ) =>
    original &&
    ((...all: [...A, SMTPServerSession, Callback]) => {
      const callback = all.pop() as Callback;
      const session = all.pop() as SMTPServerSession;
      const args = all as unknown as A;
      const started = Date.now();
      ehlo(session);
      original(...args, session, (err, ...rest) => {
        const code = replyCode(err, ok);
        log.write({ ...base(session), ...line(args, session, code, rest[0]), status: code, timeTaken: Date.now() - started });
        callback(err, ...rest);
      });
    });

  const onConnect = options.onConnect;
  const onClose = options.onClose;
  return {
    ...options,
    onConnect: (session, callback) => {
      sessions.set(session.id, { opened: Date.now(), ehloLogged: false });
      if (!onConnect) return callback();
      onConnect(session, (err) => {
        if (err) log.write({ ...base(session), method: 'Connect', status: replyCode(err, 220) });
        callback(err);
      });
    },
    onAuth: wrap(options.onAuth as never, (args: [{ method: string; username?: string }], _s, _code) => ({ method: 'AUTH', query: `+${args[0].method}` }), 235) as never,
    onMailFrom: wrap(options.onMailFrom as never, (args: [{ address: string }]) => ({ method: 'MAIL', query: `+FROM:<${args[0].address}>` })) as never,
    onRcptTo: wrap(options.onRcptTo as never, (args: [{ address: string }]) => ({ method: 'RCPT', query: `+TO:<${args[0].address}>` })) as never,
    onData: wrap(options.onData as never, (args: [{ byteLength?: number }], _s, _code, reply) => ({
      method: 'DATA',
      query: typeof reply === 'string' ? /queued as (\S+)/.exec(reply)?.[1] : undefined,
      bytesReceived: args[0].byteLength ?? 0,
    })) as never,
    onClose: (session, server) => {
      ehlo(session);
      const times = sessions.get(session.id);
      sessions.delete(session.id);
      const length = times ? Date.now() - times.opened : 0;
      log.write({ ...base(session), method: 'QUIT', query: session.hostNameAppearsAs || undefined, status: 240, win32Status: length, timeTaken: 0 });
      onClose?.(session, server);
    },
  };
}

/**
 * A logger for nodemailer's SMTPConnection (with `transactionLog: true`): each command it sends and each reply
 * it gets become OutboundConnectionCommand / OutboundConnectionResponse lines, as IIS logged them.
 */
export function outboundLogger(log: ProtocolLog, remote: { host: string; port: number }) {
  const noop = () => undefined;
  return {
    trace: noop,
    info: noop,
    warn: noop,
    error: noop,
    fatal: noop,
    debug: (entry: { tnx?: string }, message: unknown) => {
      if (entry.tnx !== 'client' && entry.tnx !== 'server') return;
      const text = String(message);
      const command = entry.tnx === 'client';
      const verb = command ? (/^\S+/.exec(text)?.[0] ?? '') : '';
      // "MAIL FROM:<a@b> SIZE=1722" is logged as method MAIL, query FROM:<a@b>+SIZE=1722 (IIS).
      const rest = command ? text.slice(verb.length).replace(/^ /, '').replace(/^FROM: ?/i, 'FROM:').replace(/^TO: ?/i, 'TO:') : text;
      log.write({
        clientIp: remote.host,
        username: command ? 'OutboundConnectionCommand' : 'OutboundConnectionResponse',
        serverIp: '-',
        serverPort: remote.port,
        method: command ? verb : '-',
        query: rest,
        status: 0,
        ...(command ? { bytesSent: text.length + 2 } : { bytesReceived: text.length + 2 }),
      });
    },
  };
}
