// Which route a recipient takes: its exact domain, else the nearest "*." parent, else the default.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SmartHostSpec } from '../../src/config/smart-hosts.js';
import { RouteTable } from '../../src/transport/route-table.js';

const host = (name: string): SmartHostSpec[] => [{ host: name, port: 25 }];

describe('route table', () => {
  const fallback = host('default');
  const exact = host('exact');
  const sub = host('sub');
  const deep = host('deep');
  const table = new RouteTable(fallback, [
    { domain: 'corp.example', hosts: exact },
    { domain: '*.corp.example', hosts: sub },
    { domain: '*.lab.corp.example', hosts: deep },
  ]);

  it('prefers the exact domain, then the nearest wildcard, then the default', () => {
    assert.equal(table.lookup('a@corp.example'), exact);
    assert.equal(table.lookup('a@CORP.Example.'), exact, 'case and a trailing dot do not matter');
    assert.equal(table.lookup('a@eu.corp.example'), sub);
    assert.equal(table.lookup('a@x.eu.corp.example'), sub);
    assert.equal(table.lookup('a@x.lab.corp.example'), deep);
    assert.equal(table.lookup('a@lab.corp.example'), sub, '"*.lab" is for its subdomains, not lab itself');
    assert.equal(table.lookup('a@notcorp.example'), fallback);
    assert.equal(table.lookup('a@[10.0.0.5]'), fallback, 'an address literal names no domain');
  });

  it('splits an envelope by route, keeping the order of recipients', () => {
    const groups = table.split(['a@corp.example', 'b@other.example', 'c@corp.example', 'd@eu.corp.example']);
    assert.deepEqual(groups.map((g) => [g.hosts[0]!.host, g.recipients]), [
      ['exact', ['a@corp.example', 'c@corp.example']],
      ['default', ['b@other.example']],
      ['sub', ['d@eu.corp.example']],
    ]);
  });
});
