// The real relay's log, through the Event Log transport, to a recorder standing in for eventcreate.exe: start,
// smart host down, smart host back, the first Badmail message only, stop; nothing else.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { EVENT_IDS, attachEventLog } from '../../src/log/event-log-transport.js';
import { createLogger } from '../../src/log/logger.js';
import { Relay } from '../../src/relay.js';
import { sendMail } from '../helpers/client.js';
import { eventually, filesIn, tempMailroot, testRelayConfig } from '../helpers/relay.js';
import { Upstream } from '../helpers/upstream.js';

/** A hang guard: each entry starts a process, which under Wine's node.exe on a loaded machine takes seconds. */
const LIMIT_MS = process.platform === 'win32' ? 120_000 : 20_000;

const RECORDER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../helpers/eventcreate-recorder.js');

async function eventIds(record: string): Promise<number[]> {
  const text = await fs.readFile(record, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const args = JSON.parse(line) as string[];
      return Number(args[args.indexOf('/ID') + 1]);
    });
}

describe('Windows Event Log from the relay', () => {
  it('writes start, smart host down and back, the first Badmail message and stop', async () => {
    const upstream = await new Upstream().start();
    const port = upstream.port;
    await upstream.stop();
    const mailroot = await tempMailroot();
    const record = path.join(mailroot, 'events.jsonl');
    const log = createLogger({ level: 'info', console: false });
    const written = attachEventLog(log, { command: [process.execPath, RECORDER, record] }, LIMIT_MS);
    const relay = await Relay.start(testRelayConfig(mailroot, `127.0.0.1:${port}`, { probeInterval: '1s' }), log);
    const { queue, badmail } = relay.spool.layout;
    try {
      await sendMail({ port: relay.listening[0]!.port, from: 'ca@example.com', to: ['admin@example.net'] });
      await eventually(async () => (await eventIds(record)).includes(EVENT_IDS.smartHostDown), LIMIT_MS, 'the smart host down event');
      await upstream.start(port);
      await upstream.waitFor(1, LIMIT_MS);
      await eventually(async () => (await eventIds(record)).includes(EVENT_IDS.smartHostUp), LIMIT_MS, 'the smart host up event');

      for (const name of ['bad1.eml', 'bad2.eml']) await fs.writeFile(path.join(queue, name), 'Subject: no envelope\r\n\r\nbody\r\n');
      await relay.rescan();
      await eventually(async () => (await filesIn(badmail, '.bdr')).length === 2, LIMIT_MS, 'two .bdr files');
    } finally {
      await relay.stop();
      await upstream.stop();
    }
    await written();
    const ids = await eventIds(record);
    // Badmail's first file of the day is also an operator alert, written as one of its own, in either order.
    assert.equal(ids.filter((id) => id === EVENT_IDS.alert).length, 1, `one alert event: ${ids.join(', ')}`);
    assert.deepEqual(ids.filter((id) => id !== EVENT_IDS.alert), [EVENT_IDS.started, EVENT_IDS.smartHostDown, EVENT_IDS.smartHostUp, EVENT_IDS.firstBadmail, EVENT_IDS.stopped]);
  });
});
