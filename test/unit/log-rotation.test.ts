import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/log/logger.js';
import { eventually, tempMailroot } from '../helpers/relay.js';

describe('application log file', () => {
  it('is written as one file per UTC day, JSON lines (logFile mailroot.log -> mailroot-YYYY-MM-DD.log)', async () => {
    const dir = await tempMailroot();
    const log = createLogger({ level: 'info', file: path.join(dir, 'mailroot.log'), console: false, retentionDays: 3 });
    log.info('hello', { answer: 42 });
    await new Promise<void>((resolve) => {
      log.on('finish', () => resolve());
      log.end();
    });
    const day = new Date().toISOString().slice(0, 10);
    // The transport's file stream is written and closed after 'finish': wait for the line, not for a while.
    const file = path.join(dir, `mailroot-${day}.log`);
    await eventually(async () => (await fs.readFile(file, 'utf8').catch(() => '')).includes('\n'), 10_000, 'the log line');
    const text = await fs.readFile(file, 'utf8');
    const entry = JSON.parse(text.trim().split('\n')[0]!) as { message: string; answer: number; level: string };
    assert.equal(entry.message, 'hello');
    assert.equal(entry.answer, 42);
  });
});
