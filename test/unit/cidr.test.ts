import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isWideCidr, parseCidr, type Cidr } from '../../src/config/cidr.js';
import { AddressList } from '../../src/smtp/access.js';

function parsed(text: string): Cidr {
  const result = parseCidr(text);
  assert.ok(result.ok, `${text}: ${result.ok ? '' : result.reason}`);
  return result.value;
}

describe('CIDR entries', () => {
  it('reads addresses and networks, IPv4 and IPv6', () => {
    assert.deepEqual(parsed('127.0.0.1'), { address: '127.0.0.1', prefix: 32, family: 'ipv4' });
    assert.deepEqual(parsed(' 10.0.0.0/8 '), { address: '10.0.0.0', prefix: 8, family: 'ipv4' });
    assert.deepEqual(parsed('0.0.0.0/0'), { address: '0.0.0.0', prefix: 0, family: 'ipv4' });
    assert.deepEqual(parsed('::1'), { address: '::1', prefix: 128, family: 'ipv6' });
    assert.deepEqual(parsed('2001:DB8::/32'), { address: '2001:db8::', prefix: 32, family: 'ipv6' });
  });

  it('turns IPv4-mapped IPv6 entries into the IPv4 entry they stand for', () => {
    assert.deepEqual(parsed('::ffff:127.0.0.1'), { address: '127.0.0.1', prefix: 32, family: 'ipv4' });
    assert.deepEqual(parsed('::ffff:127.0.0.1/128'), { address: '127.0.0.1', prefix: 32, family: 'ipv4' });
    assert.deepEqual(parsed('::ffff:7f00:0/104'), { address: '127.0.0.0', prefix: 8, family: 'ipv4' });
    assert.deepEqual(parsed('::ffff:0:0/96'), { address: '0.0.0.0', prefix: 0, family: 'ipv4' });
  });

  it('refuses anything not written exactly', () => {
    for (const bad of [
      '127.1', '0x7f.0.0.1', '127.0.0.01', '10.0.0.0/33', '::/129', '10.0.0.0/-1', '10.0.0.0/+8', '10.0.0.0/', '10.0.0.0/8/8',
      '10.1.2.3/8', '2001:db8::1/32', 'fe80::1%eth0', 'localhost', '', '*', '10.0.0.0 /8', 42,
    ]) {
      assert.equal(parseCidr(bad).ok, false, `${JSON.stringify(bad)} must be refused`);
    }
    assert.match((parseCidr('10.1.2.3/8') as { reason: string }).reason, /bits set beyond the \/8 prefix \(the network is 10\.0\.0\.0\/8\)/);
  });

  it('calls ranges wider than /8 or /16, or covering all of IPv4, wide', () => {
    for (const wide of ['0.0.0.0/0', '0.0.0.0/7', '::/0', '::/15', '::/80', '::ffff:0:0/96']) assert.ok(isWideCidr(parsed(wide)), wide);
    for (const narrow of ['10.0.0.0/8', '192.168.0.0/16', '2001:db8::/32', '::1', '::ffff:10.0.0.0/104']) {
      assert.ok(!isWideCidr(parsed(narrow)), narrow);
    }
  });

  it('matches IPv4-mapped client addresses against IPv4 rules and the other way round, and fails closed', () => {
    const list = new AddressList([parsed('127.0.0.0/8'), parsed('2001:db8::/32')]);
    assert.ok(list.has('127.0.0.2'));
    assert.ok(list.has('::ffff:127.0.0.2'), 'a dual-stack socket reports IPv4 clients this way');
    assert.ok(!list.has('::1'), '::1 is not in 127.0.0.0/8');
    assert.ok(list.has('2001:db8::10'));
    assert.ok(!list.has('2001:db9::10'));
    assert.ok(!list.has('not an ip'));
    assert.ok(!list.has(''));
    const mapped = new AddressList([parsed('::ffff:127.0.0.1/128')]);
    assert.ok(mapped.has('127.0.0.1'));
    assert.ok(!mapped.has('127.0.0.2'));
  });
});
