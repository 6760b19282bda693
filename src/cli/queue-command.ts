// `mailroot queue list|show|retry|hold|release|delete|flush`: the queue from the command line, through the
// files alone (no control port), with the relay running or stopped. See src/queue-admin/.
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { loadConfig } from '../config/load.js';
import { ConfigError } from '../config/schema.js';
import { parseDuration } from '../config/units.js';
import { QueueActionError, QueueActions, type ActionOutcome } from '../queue-admin/queue-actions.js';
import { QueueFiles, QueueNotFoundError, type QueueEntry } from '../queue-admin/queue-files.js';
import { failure, ok as found, type Result } from '../result.js';
import { CommandError, EXIT_ATTENTION, EXIT_OK, EXIT_USAGE, printJson, runCommand, type CommandContext } from './command-output.js';

interface QueueArgs {
  config?: string;
  mailroot?: string;
  json: boolean;
  ids?: string[];
  id?: string;
  all?: boolean;
  sender?: string;
  recipient?: string;
  olderThan?: string;
  reply?: string;
  held?: boolean;
}

async function openQueue(context: CommandContext, argv: QueueArgs): Promise<QueueFiles> {
  let root: string;
  if (argv.mailroot !== undefined) {
    root = path.resolve(context.cwd, argv.mailroot);
  } else {
    try {
      root = loadConfig({ configFile: argv.config, env: context.env, cwd: context.cwd }).mailroot;
    } catch (err) {
      if (err instanceof ConfigError) throw new CommandError(`${err.message} (or pass --mailroot)`, EXIT_USAGE);
      throw err;
    }
  }
  try {
    return await QueueFiles.open(root);
  } catch (err) {
    if (err instanceof QueueNotFoundError) throw new CommandError(err.message, EXIT_USAGE);
    throw err;
  }
}

/** "45s", "12m", "3h5m", "2d4h": the two largest units. */
function shortAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const parts: Array<[number, string]> = [[Math.floor(s / 86400), 'd'], [Math.floor(s / 3600) % 24, 'h'], [Math.floor(s / 60) % 60, 'm'], [s % 60, 's']];
  const first = parts.findIndex(([n]) => n > 0);
  if (first === -1) return '0s';
  return parts.slice(first, first + 2).filter(([n]) => n > 0).map(([n, u]) => `${n}${u}`).join('');
}

function nextText(entry: QueueEntry, now: number): string {
  if (entry.place === 'hold') return 'held';
  const next = entry.state?.nextAttempt?.getTime();
  if (next === undefined || next <= now) return 'now';
  return `in ${shortAge(next - now)}`;
}

function entryJson(entry: QueueEntry, now: number) {
  return {
    id: entry.id,
    held: entry.place === 'hold',
    file: entry.file,
    sender: entry.sender,
    recipients: entry.recipients,
    size: entry.size,
    queuedAt: entry.queuedAt.toISOString(),
    ageSeconds: Math.round((now - entry.queuedAt.getTime()) / 1000),
    attempts: entry.state?.attempts ?? 0,
    lastAttempt: entry.state?.lastAttempt?.toISOString() ?? null,
    nextAttempt: entry.place === 'hold' ? null : (entry.state?.nextAttempt?.toISOString() ?? null),
    lastReply: entry.state?.lastReply ?? '',
    ...(entry.unreadable ? { unreadable: entry.unreadable } : {}),
  };
}

function matches(entry: QueueEntry, argv: QueueArgs, now: number, olderThan: number | undefined): boolean {
  const has = (text: string, part: string | undefined) => part === undefined || text.toLowerCase().includes(part.toLowerCase());
  if (!has(entry.sender, argv.sender)) return false;
  if (argv.recipient !== undefined && !entry.recipients.some((r) => has(r, argv.recipient))) return false;
  if (!has(entry.state?.lastReply ?? '', argv.reply)) return false;
  if (olderThan !== undefined && now - entry.queuedAt.getTime() < olderThan) return false;
  if (argv.held !== undefined && (entry.place === 'hold') !== argv.held) return false;
  return true;
}

