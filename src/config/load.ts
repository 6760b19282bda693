// Builds the one Config the relay runs with: defaults < JSON file < MAILROOT_* environment < command-line flags.
// Validation happens once, here; every error names the key and where the bad value came from.
import fs from 'node:fs';
import path from 'node:path';
import { finishSmartHosts } from './smart-hosts.js';
import { ConfigError, KEY_NAMES, checkConfig, envName, flagName, keySpec, type Config, type ConfigKey } from './schema.js';

export interface ConfigSources {
  /** --config value; when absent, mailroot.json in cwd is used if it exists. */
  configFile?: string | undefined;
  /** Raw flag values as given on the command line, keyed by config key. */
  flags?: Partial<Record<ConfigKey, unknown>>;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Told where each key's value came from ("default", the file name, "environment X", "flag --x") and its raw value. */
  onOrigin?: (key: ConfigKey, origin: string, raw: unknown) => void;
}

const DEFAULT_CONFIG_FILE = 'mailroot.json';

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`config: cannot read config file ${file}: ${(err as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text.replace(/^\uFEFF/, '')); // Notepad writes a BOM
  } catch (err) {
    throw new ConfigError(`config: ${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError(`config: ${file} must hold a JSON object of settings`);
  }
  const record = data as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!(KEY_NAMES as string[]).includes(key)) {
      throw new ConfigError(`config: unknown key "${key}" in ${file}; known keys: ${KEY_NAMES.join(', ')}`);
    }
  }
  return record;
}

/** A flag or env var is one string; list keys take a JSON array or comma-separated values. */
function splitListText(raw: unknown): unknown {
  if (Array.isArray(raw)) return raw.flatMap((item) => splitListText(item) as unknown[]);
  if (typeof raw !== 'string') return [raw];
  const text = raw.trim();
  if (text.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (Array.isArray(parsed)) return parsed;
    } catch {
      // not JSON: fall through to comma splitting
    }
  }
  return text.split(',').map((part) => part.trim()).filter((part) => part !== '');
}

export function loadConfig(sources: ConfigSources = {}): Readonly<Config> {
  const env = sources.env ?? process.env;
  const cwd = sources.cwd ?? process.cwd();
  let fileValues: Record<string, unknown> = {};
  let fileName: string | undefined;
  if (sources.configFile !== undefined) {
    fileName = path.resolve(cwd, sources.configFile);
    fileValues = readConfigFile(fileName);
  } else if (fs.existsSync(path.join(cwd, DEFAULT_CONFIG_FILE))) {
    fileName = path.join(cwd, DEFAULT_CONFIG_FILE);
    fileValues = readConfigFile(fileName);
  }

  for (const name of Object.keys(env)) {
    if (!name.startsWith('MAILROOT_')) continue;
    if (!KEY_NAMES.some((key) => envName(key) === name)) {
      throw new ConfigError(
        `config: unknown environment variable ${name}; known: ${KEY_NAMES.map(envName).join(', ')}`,
      );
    }
  }

  const config: Record<string, unknown> = {};
  for (const key of KEY_NAMES) {
    const spec = keySpec(key);
    let raw: unknown;
    let origin: string;
    const flagValue = sources.flags?.[key];
    const envValue = env[envName(key)];
    if (flagValue !== undefined) {
      raw = spec.list ? splitListText(flagValue) : flagValue;
      origin = `flag --${flagName(key)}`;
    } else if (envValue !== undefined) {
      raw = spec.list ? splitListText(envValue) : envValue;
      origin = `environment ${envName(key)}`;
    } else if (key in fileValues) {
      raw = fileValues[key];
      origin = `${fileName}`;
    } else if (spec.default !== undefined) {
      config[key] = spec.default();
      sources.onOrigin?.(key, 'default', undefined);
      continue;
    } else {
      throw new ConfigError(
        `config: ${key} is required: set "${key}" in ${DEFAULT_CONFIG_FILE}, --${flagName(key)} or ${envName(key)}`,
      );
    }
    const parsed = spec.parse(raw);
    if (!parsed.ok) throw new ConfigError(`config: ${key}${/^[[.]/.test(parsed.reason) ? '' : ' '}${parsed.reason} [from ${origin}]`);
    config[key] = parsed.value;
    sources.onOrigin?.(key, origin, raw);
  }
  const result = config as unknown as Config;
  result.mailroot = path.resolve(cwd, result.mailroot);
  if (result.logFile !== undefined) result.logFile = path.resolve(cwd, result.logFile);
  result.protocolLogDir = path.resolve(cwd, result.protocolLogDir ?? path.join(result.mailroot, '..', 'LogFiles'));
  for (const key of ['tlsCert', 'tlsKey', 'tlsPfx'] as const) {
    if (result[key] !== undefined) result[key] = path.resolve(cwd, result[key]);
  }
  for (const hosts of [result.smartHost, ...result.routes.map((route) => route.hosts)]) {
    const error = finishSmartHosts(hosts, result, cwd, env);
    if (error) throw new ConfigError(error);
  }
  checkConfig(result);
  return Object.freeze(result);
}
