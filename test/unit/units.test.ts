import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeDuration, formatDuration, parseDuration, parseSize } from '../../src/config/units.js';

describe('config units', () => {
  it('parses durations with units, a bare number being seconds', () => {
    assert.equal(parseDuration('2s'), 2000);
    assert.equal(parseDuration('15m'), 900_000);
    assert.equal(parseDuration('1.5h'), 5_400_000);
    assert.equal(parseDuration('2d'), 172_800_000);
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration(30), 30_000);
    for (const bad of ['', 'm', '15 minutes', '-1s', 'abc', null, {}]) assert.equal(parseDuration(bad), undefined, String(bad));
  });

  it('parses sizes in binary units, as IIS counts KB', () => {
    assert.equal(parseSize('2MB'), 2 * 1024 * 1024);
    assert.equal(parseSize('2048KB'), 2 * 1024 * 1024);
    assert.equal(parseSize('512k'), 512 * 1024);
    assert.equal(parseSize(1000), 1000);
    for (const bad of ['0', '2TB', 'big', -5, 1.5, '']) assert.equal(parseSize(bad), undefined, String(bad));
  });
});

describe('durations written back', () => {
  it('formatDuration writes what parseDuration reads, in the largest whole unit', () => {
    for (const ms of [250, 1000, 90_000, 15 * 60_000, 3_600_000, 2 * 86_400_000]) assert.equal(parseDuration(formatDuration(ms)), ms);
    assert.equal(formatDuration(15 * 60_000), '15m');
    assert.equal(formatDuration(250), '250ms');
  });

  it('describeDuration writes words for a person, seconds at the finest', () => {
    assert.equal(describeDuration(2 * 86_400_000), '2 day(s)');
    assert.equal(describeDuration(25 * 3_600_000), '25 hour(s)');
    assert.equal(describeDuration(90_000), '90 second(s)');
    assert.equal(describeDuration(3000), '3 second(s)');
    assert.equal(describeDuration(1400), '1 second(s)');
  });
});
