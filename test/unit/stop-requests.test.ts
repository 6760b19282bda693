// Every stop request (each signal name, the IPC stop message) reaches the one stop callback. The real signals are
// sent to the real relay process in e2e/cli.test.ts (POSIX) and the stop message under every node, node.exe too.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { STOP_MESSAGE, STOP_SIGNALS, onStopRequest } from '../../src/cli/stop-requests.js';

describe('stop requests', () => {
  it('maps Ctrl+C, Ctrl+Break, a console close, SIGTERM and the stop message to one stop callback', () => {
    const source = new EventEmitter();
    const reasons: string[] = [];
    let unrefs = 0;
    const off = onStopRequest((reason) => reasons.push(reason), Object.assign(source, { channel: { unref: () => unrefs++ } }));
    for (const signal of STOP_SIGNALS) source.emit(signal, signal);
    source.emit('message', { other: 'message' });
    source.emit('message', STOP_MESSAGE);
    assert.deepEqual(reasons, ['SIGTERM', 'SIGINT', 'SIGBREAK', 'SIGHUP', 'stop message']);
    assert.equal(unrefs, 1, 'the IPC channel does not keep the process alive');
    off();
    source.emit('SIGINT', 'SIGINT');
    source.emit('message', STOP_MESSAGE);
    assert.equal(reasons.length, 5, 'no callback once removed');
    assert.equal(source.listenerCount('SIGBREAK'), 0);
  });
});
