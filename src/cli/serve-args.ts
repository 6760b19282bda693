// The options of a plain `mailroot [serve] --key value ...`, read with yargs' own parser (yargs-parser) and the
// same option types yargs is given, without loading yargs: yargs brings its help layout (cliui, string-width's
// Unicode tables), about 0.2 s of CPU at each start of the relay. Anything else (help, the version, another
// command, an unknown option, a stray word, a parse error) returns undefined and goes through yargs as always, so
// yargs stays the one that explains a mistake.
import yargsParser from 'yargs-parser';
import { KEY_NAMES, flagName, keySpec } from '../config/schema.js';

/** serve's options: every config key as a flag, and --config. */
function serveFlags(): { strings: string[]; arrays: string[] } {
  return {
    strings: ['config', ...KEY_NAMES.map(flagName)],
    arrays: KEY_NAMES.filter((key) => keySpec(key).list === true).map(flagName),
  };
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
