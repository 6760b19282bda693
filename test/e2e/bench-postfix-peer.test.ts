// `npm run bench -- --peer postfix` with the smallest counts: the bench sets up the system's Postfix as a peer,
// prints its figures beside mailroot's, judges the ratio targets, and leaves Postfix stopped and its configuration
// as it was. Runs only as root on Linux with Postfix installed and not running; no timing is asserted.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import { runBench } from '../helpers/run-bench.js';

/** Why the Postfix peer cannot run here (it needs root, Linux, Postfix installed and not already running). */
function peerSkip(): string | false {
  if (process.platform !== 'linux') return 'the Postfix peer runs on Linux only';
  if (process.getuid?.() !== 0) return 'the Postfix peer needs root';
  if (!fs.existsSync('/usr/sbin/postfix')) return 'Postfix is not installed (npm run bench -- --peer postfix installs it)';
  try {
    execFileSync('/usr/sbin/postfix', ['status'], { stdio: 'ignore' });
    return 'a Postfix is already running on this machine';
  } catch {
    return false;
  }
}

describe('bench against the Postfix peer', { skip: peerSkip() }, () => {
  it('prints Postfix figures beside each of scenario 1, 3 and 4, judges the ratio targets, stops Postfix and restores its configuration', { timeout: 300_000 }, async (t) => {
    const mainCf = fs.readFileSync('/etc/postfix/main.cf', 'utf8');
    const args = ['--json', '--peer', 'postfix', '--only', '1,3,4', '--messages', '20', '--sessions', '2', '--latency-messages', '5', '--warmup', '1', '--backlog', '20'];
    const { code, stdout, stderr } = await runBench(args, 290_000);
    assert.equal(code, 0, `bench exited with ${code}\n${stderr}`);
    const report = JSON.parse(stdout) as {
      peerNote?: string;
      scenarios: Array<{ id: number; peer?: { name: string; figures: Record<string, unknown> }; targets: Array<{ label: string; threshold: number | null }> }>;
    };
    if (report.peerNote?.includes('already running')) {
      t.skip('another Postfix was started on this machine meanwhile');
      return;
    }
    assert.equal(report.peerNote, undefined, report.peerNote);
    for (const id of [1, 3, 4]) {
      const scenario = report.scenarios.find((s) => s.id === id)!;
      assert.equal(scenario.peer?.name, 'postfix', `scenario ${id} has Postfix figures`);
      const ratios = scenario.targets.filter((t) => t.label.includes('x postfix'));
      assert.ok(ratios.length > 0 && ratios.every((t) => typeof t.threshold === 'number'), `scenario ${id}: ${JSON.stringify(ratios)}`);
    }
    assert.equal(report.scenarios.find((s) => s.id === 1)!.peer!.figures['per connection: accepted'], 20);
    assert.throws(() => execFileSync('/usr/sbin/postfix', ['status'], { stdio: 'ignore' }), 'Postfix is stopped after the bench');
    assert.equal(fs.readFileSync('/etc/postfix/main.cf', 'utf8'), mainCf, 'main.cf is as it was');
  });
});
