import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeIpSecList, encodeIpSecList } from '../../src/import-iis/ipsec-list.js';

// iis-metabase.md §3.5 A: the GUI capture "Only the list below: 127.0.0.1" (saltstack win_smtp_server.py).
const GUI_127 =
  '18000080200000803c00008044000080010000004c00000000000000000000000100000001000000020000000200000004000000000000004c00008000000000000000000000000000000000ffffffff7f000001';
// §3.5 B: the scripts' template "Only the list below", nobody on it.
const TEMPLATE_NOBODY =
  '18000080200000803c00008044000080010000004c00000000000000000000000100000000000000020000000100000004000000000000004c00008000000000000000000000000000000000ffffffff';

function decoded(hex: string) {
  const result = decodeIpSecList(hex);
  assert.ok(result.ok, result.ok ? '' : result.reason);
  return result.value;
}

describe('IIS IPSECLIST (RelayIpList, IPSecurity) decoding', () => {
  it('reads the GUI capture of "only the list below: 127.0.0.1", and encodes it back byte for byte', () => {
    const list = decoded(GUI_127);
    assert.equal(list.grantByDefault, false);
    assert.deepEqual(list.grant, [{ address: '127.0.0.1', prefix: 32 }]);
    assert.deepEqual(list.deny, []);
    assert.equal(encodeIpSecList({ grantByDefault: false, entries: [{ address: '127.0.0.1', prefix: 32 }] }), GUI_127);
    assert.deepEqual(decoded(GUI_127.toUpperCase()).grant, list.grant);
  });

  it('reads the template with nobody on the list as deny-by-default with an empty list', () => {
    const list = decoded(TEMPLATE_NOBODY);
    assert.equal(list.grantByDefault, false);
    assert.deepEqual(list.grant, []);
    assert.equal(encodeIpSecList({ grantByDefault: false, entries: [] }), TEMPLATE_NOBODY);
  });

  it('reads an empty value as "all except the list below" with nothing excepted', () => {
    const list = decoded('');
    assert.equal(list.grantByDefault, true);
    assert.deepEqual(list.deny, []);
  });

  it('reads "all except" with a deny list (grant header at 0x34, as the public samples show)', () => {
    const hex = encodeIpSecList({ grantByDefault: true, entries: [{ address: '10.9.9.9', prefix: 32 }] });
    assert.ok(hex.startsWith('18000080340000803c000080'));
    const list = decoded(hex);
    assert.equal(list.grantByDefault, true);
    assert.deepEqual(list.deny, [{ address: '10.9.9.9', prefix: 32 }]);
    assert.deepEqual(list.grant, []);
  });

  it('reads groups with their masks (mask first in each sublist)', () => {
    const entries = [
      { address: '127.0.0.1', prefix: 32 },
      { address: '192.168.10.0', prefix: 24 },
      { address: '10.16.0.0', prefix: 12 },
    ];
    const list = decoded(encodeIpSecList({ grantByDefault: false, entries }));
    assert.deepEqual(list.grant, entries);
  });

  it('refuses every structural surprise instead of guessing', () => {
    const cases: Array<[string, string, RegExp]> = [
      ['odd length', GUI_127.slice(0, -1), /hex/],
      ['not hex', 'zz' + GUI_127.slice(2), /hex/],
      ['shorter than the header', GUI_127.slice(0, 40), /header/],
      ['cut short (address array past the end)', GUI_127.slice(0, -16), /past the end/],
      ['offset without the self-relative bit', '18000000' + GUI_127.slice(8), /self-relative/],
      ['family not AF_INET', GUI_127.replace('0100000001000000020000000200', '0100000001000000170000000200'), /family 23/],
      ['mask disagrees with its header', GUI_127.replace('ffffffff7f000001', 'ffffff007f000000'), /mask 255\.255\.255\.0 disagrees/],
      ['address count mismatch', GUI_127.replace('01000000010000000200', '01000000020000000200'), /says 2 addresses but holds 1/],
    ];
    for (const [what, hex, error] of cases) {
      const result = decodeIpSecList(hex);
      assert.equal(result.ok, false, what);
      assert.match((result as { reason: string }).reason, error, what);
    }
  });

  it('counts DNS-name entries so the importer can refuse them', () => {
    // The name headers at 0x3C / 0x44 hold cEntries; one granted name sublist.
    const bytes = Buffer.from(GUI_127, 'hex');
    bytes.writeUInt32LE(1, 0x44);
    const list = decoded(bytes.toString('hex'));
    assert.equal(list.grantNames, 1);
    assert.equal(list.grantByDefault, false);
  });
});
