// `mailroot status`: the relay's health for a person or a monitoring agent. Folder counts and the oldest
// message come from the files; the relay's own state (smart host, counts, version, pid, uptime) from the status
// file it keeps current. Exit codes follow the Nagios/Icinga plugin convention: 0 OK, 1 WARNING, 2 CRITICAL.
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { loadConfig } from '../config/load.js';
import { ConfigError } from '../config/schema.js';
import { parseDuration } from '../config/units.js';
import { relayLiveness } from '../ops/status-file.js';
import { timeOfId } from '../spool/ids.js';
import { holdFolder, prepareLayout } from '../spool/layout.js';
import { idOf, isQueueMessageName } from '../spool/spool.js';
import { CommandError, printJson, runCommand, type CommandContext } from './command-output.js';

const OK = 0;
const WARNING = 1;
const CRITICAL = 2;
const LABELS = ['OK', 'WARNING', 'CRITICAL'] as const;

interface StatusArgs {
  config?: string;
  mailroot?: string;
  json: boolean;
  warnAge: string;
  critAge: string;
}

export const statusCommand = (context: CommandContext): CommandModule<object, StatusArgs> => ({
  command: 'status',
  describe: 'Relay health: folder counts, oldest message, smart host, counts since start. Exit 0 OK, 1 WARNING, 2 CRITICAL (Nagios)',
  builder: (y: Argv) =>
    y
      .option('mailroot', { type: 'string', describe: 'Mailroot folder (default: from the config)' })
      .option('json', { type: 'boolean', default: false, describe: 'Print as JSON' })
      .option('warn-age', { type: 'string', default: '1h', describe: 'WARNING when the oldest queued message is older than this' })
      .option('crit-age', { type: 'string', default: '12h', describe: 'CRITICAL when the oldest queued message is older than this' }) as unknown as Argv<StatusArgs>,
  handler: (argv) => runCommand(context, () => status(context, argv)),
});

async function countFiles(dir: string, keep: (name: string) => boolean): Promise<{ count: number; names: string[] }> {
  const names = (await fsp.readdir(dir).catch(() => [] as string[])).filter(keep);
  return { count: names.length, names };
}

function duration(text: string, option: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new CommandError(`--${option} must be a duration such as "1h" (got ${JSON.stringify(text)})`, CRITICAL);
  return ms;
}

