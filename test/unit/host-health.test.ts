// The per-host circuit breaker, driven by Node's mock clock: down after a failure, skipped for downTime, then
// one probe at a time (half-open), up again on success, and each change logged once at the right level.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import winston from 'winston';
import { HostHealth } from '../../src/transport/host-health.js';

function memoryLog(): { log: winston.Logger; lines: Array<{ level: string; message: string }> } {
  const lines: Array<{ level: string; message: string }> = [];
  const stream = new Writable({
    objectMode: true,
    write(info: { level: string; message: string }, _e, cb) {
      lines.push(info);
      cb();
    },
  });
  return { log: winston.createLogger({ level: 'debug', transports: [new winston.transports.Stream({ stream })] }), lines };
}

describe('host health (circuit breaker)', () => {
  beforeEach(() => mock.timers.enable({ apis: ['Date'], now: 1_000_000 }));
  afterEach(() => mock.timers.reset());

  it('skips a failed host for downTime, lets one probe through, and is up again after it succeeds', () => {
    const { log, lines } = memoryLog();
    const health = new HostHealth({ downTime: 30_000, log, now: () => Date.now() });
    assert.equal(health.claim('a:25'), true, 'a host never seen is up');
    health.failed('a:25', 'ECONNREFUSED');
    assert.equal(health.claim('a:25'), false);
    assert.equal(health.states()[0]!.retryAt, 1_030_000);
    mock.timers.tick(29_999);
    assert.equal(health.claim('a:25'), false, 'still inside downTime');
    mock.timers.tick(1);
    assert.equal(health.claim('a:25'), true, 'the probe');
    assert.equal(health.claim('a:25'), false, 'one probe at a time');
    assert.equal(health.states()[0]!.condition, 'probing');
    health.failed('a:25', 'ECONNREFUSED');
    assert.equal(health.states()[0]!.failures, 2);
    assert.equal(health.claim('a:25'), false, 'the failed probe starts another downTime');
    mock.timers.tick(30_000);
    assert.equal(health.claim('a:25'), true);
    health.succeeded('a:25');
    assert.equal(health.claim('a:25'), true);
    assert.deepEqual(
      health.states().map((s) => [s.condition, s.failures, s.reason, s.since]),
      [['up', 0, undefined, 1_060_000]],
    );
    assert.deepEqual(lines.map((l) => l.level), ['warn', 'debug', 'info'], 'down (warn), still down (debug), back up (info)');
  });

  it('logs a refused login or a failed certificate check at error, with the reason', () => {
    const { log, lines } = memoryLog();
    const health = new HostHealth({ downTime: 1_000, log, now: () => Date.now() });
    health.failed('smtp.office365.com:587', '535 5.7.139 Authentication unsuccessful, basic authentication is disabled', 'authentication');
    health.failed('b:25', 'STARTTLS failed: 500 command not recognized', 'tls');
    assert.deepEqual(lines.map((l) => l.level), ['error', 'error']);
    assert.match(lines[0]!.message, /credentials/);
    assert.equal(health.states().find((s) => s.host === 'b:25')!.problem, 'tls');
    assert.equal(health.isDown('b:25'), true);
    assert.equal(health.isDown('c:25'), false);
  });
});
