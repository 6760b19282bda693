// The module arrows run one way: cli -> relay -> {smtp, pickup} -> spool; delivery -> transport; config is
// imported by all and imports none of them. Pickup reads and hands over through the spool's public modules only,
// so that the spool alone knows its files and how they are written.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';

const SRC = path.resolve(import.meta.dirname, '../../../src');

/** The top-level module a source file belongs to: "config", "spool", ... ("relay" for src/relay.ts). */
function moduleOf(file: string): string {
  const first = path.relative(SRC, file).split(path.sep)[0]!;
  return first.replace(/\.ts$/, '');
}

interface ImportLine {
  from: string;
  /** The imported file, relative to src/ with forward slashes, e.g. "spool/durable.ts". */
  target: string;
}

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sourceFiles(full)));
    else if (entry.name.endsWith('.ts')) out.push(full);
  }
  return out;
}

async function importLines(): Promise<ImportLine[]> {
  const lines: ImportLine[] = [];
  for (const file of await sourceFiles(SRC)) {
    const text = await fs.readFile(file, 'utf8');
    // import ... from '...'; export ... from '...'; import '...'; import('...')
    for (const m of text.matchAll(/(?:\bfrom\s+|\bimport\s*\(?\s*)['"](\.{1,2}\/[^'"]+)['"]/g)) {
      const resolved = path.resolve(path.dirname(file), m[1]!).replace(/\.js$/, '.ts');
      lines.push({ from: path.relative(SRC, file).split(path.sep).join('/'), target: path.relative(SRC, resolved).split(path.sep).join('/') });
    }
  }
  return lines;
}

/** Imports of `to` modules from files of module `from`, as "file -> target" for the failure message. */
function crossing(lines: ImportLine[], from: string, to: readonly string[]): string[] {
  return lines
    .filter((line) => moduleOf(path.join(SRC, line.from)) === from && to.includes(moduleOf(path.join(SRC, line.target))))
    .map((line) => `${line.from} -> ${line.target}`);
}

/** What Pickup may import from the spool: its API, the file format, and the one way to open a file writers reach. */
const SPOOL_PUBLIC = ['spool/spool.ts', 'spool/eml-format.ts', 'spool/untrusted-file.ts'];

describe('module arrows', () => {
  it('config imports none of the modules that use it', async () => {
    const lines = await importLines();
    assert.deepEqual(crossing(lines, 'config', ['smtp', 'pickup', 'delivery', 'transport', 'spool', 'relay', 'cli']), []);
  });

  it('pickup reaches the spool only through its public modules', async () => {
    const lines = await importLines();
    const internal = lines
      .filter((line) => line.from.startsWith('pickup/') && line.target.startsWith('spool/') && !SPOOL_PUBLIC.includes(line.target))
      .map((line) => `${line.from} -> ${line.target}`);
    assert.deepEqual(internal, []);
    assert.ok(lines.some((line) => line.from.startsWith('pickup/') && line.target === 'spool/spool.ts'), 'the rule reads the import lines');
  });

  it('the queue commands change files only through the spool API', async () => {
    const lines = await importLines();
    const internal = lines.filter((line) => line.from.startsWith('queue-admin/') && line.target.startsWith('spool/') && line.target !== 'spool/spool.ts');
    assert.deepEqual(
      internal.map((line) => `${line.from} -> ${line.target}`),
      [],
    );
    assert.ok(lines.some((line) => line.from.startsWith('queue-admin/') && line.target === 'spool/spool.ts'), 'the rule reads the import lines');
  });

  it('data flows one way: smtp and pickup feed the spool, delivery uses transport, nothing points back', async () => {
    const lines = await importLines();
    assert.deepEqual(crossing(lines, 'spool', ['smtp', 'pickup', 'delivery', 'transport', 'relay', 'cli']), []);
    assert.deepEqual(crossing(lines, 'smtp', ['pickup', 'delivery', 'transport', 'relay', 'cli']), []);
    assert.deepEqual(crossing(lines, 'pickup', ['smtp', 'delivery', 'transport', 'relay', 'cli']), []);
    assert.deepEqual(crossing(lines, 'delivery', ['smtp', 'pickup', 'relay', 'cli']), []);
    assert.deepEqual(crossing(lines, 'transport', ['smtp', 'delivery', 'pickup', 'relay', 'cli']), []);
    assert.deepEqual(crossing(lines, 'relay', ['cli']), []);
  });
});
