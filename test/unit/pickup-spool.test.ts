// Pickup's spool transitions and its listing, on a real temporary mailroot.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { silentLogger } from '../../src/log/logger.js';
import { PickupWatcher } from '../../src/pickup/watcher.js';
import { Spool } from '../../src/spool/spool.js';
import { eventually, tempMailroot } from '../helpers/relay.js';

describe('Pickup claims in the spool', () => {
  it('claims into SortTemp, returns, releases, quarantines; start-up puts claims back and drops finished ones', async () => {
    const root = await tempMailroot();
    let spool = await Spool.open(root, { lock: false });
    const { pickup, sortTemp, badmail } = spool.layout;
    await fs.writeFile(path.join(pickup, 'a.eml'), 'A');
    await fs.writeFile(path.join(pickup, 'b.eml'), 'B');
    await fs.writeFile(path.join(pickup, 'c.eml'), 'C');

    const a = await spool.claimPickupFile('a.eml');
    assert.equal(path.dirname(a.path), sortTemp);
    assert.match(path.basename(a.path), /^\d{8}T\d{9}Z-[0-9a-z]{4}-[0-9a-f]{10}\.pickup$/);
    await assert.rejects(spool.claimPickupFile('a.eml'), { code: 'ENOENT' }, 'taken once');
    const back = await spool.returnToPickup(a);
    assert.equal(await fs.readFile(path.join(pickup, back), 'utf8'), 'A');

    const b = await spool.claimPickupFile('b.eml');
    await fs.chmod(b.path, 0o444);
    await spool.releaseClaim(b);
    await assert.rejects(fs.access(b.path), { code: 'ENOENT' }, 'a read-only claim is removed too');

    const c = await spool.claimPickupFile('c.eml');
    const stem = await spool.quarantineFile(c.path, c.id, 'why\r\n');
    assert.equal(await fs.readFile(path.join(badmail, `${stem}.bad`), 'utf8'), 'C');
    assert.equal(await fs.readFile(path.join(badmail, `${stem}.bdr`), 'utf8'), 'why\r\n');

    // A crash: one claim in flight, one finished claim that could not be deleted, one SMTP temp file.
    await fs.writeFile(path.join(pickup, 'd.eml'), 'D');
    const d = await spool.claimPickupFile('d.eml');
    await fs.writeFile(path.join(sortTemp, `${d.id}x.done`), 'queued already');
    await fs.writeFile(path.join(sortTemp, 'x.accept.tmp'), 'never acknowledged');
    await spool.close();
    spool = await Spool.open(root, { lock: false });
    assert.deepEqual(await fs.readdir(sortTemp), []);
    assert.deepEqual(spool.returnedToPickup, [`${d.id}.eml`]);
    assert.equal(await fs.readFile(path.join(pickup, `${d.id}.eml`), 'utf8'), 'D');
    await spool.close();
  });
});

describe('PickupWatcher without watch events', () => {
  it('finds files by listing alone, once they have settled, and skips busy and work-in-progress names', async () => {
    const dir = await tempMailroot();
    const ready: string[] = [];
    const busy = new Set(['busy.eml']);
    const watcher = new PickupWatcher({
      dir,
      root: dir,
      settleTime: 200,
      rescanInterval: 50,
      log: silentLogger(),
      isBusy: (name) => busy.has(name),
      onReady: (name) => {
        ready.push(name); // handed on: busy until its consumer is done with it, as Pickup does
        busy.add(name);
      },
      watch: false,
    });
    watcher.start();
    try {
      await fs.writeFile(path.join(dir, 'one.eml'), 'x');
      await fs.writeFile(path.join(dir, 'busy.eml'), 'x');
      await fs.writeFile(path.join(dir, '.partial.eml'), 'x');
      await fs.mkdir(path.join(dir, 'folder'));
      await eventually(() => watcher.pending.includes('one.eml'), 5000, 'one.eml seen');
      assert.deepEqual(ready, [], 'not before it settled');
      await eventually(() => ready.length === 1, 5000, 'one.eml ready');
      assert.deepEqual(ready, ['one.eml']);
      await fs.rm(path.join(dir, 'one.eml')); // its consumer took it
      busy.delete('one.eml');
      busy.delete('busy.eml');
      await eventually(() => ready.length === 2, 5000, 'busy.eml ready once free');
      await watcher.rescan();
      await watcher.rescan();
      assert.deepEqual(ready, ['one.eml', 'busy.eml'], 'each reported once; dot-files and folders never');
      assert.deepEqual(watcher.pending, []);
    } finally {
      await watcher.stop();
    }
  });
});