function age(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

async function status(context: CommandContext, argv: StatusArgs): Promise<number> {
  const warnAge = duration(argv.warnAge, 'warn-age');
  const critAge = duration(argv.critAge, 'crit-age');
  let root: string;
  try {
    root = argv.mailroot !== undefined ? path.resolve(context.cwd, argv.mailroot) : loadConfig({ configFile: argv.config, env: context.env, cwd: context.cwd }).mailroot;
  } catch (err) {
    if (err instanceof ConfigError) throw new CommandError(`${err.message} (or pass --mailroot)`, CRITICAL);
    throw err;
  }
  const exists = await fsp.stat(root).then((s) => s.isDirectory(), () => false);
  if (!exists) throw new CommandError(`MAILROOT CRITICAL - no mailroot at ${root}`, CRITICAL);
  const layout = await prepareLayout(root);
  const now = Date.now();
  const queue = await countFiles(layout.queue, isQueueMessageName);
  const oldestName = queue.names.sort()[0];
  let oldestAt: number | undefined;
  if (oldestName) {
    oldestAt = timeOfId(idOf(oldestName))?.getTime() ?? (await fsp.stat(path.join(layout.queue, oldestName)).then((s) => s.mtimeMs, () => undefined));
  }
  const folders = {
    pickup: (await countFiles(layout.pickup, (n) => !n.startsWith('.'))).count,
    queue: queue.count,
    hold: (await countFiles(await holdFolder(root), isQueueMessageName)).count,
    badmail: (await countFiles(layout.badmail, (n) => n.toLowerCase().endsWith('.bad'))).count,
    drop: (await countFiles(layout.drop, isQueueMessageName)).count,
  };
  const live = await relayLiveness(root, now);
  const problems: Array<[number, string]> = [];
  if (!live.running) problems.push([CRITICAL, live.why]);
  const relay = live.status;
  if (live.running) {
    for (const host of relay!.smartHosts) {
      if (host.state !== 'down') continue;
      const action = host.problem ? ` (the relay's ${host.problem === 'tls' ? 'TLS settings or the host\'s certificate' : 'credentials'} need fixing)` : '';
      problems.push([WARNING, `smart host ${host.host} down since ${host.since}${action}: ${host.lastError?.reply ?? ''}`.trim()]);
    }
    for (const route of relay!.routes ?? []) {
      if (route.state === 'down') problems.push([WARNING, `route ${route.route} down since ${route.since} (${route.held} message(s) held for it): ${route.lastError ?? ''}`.trim()]);
    }
  }
  const oldestAge = oldestAt === undefined ? undefined : now - oldestAt;
  if (oldestAge !== undefined && oldestAge > critAge) problems.push([CRITICAL, `oldest queued message is ${age(oldestAge)} old`]);
  else if (oldestAge !== undefined && oldestAge > warnAge) problems.push([WARNING, `oldest queued message is ${age(oldestAge)} old`]);
  const code = Math.max(OK, ...problems.map(([c]) => c));
  const result = {
    status: LABELS[code],
    code,
    problems: problems.map(([c, text]) => ({ level: LABELS[c], text })),
    mailroot: root,
    folders,
    oldestQueuedSeconds: oldestAge === undefined ? null : Math.round(oldestAge / 1000),
    relay: relay
      ? {
          running: live.running,
          version: relay.version,
          pid: relay.pid,
          startedAt: relay.startedAt,
          uptimeSeconds: live.running ? Math.round((now - Date.parse(relay.startedAt)) / 1000) : null,
          updatedAt: relay.updatedAt,
          listening: relay.listening,
          smartHosts: relay.smartHosts,
          routes: relay.routes ?? [],
          counts: relay.counts,
        }
      : { running: false },
  };
  if (argv.json) {
    printJson(context.stdout, result);
    return code;
  }
  const summary = [
    live.running ? `relay up ${age(now - Date.parse(relay!.startedAt))}` : 'relay DOWN',
    ...(live.running ? relay!.smartHosts.map((h) => `smart host ${h.state}`) : []),
    `queue ${folders.queue}${oldestAge !== undefined ? ` (oldest ${age(oldestAge)})` : ''}`,
    `hold ${folders.hold}`,
    `badmail ${folders.badmail}`,
  ].join(', ');
  const perf = `queue=${folders.queue} hold=${folders.hold} badmail=${folders.badmail} pickup=${folders.pickup} oldest=${Math.round((oldestAge ?? 0) / 1000)}s`;
  const lines = [`MAILROOT ${LABELS[code]} - ${summary} | ${perf}`];
  for (const [c, text] of problems) lines.push(`${LABELS[c]}: ${text}`);
  lines.push(`Mailroot: ${root}`, `Folders: Pickup ${folders.pickup}, Queue ${folders.queue}, Hold ${folders.hold}, Badmail ${folders.badmail} (.bad), Drop ${folders.drop}`);
  if (relay) {
    lines.push(`Relay: mailroot ${relay.version}, pid ${relay.pid}, started ${relay.startedAt}, status written ${relay.updatedAt}`);
    if (relay.listening.length) lines.push(`Listening: ${relay.listening.join(', ')}`);
    for (const h of relay.smartHosts) lines.push(`Smart host ${h.host}: ${h.state} since ${h.since}${h.lastError ? `; last error ${h.lastError.at}: ${h.lastError.reply}` : ''}`);
    for (const r of relay.routes ?? []) lines.push(`Route ${r.route}: ${r.state} since ${r.since}${r.state === 'down' ? `, ${r.held} message(s) held, next probe ${r.nextProbeAt ?? 'when a message waits'}` : ''}`);
    lines.push(`Since start: ${relay.counts.accepted} accepted, ${relay.counts.delivered} delivered, ${relay.counts.deferred} deferred, ${relay.counts.failed} failed (Badmail)`);
  }
  context.stdout.write(lines.join('\n') + '\n');
  return code;
}
