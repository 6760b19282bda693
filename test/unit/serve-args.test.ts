// A plain `mailroot serve ...` command line is read without loading yargs (src/cli/serve-args.ts); it must give
// serve the same options yargs gives it, and leave everything else to yargs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import yargs from 'yargs';
import { configOptions, plainServeOptions } from '../../src/cli/serve-args.js';
import { KEY_NAMES } from '../../src/config/schema.js';

function byYargs(args: string[]): Record<string, unknown> {
  return yargs([]).option('config', { type: 'string' }).options(configOptions()).strictOptions().exitProcess(false).parseSync(args) as Record<string, unknown>;
}

/** What serve reads of its argv: each config key and --config. */
function serveView(argv: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(['config', ...KEY_NAMES].filter((key) => argv[key] !== undefined).map((key) => [key, argv[key]]));
}

describe('serve options without yargs', () => {
  it('reads flags, --key=value, repeated and list flags, numbers and empty values as yargs does', () => {
    const lines = [
      [],
      ['--mailroot', '/var/mail root', '--listen', '127.0.0.1:2525', '--smart-host', '127.0.0.1:25', '--hostname', 'relay.test'],
      ['--listen=127.0.0.1:25', '--listen', '[::1]:25', '--retry', '1s', '5m', '--max-message-size', '10', '--config', 'a.json'],
      ['--retry', '15m,30m', '--allow-relay', '10.0.0.0/8', '--log-level', 'debug', '--smart-host', ''],
      ['--concurrency', '007', '--max-recipients', '1e3', '--', '--hostname'],
    ];
    for (const args of lines) {
      const plain = plainServeOptions(args);
      if (args.includes('--')) {
        assert.equal(plain, undefined, 'a word after -- goes to yargs');
        continue;
      }
      assert.ok(plain, JSON.stringify(args));
      assert.deepEqual(serveView(plain), serveView(byYargs(args)), JSON.stringify(args));
    }
  });

  it('leaves help, the version, commands, unknown options, short options and stray words to yargs', () => {
    for (const args of [['--help'], ['-h'], ['--version'], ['help'], ['status'], ['--smart-hots', 'x'], ['--hostname', 'a', 'stray'], ['-x']]) {
      assert.equal(plainServeOptions(args), undefined, JSON.stringify(args));
    }
  });
});
