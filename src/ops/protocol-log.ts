// The SMTP protocol log in IIS's W3C extended format, one file a day (exYYMMDD.log, UTC as IIS's W3C logs),
// so that Log Parser queries and SIEM rules written for IIS SMTP keep working. Lines are handed to a write
// stream and written in the background: logging never waits on the disk in the SMTP session's path.
import fs from 'node:fs';
import path from 'node:path';

export const W3C_FIELDS =
  'date time c-ip cs-username s-sitename s-computername s-ip s-port cs-method cs-uri-stem cs-uri-query sc-status ' +
  'sc-win32-status sc-bytes cs-bytes time-taken cs-version cs-host cs(User-Agent) cs(Cookie) cs(Referer)';

export interface ProtocolRecord {
  /** The other side: the client (inbound) or the smart host (outbound lines). */
  clientIp: string;
  /** The client's HELO/EHLO name, as IIS logs it; OutboundConnectionCommand / OutboundConnectionResponse for outbound lines. */
  username?: string | undefined;
  serverIp: string;
  serverPort: number;
  /** EHLO, MAIL, RCPT, DATA, QUIT, AUTH; for outbound lines the command's verb, or '-' for a response. */
  method: string;
  query?: string | undefined;
  status: number;
  /** IIS writes the session's length here on QUIT lines; 0 otherwise. */
  win32Status?: number;
  bytesSent?: number;
  bytesReceived?: number;
  timeTaken?: number;
}

export interface ProtocolLogOptions {
  dir: string;
  computerName: string;
  /** IIS's s-sitename for the first virtual server. */
  siteName?: string;
  now?: () => Date;
}

/** A W3C field: no spaces (IIS writes them as '+'), '-' when empty. */
function field(value: string | number | undefined): string {
  if (value === undefined || value === '') return '-';
  return String(value).replace(/[\r\n]+/g, ' ').replace(/ /g, '+');
}

export class ProtocolLog {
  readonly #options: Required<ProtocolLogOptions>;
  #stream: fs.WriteStream | undefined;
  #day = '';
  #failed = false;
  onError: (err: Error) => void = () => undefined;

  constructor(options: ProtocolLogOptions) {
    this.#options = { siteName: 'SMTPSVC1', now: () => new Date(), ...options };
  }

  /** exYYMMDD.log for the UTC day of `date`. */
  static fileName(date: Date): string {
    return `ex${date.toISOString().slice(2, 10).replace(/-/g, '')}.log`;
  }

  write(record: ProtocolRecord): void {
    const now = this.#options.now();
    const stamp = now.toISOString();
    const day = stamp.slice(0, 10);
    if (day !== this.#day) this.#open(now, day);
    const line = [
      day,
      stamp.slice(11, 19),
      field(record.clientIp),
      field(record.username),
      field(this.#options.siteName),
      field(this.#options.computerName),
      field(record.serverIp),
      field(record.serverPort),
      field(record.method),
      '-',
      field(record.query),
      field(record.status),
      field(record.win32Status ?? 0),
      field(record.bytesSent ?? 0),
      field(record.bytesReceived ?? 0),
      field(record.timeTaken ?? 0),
      'SMTP',
      '-',
      '-',
      '-',
      '-',
    ].join(' ');
    this.#stream?.write(line + '\r\n');
  }

  #open(now: Date, day: string): void {
    this.#stream?.end();
    this.#day = day;
    try {
      fs.mkdirSync(this.#options.dir, { recursive: true });
    } catch (err) {
      this.#fail(err as Error);
    }
    const stream = fs.createWriteStream(path.join(this.#options.dir, ProtocolLog.fileName(now)), { flags: 'a' });
    stream.on('error', (err) => this.#fail(err));
    const date = `${day} ${now.toISOString().slice(11, 19)}`;
    stream.write(`#Software: mailroot (Microsoft Internet Information Services 6.0 compatible)\r\n#Version: 1.0\r\n#Date: ${date}\r\n#Fields: ${W3C_FIELDS}\r\n`);
    this.#stream = stream;
  }

  #fail(err: Error): void {
    if (!this.#failed) this.onError(err);
    this.#failed = true;
  }

  close(): Promise<void> {
    const stream = this.#stream;
    this.#stream = undefined;
    if (!stream) return Promise.resolve();
    return new Promise((resolve) => stream.end(() => resolve()));
  }
}
