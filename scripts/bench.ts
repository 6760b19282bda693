// `npm run bench`: starts the relay (a real child process) and a fast local upstream sink on loopback, runs each
// scenario bounded in count and time, and prints a table (or JSON with --json) with the parameters, the machine,
// the figures and the targets with pass/miss. See the Performance section of the README.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runBacklog } from './bench/backlog.js';
import { cleanupAll } from './bench/cleanup.js';
import { runDiskScenario } from './bench/disk.js';
import { runLatency } from './bench/latency.js';
import { machineInfo, pressureOf, type MachineInfo } from './bench/machine.js';
import { PostfixPeer, peerUnavailable } from './bench/peer.js';
import { runPickup } from './bench/pickup.js';
import { runStartup } from './bench/startup.js';
import { runThroughput } from './bench/throughput.js';
import type { BenchContext, BenchOptions, ScenarioResult, Target } from './bench/types.js';
import { unusedPort, nowMs } from './bench/util.js';

const USAGE = `usage: npm run bench -- [options]

  --json                 print the results as JSON on stdout (progress still goes to stderr)
  --smoke                tiny counts, for CI: checks that every scenario runs, not how fast
  --scale X              multiply every default count by X (e.g. 4 for a longer run)
  --only 1,3             run only these scenarios (7, the disk reference, is what scenario 1's target uses)
  --client raw|nodemailer  load client (default raw: a minimal SMTP client that costs little CPU)
  --peer postfix         run scenarios 1-4 against the system's Postfix too (a loopback relay to the same sink,
                         set up by scripts/postfix-peer.sh; needs root, installs Postfix with apt-get if missing)
                         and print each figure beside Postfix's; the ratio targets need it
  --dir DIR              make the temporary mailroots under DIR (default: the OS temp folder)
  --keep                 keep the temporary folders and relay logs
  --messages N --sessions N --size BYTES          scenarios 1-2 (and sessions/size for 4)
  --latency-messages N --warmup N                 scenario 3
  --backlog N                                     scenario 4
  --startup-files N --startup-drain-seconds S     scenario 5
  --pickup-files N                                scenario 6
  --disk-cycles N --disk-seconds S                scenario 7 (N for the concurrent writers, N/3 for one)
  --relay-log-level L    the relay's --log-level (default info, as shipped)
  --relay-arg ARG        pass ARG to 'mailroot serve' (repeatable), e.g. --relay-arg=--concurrency=20
  --relay-node-arg ARG   pass ARG to node for the relay (repeatable), e.g. --relay-node-arg=--cpu-prof
  --relay-env K=V        environment for the relay (repeatable), e.g. --relay-env UV_THREADPOOL_SIZE=8
`;

const DEFAULTS = {
  messages: 5000,
  sessions: 20,
  size: 4096,
  latencyMessages: 500,
  warmup: 20,
  backlog: 20_000,
  startupFiles: 100_000,
  startupDrainSeconds: 20,
  pickupFiles: 10_000,
  diskCycles: 6000,
  diskSeconds: 5,
};

const SMOKE = {
  messages: 100,
  sessions: 5,
  size: 4096,
  latencyMessages: 20,
  warmup: 2,
  backlog: 200,
  startupFiles: 1000,
  startupDrainSeconds: 3,
  pickupFiles: 200,
  diskCycles: 150,
  diskSeconds: 2,
};

