// Full-size fault runs: `npm run build && node dist/scripts/fault.js [--messages 5000] [--pickup 1000] [--kills 50] [--seed 1]`.
// kill -9 of the relay at random moments under concurrent SMTP and Pickup load; prints what was lost (must be nothing),
// duplicated and left over. Loopback only; bounded in count and time.
import { parseArgs } from 'node:util';
import { runCrashHarness } from '../test/helpers/crash-harness.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '5000' },
    pickup: { type: 'string', default: '1000' },
    kills: { type: 'string', default: '50' },
    clients: { type: 'string', default: '8' },
    seed: { type: 'string', default: '1' },
    'min-gap': { type: 'string', default: '200' },
    'max-gap': { type: 'string', default: '2000' },
  },
});

const started = Date.now();
const report = await runCrashHarness({
  messages: Number(values.messages),
  pickupFiles: Number(values.pickup),
  kills: Number(values.kills),
  clients: Number(values.clients),
  seed: Number(values.seed),
  minGap: Number(values['min-gap']),
  maxGap: Number(values['max-gap']),
  drainTimeout: 600_000,
  log: (line) => process.stderr.write(line + '\n'),
});
const ok = report.lost.length === 0 && report.invalidQueueFiles.length === 0 && report.sortTempLeftovers.length === 0 && report.queueLeft === 0;
process.stdout.write(JSON.stringify({ ...report, lost: report.lost.slice(0, 20), lostCount: report.lost.length, seconds: (Date.now() - started) / 1000, ok }, null, 2) + '\n');
process.exit(ok ? 0 : 1);
