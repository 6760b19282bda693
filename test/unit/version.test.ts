import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { VERSION } from '../../src/version.js';

describe('version', () => {
  it('VERSION equals package.json version', () => {
    const require = createRequire(import.meta.url);
    assert.equal(VERSION, (require('../../../package.json') as { version: string }).version);
  });
});
