import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addressFromEnvelopeValue, formatEnvelopeHead, parseEnvelopeHead } from '../../src/spool/eml-format.js';
import { formatRetryState, parseRetryState } from '../../src/spool/retry-state.js';

describe('.eml envelope head', () => {
  it('round-trips, including the null sender', () => {
    const head = formatEnvelopeHead({ sender: '', recipients: ['a@example.net', 'b@example.net'] });
    assert.equal(head.toString(), 'X-Sender: <>\r\nX-Receiver: <a@example.net>\r\nX-Receiver: <b@example.net>\r\n');
    const parsed = parseEnvelopeHead(Buffer.concat([head, Buffer.from('Subject: x\r\n\r\nbody\r\n')]), true);
    assert.deepEqual(parsed, { ok: true, head: { sender: '', recipients: ['a@example.net', 'b@example.net'], bodyOffset: head.length } });
  });

  it('reads the shapes writers use: any case, bare, bracketed, display names, trailing parameters, LF endings', () => {
    const file = 'x-receiver: first@example.net\nX-SENDER: "Do Not Reply" <noreply@example.com>\nX-Receiver: <second@example.net> NOTIFY=NEVER\nX-Receiver: first@example.net\nFrom: x\n';
    const parsed = parseEnvelopeHead(Buffer.from(file), true);
    assert.ok(parsed !== 'need-more' && parsed.ok);
    assert.equal(parsed.head.sender, 'noreply@example.com');
    assert.deepEqual(parsed.head.recipients, ['first@example.net', 'second@example.net']);
    assert.equal(file.slice(parsed.head.bodyOffset), 'From: x\n');
    assert.equal(addressFromEnvelopeValue('  <a@b>  '), 'a@b');
    assert.equal(addressFromEnvelopeValue(''), undefined);
  });

  it('gives a reason for bad heads and asks for more bytes when the head is cut', () => {
    const text = 'X-Sender: <a@b>\r\nX-Receiver: <c@d> \r\nX-Receiver: x y@z\r\n\r\n';
    const loose = parseEnvelopeHead(Buffer.from(text), true);
    assert.deepEqual(loose, { ok: true, head: { sender: 'a@b', recipients: ['c@d', 'x'], bodyOffset: text.length - 2 } });
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
