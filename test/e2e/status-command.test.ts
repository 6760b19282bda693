import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { VERSION } from '../../src/version.js';
import { runCli, runCliHere } from '../helpers/cli.js';
import { sendMail } from '../helpers/client.js';
import { RelayProcess } from '../helpers/relay-process.js';
import { eventually, relayPort, startRelay, tempMailroot } from '../helpers/relay.js';
import { Upstream } from '../helpers/upstream.js';
import { unusedPort } from '../helpers/ports.js';

interface StatusJson {
  status: string;
  code: number;
  problems: Array<{ level: string; text: string }>;
  folders: Record<string, number>;
  oldestQueuedSeconds: number | null;
  relay: { running: boolean; version?: string; pid?: number; uptimeSeconds?: number | null; smartHosts?: Array<{ state: string; lastError?: { reply: string } }>; counts?: Record<string, number> };
}

/**
 * `mailroot status`, run in this process; with `asProcess`, as its own process, whose exit code is what a
 * monitoring agent sees.
 */
async function status(mailroot: string, options: { asProcess?: boolean } = {}): Promise<{ code: number | null; json: StatusJson; text: string }> {
  const run = options.asProcess ? runCli : runCliHere;
  // Two runs of the CLI, with and without --json: the relay rewrites its status file every second, so a change
  // (a host going down) can fall between them. Asked again until both read the same state; they must then agree.
  for (let tries = 1; ; tries++) {
    const json = await run(['status', '--mailroot', mailroot, '--json']);
    const text = await run(['status', '--mailroot', mailroot]);
    if (json.code !== text.code && tries < 5) continue;
    assert.equal(json.code, text.code, `the same exit code with and without --json:\n${json.stdout}${json.stderr}\n${text.stdout}${text.stderr}`);
    return { code: json.code, json: JSON.parse(json.stdout) as StatusJson, text: text.stdout };
  }
}

describe('mailroot status', () => {
  it('reports a healthy relay (0), a smart host down (1), an old message (1 or 2), a stopped relay (2)', { timeout: 180_000 }, async () => {
    const upstream = await new Upstream().start();
    const mailroot = await tempMailroot();
    const relay = await startRelay({ mailroot, smartHost: upstream.address, settings: { retry: ['10m'] } });
    try {
      await sendMail({ port: relayPort(relay), from: 'ca@example.com', to: ['ok@example.net'] });
      await upstream.waitFor(1);
      await eventually(async () => (await status(mailroot)).json.relay.counts?.delivered === 1, 10_000, 'the status file to count the delivery');
      const healthy = await status(mailroot);
      assert.equal(healthy.code, 0, healthy.text);
      assert.equal(healthy.json.relay.version, VERSION);
      assert.equal(healthy.json.relay.pid, process.pid);
      assert.equal(healthy.json.relay.counts!.accepted, 1);
      assert.equal(healthy.json.relay.smartHosts![0]!.state, 'up');
      assert.match(healthy.text, /^MAILROOT OK - relay up .*smart host up, queue 0.* \| queue=0 /);

      await upstream.stop();
      await sendMail({ port: relayPort(relay), from: 'ca@example.com', to: ['stuck@example.net'] });
      await eventually(async () => (await status(mailroot)).code === 1, 10_000, 'WARNING once the smart host is down');
      const down = await status(mailroot);
      assert.equal(down.json.status, 'WARNING');
      assert.match(down.json.problems[0]!.text, /smart host 127\.0\.0\.1:\d+ down since .*ECONNREFUSED/);
      assert.equal(down.json.folders.queue, 1);

      // An old message (by its id's time) makes it WARNING or CRITICAL by the thresholds given.
      const old = '20200101T000000000Z-0001-0123456789';
      await fs.writeFile(path.join(relay.spool.layout.queue, `${old}.eml`), 'X-Sender: <a@b.example>\r\nX-Receiver: <c@d.example>\r\n\r\nx\r\n');
      await relay.stop();
      const crit = await status(mailroot);
      assert.equal(crit.code, 2);
      assert.ok(crit.json.problems.some((p) => p.level === 'CRITICAL' && /the relay stopped at/.test(p.text)));
      assert.ok(crit.json.problems.some((p) => p.level === 'CRITICAL' && /oldest queued message is \d+d old/.test(p.text)));
      assert.ok((crit.json.oldestQueuedSeconds ?? 0) > 86_400 * 300);
    } finally {
      await relay.stop();
      await upstream.stop();
    }
  });

  it('lists each smart host of a failover pair: the dead first host down (WARNING), the second up and carrying the mail', { timeout: 180_000 }, async () => {
    const second = await new Upstream().start();
    const deadPort = await unusedPort();
    const mailroot = await tempMailroot();
    const relay = await startRelay({ mailroot, smartHost: `127.0.0.1:${deadPort},${second.address}`, settings: { retry: ['10m'] } });
    try {
      await sendMail({ port: relayPort(relay), from: 'ca@example.com', to: ['ok@example.net'] });
      await second.waitFor(1);
      await eventually(async () => (await status(mailroot)).json.relay.smartHosts?.length === 2, 10_000, 'both hosts in the status file');
      const now = await status(mailroot);
      assert.equal(now.code, 1, now.text);
      const hosts = now.json.relay.smartHosts!;
      assert.equal(hosts.find((h) => (h as { host?: string }).host === `127.0.0.1:${deadPort}`)?.state, 'down');
      assert.equal(hosts.find((h) => (h as { host?: string }).host === second.address)?.state, 'up');
      assert.match(now.json.problems[0]!.text, new RegExp(`smart host 127\\.0\\.0\\.1:${deadPort} down since .*ECONNREFUSED`));
      assert.equal(now.json.folders.queue, 0);
    } finally {
      await relay.stop();
      await second.stop();
    }
  });

  it('a killed relay is CRITICAL (its pid is gone), as is a mailroot where no relay ever ran', { timeout: 180_000 }, async () => {
    const upstream = await new Upstream().start();
    const mailroot = await tempMailroot();
    const relay = new RelayProcess({ mailroot, port: await unusedPort(), smartHost: upstream.address });
    try {
      await relay.start();
      await eventually(async () => (await status(mailroot)).code === 0, 15_000, 'the relay process to write its status');
      await relay.kill9();
      const killed = await status(mailroot, { asProcess: true });
      assert.equal(killed.code, 2);
      assert.match(killed.json.problems[0]!.text, /the relay \(pid \d+\) is gone/);
      assert.match(killed.text, /^MAILROOT CRITICAL - relay DOWN/);
    } finally {
      await relay.kill9();
      await upstream.stop();
    }
    const never = await status(await tempMailroot());
    assert.equal(never.code, 2);
    assert.match(never.json.problems[0]!.text, /no status file/);
  });
});
