// What nodemailer's SMTPConnection is told for one smart host: where, how long to wait, and how TLS is used.
import fs from 'node:fs';
import type SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { SmartHostSpec } from '../config/smart-hosts.js';

export type ConnectionOptions = NonNullable<ConstructorParameters<typeof SMTPConnection>[0]>;

export interface ConnectionBase {
  /** EHLO name. */
  hostname: string;
  /** For each reply and the reply to the final dot; also connect and greeting unless connectTimeout is set. */
  timeout: number;
  /** For the TCP connect and the 220 greeting: a host that accepts and never greets is given up on sooner. */
  connectTimeout?: number | undefined;
}

export function connectionOptions(spec: SmartHostSpec, base: ConnectionBase): ConnectionOptions {
  const options: ConnectionOptions = {
    host: spec.host,
    port: spec.port,
    name: base.hostname,
    connectionTimeout: base.connectTimeout ?? base.timeout,
    greetingTimeout: base.connectTimeout ?? base.timeout,
    socketTimeout: base.timeout,
  };
  switch (spec.tls ?? 'opportunistic') {
    case 'opportunistic':
      // STARTTLS when offered, without certificate checks, as Postfix's default "may" level: encryption when
      // offered, and an internal smart host with a self-signed certificate still works.
      return { ...options, secure: false, tls: { rejectUnauthorized: false } };
    case 'none':
      return { ...options, secure: false, ignoreTLS: true };
    case 'required':
      // No STARTTLS offered, a refused STARTTLS or a certificate that does not verify: the connection fails
      // (ETLS) before MAIL FROM, so nothing is ever sent in clear.
      return { ...options, secure: false, requireTLS: true, tls: verifiedTls(spec) };
    case 'implicit':
      return { ...options, secure: true, tls: verifiedTls(spec) };
  }
}

function verifiedTls(spec: SmartHostSpec): NonNullable<ConnectionOptions['tls']> {
  return {
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
    // A CA file replaces the system's CAs for this host (an internal CA such as AD CS).
    ...(spec.caFile !== undefined ? { ca: fs.readFileSync(spec.caFile) } : {}),
    ...(spec.servername !== undefined ? { servername: spec.servername } : {}),
  };
}
