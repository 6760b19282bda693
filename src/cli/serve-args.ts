// The options of a plain `mailroot [serve] --key value ...`, read with yargs' own parser (yargs-parser) and the
// same option types yargs is given, without loading yargs: yargs brings its help layout (cliui, string-width's
// Unicode tables), about 0.2 s of CPU at each start of the relay. Anything else (help, the version, another
// command, an unknown option, a stray word, a parse error) returns undefined and goes through yargs as always, so
// yargs stays the one that explains a mistake.
import type { Options } from 'yargs';
import yargsParser from 'yargs-parser';
import { KEY_NAMES, envName, flagName, keySpec } from '../config/schema.js';

/** serve's options as yargs is given them: every config key as a flag. */
export function configOptions(): Record<string, Options> {
  const options: Record<string, Options> = {};
  for (const key of KEY_NAMES) {
    const spec = keySpec(key);
    options[flagName(key)] = {
      type: 'string',
      array: spec.list === true,
      describe: `${spec.description}. Default ${spec.defaultText}. Env ${envName(key)}`,
    };
  }
  return options;
}

/** The same types for yargs-parser: every flag (and --config) a string, the list keys arrays. */
function serveFlags(): { strings: string[]; arrays: string[] } {
  const options = configOptions();
  const flags = Object.keys(options);
  return { strings: ['config', ...flags], arrays: flags.filter((flag) => options[flag]!.array === true) };
}

export function plainServeOptions(args: string[]): Record<string, unknown> | undefined {
  if (args.some((arg) => /^-[^-]/.test(arg))) return undefined; // a short option, such as -h
  const { strings, arrays } = serveFlags();
  const parsed = yargsParser.detailed(args, { string: strings, array: arrays, configuration: { 'parse-positional-numbers': false } });
  if (parsed.error || parsed.argv._.length > 0) return undefined;
  const known = new Set(['_', ...strings, ...strings.map((flag) => yargsParser.camelCase(flag))]);
  if (!Object.keys(parsed.argv).every((key) => known.has(key))) return undefined;
  return parsed.argv;
}
