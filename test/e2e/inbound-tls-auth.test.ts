// STARTTLS with a certificate made at run time (PEM and PFX), requireTls, the TLS floor, and AUTH: success,
// failure, and what is offered without TLS.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { hashPassword } from '../../src/smtp/auth.js';
import { makeTestCertificate, portOf, startLoggedRelay, type TestCertificate } from '../helpers/inbound.js';
import { RawSmtp } from '../helpers/raw-smtp.js';
import { Upstream } from '../helpers/upstream.js';

const PASSWORD = 'corr3ct horse';

interface SendOptions {
  port: number;
  localAddress?: string;
  auth?: { user: string; pass: string };
  tls?: Record<string, unknown>;
  requireTLS?: boolean;
  ignoreTLS?: boolean;
  to?: string;
}

async function send(options: SendOptions): Promise<string> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: options.port,
    secure: false,
    requireTLS: options.requireTLS ?? false,
    ignoreTLS: options.ignoreTLS ?? false,
    ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    ...(options.auth ? { auth: options.auth } : {}),
    tls: options.tls ?? {},
  } as never);
  try {
    const info = await transport.sendMail({
      envelope: { from: 'ca@corp.example', to: [options.to ?? 'admin@remote.example'] },
      raw: 'Subject: certificate issued\r\n\r\nbody\r\n',
    });
    return info.response as string;
  } finally {
    transport.close();
  }
}

function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

