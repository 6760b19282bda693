// The inbound protections depend on fixes in these libraries; a downgrade must fail the build, not ship.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';

const require = createRequire(import.meta.url);

function atLeast(version: string, minimum: string): boolean {
  const a = version.split('.').map(Number);
  const b = minimum.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i]! > b[i]!;
  return true;
}

describe('library versions with the fixes mailroot relies on', () => {
  it('smtp-server >= 3.21.0: only CRLF.CRLF ends DATA, also across TCP segments (3.19.3); rejectOversized, maxRecipients', () => {
    const { version } = require('smtp-server/package.json') as { version: string };
    assert.ok(atLeast(version, '3.21.0'), `smtp-server ${version}`);
  });

  it('nodemailer >= 10.0.12: a bare CR is sent as CRLF (no <CR>.<CR> upstream)', () => {
    const { version } = require('nodemailer/package.json') as { version: string };
    assert.ok(atLeast(version, '10.0.12'), `nodemailer ${version}`);
  });
});
