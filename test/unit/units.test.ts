import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDuration, parseSize } from '../../src/config/units.js';

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