async function list(context: CommandContext, argv: QueueArgs): Promise<number> {
  const files = await openQueue(context, argv);
  const olderThan = argv.olderThan === undefined ? undefined : parseDuration(argv.olderThan);
  if (argv.olderThan !== undefined && olderThan === undefined) throw new CommandError(`--older-than must be a duration such as "30m" or "2d" (got ${JSON.stringify(argv.olderThan)})`, EXIT_USAGE);
  const now = Date.now();
  const entries = (await files.list()).filter((e) => matches(e, argv, now, olderThan));
  if (argv.json) {
    printJson(context.stdout, entries.map((e) => entryJson(e, now)));
    return EXIT_OK;
  }
  if (entries.length === 0) {
    context.stdout.write('No messages.\n');
    return EXIT_OK;
  }
  const rows = entries.map((e) => [
    e.id,
    shortAge(now - e.queuedAt.getTime()),
    String(e.size),
    String(e.state?.attempts ?? 0),
    nextText(e, now),
    `<${e.sender}>`,
    e.unreadable ? `(unreadable: ${e.unreadable})` : e.recipients.join(', '),
    e.state?.lastReply ?? '',
  ]);
  const header = ['ID', 'AGE', 'SIZE', 'TRIES', 'NEXT', 'FROM', 'TO', 'LAST REPLY'];
  const widths = header.map((h, i) => (i >= 7 ? 0 : Math.max(h.length, ...rows.map((r) => r[i]!.length))));
  const line = (cells: string[]) => cells.map((c, i) => (widths[i] ? c.padEnd(widths[i]!) : c)).join('  ').trimEnd();
  context.stdout.write([line(header), ...rows.map(line), '', `${entries.length} message(s); ${entries.filter((e) => e.place === 'hold').length} held`].join('\n') + '\n');
  return EXIT_OK;
}

async function show(context: CommandContext, argv: QueueArgs): Promise<number> {
  const files = await openQueue(context, argv);
  const entry = await find(files, argv.id!);
  const now = Date.now();
  const headers = entry.unreadable ? '' : await files.headers(entry);
  if (argv.json) {
    printJson(context.stdout, { ...entryJson(entry, now), stateFile: entry.stateFile ?? null, hostDeferred: entry.state?.hostDeferred ?? false, delayNotified: entry.state?.delayNotified ?? false, headers });
    return EXIT_OK;
  }
  const s = entry.state;
  const lines = [
    `Message ${entry.id}${entry.place === 'hold' ? '  (HELD: not tried until released)' : ''}`,
    `File:          ${entry.file}`,
    `State file:    ${entry.stateFile ?? '(none: never failed)'}`,
    `Size:          ${entry.size} bytes`,
    `Queued:        ${entry.queuedAt.toISOString()} (${shortAge(now - entry.queuedAt.getTime())} ago)`,
    `Sender:        <${entry.sender}>`,
    ...entry.recipients.map((r, i) => `${i === 0 ? 'Recipients:' : '           '}    <${r}>`),
    `Attempts:      ${s?.attempts ?? 0}`,
    `Last attempt:  ${s?.lastAttempt?.toISOString() ?? '-'}`,
    `Next attempt:  ${entry.place === 'hold' ? 'held' : (s?.nextAttempt?.toISOString() ?? 'now')}`,
    `Last reply:    ${s?.lastReply || '-'}`,
    ...(entry.unreadable ? [`Unreadable:    ${entry.unreadable}`] : []),
    '',
    headers,
  ];
  context.stdout.write(lines.join('\n') + '\n');
  return EXIT_OK;
}

async function find(files: QueueFiles, id: string): Promise<QueueEntry> {
  try {
    return await files.find(id);
  } catch (err) {
    if (err instanceof QueueNotFoundError) throw new CommandError(err.message, EXIT_ATTENTION);
    throw err;
  }
}

const DONE_TEXT: Record<ActionOutcome['result'], string> = {
  'due-now': 'due now',
  held: 'held (moved to Hold)',
  released: 'released (back in Queue, due now)',
  deleted: 'deleted',
  gone: 'already gone from the queue (delivered or moved)',
  'already-held': 'already held',
  'not-held': 'not held',
};

type Action = 'retry' | 'hold' | 'release' | 'delete';

