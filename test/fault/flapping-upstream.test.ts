import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runFlapping } from '../helpers/flapping-harness.js';

// Small size for `npm test`, with a short retry so that mail refused in a down phase is tried again within the next
// phases; `node dist/scripts/fault.js --flapping 2000` runs the full size (retry 1s).
describe('flapping smart host', () => {
  it('delivers every message exactly once while the smart host goes up and down every few hundred ms', async () => {
    const report = await runFlapping(100, 3, 60_000, { retry: '250ms' });
    assert.deepEqual(report, { sent: 100, delivered: 100, duplicates: 0, missing: 0, queueLeft: 0 });
  });
});
