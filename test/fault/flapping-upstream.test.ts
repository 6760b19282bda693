import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runFlapping } from '../helpers/flapping-harness.js';

// Small size for `npm test`; `node dist/scripts/fault.js --flapping 2000` runs the full size.
describe('flapping smart host', () => {
  it('delivers every message exactly once while the smart host goes up and down every few hundred ms', async () => {
    const report = await runFlapping(200, 3, 60_000);
    assert.deepEqual(report, { sent: 200, delivered: 200, duplicates: 0, missing: 0, queueLeft: 0 });
  });
});
