import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ProtocolLog, W3C_FIELDS } from '../../src/ops/protocol-log.js';
import { sendMail } from '../helpers/client.js';
import { relayPort, startRelay, tempMailroot } from '../helpers/relay.js';
import { Upstream } from '../helpers/upstream.js';

const FIELD_COUNT = W3C_FIELDS.split(' ').length;

function records(text: string): Array<Record<string, string>> {
  const names = W3C_FIELDS.split(' ');
  return text
    .split('\r\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const values = line.split(' ');
      assert.equal(values.length, FIELD_COUNT, `21 fields: ${line}`);
      return Object.fromEntries(names.map((name, i) => [name, values[i]!]));
    });
}

describe('IIS W3C protocol log', () => {
  it('writes inbound commands and outbound OutboundConnectionCommand/Response lines as IIS did, in exYYMMDD.log', { timeout: 180_000 }, async () => {
    const upstream = await new Upstream().start();
    const mailroot = path.join(await tempMailroot(), 'mailroot');
    const relay = await startRelay({ mailroot, smartHost: upstream.address, settings: { protocolLog: true, maxRecipients: 1 } });
    let day: Date;
    try {
      day = new Date();
      // The second recipient is refused (maxRecipients 1): 452 in the log; the message goes to the first.
      await sendMail({ port: relayPort(relay), from: 'ca@pki.example', to: ['ops@example.net', 'second@example.net'], subject: 'issued' });
      await upstream.waitFor(1);
    } finally {
      await relay.stop();
      await upstream.stop();
    }
    const dir = path.join(path.dirname(mailroot), 'LogFiles');
    const files = await fs.readdir(dir);
    assert.deepEqual(files, [ProtocolLog.fileName(day)]);
    assert.match(files[0]!, /^ex\d{6}\.log$/);
    const text = await fs.readFile(path.join(dir, files[0]!), 'utf8');
    const lines = text.split('\r\n');
    assert.match(lines[0]!, /^#Software: mailroot/);
    assert.equal(lines[1], '#Version: 1.0');
    assert.match(lines[2]!, /^#Date: \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    assert.equal(lines[3], `#Fields: ${W3C_FIELDS}`);

    const all = records(text);
    const inbound = all.filter((r) => !r['cs-username']!.startsWith('Outbound'));
    const methods = inbound.map((r) => r['cs-method']);
    for (const method of ['EHLO', 'MAIL', 'RCPT', 'DATA', 'QUIT']) assert.ok(methods.includes(method), `${method} in ${methods.join(',')}`);
    const mail = inbound.find((r) => r['cs-method'] === 'MAIL')!;
    assert.equal(mail['cs-uri-query'], '+FROM:<ca@pki.example>');
    assert.equal(mail['sc-status'], '250');
    assert.equal(mail['c-ip'], '127.0.0.1');
    assert.equal(mail['s-sitename'], 'SMTPSVC1');
    assert.equal(mail['s-computername'], 'relay.test');
    assert.equal(mail['cs-version'], 'SMTP');
    assert.match(mail.date!, /^\d{4}-\d{2}-\d{2}$/);
    assert.match(mail.time!, /^\d{2}:\d{2}:\d{2}$/);
    const refused = inbound.find((r) => r['cs-method'] === 'RCPT' && r['sc-status'] === '452')!;
    assert.equal(refused['cs-uri-query'], '+TO:<second@example.net>');
    const data = inbound.find((r) => r['cs-method'] === 'DATA')!;
    assert.equal(data['sc-status'], '250');
    assert.ok(Number(data['cs-bytes']) > 50, 'message bytes counted');
    assert.match(data['cs-uri-query']!, /^\d{8}T\d{9}Z-/, 'the queue id');
    const quit = inbound.find((r) => r['cs-method'] === 'QUIT')!;
    assert.equal(quit['sc-status'], '240');

    const outbound = all.filter((r) => r['cs-username']!.startsWith('Outbound'));
    const outMail = outbound.find((r) => r['cs-username'] === 'OutboundConnectionCommand' && r['cs-method'] === 'MAIL')!;
    assert.match(outMail['cs-uri-query']!, /^FROM:<ca@pki\.example>/);
    assert.equal(outMail['s-port'], String(upstream.port));
    const responses = outbound.filter((r) => r['cs-username'] === 'OutboundConnectionResponse');
    assert.ok(responses.some((r) => /^220\+/.test(r['cs-uri-query']!)), 'the greeting');
    assert.ok(responses.some((r) => /^250\+/.test(r['cs-uri-query']!)));
    assert.ok(responses.every((r) => r['cs-method'] === '-'));
  });
});
