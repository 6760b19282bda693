import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCidr, type Cidr } from '../../src/config/cidr.js';
import { Access } from '../../src/smtp/access.js';
import { canonicalDomain } from '../../src/config/domain.js';
import { hasRoutingLocalPart, splitAddress, withAsciiDomain } from '../../src/smtp/addresses.js';

const cidrs = (...texts: string[]) => texts.map((t) => (parseCidr(t) as { value: Cidr }).value);

describe('recipient addresses', () => {
  it('compares domains in one form: ASCII, lower case, no trailing dot', () => {
    assert.equal(canonicalDomain('Corp.Example.'), 'corp.example');
    assert.equal(canonicalDomain('bücher.example'), 'xn--bcher-kva.example');
    assert.equal(canonicalDomain('XN--BCHER-KVA.example'), 'xn--bcher-kva.example');
    assert.equal(canonicalDomain('BÜCHER.example'), 'xn--bcher-kva.example');
    assert.equal(canonicalDomain('[127.0.0.1]'), '');
    assert.equal(canonicalDomain(''), '');
  });

  it('splits at the last @ and marks IP literals', () => {
    assert.deepEqual(splitAddress('"a@b"@corp.example'), { localPart: '"a@b"', domain: 'corp.example', canonical: 'corp.example', ipLiteral: false });
    assert.equal(splitAddress('u@[IPv6:::1]').ipLiteral, true);
    assert.equal(splitAddress('postmaster').domain, '');
  });

  it('finds routing in local parts: percent hack, bang path, quotes, route remains', () => {
    for (const local of ['user%evil.example', 'evil!user', '"user@evil"', '"plain"', 'a:b']) assert.ok(hasRoutingLocalPart(local), local);
    for (const local of ['user', 'first.last', 'user+tag', "o'brien"]) assert.ok(!hasRoutingLocalPart(local), local);
  });

  it('stores domains as A-labels and leaves literals and local parts alone', () => {
    assert.equal(withAsciiDomain('Ünï@Bücher.Example'), 'Ünï@xn--bcher-kva.example');
    assert.equal(withAsciiDomain('User@corp.example'), 'User@corp.example');
    assert.equal(withAsciiDomain('u@[127.0.0.1]'), 'u@[127.0.0.1]');
    assert.equal(withAsciiDomain(''), '');
  });
});

describe('access decisions', () => {
  const access = new Access({
    allowConnect: cidrs('127.0.0.0/8', '::1'),
    allowRelay: cidrs('127.0.0.1/32'),
    localDomains: ['corp.example', 'xn--bcher-kva.example'],
  });
  const outsider = { ip: '127.0.0.2', authenticated: false };

  it('lets allowConnect addresses in', () => {
    assert.ok(access.mayConnect('127.0.0.5'));
    assert.ok(access.mayConnect('::ffff:127.0.0.5'));
    assert.ok(access.mayConnect('::1'));
    assert.ok(!access.mayConnect('10.0.0.1'));
  });

  it('lets allowRelay addresses and authenticated clients send anywhere', () => {
    assert.deepEqual(access.recipient('x@remote.example', { ip: '127.0.0.1', authenticated: false }), { ok: true, value: { local: false } });
    assert.deepEqual(access.recipient('x@remote.example', { ip: '::ffff:127.0.0.1', authenticated: false }), { ok: true, value: { local: false } });
    assert.deepEqual(access.recipient('x@remote.example', { ip: '127.0.0.2', authenticated: true }), { ok: true, value: { local: false } });
    assert.deepEqual(access.recipient('x@Corp.Example', { ip: '127.0.0.1', authenticated: false }), { ok: true, value: { local: true } });
  });

  it('lets others send only to local domains, without routing tricks', () => {
    assert.deepEqual(access.recipient('x@bücher.example', outsider), { ok: true, value: { local: true } });
    const refused = (address: string) => {
      const decision = access.recipient(address, outsider);
      assert.ok(!decision.ok, address);
      return decision.ok ? undefined : decision.reason;
    };
    assert.equal(refused('x@remote.example')?.text, '5.7.1 Unable to relay for <x@remote.example>');
    assert.equal(refused('user%remote.example@corp.example')?.reason, 'routing local part');
    assert.equal(refused('remote.example!user@corp.example')?.reason, 'routing local part');
    assert.equal(refused('"user@remote.example"@corp.example')?.reason, 'routing local part');
    assert.equal(refused('user@[127.0.0.1]')?.reason, 'relay denied');
    assert.equal(refused('user@corp.example.remote.example')?.reason, 'relay denied');
    assert.equal(refused('postmaster')?.code, 550);
  });

  it('refuses domainless recipients even for trusted clients', () => {
    assert.equal(access.recipient('postmaster', { ip: '127.0.0.1', authenticated: true }).ok, false);
  });
});
