// `mailroot check-config`: loads the config exactly as `serve` would (file, MAILROOT_* environment), and prints
// every effective setting with where it came from. Secrets are masked. Exit 0 valid, 2 invalid (the key named).
import fs from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { loadConfig } from '../config/load.js';
import { ConfigError, KEY_NAMES, keySpec, type ConfigKey } from '../config/schema.js';
import { CommandError, EXIT_OK, EXIT_USAGE, printJson, runCommand, type CommandContext } from './command-output.js';

interface CheckArgs {
  config?: string;
  json: boolean;
}

/** Keys whose values are never printed. authUsers shows the user names only. */
const SECRET_KEYS = new Set<ConfigKey>(['tlsPassphrase']);
const MASK = '********';

export const checkConfigCommand = (context: CommandContext): CommandModule<object, CheckArgs> => ({
  command: 'check-config',
  describe: 'Validate the config (file and MAILROOT_* environment, as serve reads them) and print each setting with its origin',
  builder: (y: Argv) => y.option('json', { type: 'boolean', default: false, describe: 'Print as JSON' }) as unknown as Argv<CheckArgs>,
  handler: (argv) => runCommand(context, () => checkConfig(context, argv)),
});

interface Setting {
  key: ConfigKey;
  value: unknown;
  origin: string;
}

function masked(key: ConfigKey, raw: unknown): unknown {
  if (SECRET_KEYS.has(key)) return MASK;
  if (key === 'authUsers') {
    const list = Array.isArray(raw) ? raw : [raw];
    return list.map((entry) => `${String(entry).split(':')[0]}:${MASK}`);
  }
  return raw;
}

function checkConfig(context: CommandContext, argv: CheckArgs): number {
  const settings = new Map<ConfigKey, Setting>();
  let config;
  try {
    config = loadConfig({
      configFile: argv.config,
      env: context.env,
      cwd: context.cwd,
      onOrigin: (key, origin, raw) => {
        const value = origin === 'default' ? keySpec(key).defaultText : raw;
        settings.set(key, { key, origin, value: origin === 'default' ? value : masked(key, value) });
      },
    });
  } catch (err) {
    if (err instanceof ConfigError) throw new CommandError(err.message, EXIT_USAGE);
    throw err;
  }
  settings.get('mailroot')!.value = config.mailroot; // as resolved: relative paths are relative to the working folder
  const warnings: string[] = [];
  if (!fs.existsSync(config.mailroot)) warnings.push(`mailroot ${config.mailroot} does not exist yet (serve creates it; mailroot init too)`);
  for (const key of ['tlsCert', 'tlsKey', 'tlsPfx'] as const) {
    const file = config[key];
    if (file !== undefined && !fs.existsSync(file)) warnings.push(`${key}: ${file} does not exist`);
  }
  const ordered = KEY_NAMES.map((key) => settings.get(key)!).filter(Boolean);
  if (argv.json) {
    printJson(context.stdout, { valid: true, settings: ordered, warnings });
    return EXIT_OK;
  }
  const width = Math.max(...ordered.map((s) => s.key.length));
  const lines = ['The config is valid. Effective settings:', ''];
  for (const s of ordered) {
    const value = typeof s.value === 'string' && s.origin === 'default' ? s.value : JSON.stringify(s.value);
    lines.push(`  ${s.key.padEnd(width)}  ${value}  [${s.origin}]`);
  }
  for (const warning of warnings) lines.push('', `warning: ${warning}`);
  context.stdout.write(lines.join('\n') + '\n');
  return EXIT_OK;
}
