// The trace header mailroot adds to every message it accepts (RFC 5321 section 4.4). Also what the hop count
// counts, so a mail loop through mailroot is caught.
import { rfc5322Date } from '../mail/rfc5322-date.js';

export interface ReceivedInfo {
  helo: string | undefined;
  clientIp: string;
  byHost: string;
  protocol: string;
  id: string;
}

/** Only printable ASCII from the client may reach the header: a HELO name cannot inject header lines. */
function sanitize(text: string): string {
  return text.replace(/[^\x21-\x7e]/g, '?').slice(0, 255);
}

export function receivedHeader(info: ReceivedInfo, date = new Date()): Buffer {
  const from = info.helo ? `${sanitize(info.helo)} ([${info.clientIp}])` : `[${info.clientIp}]`;
  return Buffer.from(
    `Received: from ${from}\r\n\tby ${info.byHost} (mailroot) with ${info.protocol} id ${info.id};\r\n\t${rfc5322Date(date)}\r\n`,
    'latin1',
  );
}
