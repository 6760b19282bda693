// The Event Log writer runs a real child process per entry (a recorder in place of eventcreate.exe, which cannot
// exist here): the arguments survive the platform's command line (under node.exe: Windows' quoting), one runs at
// a time, an overflow is counted, a failure is reported once and the writer goes on.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { EVENT_IDS, eventFor } from '../../src/log/event-log-transport.js';
import { EventLogWriter, eventText } from '../../src/log/event-log.js';
import { tempMailroot } from '../helpers/relay.js';

const RECORDER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../helpers/eventcreate-recorder.js');

async function recorded(file: string): Promise<string[][]> {
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  return text.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as string[]);
}

describe('Windows Event Log writer', () => {
  it('runs eventcreate with the Application log, the type, the source, the id and the text, one at a time', async () => {
    const record = path.join(await tempMailroot(), 'events.jsonl');
    const writer = new EventLogWriter({ command: [process.execPath, RECORDER, record] });
    const text = 'Smart host is down: host=127.0.0.1:25, reply="421 4.3.2 try later" C:\\Program Files\\x\\ é';
    writer.write({ type: 'WARNING', id: 200, message: text });
    writer.write({ type: 'INFORMATION', id: 201, message: 'second\r\nline' });
    await writer.flushed();
    const [first, second] = await recorded(record);
    assert.deepEqual(first, ['/L', 'APPLICATION', '/T', 'WARNING', '/SO', 'mailroot', '/ID', '200', '/D', text.replace(/"/g, "'")]);
    assert.deepEqual(second!.slice(-1), ['second line']);
  });

  it('drops what overflows its queue and says so in the next entry', async () => {
    const record = path.join(await tempMailroot(), 'events.jsonl');
    const writer = new EventLogWriter({ command: [process.execPath, RECORDER, record], maxQueued: 2 });
    for (let i = 0; i < 6; i++) writer.write({ type: 'ERROR', id: 900, message: `error ${i}` });
    await writer.flushed();
    writer.write({ type: 'ERROR', id: 900, message: 'later' });
    await writer.flushed();
    const texts = (await recorded(record)).map((args) => args.at(-1));
    // The first runs at once, two wait, three are dropped: the next one written says so.
    assert.deepEqual(texts, ['error 0', 'error 1 (3 other event log entries were dropped: too many at once)', 'error 2', 'later']);
  });

  it('reports a failure once, names the source, and keeps writing later entries', async () => {
    const record = path.join(await tempMailroot(), 'events.jsonl');
    const errors: string[] = [];
    const missing = new EventLogWriter({ command: [path.join(path.dirname(record), 'no-such-eventcreate.exe')], onError: (e) => errors.push(e.message) });
    missing.write({ type: 'INFORMATION', id: 100, message: 'a' });
    missing.write({ type: 'INFORMATION', id: 101, message: 'b' });
    await missing.flushed();
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /cannot write to the Windows event log \(source mailroot\): .*ENOENT/);

    const failing = new EventLogWriter({ command: [process.execPath, RECORDER, record], onError: (e) => errors.push(e.message) });
    failing.write({ type: 'INFORMATION', id: 100, message: 'FAIL-ME' });
    failing.write({ type: 'INFORMATION', id: 101, message: 'after the failure' });
    await failing.flushed();
    assert.match(errors[1]!, /exited with 3/);
    assert.deepEqual((await recorded(record)).map((args) => args.at(-1)), ['FAIL-ME', 'after the failure']);
  });

  it('keeps a message to one line of at most 1000 characters', () => {
    assert.equal(eventText('a"b\nc'), "a'b c");
    assert.equal(eventText('x'.repeat(5000)).length, 1000);
  });
});

describe('which log entries go to the Event Log', () => {
  it('start, stop, smart host down and up, the first Badmail message since the start, and errors', () => {
    const state = { badmailSeen: false };
    const ids = [
      { level: 'info', message: 'relay started', mailroot: 'C:\\inetpub\\mailroot', smartHost: 'mx:25' },
      { level: 'info', message: 'accepted', id: 'x' },
      { level: 'warn', message: 'smart host is down', host: 'mx:25', reply: '421' },
      { level: 'info', message: 'smart host is up', host: 'mx:25' },
      { level: 'warn', message: 'badmail', id: '1', reason: 'no X-Sender line' },
      { level: 'warn', message: 'badmail', id: '2', reason: 'again' },
      { level: 'error', message: 'cannot start', error: 'EADDRINUSE' },
      { level: 'info', message: 'relay stopped' },
      { level: 'info', message: 'relay started' },
      { level: 'warn', message: 'badmail', id: '3', reason: 'after a restart' },
    ].map((info) => eventFor(info, state)?.id);
    assert.deepEqual(ids, [
      EVENT_IDS.started,
      undefined,
      EVENT_IDS.smartHostDown,
      EVENT_IDS.smartHostUp,
      EVENT_IDS.firstBadmail,
      undefined,
      EVENT_IDS.error,
      EVENT_IDS.stopped,
      EVENT_IDS.started,
      EVENT_IDS.firstBadmail,
    ]);
    assert.match(eventFor({ level: 'info', message: 'relay started', mailroot: 'C:\\m', smartHost: 'mx:25' }, state)!.message, /mailroot=C:\\m, smartHost=mx:25/);
  });
});
