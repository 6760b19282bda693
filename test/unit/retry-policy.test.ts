import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideRetry } from '../../src/delivery/retry-policy.js';

const MIN = 60_000;
const policy = { retry: [15 * MIN, 30 * MIN, 60 * MIN, 240 * MIN], expire: 2 * 24 * 60 * MIN };
const queued = new Date('2026-01-01T00:00:00Z');
const at = (minutes: number) => new Date(queued.getTime() + minutes * MIN);

describe('retry policy', () => {
  it('follows the IIS schedule and repeats the last interval', () => {
    const cases: Array<[number, number, number]> = [
      [1, 0, 15],
      [2, 15, 45],
      [3, 45, 105],
      [4, 105, 345],
      [5, 345, 585],
      [9, 1000, 1240],
    ];
    for (const [attempts, now, expected] of cases) {
      assert.deepEqual(decideRetry(attempts, queued, at(now), policy), { retryAt: at(expected) }, `attempt ${attempts}`);
    }
  });

  it('puts the last attempt exactly at expiry, then gives up', () => {
    assert.deepEqual(decideRetry(12, queued, at(2 * 24 * 60 - 10), policy), { retryAt: at(2 * 24 * 60) });
    assert.deepEqual(decideRetry(13, queued, at(2 * 24 * 60), policy), { giveUp: 'expired' });
  });
});