describe('inbound TLS and AUTH', { timeout: 60_000 }, () => {
  let upstream: Upstream;
  let cert: TestCertificate | string;
  let userEntry: string;
  let trust: Record<string, unknown>;

  before(async () => {
    upstream = await new Upstream().start();
    cert = await makeTestCertificate();
    // The lowest cost the config accepts (logN 10): these tests are about the SMTP exchange, not scrypt's cost.
    userEntry = `ca-exit:${await hashPassword(PASSWORD, { logN: 10, r: 8, p: 1 })}`;
    if (typeof cert !== 'string') trust = { ca: fs.readFileSync(cert.cert), servername: 'relay.test' };
  });
  after(async () => {
    await upstream.stop();
  });

  it('offers STARTTLS with a PEM certificate the client can verify, and marks the message ESMTPS', async (t) => {
    if (typeof cert === 'string') return t.skip(cert);
    const r = await startLoggedRelay(upstream.address, { tlsCert: cert.cert, tlsKey: cert.key });
    try {
      const before = upstream.received.length;
      assert.match(await send({ port: portOf(r.relay), requireTLS: true, tls: trust }), /^250 /);
      const [message] = (await upstream.waitFor(before + 1)).slice(before);
      assert.match(message!.data.toString(), /^Received: from .*\r\n\tby relay\.test \(mailroot\) with ESMTPS id /);
    } finally {
      await r.relay.stop();
    }
  });

  it('reads a PFX with its password, and refuses to start with a wrong password or a legacy-encrypted PFX', async (t) => {
    if (typeof cert === 'string') return t.skip(cert);
    const r = await startLoggedRelay(upstream.address, { tlsPfx: cert.pfx, tlsPassphrase: cert.passphrase });
    try {
      assert.match(await send({ port: portOf(r.relay), requireTLS: true, tls: trust }), /^250 /);
    } finally {
      await r.relay.stop();
    }
    await assert.rejects(startLoggedRelay(upstream.address, { tlsPfx: cert.pfx, tlsPassphrase: 'wrong' }), /tlsPfx .*wrong tlsPassphrase/);
    if (cert.legacyPfx && !process.execArgv.includes('--openssl-legacy-provider')) {
      await assert.rejects(
        startLoggedRelay(upstream.address, { tlsPfx: cert.legacyPfx, tlsPassphrase: cert.passphrase }),
        /legacy encryption .*AES256-SHA256/,
      );
    }
    await assert.rejects(startLoggedRelay(upstream.address, { tlsCert: cert.key, tlsKey: cert.key }), /not a usable certificate/);
  });

  it('with requireTls refuses MAIL FROM before STARTTLS (530 5.7.0) and accepts it after', async (t) => {
    if (typeof cert === 'string') return t.skip(cert);
    const r = await startLoggedRelay(upstream.address, { tlsCert: cert.cert, tlsKey: cert.key, requireTls: true });
    try {
      const port = portOf(r.relay);
      const { client } = await RawSmtp.open({ port });
      await client.command('EHLO client.test');
      assert.equal((await client.command('MAIL FROM:<a@corp.example>')).text, '530 5.7.0 Must issue a STARTTLS command first');
      await client.startTls(trust);
      await client.command('EHLO client.test');
      assert.equal((await client.command('MAIL FROM:<a@corp.example>')).code, 250);
      await client.quit();
      assert.match(await send({ port, requireTLS: true, tls: trust }), /^250 /);
    } finally {
      await r.relay.stop();
    }
  });

  it('keeps to tlsMinVersion: TLS 1.2 refused at a TLSv1.3 floor, TLS 1.0 accepted at a TLSv1 floor', async (t) => {
    if (typeof cert === 'string') return t.skip(cert);
    const strict = await startLoggedRelay(upstream.address, { tlsCert: cert.cert, tlsKey: cert.key, tlsMinVersion: 'TLSv1.3' });
    try {
      const port = portOf(strict.relay);
      await assert.rejects(send({ port, requireTLS: true, tls: { ...trust, maxVersion: 'TLSv1.2' } }));
      assert.match(await send({ port, requireTLS: true, tls: { ...trust, minVersion: 'TLSv1.3' } }), /^250 /);
    } finally {
      await strict.relay.stop();
    }
    const old = await startLoggedRelay(upstream.address, { tlsCert: cert.cert, tlsKey: cert.key, tlsMinVersion: 'TLSv1' });
    try {
      const { client } = await RawSmtp.open({ port: portOf(old.relay) });
      await client.command('EHLO old.device');
      const socket = await client.startTls({ ...trust, minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' });
      assert.equal(socket.getProtocol(), 'TLSv1');
      assert.equal((await client.command('EHLO old.device')).code, 250);
      await client.quit();
    } finally {
      await old.relay.stop();
    }
  });

  describe('AUTH over TLS', () => {
    it('hides AUTH before STARTTLS and refuses it there; offers PLAIN and LOGIN after', async (t) => {
      if (typeof cert === 'string') return t.skip(cert);
      const r = await startLoggedRelay(upstream.address, { tlsCert: cert.cert, tlsKey: cert.key, authUsers: [userEntry] });
      try {
        const { client } = await RawSmtp.open({ port: portOf(r.relay) });
        const plain = await client.command('EHLO client.test');
        assert.ok(plain.lines.includes('STARTTLS'));
        assert.ok(!plain.lines.some((l) => l.startsWith('AUTH')), plain.text);
        const refused = await client.command(`AUTH PLAIN ${b64(`\0ca-exit\0${PASSWORD}`)}`);
        assert.ok(refused.code >= 500, refused.text);
        await client.startTls(trust);
        const secure = await client.command('EHLO client.test');
        assert.ok(secure.lines.includes('AUTH PLAIN LOGIN'), secure.text);
        assert.equal((await client.command(`AUTH PLAIN ${b64(`\0CA-EXIT\0${PASSWORD}`)}`)).code, 235, 'user names match without case');
        await client.quit();
      } finally {
        await r.relay.stop();
      }
    });

    it('lets an authenticated client relay from an address outside allowRelay; not an anonymous one', async (t) => {
      if (typeof cert === 'string') return t.skip(cert);
      const r = await startLoggedRelay(upstream.address, {
        tlsCert: cert.cert,
        tlsKey: cert.key,
        authUsers: [userEntry],
        allowRelay: ['127.0.0.1/32'],
      });
      try {
        const port = portOf(r.relay);
        const before = upstream.received.length;
        const response = await send({ port, localAddress: '127.0.0.2', requireTLS: true, tls: trust, auth: { user: 'ca-exit', pass: PASSWORD } });
        assert.match(response, /^250 /);
        const [message] = (await upstream.waitFor(before + 1)).slice(before);
        assert.match(message!.data.toString(), /with ESMTPSA id /);
        await assert.rejects(send({ port, localAddress: '127.0.0.2', requireTLS: true, tls: trust }), /Unable to relay/);
        // Anonymous submission from an allowed address, as the AD CS exit module does, still works.
        assert.match(await send({ port, localAddress: '127.0.0.1', ignoreTLS: true }), /^250 /);
        assert.ok(r.logs.some((l) => l.message === 'authenticated' && l.user === 'ca-exit' && l.client === '127.0.0.2'));
      } finally {
        await r.relay.stop();
      }
    });

    it('answers a wrong password 535 5.7.8 and disconnects after three (421)', async (t) => {
      if (typeof cert === 'string') return t.skip(cert);
      const r = await startLoggedRelay(upstream.address, { tlsCert: cert.cert, tlsKey: cert.key, authUsers: [userEntry] });
      try {
        await assert.rejects(
          send({ port: portOf(r.relay), requireTLS: true, tls: trust, auth: { user: 'ca-exit', pass: 'wrong' } }),
          (err: { responseCode?: number }) => err.responseCode === 535,
        );
        const { client } = await RawSmtp.open({ port: portOf(r.relay) });
        await client.command('EHLO client.test');
        await client.startTls(trust);
        await client.command('EHLO client.test');
        assert.equal((await client.command(`AUTH PLAIN ${b64('\0ca-exit\0nope')}`)).text, '535 5.7.8 Authentication credentials invalid');
        assert.equal((await client.command(`AUTH PLAIN ${b64('\0nobody\0nope')}`)).code, 535, 'an unknown user looks the same');
        assert.equal((await client.command('AUTH LOGIN')).code, 334);
        assert.equal((await client.command(b64('ca-exit'))).code, 334);
        assert.equal((await client.command(b64('still wrong'))).code, 421);
        await client.repliesUntilClosed();
        assert.ok(client.isClosed);
        assert.ok(r.logs.some((l) => l.message === 'authentication failed' && l.user === 'nobody'));
      } finally {
        await r.relay.stop();
      }
    });
  });

  it('with allowInsecureAuth offers AUTH LOGIN on plain port-25 style sessions (the AD CS "Basic" case)', async () => {
    const r = await startLoggedRelay(upstream.address, { authUsers: [userEntry], allowInsecureAuth: true, allowRelay: ['127.0.0.1/32'] });
    try {
      const port = portOf(r.relay);
      const { client } = await RawSmtp.open({ port, localAddress: '127.0.0.2' });
      const ehlo = await client.command('EHLO ca.corp.example');
      assert.ok(ehlo.lines.includes('AUTH PLAIN LOGIN'), ehlo.text);
      assert.ok(!ehlo.lines.includes('STARTTLS'), 'no certificate, no STARTTLS');
      assert.equal((await client.command('AUTH LOGIN')).code, 334);
      assert.equal((await client.command(b64('ca-exit'))).code, 334);
      assert.equal((await client.command(b64(PASSWORD))).code, 235);
      await client.command('MAIL FROM:<ca@corp.example>');
      assert.equal((await client.command('RCPT TO:<admin@remote.example>')).code, 250);
      await client.quit();
      assert.match(await send({ port, localAddress: '127.0.0.2', ignoreTLS: true, auth: { user: 'ca-exit', pass: PASSWORD } }), /^250 /);
    } finally {
      await r.relay.stop();
    }
  });
});
