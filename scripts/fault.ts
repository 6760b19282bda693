// Full-size fault runs: `npm run build && node dist/scripts/fault.js [--messages 5000] [--pickup 1000] [--kills 50] [--seed 1]`,
// `... --flapping 2000` for the flapping smart host, or `... --big-queue 3000` for a large queue at start-up.
// kill -9 of the relay at random moments under concurrent SMTP and Pickup load; prints what was lost (must be nothing),
// duplicated and left over. Loopback only; bounded in count and time.
import { parseArgs } from 'node:util';
import { runCrashHarness } from '../test/helpers/crash-harness.js';
import { runBigQueue } from '../test/helpers/big-queue-harness.js';
import { runFlapping } from '../test/helpers/flapping-harness.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '5000' },
    pickup: { type: 'string', default: '1000' },
    kills: { type: 'string', default: '50' },
    clients: { type: 'string', default: '8' },
    seed: { type: 'string', default: '1' },
    'min-gap': { type: 'string', default: '200' },
    'max-gap': { type: 'string', default: '2000' },
    flapping: { type: 'string' },
    'big-queue': { type: 'string' },
  },
});

// --flapping N: the smart host goes down and up every 100-400 ms while N messages flow; each must arrive once.
if (values.flapping !== undefined) {
  const started = Date.now();
  const report = await runFlapping(Number(values.flapping), Number(values.seed), 600_000);
  const ok = report.missing === 0 && report.duplicates === 0 && report.queueLeft === 0;
  process.stdout.write(JSON.stringify({ ...report, seconds: (Date.now() - started) / 1000, ok }, null, 2) + '\n');
  process.exit(ok ? 0 : 1);
}

// --big-queue N: N messages in Queue at start-up; a new message is accepted at once and all N + 1 arrive.
if (values['big-queue'] !== undefined) {
  const count = Number(values['big-queue']);
  const report = await runBigQueue(count, 600_000);
  const ok = /^250 /.test(report.response) && report.delivered === count + 1 && report.deliveredWhenAccepted < count / 2 && report.acceptMs * 10 < report.drainMs;
  process.stdout.write(JSON.stringify({ ...report, ok }, null, 2) + '\n');
  process.exit(ok ? 0 : 1);
}

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
