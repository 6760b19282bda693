// Three things smtp-server 3.21 has no option for, set on each connection object as it opens (the same reach
// into its `connections` set as closeSession in limits.ts; the conformance tests fail if that changes):
// - mailroot's replies carry their own enhanced status code ("550 5.7.1 Unable to relay"); smtp-server would
//   put its generic one for the reply code in front (it knows 550 only as 5.1.1), so those are sent as they are;
// - EXPN is answered 502 (RFC 5321 3.5.2: not implemented), not 500 as an unknown command;
// - a quoted local part (RFC 5321 4.1.2: "john smith"@example.com) is accepted: smtp-server splits the command
//   at spaces and at "@", so the quoted string is set aside while it parses and put back after.
import type { SMTPServer, SMTPServerSession } from 'smtp-server';

interface Parsed {
  address: string;
  args: Record<string, string | boolean> | false;
}

interface LibraryConnection {
  session: SMTPServerSession;
  send(code: number, data: string | string[], context?: string | false): void;
  _parseAddressCommand(name: string, command: string | Buffer): Parsed | false;
  handler_EXPN?: (command: Buffer | string, callback: () => void) => void;
}

const ENHANCED_CODE = /^[245]\.\d{1,3}\.\d{1,3}(?:\s|$)/;

/** "MAIL FROM:<" or "RCPT TO:<" (with an optional source route), then a quoted string, then "@". */
const QUOTED_ADDRESS = /^([A-Za-z]+\s+[A-Za-z]+\s*:\s*<(?:@[^:<>\s]*:)?)("(?:[^"\\\x00-\x1f\x7f<>]|\\[\x20-\x3b\x3d\x3f-\x7e])*")@/;
const PLACEHOLDER = 'mailroot-quoted-local-part';

function findConnection(server: SMTPServer, session: SMTPServerSession): LibraryConnection | undefined {
  const connections = (server as unknown as { connections?: Set<LibraryConnection> }).connections;
  for (const connection of connections ?? []) if (connection.session === session) return connection;
  return undefined;
}

/** Adapts the connection of `session`; false when smtp-server no longer keeps its connections where expected. */
export function adaptConnection(server: SMTPServer, session: SMTPServerSession): boolean {
  const connection = findConnection(server, session);
  if (!connection || typeof connection._parseAddressCommand !== 'function') return false;

  const send = connection.send.bind(connection);
  connection.send = (code, data, context) => send(code, data, typeof data === 'string' && ENHANCED_CODE.test(data) ? false : context);

  connection.handler_EXPN = (_command, callback) => {
    send(502, '5.5.1 EXPN is not supported', false);
    callback();
  };

  const parse = connection._parseAddressCommand.bind(connection);
  connection._parseAddressCommand = (name, command) => {
    const text = command.toString();
    const quoted = QUOTED_ADDRESS.exec(text);
    if (!quoted) return parse(name, command);
    const start = quoted[1]!.length;
    const parsed = parse(name, text.slice(0, start) + PLACEHOLDER + text.slice(start + quoted[2]!.length));
    if (parsed && parsed.address.startsWith(`${PLACEHOLDER}@`)) parsed.address = quoted[2]! + parsed.address.slice(PLACEHOLDER.length);
    return parsed;
  };
  return true;
}
