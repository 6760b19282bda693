import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addressFromEnvelopeValue, formatEnvelopeHead, isValidEnvelopeAddress, parseEnvelopeHead } from '../../src/spool/eml-format.js';
import { formatRetryState, parseRetryState } from '../../src/spool/retry-state.js';

describe('.eml envelope head', () => {
  it('round-trips, including the null sender', () => {
    const head = formatEnvelopeHead({ sender: '', recipients: ['a@example.net', 'b@example.net'] });
    assert.equal(head.toString(), 'X-Sender: <>\r\nX-Receiver: <a@example.net>\r\nX-Receiver: <b@example.net>\r\n');
    const parsed = parseEnvelopeHead(Buffer.concat([head, Buffer.from('Subject: x\r\n\r\nbody\r\n')]), true);
    assert.deepEqual(parsed, { ok: true, value: { sender: '', recipients: ['a@example.net', 'b@example.net'], bodyOffset: head.length } });
  });

  it('reads the shapes writers use: any case, bare, bracketed, display names, trailing parameters, LF endings', () => {
    const file = 'x-receiver: first@example.net\nX-SENDER: "Do Not Reply" <noreply@example.com>\nX-Receiver: <second@example.net> NOTIFY=NEVER\nX-Receiver: first@example.net\nFrom: x\n';
    const parsed = parseEnvelopeHead(Buffer.from(file), true);
    assert.ok(parsed !== 'need-more' && parsed.ok);
    assert.equal(parsed.value.sender, 'noreply@example.com');
    assert.deepEqual(parsed.value.recipients, ['first@example.net', 'second@example.net']);
    assert.equal(file.slice(parsed.value.bodyOffset), 'From: x\n');
    assert.equal(addressFromEnvelopeValue('  <a@b>  '), 'a@b');
    assert.equal(addressFromEnvelopeValue(''), undefined);
  });

  it('gives a reason for bad heads and asks for more bytes when the head is cut', () => {
    const text = 'X-Sender: <a@b>\r\nX-Receiver: <c@d> \r\nX-Receiver: x y@z\r\n\r\n';
    const loose = parseEnvelopeHead(Buffer.from(text), true);
    assert.deepEqual(loose, { ok: true, value: { sender: 'a@b', recipients: ['c@d', 'x'], bodyOffset: text.length - 2 } });
    const injected = parseEnvelopeHead(Buffer.from('X-Sender: <a@b>\r\nX-Receiver: <c@d\x00>\r\n\r\n'), true);
    assert.deepEqual(injected, { ok: false, reason: 'line 2: X-Receiver address "c@d\\u0000" has characters not allowed in an address' });
    assert.equal(parseEnvelopeHead(Buffer.from('X-Sender: <a@b>\r\nX-Rece'), false), 'need-more');
    assert.deepEqual(parseEnvelopeHead(Buffer.from('X-Sender: <a@b>\r\nX-Receiver: <>\r\n'), true), { ok: false, reason: 'line 2: X-Receiver is empty' });
  });
});

describe('.rtr retry state', () => {
  it('round-trips and tolerates hand edits', () => {
    const state = {
      firstQueued: new Date('2026-11-30T04:11:28.123Z'),
      firstAttempt: new Date('2026-11-30T04:11:28.200Z'),
      attempts: 2,
      lastAttempt: new Date('2026-11-30T04:26:28.000Z'),
      nextAttempt: new Date('2026-11-30T04:56:28.000Z'),
      hostDeferred: true,
      delayNotified: false,
      lastReply: '421 4.3.2 Service\r\n not available',
    };
    const text = formatRetryState(state);
    assert.match(text, /^Last-Reply: 421 4\.3\.2 Service not available\r\n$/m);
    assert.deepEqual(parseRetryState(text), { ...state, lastReply: '421 4.3.2 Service not available' });
    assert.equal(parseRetryState('Attempts: 3\n'), undefined);
    assert.equal(parseRetryState('First-Queued: 2026-11-30T00:00:00Z\nAttempts: lots\n')?.attempts, 0);
  });
});

describe('.eml envelope parameters (DSN, BODY, SMTPUTF8)', () => {
  it('writes them after the address, Exchange style, and reads them back; none means the lines of old', () => {
    const envelope = {
      sender: 'a@example.com',
      recipients: ['b@example.net', 'c@example.net', '"d e"@example.net'],
      params: {
        ret: 'HDRS' as const,
        envid: 'id with space+plus=eq',
        body8bit: true,
        smtputf8: true,
        recipients: { 'b@example.net': { notify: ['SUCCESS' as const, 'FAILURE' as const], orcpt: 'rfc822;orig@example.org' }, '"d e"@example.net': { notify: [] } },
      },
    };
    const head = formatEnvelopeHead(envelope);
    assert.equal(
      head.toString(),
      'X-Sender: <a@example.com> RET=HDRS; ENVID=id+20with+20space+2Bplus+3Deq; BODY=8BITMIME; SMTPUTF8\r\n' +
        'X-Receiver: <b@example.net> NOTIFY=SUCCESS,FAILURE; ORCPT=rfc822;orig@example.org\r\n' +
        'X-Receiver: <c@example.net>\r\n' +
        'X-Receiver: <"d e"@example.net> NOTIFY=NEVER\r\n',
    );
    const parsed = parseEnvelopeHead(Buffer.concat([head, Buffer.from('Subject: x\r\n\r\nbody\r\n')]), true);
    assert.ok(parsed !== 'need-more' && parsed.ok);
    assert.deepEqual(parsed.value, { sender: 'a@example.com', recipients: envelope.recipients, bodyOffset: head.length, params: envelope.params });
    assert.equal(formatEnvelopeHead({ sender: 'a@b', recipients: ['c@d'], params: {} }).toString(), 'X-Sender: <a@b>\r\nX-Receiver: <c@d>\r\n');
  });

  it('reads what other writers put there (Exchange\'s ORCPT;NOTIFY order, bare addresses) and ignores what it does not know', () => {
    const file = 'X-Sender: a@example.com RET=FULL; X-ExtendedProps=abc\r\nX-Receiver: b@example.net ORCPT=rfc822;b@example.net; NOTIFY=DELAY; X-Other=1\r\nX-Receiver: <c@example.net> NOTIFY=BOGUS\r\nSubject: x\r\n\r\n';
    const parsed = parseEnvelopeHead(Buffer.from(file), true);
    assert.ok(parsed !== 'need-more' && parsed.ok);
    assert.deepEqual(parsed.value.recipients, ['b@example.net', 'c@example.net']);
    assert.deepEqual(parsed.value.params, { ret: 'FULL', recipients: { 'b@example.net': { notify: ['DELAY'], orcpt: 'rfc822;b@example.net' } } });
  });

  it('takes a quoted local part with spaces, and still refuses control characters and brackets in it', () => {
    assert.ok(isValidEnvelopeAddress('"john smith"@example.net'));
    assert.ok(!isValidEnvelopeAddress('"john\r\nsmith"@example.net'));
    assert.ok(!isValidEnvelopeAddress('"john<smith"@example.net'));
    assert.ok(!isValidEnvelopeAddress('john smith@example.net'));
    assert.ok(!isValidEnvelopeAddress('"john" smith@example.net'));
  });
});