function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: 'boolean', default: false },
      smoke: { type: 'boolean', default: false },
      scale: { type: 'string' },
      only: { type: 'string' },
      client: { type: 'string', default: 'raw' },
      peer: { type: 'string' },
      dir: { type: 'string' },
      keep: { type: 'boolean', default: false },
      messages: { type: 'string' },
      sessions: { type: 'string' },
      size: { type: 'string' },
      'latency-messages': { type: 'string' },
      warmup: { type: 'string' },
      backlog: { type: 'string' },
      'startup-files': { type: 'string' },
      'startup-drain-seconds': { type: 'string' },
      'pickup-files': { type: 'string' },
      'disk-cycles': { type: 'string' },
      'disk-seconds': { type: 'string' },
      'relay-log-level': { type: 'string', default: 'info' },
      'relay-arg': { type: 'string', multiple: true, default: [] },
      'relay-node-arg': { type: 'string', multiple: true, default: [] },
      'relay-env': { type: 'string', multiple: true, default: [] },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const number = (name: string, raw: string | undefined, fallback: number): number => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a number above zero (got ${raw})`);
    return n;
  };
  const scale = number('scale', values.scale, 1);
  const base = values.smoke ? SMOKE : DEFAULTS;
  const count = (name: string, raw: string | undefined, fallback: number) => Math.max(1, Math.round(number(name, raw, fallback * scale)));
  const only = new Set((values.only ?? '1,2,3,4,5,6,7').split(',').map((s) => Number(s.trim())));
  for (const id of only) if (!(id >= 1 && id <= 7)) throw new Error(`--only takes scenario numbers 1 to 7 (got ${values.only})`);
  if (values.client !== 'raw' && values.client !== 'nodemailer') throw new Error(`--client must be raw or nodemailer`);
  if (values.peer !== undefined && values.peer !== 'postfix') throw new Error(`--peer takes postfix (got ${values.peer})`);
  const relayEnv: Record<string, string> = {};
  for (const pair of values['relay-env']) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`--relay-env takes KEY=VALUE (got ${pair})`);
    relayEnv[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return {
    json: values.json,
    smoke: values.smoke,
    scale,
    only,
    client: values.client,
    dir: path.resolve(values.dir ?? os.tmpdir()),
    keep: values.keep,
    size: Math.round(number('size', values.size, base.size)),
    sessions: Math.round(number('sessions', values.sessions, base.sessions)),
    messages: count('messages', values.messages, base.messages),
    latencyMessages: count('latency-messages', values['latency-messages'], base.latencyMessages),
    warmup: Math.round(number('warmup', values.warmup, base.warmup)),
    backlog: count('backlog', values.backlog, base.backlog),
    startupFiles: count('startup-files', values['startup-files'], base.startupFiles),
    startupDrainSeconds: number('startup-drain-seconds', values['startup-drain-seconds'], base.startupDrainSeconds * scale),
    pickupFiles: count('pickup-files', values['pickup-files'], base.pickupFiles),
    diskCycles: count('disk-cycles', values['disk-cycles'], base.diskCycles),
    diskSeconds: number('disk-seconds', values['disk-seconds'], base.diskSeconds),
    relayLogLevel: values['relay-log-level'],
    relayArgs: values['relay-arg'],
    relayNodeArgs: values['relay-node-arg'],
    relayEnv,
    peer: values.peer === 'postfix' ? 'postfix' : undefined,
  };
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return 'n/a';
  if (typeof value === 'number') return value.toLocaleString('en-US', { maximumFractionDigits: 3 });
  return String(value);
}

function verdict(t: Target): string {
  return t.pass === null ? 'n/a' : t.pass ? 'PASS' : 'MISS';
}

function renderTable(machine: MachineInfo, options: BenchOptions, results: ScenarioResult[], seconds: number): string {
  const lines: string[] = [];
  lines.push(`mailroot bench, ${new Date().toISOString()}, ${options.smoke ? 'smoke' : `scale ${options.scale}`}, ${seconds.toFixed(0)} s in all`);
  lines.push(
    `machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB RAM, Node ${machine.node}, ${machine.os}; ` +
      `temp ${machine.tempDir}: ${machine.filesystem}`,
  );
  lines.push(
    `contention: load average at start ${machine.loadAverage.join(' ')}; pressure (some, avg60) at start cpu ${cell(machine.pressure.cpu)}% io ${cell(machine.pressure.io)}%, ` +
      `at end cpu ${cell(pressureOf('cpu'))}% io ${cell(pressureOf('io'))}% (above a few % the figures are not this machine's own)`,
  );
  if (options.peer) lines.push(`peer: ${peerNote ?? options.peer + ' on loopback, same sink, same clients, measured in this run'}`);
  for (const r of results) {
    lines.push('');
    lines.push(`${r.id}. ${r.title}  [${r.status}${r.reason ? ': ' + r.reason : ''}; ${r.seconds} s]`);
    if (r.note) lines.push(`   note: ${r.note}`);
    const params = Object.entries(r.params).map(([k, v]) => `${k}=${cell(v)}`).join(', ');
    if (params) lines.push(`   params: ${params}`);
    const width = Math.max(0, ...Object.keys(r.figures).map((k) => k.length));
    const peer = r.peer;
    if (peer) lines.push(`   ${''.padEnd(width)}  ${'mailroot'.padStart(10)}  ${peer.name.padStart(10)}  mailroot/${peer.name}`);
    for (const [key, value] of Object.entries(r.figures)) {
      if (!peer) {
        lines.push(`   ${key.padEnd(width)}  ${cell(value)}`);
        continue;
      }
      const other = peer.figures[key];
      const ratio = typeof value === 'number' && typeof other === 'number' && other !== 0 ? `${(value / other).toFixed(2)}x` : '';
      lines.push(`   ${key.padEnd(width)}  ${cell(value).padStart(10)}  ${(key in peer.figures ? cell(other) : '').padStart(10)}  ${ratio}`);
    }
    for (const t of r.targets) {
      lines.push(`   target: ${t.label}: ${cell(t.value)} ${t.unit} ${t.op} ${cell(t.threshold)} -> ${verdict(t)}`);
    }
  }
  const all = results.flatMap((r) => r.targets);
  lines.push('');
  lines.push(
    `targets: ${all.filter((t) => t.pass === true).length} pass, ${all.filter((t) => t.pass === false).length} miss, ` +
      `${all.filter((t) => t.pass === null).length} n/a`,
  );
  return lines.join('\n') + '\n';
}

