// Two smart hosts: the first dies in the middle of a run and the rest goes through the second, nothing lost;
// the first is used again once it is back (after hostDownTime). Per-domain routes send a domain elsewhere.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { SMTPServer } from 'smtp-server';
import { sendMail } from '../helpers/client.js';
import { parseDsn } from '../helpers/dsn.js';
import { eventually, filesIn, relayPort, startRelay } from '../helpers/relay.js';
import { Upstream } from '../helpers/upstream.js';
import { unusedPort } from '../helpers/ports.js';

/**
 * A smart host on another loopback address (127.0.0.2), so that notifications can tell it from a host on
 * 127.0.0.1 by name: it refuses `refused` with 550 and keeps what it accepts.
 */
async function startSecondAddressHost(refused: string): Promise<{ address: string; received: Array<{ from: string; data: string }>; close: () => Promise<void> }> {
  const received: Array<{ from: string; data: string }> = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    disableReverseLookup: true,
    logger: false,
    onRcptTo: (address, _session, cb) =>
      address.address === refused ? cb(Object.assign(new Error('5.1.1 <' + refused + '>: user unknown'), { responseCode: 550 })) : cb(),
    onData: (stream, session, cb) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', data: Buffer.concat(chunks).toString('latin1') });
        cb();
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.2', () => resolve());
  });
  const { port } = server.server.address() as { port: number };
  return { address: `127.0.0.2:${port}`, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

function subjects(upstream: Upstream): string[] {
  return upstream.received.map((m) => /^Subject: (.*)$/m.exec(m.data.toString('latin1'))?.[1]?.trim() ?? '');
}

describe('smart host failover', () => {
  it('moves to the second host when the first dies mid-run, loses nothing, and returns to the first once it is back', async () => {
    const first = await new Upstream().start();
    const second = await new Upstream().start();
    const relay = await startRelay({ smartHost: first.address, settings: { smartHost: [first.address, second.address], hostDownTime: '300ms', retry: ['200ms'] } });
    const sent: string[] = [];
    const send = async (subject: string) => {
      const { response } = await sendMail({ port: relayPort(relay), from: 'ca@example.com', to: ['ops@example.net'], subject });
      assert.match(response, /^250 /);
      sent.push(subject);
    };
    try {
      for (let i = 0; i < 10; i++) await send(`m${i}`);
      await first.waitFor(3);
      await first.stop(); // hard: listener closed, open connections cut
      for (let i = 10; i < 20; i++) await send(`m${i}`);
      const delivered = () => new Set([...subjects(first), ...subjects(second)]);
      await eventually(() => sent.every((s) => delivered().has(s)), 30_000, 'every message delivered by one host or the other');
      await eventually(async () => (await filesIn(relay.spool.layout.queue)).length === 0, 10_000, 'Queue empty');
      assert.ok(second.received.length > 0, 'the second host took over');
      const down = relay.hostStates().find((s) => s.host === first.address)!;
      assert.equal(down.condition, 'down');
      // How the relay learns of the death depends on where each connection was when the host was stopped: the
      // server's own "421 Server shutting down" to an idle pooled connection, a reset, a pooled connection whose
      // socket was cut before nodemailer sent on it ("socket is already destroyed"), or a refused connection.
      // Each is the host going away; the test accepts exactly those, whichever came last.
      assert.match(down.reason!, /ECONNREFUSED|ECONNRESET|closed|socket is already destroyed|^421 .*shutting down/i);
      assert.equal(relay.hostStates().find((s) => s.host === second.address)!.condition, 'up');

      await first.start(first.port);
      const before = first.received.length;
      // Within a couple of hostDownTimes a message probes the first host again, and mail goes back to it.
      await eventually(async () => {
        await send(`back${sent.length}`);
        return first.received.length > before;
      }, 20_000, 'the first host used again');
      assert.equal(relay.hostStates().find((s) => s.host === first.address)!.condition, 'up');
      await eventually(() => sent.every((s) => new Set([...subjects(first), ...subjects(second)]).has(s)), 20_000, 'all delivered');
    } finally {
      await relay.stop();
      await first.stop();
      await second.stop();
    }
  });

  it('reports the host down (queue held) only when every host of the route is down', async () => {
    const first = await new Upstream().start();
    const second = await new Upstream().start();
    await first.stop();
    await second.stop();
    const relay = await startRelay({ smartHost: first.address, settings: { smartHost: [first.address, second.address], retry: ['1s', '60s'] } });
    try {
      const { response } = await sendMail({ port: relayPort(relay), from: 'ca@example.com', to: ['ops@example.net'], subject: 'both down' });
      assert.match(response, /^250 /);
      await eventually(() => relay.hostStates().length === 2 && relay.hostStates().every((s) => s.condition !== 'up'), 10_000, 'both hosts down');
      await second.start(second.port);
      await second.waitFor(1, 20_000);
      await eventually(async () => (await filesIn(relay.spool.layout.queue)).length === 0, 10_000, 'Queue empty');
    } finally {
      await relay.stop();
      await second.stop();
    }
  });

  it('sends the envelope sender with the masquerade domain, and opens a new connection after maxMessagesPerConnection', async () => {
    const upstream = await new Upstream().start();
    const relay = await startRelay({ smartHost: upstream.address, settings: { masqueradeDomain: 'corp.example', maxMessagesPerConnection: '1', concurrency: '1' } });
    try {
      for (let i = 0; i < 3; i++) await sendMail({ port: relayPort(relay), from: 'ca@pki-01.local', to: ['ops@example.net'], subject: `m${i}` });
      await upstream.waitFor(3);
      assert.deepEqual(upstream.received.map((m) => m.from), ['ca@corp.example', 'ca@corp.example', 'ca@corp.example']);
      assert.equal(upstream.connections, 3, 'one message per connection');
    } finally {
      await relay.stop();
      await upstream.stop();
    }
  });

  it('routes a domain (and its subdomains) to its own host; other domains to smartHost; a mixed envelope is split', async () => {
    const main = await new Upstream().start();
    const corp = await new Upstream().start();
    const relay = await startRelay({
      smartHost: main.address,
      settings: { routes: { 'corp.example': corp.address, '*.corp.example': [corp.address] } },
    });
    try {
      await sendMail({ port: relayPort(relay), from: 'ca@example.com', to: ['a@corp.example', 'b@eu.CORP.example', 'c@example.net'], subject: 'mixed' });
      await corp.waitFor(2); // two routes (the domain, its subdomains), one transaction each
      await main.waitFor(1);
      assert.deepEqual(corp.received.flatMap((m) => m.to).sort(), ['a@corp.example', 'b@eu.corp.example']); // the domain as the relay accepted it
      assert.deepEqual(main.received[0]!.to, ['c@example.net']);
      await eventually(async () => (await filesIn(relay.spool.layout.queue)).length === 0, 10_000, 'Queue empty');
    } finally {
      await relay.stop();
      await main.stop();
      await corp.stop();
    }
  });

  it('names the host that answered as Remote-MTA: failover to the second host, which refuses a recipient with 550', async () => {
    const firstPort = await unusedPort(); // nothing listens: the first host is down
    const second = await startSecondAddressHost('hard@example.net');
    const relay = await startRelay({ smartHost: `127.0.0.1:${firstPort}`, settings: { smartHost: [`127.0.0.1:${firstPort}`, second.address] } });
    try {
      const { response } = await sendMail({
        port: relayPort(relay),
        from: 'app@example.com',
        to: [],
        envelope: { from: 'app@example.com', to: ['ok@example.net', 'hard@example.net'] },
        raw: 'From: app@example.com\r\nSubject: remote mta\r\n\r\nbody\r\n',
      });
      assert.match(response, /^250 /);
      await eventually(() => second.received.some((m) => m.from === ''), 15_000, 'the NDR, sent through the second host too');
      const ndr = parseDsn(second.received.find((m) => m.from === '')!.data);
      assert.equal(ndr.perRecipient.length, 1);
      assert.equal(ndr.perRecipient[0]!.get('final-recipient'), 'rfc822;hard@example.net');
      assert.equal(ndr.perRecipient[0]!.get('remote-mta'), 'dns;127.0.0.2', 'the host that gave the 550, not the first of the list');
      assert.equal(ndr.perRecipient[0]!.get('diagnostic-code'), 'smtp;550 5.1.1 <hard@example.net>: user unknown');
      const badmail = relay.spool.layout.badmail;
      await eventually(async () => (await filesIn(badmail, '.bdr')).length === 1, 10_000, 'the .bdr');
      const report = await fs.readFile(path.join(badmail, (await filesIn(badmail, '.bdr'))[0]!), 'utf8');
      assert.match(report, new RegExp(`^Smart host: ${second.address.replace(/\./g, '\\.')}\r$`, 'm'));
    } finally {
      await relay.stop();
      await second.close();
    }
  });
});
