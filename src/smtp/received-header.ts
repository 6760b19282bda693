// The trace header mailroot adds to every message it accepts (RFC 5321 section 4.4). Also what the hop count
// counts, so a mail loop through mailroot is caught.

/** RFC 5322 date-time in local time with numeric zone, e.g. "Mon, 30 Nov 2026 04:11:28 +0000". */
export function rfc5322Date(date = new Date()): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const pad = (n: number) => String(n).padStart(2, '0');
  const offset = -date.getTimezoneOffset();
  const zone = `${offset >= 0 ? '+' : '-'}${pad(Math.floor(Math.abs(offset) / 60))}${pad(Math.abs(offset) % 60)}`;
  return `${days[date.getDay()]}, ${date.getDate()} ${months[date.getMonth()]} ${date.getFullYear()} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())} ${zone}`;
}

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