async function main(): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  fs.mkdirSync(options.dir, { recursive: true });
  const runDir = fs.mkdtempSync(path.join(options.dir, 'mailroot-bench-'));
  if (!options.keep) removeOnSignal = runDir;
  const machine = machineInfo(runDir);
  const started = nowMs();
  const ctx: BenchContext = {
    options,
    runDir,
    progress: (message) => process.stderr.write(`[bench ${((nowMs() - started) / 1000).toFixed(1)}s] ${message}\n`),
    results: new Map(),
  };
  if (options.peer) {
    const unavailable = peerUnavailable();
    if (unavailable) {
      peerNote = `--peer ${options.peer} skipped: ${unavailable}; the ratio targets are n/a`;
      ctx.progress(peerNote);
    } else {
      ctx.progress('starting the Postfix peer (scripts/postfix-peer.sh)');
      try {
        ctx.peer = await PostfixPeer.start(await unusedPort());
      } catch (err) {
        peerNote = `--peer ${options.peer} skipped: ${(err as Error).message}`;
        ctx.progress(peerNote);
      }
    }
  }
  // Scenario 7 first: scenario 1's target is relative to the disk's own rate.
  const plan: Array<{ ids: number[]; run: () => Promise<ScenarioResult | ScenarioResult[]> }> = [
    { ids: [7], run: () => runDiskScenario(ctx, options.sessions) },
    { ids: [1, 2], run: () => runThroughput(ctx) },
    { ids: [3], run: () => runLatency(ctx) },
    { ids: [4], run: () => runBacklog(ctx) },
    { ids: [5], run: () => runStartup(ctx) },
    { ids: [6], run: () => runPickup(ctx) },
  ];
  for (const step of plan) {
    const wanted = step.ids.filter((id) => options.only.has(id));
    if (wanted.length === 0) continue;
    const stepStart = nowMs();
    let results: ScenarioResult[];
    try {
      const out = await step.run();
      results = Array.isArray(out) ? out : [out];
    } catch (err) {
      ctx.progress(`scenario ${wanted.join('/')} failed: ${(err as Error).stack ?? String(err)}`);
      await cleanupAll();
      const seconds = Math.round((nowMs() - stepStart) / 100) / 10;
      results = wanted.map((id) => ({ id, title: `scenario ${id}`, status: 'error', reason: (err as Error).message, seconds, params: {}, figures: {}, targets: [] }));
    }
    for (const result of results) if (options.only.has(result.id)) ctx.results.set(result.id, result);
  }
  await ctx.peer?.stop().catch((err: unknown) => ctx.progress(`stopping the Postfix peer: ${(err as Error).message}`));
  if (!options.keep) fs.rmSync(runDir, { recursive: true, force: true });
  const results = [...ctx.results.values()].sort((a, b) => a.id - b.id);
  const seconds = (nowMs() - started) / 1000;
  if (options.json) {
    const { only, ...params } = options;
    const atEnd = { pressureAtEnd: { cpu: pressureOf('cpu'), io: pressureOf('io') } };
    const report = { machine: { ...machine, ...atEnd }, options: { ...params, only: [...only].sort() }, ...(peerNote ? { peerNote } : {}), seconds: Math.round(seconds * 10) / 10, scenarios: results };
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  } else {
    process.stdout.write(renderTable(machine, options, results, seconds));
  }
  return results.some((r) => r.status === 'error') ? 1 : 0;
}

/** Why --peer did not run, for the report. */
let peerNote: string | undefined;

/** The run's temporary folder, removed also when the bench is stopped by a signal or its time limit. */
let removeOnSignal: string | undefined;

async function stopEarly(code: number): Promise<never> {
  await cleanupAll();
  if (removeOnSignal) fs.rmSync(removeOnSignal, { recursive: true, force: true });
  process.exit(code);
}

// Every run is bounded: a stuck scenario ends the bench instead of holding the machine.
const scaleArg = process.argv.indexOf('--scale');
// With --peer every scenario of 1-4 runs twice, and Postfix accepts more slowly than mailroot.
const peerFactor = process.argv.includes('--peer') ? 3 : 1;
const WATCHDOG_MS = 20 * 60_000 * peerFactor * Math.max(1, Number(scaleArg > 0 ? process.argv[scaleArg + 1] : 1) || 1);
const watchdog = setTimeout(() => {
  process.stderr.write('bench: time limit reached, stopping\n');
  void stopEarly(3);
}, WATCHDOG_MS);
watchdog.unref();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => void stopEarly(130));
}

main().then(
  async (code) => {
    await cleanupAll();
    process.exit(code);
  },
  async (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
    await cleanupAll();
    process.exit(1);
  },
);