async function act(context: CommandContext, argv: QueueArgs, action: Action, everything: 'queue' | 'hold' | undefined): Promise<number> {
  const files = await openQueue(context, argv);
  const actions = new QueueActions(files, { onWait: (message) => context.stderr.write(`mailroot: ${message}\n`) });
  /** Each message to act on, or why an id named none (the id, and the reason). */
  const targets: Array<Result<QueueEntry, { id: string; text: string }>> = [];
  if (everything) {
    targets.push(...(await files.list([everything])).filter((e) => !e.unreadable).map(found));
  } else {
    if (!argv.ids || argv.ids.length === 0) throw new CommandError(`queue ${action}: name one or more message ids${action === 'retry' || action === 'release' ? ', or --all' : ''}`, EXIT_USAGE);
    for (const id of argv.ids) {
      try {
        targets.push(found(await files.find(id)));
      } catch (err) {
        if (!(err instanceof QueueNotFoundError)) throw err;
        targets.push(failure({ id, text: err.message }));
      }
    }
  }
  const outcomes: Array<ActionOutcome | { id: string; result: 'error'; detail: string }> = [];
  for (const target of targets) {
    if (!target.ok) {
      outcomes.push({ id: target.reason.id, result: 'error', detail: target.reason.text });
      continue;
    }
    try {
      outcomes.push(await actions[action](target.value));
    } catch (err) {
      if (!(err instanceof QueueActionError)) throw err;
      outcomes.push({ id: target.value.id, result: 'error', detail: err.message });
    }
  }
  // A message that left the queue meanwhile is news for an id the operator named, but not for flush or --all:
  // the relay was sending it anyway (a route that came back releases its held messages at once).
  const fine = ['due-now', 'held', 'released', 'deleted', 'already-held', ...(everything ? ['gone'] : [])];
  const ok = (o: (typeof outcomes)[number]) => fine.includes(o.result);
  if (argv.json) printJson(context.stdout, { action, outcomes });
  else {
    const lines = outcomes.map((o) => `${o.id}: ${o.result === 'error' ? `error: ${o.detail}` : DONE_TEXT[o.result]}${o.result !== 'error' && o.detail ? ` (${o.detail})` : ''}`);
    if (outcomes.length === 0) lines.push('No messages.');
    context.stdout.write(lines.join('\n') + '\n');
  }
  return outcomes.every(ok) ? EXIT_OK : EXIT_ATTENTION;
}

const ids = (y: Argv) => y.positional('ids', { type: 'string', array: true, describe: 'Message ids (or unique starts of them)' });

const common = (y: Argv) =>
  y
    .option('mailroot', { type: 'string', describe: 'Mailroot folder (default: from the config, as serve reads it)' })
    .option('json', { type: 'boolean', default: false, describe: 'Print as JSON' });

export const queueCommand = (context: CommandContext): CommandModule<object, QueueArgs> => ({
  command: 'queue',
  describe: 'List, inspect, retry, hold, release and delete queued messages (works with the relay running or stopped)',
  builder: (y: Argv) =>
    common(y)
      .command(
        'list',
        'List Queue and Hold: id, age, size, attempts, next attempt, sender, recipients, last reply',
        (c) =>
          c
            .option('sender', { type: 'string', describe: 'Only senders containing this text' })
            .option('recipient', { type: 'string', describe: 'Only messages with a recipient containing this text' })
            .option('older-than', { type: 'string', describe: 'Only messages queued longer ago than this ("30m", "2d")' })
            .option('reply', { type: 'string', describe: 'Only messages whose last reply contains this text' })
            .option('held', { type: 'boolean', describe: 'Only held (--held) or only not held (--no-held) messages' }),
        (a) => runCommand(context, () => list(context, a as unknown as QueueArgs)),
      )
      .command('show <id>', 'Envelope, headers and retry state of one message', (c) => c.positional('id', { type: 'string', describe: 'Message id (or a unique start of it)' }), (a) => runCommand(context, () => show(context, a as unknown as QueueArgs)))
      .command(
        'retry [ids..]',
        'Make messages due now (a running relay tries them within a second)',
        (c) => ids(c).option('all', { type: 'boolean', describe: 'Every message in Queue (same as flush)' }),
        (a) => runCommand(context, () => act(context, a as unknown as QueueArgs, 'retry', (a as unknown as QueueArgs).all ? 'queue' : undefined)),
      )
      .command('flush', 'Make every message in Queue due now', (c) => c, (a) => runCommand(context, () => act(context, a as unknown as QueueArgs, 'retry', 'queue')))
      .command('hold <ids..>', 'Hold messages: moved to the Hold folder, never tried until released', ids, (a) => runCommand(context, () => act(context, a as unknown as QueueArgs, 'hold', undefined)))
      .command(
        'release [ids..]',
        'Release held messages: back into Queue, due now',
        (c) => ids(c).option('all', { type: 'boolean', describe: 'Every held message' }),
        (a) => runCommand(context, () => act(context, a as unknown as QueueArgs, 'release', (a as unknown as QueueArgs).all ? 'hold' : undefined)),
      )
      .command('delete <ids..>', 'Delete messages (the .eml and its .rtr) from Queue or Hold', ids, (a) => runCommand(context, () => act(context, a as unknown as QueueArgs, 'delete', undefined)))
      .demandCommand(1) as unknown as Argv<QueueArgs>,
  handler: () => undefined,
});
