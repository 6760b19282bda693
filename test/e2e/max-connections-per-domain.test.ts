// maxConnectionsPerDomain (IIS "limit connections per domain") in delivery by MX: one domain's exchangers get at
// most that many messages at once, the rest wait their turn and all go; another domain is not held back by them.
// The exchanger holds every message at its final dot until the test releases it, so "at once" is seen directly.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { SMTPServer } from 'smtp-server';
import { sendMail } from '../helpers/client.js';
import { DnsServer } from '../helpers/dns-server.js';
import { eventually, relayPort, startRelay } from '../helpers/relay.js';

/** A mail exchanger on loopback that answers each final dot only when released, counting what it holds at once. */
class HoldingExchanger {
  readonly delivered: string[] = [];
  /** Messages whose final dot waits for its reply. */
  readonly held: Array<() => void> = [];
  maxHeld = 0;
  sessions = 0;
  maxSessions = 0;
  hold = true;
  readonly host: string;
  #server: SMTPServer | undefined;

  constructor(host: string) {
    this.host = host;
  }

  get port(): number {
    return (this.#server!.server.address() as AddressInfo).port;
  }

  async start(port: number): Promise<this> {
    const server = new SMTPServer({
      disabledCommands: ['STARTTLS', 'AUTH'],
      authOptional: true,
      disableReverseLookup: true,
      logger: false,
      onConnect: (_session, cb) => {
        this.sessions++;
        this.maxSessions = Math.max(this.maxSessions, this.sessions);
        cb();
      },
      onClose: () => {
        this.sessions--;
      },
      onData: (stream, session, cb) => {
        stream.resume();
        stream.on('end', () => {
          const to = session.envelope.rcptTo.map((r) => r.address);
          const answer = () => {
            this.delivered.push(...to);
            cb();
          };
          if (!this.hold) return answer();
          this.held.push(answer);
          this.maxHeld = Math.max(this.maxHeld, this.held.length);
        });
      },
    });
    server.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      server.server.once('error', reject);
      server.listen(port, this.host, () => resolve());
    });
    this.#server = server;
    return this;
  }

  /** Answers the oldest held message. */
  releaseOne(): void {
    this.held.shift()?.();
  }

  /** Answers every held message and holds no more. */
  releaseAll(): void {
    this.hold = false;
    while (this.held.length > 0) this.releaseOne();
  }

  async stop(): Promise<void> {
    this.releaseAll();
    const server = this.#server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

describe('maxConnectionsPerDomain', () => {
  it('with 2, six messages for one domain go at most two at once and all arrive; another domain is not held back', { timeout: 120_000 }, async () => {
    const dns = await new DnsServer().start();
    const slow = await new HoldingExchanger('127.0.0.2').start(0);
    const fast = await new HoldingExchanger('127.0.0.3').start(slow.port); // outboundPort is one port for all exchangers
    fast.hold = false;
    dns
      .set('slow.test', { mx: [[10, 'mx.slow.test']] })
      .set('mx.slow.test', { a: ['127.0.0.2'] })
      .set('fast.test', { mx: [[10, 'mx.fast.test']] })
      .set('mx.fast.test', { a: ['127.0.0.3'] });
    const relay = await startRelay({
      smartHost: 'mx',
      // concurrency 10: the relay would hand all six to slow.test at once if the per-domain limit did not hold it.
      settings: { dnsServers: [dns.address], outboundPort: String(slow.port), maxConnectionsPerDomain: '2', concurrency: '10', retry: ['10m'], smartHostTimeout: '60s' },
    });
    try {
      const slowRecipients = Array.from({ length: 6 }, (_, i) => `user${i}@slow.test`);
      for (const to of slowRecipients) {
        const { response } = await sendMail({ port: relayPort(relay), from: 'ca@example.com', to: [to], subject: to });
        assert.match(response, /^250 /);
      }
      await eventually(() => slow.held.length === 2, 20_000, 'two messages held at slow.test');

      // All six are queued and two are held: fast.test's message still goes straight through.
      const { response } = await sendMail({ port: relayPort(relay), from: 'ca@example.com', to: ['someone@fast.test'], subject: 'fast' });
      assert.match(response, /^250 /);
      await eventually(() => fast.delivered.length === 1, 20_000, 'fast.test delivered while slow.test holds two');
      assert.equal(slow.held.length, 2, 'the other four wait for a slot');
      assert.equal(slow.delivered.length, 0);

      // One answered, one more goes in; never more than two at once.
      while (slow.delivered.length < 6) {
        const before = slow.delivered.length;
        slow.releaseOne();
        await eventually(() => slow.delivered.length > before, 20_000, 'the released message counted');
        const left = 6 - slow.delivered.length;
        await eventually(() => slow.held.length === Math.min(2, left), 20_000, `${Math.min(2, left)} message(s) held again`);
      }
      assert.deepEqual([...slow.delivered].sort(), slowRecipients);
      assert.equal(slow.maxHeld, 2, 'at most two messages at once for slow.test');
      assert.ok(slow.maxSessions <= 2, `at most two connections to slow.test's exchanger (saw ${slow.maxSessions})`);
      assert.deepEqual(fast.delivered, ['someone@fast.test']);
    } finally {
      slow.releaseAll(); // the relay's stop waits for deliveries in flight
      await relay.stop();
      await slow.stop();
      await fast.stop();
      await dns.stop();
    }
  });
});
