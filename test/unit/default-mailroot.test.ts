// With no mailroot configured: IIS's folder on Windows when it exists (a former IIS SMTP server), else ./spool.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { defaultMailroot, iisMailroot } from '../../src/config/default-mailroot.js';
import { loadConfig } from '../../src/config/load.js';
import { tempMailroot } from '../helpers/relay.js';

describe('default mailroot', () => {
  it('is IIS\'s mailroot on Windows when that folder exists, ./spool otherwise and on other systems', async () => {
    const root = await tempMailroot();
    const iis = path.join(root, 'inetpub', 'mailroot');
    assert.equal(defaultMailroot({ platform: 'win32', iisFolder: iis }), './spool', 'not there');
    await fs.mkdir(path.dirname(iis), { recursive: true });
    await fs.writeFile(iis, 'a file, not a folder');
    assert.equal(defaultMailroot({ platform: 'win32', iisFolder: iis }), './spool', 'a file of that name');
    await fs.rm(iis);
    await fs.mkdir(iis);
    assert.equal(defaultMailroot({ platform: 'win32', iisFolder: iis }), iis);
    assert.equal(defaultMailroot({ platform: 'linux', iisFolder: iis }), './spool');
  });

  it('looks on the system drive', () => {
    assert.equal(iisMailroot({ SystemDrive: 'D:' }), 'D:\\inetpub\\mailroot');
    assert.equal(iisMailroot({}), 'C:\\inetpub\\mailroot');
  });

  it('is what the config holds when no mailroot is set', async () => {
    const cwd = await tempMailroot();
    const config = loadConfig({ env: {}, cwd, flags: { smartHost: 'mx:25' } });
    const expected = defaultMailroot();
    assert.equal(config.mailroot, path.resolve(cwd, expected));
  });
});
