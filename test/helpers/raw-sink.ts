// A minimal SMTP server that records the DATA bytes exactly as they crossed the wire (still dot-stuffed, line
// endings untouched), to check what the relay sends a possibly lenient upstream. Says 250 to everything.
import net from 'node:net';

export interface WireMessage {
  mailFrom: string;
  rcptTo: string[];
  /** Everything between the 354 and the end of data, including the final "\r\n.\r\n". */
  wire: Buffer;
}

export class RawSink {
  readonly messages: WireMessage[] = [];
  /** Every command line received, in order. */
  readonly commands: string[] = [];
  #server: net.Server | undefined;
  #sockets = new Set<net.Socket>();
  port = 0;

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.#server = net.createServer((socket) => this.#session(socket));
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', () => resolve()));
    const address = this.#server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
    return this;
  }

  #session(socket: net.Socket): void {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffer = Buffer.alloc(0);
    let inData = false;
    let current: WireMessage = { mailFrom: '', rcptTo: [], wire: Buffer.alloc(0) };
    const reply = (text: string) => socket.write(`${text}\r\n`);
    reply('220 sink.test ESMTP');
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (inData) {
          // The end is CRLF.CRLF, also right after the 354 (an empty message).
          const end = buffer.indexOf('\r\n.\r\n');
          const atStart = buffer.subarray(0, 3).equals(Buffer.from('.\r\n'));
          if (end === -1 && !atStart) return;
          const length = atStart ? 3 : end + 5;
          current.wire = buffer.subarray(0, length);
          buffer = buffer.subarray(length);
          this.messages.push(current);
          current = { mailFrom: '', rcptTo: [], wire: Buffer.alloc(0) };
          inData = false;
          reply('250 2.0.0 stored');
          continue;
        }
        const newline = buffer.indexOf('\r\n');
        if (newline === -1) return;
        const line = buffer.subarray(0, newline).toString('latin1');
        buffer = buffer.subarray(newline + 2);
        this.commands.push(line);
        const verb = line.split(' ')[0]!.toUpperCase();
        if (verb === 'EHLO') reply('250-sink.test\r\n250-8BITMIME\r\n250 SMTPUTF8');
        else if (verb === 'MAIL') {
          current.mailFrom = line;
          reply('250 ok');
        } else if (verb === 'RCPT') {
          current.rcptTo.push(line);
          reply('250 ok');
        } else if (verb === 'DATA') {
          inData = true;
          reply('354 go ahead');
        } else if (verb === 'QUIT') {
          reply('221 bye');
          socket.end();
          return;
        } else reply('250 ok');
      }
    });
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }
}
