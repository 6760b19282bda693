// `npm run bench -- --smoke` with the smallest counts: every scenario runs to the end and the JSON report is complete.
// No timing is asserted: the figures depend on the machine, and CI machines are shared. The Postfix peer run is in
// bench-postfix-peer.test.ts, so that the two runs go in parallel.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runBench } from '../helpers/run-bench.js';

// Under Windows' node.exe on Wine every process start and file operation is several times slower (about 250 s
// for the smoke run on 2 loaded cores); on Linux the tiny run took 38 s at a load average of 7 and over 140 s at
// 9 with other test suites running. A hang guard, still bounded.
const BENCH_LIMIT_MS = process.platform === 'win32' ? 600_000 : 300_000;

/** Counts small enough that the run is mostly the relay's starts: this checks that the bench works, not speed. */
const MESSAGES = 20;
const TINY = ['--messages', String(MESSAGES), '--sessions', '2', '--latency-messages', '5', '--warmup', '1', '--backlog', '20',
  '--startup-files', '50', '--startup-drain-seconds', '1', '--pickup-files', '20', '--disk-cycles', '15', '--disk-seconds', '0.5'];

describe('bench smoke run', () => {
  it('runs every scenario and prints a complete JSON report', { timeout: BENCH_LIMIT_MS + 10_000 }, async () => {
    const { code, stdout, stderr } = await runBench(['--smoke', '--json', ...TINY], BENCH_LIMIT_MS);
    assert.equal(code, 0, `bench exited with ${code}\n${stderr}`);
    const report = JSON.parse(stdout) as {
      machine: { cpu: string; cores: number; node: string; filesystem: string };
      scenarios: Array<{ id: number; status: string; reason?: string; figures: Record<string, unknown>; targets: unknown[] }>;
    };
    assert.equal(report.machine.node, process.version);
    assert.ok(report.machine.cores > 0);
    assert.deepEqual(
      report.scenarios.map((s) => s.id),
      [1, 2, 3, 4, 5, 6, 7],
    );
    for (const scenario of report.scenarios) {
      assert.ok(scenario.status === 'ok' || scenario.status === 'skipped', `scenario ${scenario.id}: ${scenario.status} ${scenario.reason ?? ''}`);
      if (scenario.status === 'skipped') assert.equal(scenario.id, 6, 'only Pickup may be skipped (when the relay has no Pickup yet)');
      else assert.ok(Object.keys(scenario.figures).length > 0, `scenario ${scenario.id} has figures`);
    }
    const s1 = report.scenarios.find((s) => s.id === 1)!.figures;
    assert.equal(s1['accepted'], MESSAGES, 'every smoke message was accepted over long sessions');
    assert.equal(s1['per connection: accepted'], MESSAGES, 'and with one connection per message');
    const s3 = report.scenarios.find((s) => s.id === 3)!.figures;
    for (const upstream of ['up', 'down', 'hanging']) {
      assert.equal(typeof s3[`${upstream}, per connection: connect-to-250 p99 ms`], 'number', `scenario 3 ${upstream} per connection`);
      assert.equal(typeof s3[`${upstream}, session: MAIL-to-250 p99 ms`], 'number', `scenario 3 ${upstream} in a session`);
    }
  });
});
