import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const MAIN = path.join(ROOT, 'dist/src/cli/main.js');

describe('mailroot --version', () => {
  it("prints mailroot's version from package.json and the Node.js running it", () => {
    const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const out = execFileSync(process.execPath, [MAIN, '--version'], { encoding: 'utf8' });
    assert.equal(out, `mailroot ${version} (Node.js ${process.version})\n`);
  });
});
