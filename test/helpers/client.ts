// A real SMTP client (nodemailer) sending to the relay.
import nodemailer from 'nodemailer';

export interface SendOptions {
  port: number;
  from: string;
  to: string[];
  envelope?: { from: string; to: string[] };
  raw?: string | Buffer;
  subject?: string;
  text?: string;
}

export async function sendMail(options: SendOptions): Promise<{ response: string }> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: options.port, secure: false, ignoreTLS: true });
  try {
    const info = await transport.sendMail({
      from: options.from,
      to: options.to,
      subject: options.subject ?? 'test',
      text: options.text ?? 'hello',
      ...(options.envelope ? { envelope: options.envelope } : {}),
      ...(options.raw !== undefined ? { raw: options.raw } : {}),
    });
    return { response: info.response };
  } finally {
    transport.close();
  }
}
