// The envelope-line parser shared by Queue and Pickup, and the header logic Pickup adds.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { envelopeOf, findHeaderEnd, rewriteHeaders, splitHeaderFields } from '../../src/pickup/headers.js';
import { isPickupFileName } from '../../src/pickup/names.js';
import { addressFromEnvelopeValue, formatEnvelopeHead, isMailrootFile, parseEnvelopeHead, type ParsedHead } from '../../src/spool/eml-format.js';

const NO_ENVELOPE: ParsedHead = { sender: undefined, recipients: [], bodyOffset: 0 };

function head(text: string, complete = true) {
  const result = parseEnvelopeHead(Buffer.from(text), complete);
  if (result === 'need-more') return result;
  return result.ok ? result.value : result.reason;
}

describe('envelope values and lines', () => {
  it('reads the address out of every value shape writers use', () => {
    const cases: Array<[string, string | undefined]> = [
      ['<a@b.example>', 'a@b.example'],
      ['a@b.example', 'a@b.example'],
      ['"Do Not Reply" <a@b.example>', 'a@b.example'],
      ['"Do Not Reply" a@b.example', 'a@b.example'],
      ['Do Not Reply <a@b.example>', 'a@b.example'],
      ['"Smith, J <boss>" <a@b.example>', 'a@b.example'],
      ['=?utf-8?B?w4lyaWM=?= <a@b.example>', 'a@b.example'],
      ['<a@b.example> ORCPT=rfc822;a@b.example; NOTIFY=FAILURE', 'a@b.example'],
      ['a@b.example NOTIFY=NEVER', 'a@b.example'],
      ['"quoted"@b.example', '"quoted"@b.example'],
      ['<>', ''],
      ['  ', undefined],
    ];
    for (const [value, address] of cases) assert.equal(addressFromEnvelopeValue(value), address, value);
  });

  it('joins folded values, matches any case, and knows when it needs more bytes', () => {
    assert.deepEqual(head('x-sender: a@x.example\r\nX-RECEIVER: "Long Name"\r\n <b@y.example>\r\nSubject: s\r\n\r\nbody'), {
      sender: 'a@x.example',
      recipients: ['b@y.example'],
      bodyOffset: 64,
    });
    assert.equal(head('X-Sender: a@x.example\r\nX-Receiver: "Long Name"\r\n', false), 'need-more');
    assert.equal(head('X-Sender: a@x.example\r\nX-Receiver: b@y.example', false), 'need-more');
    assert.match(String(head('X-Sender: a@x.example\r\nX-Receiver: b@y.example')), /envelope lines but no message/);
    assert.match(String(head('X-Sender: a@x.example\r\nX-Receiver: b@y.example> NOTIFY=NEVER\r\n\r\n')), /not allowed in an address/);
  });

  it("recognises mailroot's own files by their exact envelope lines and trace line", () => {
    const envelope = formatEnvelopeHead({ sender: 'a@x.example', recipients: ['b@y.example'] });
    const own = Buffer.concat([envelope, Buffer.from('Received: from c ([127.0.0.1])\r\n\tby relay (mailroot) with ESMTP id 1;\r\n\tdate\r\nSubject: s\r\n\r\n')]);
    const parsed = (data: Buffer) => (parseEnvelopeHead(data, true) as { ok: true; value: ParsedHead }).value;
    assert.equal(isMailrootFile(own, parsed(own)), true);
    const lowerCase = Buffer.from(own.toString().replace('X-Sender: <a@x.example>', 'x-sender: <a@x.example>'));
    assert.equal(isMailrootFile(lowerCase, parsed(lowerCase)), false, 'IIS-style lines are not ours');
    const foreign = Buffer.concat([envelope, Buffer.from('Received: from c by other.example with SMTP;\r\n\tdate\r\nSubject: s\r\n\r\n')]);
    assert.equal(isMailrootFile(foreign, parsed(foreign)), false, 'another server wrote the trace line');
    const later = Buffer.concat([envelope, Buffer.from('Subject: s\r\nReceived: by relay (mailroot);\r\n\r\n')]);
    assert.equal(isMailrootFile(later, parsed(later)), false, 'the trace line must come first');
  });
});

describe('Pickup names', () => {
  it('takes any name but the ones writers use while they work', () => {
    for (const name of ['79edddc6-ce98-4eff-b8ea-414e392bce1f.eml', 'email.txt', 'NOEXT', 'x.bad', 'report.EML', 'a.tmp.eml']) {
      assert.equal(isPickupFileName(name), true, name);
    }
    for (const name of ['.hidden.eml', '~$draft.eml', 'backup~', 'x.tmp', 'X.TMP', 'y.temp', 'z.part', 'w.partial', 'v.filepart', 'u.crdownload', 'Thumbs.db', 'desktop.ini', '']) {
      assert.equal(isPickupFileName(name), false, name);
    }
  });
});

describe('Pickup headers', () => {
  it('finds the end of the header lines, or says it needs more', () => {
    const data = Buffer.from('X-Sender: a\r\nSubject: s\r\n\r\nbody');
    assert.deepEqual(findHeaderEnd(data, 13, false), { end: 25, blankLine: true });
    assert.deepEqual(findHeaderEnd(Buffer.from('\r\nbody'), 0, false), { end: 0, blankLine: true });
    assert.equal(findHeaderEnd(Buffer.from('Subject: s\r\n'), 0, false), 'need-more');
    assert.deepEqual(findHeaderEnd(Buffer.from('Subject: s\r\n'), 0, true), { end: 12, blankLine: false });
    assert.deepEqual(findHeaderEnd(Buffer.from('Subject: s'), 0, true), { end: 10, blankLine: false });
  });

  it('splits fields with their folding, keeps stray lines as they are', () => {
    const fields = splitHeaderFields(Buffer.from('To: a@x.example,\r\n\tb@x.example\r\nnot a field\r\nSubject : hi\r\n'));
    assert.deepEqual(
      fields.map((f) => [f.name, f.value, f.raw.toString()]),
      [
        ['To', 'a@x.example,\tb@x.example', 'To: a@x.example,\r\n\tb@x.example\r\n'],
        [undefined, 'not a field', 'not a field\r\n'],
        ['Subject', 'hi', 'Subject : hi\r\n'],
      ],
    );
  });

  it('takes the envelope from Sender:/From: and To:/Cc:/Bcc: when there are no envelope lines', () => {
    const fields = splitHeaderFields(
      Buffer.from(
        'From: "Doe, Jane" <jane@x.example>\r\nSender: bot@x.example\r\nTo: "Lee, Ann" <ann@y.example>, bob@y.example\r\n' +
          'Cc: team: carl@y.example, ANN@y.example;\r\nBcc: dora@z.example\r\nTo: eve@y.example\r\n',
      ),
    );
    assert.deepEqual(envelopeOf(NO_ENVELOPE, fields), {
      ok: true,
      value: { sender: 'bot@x.example', recipients: ['ann@y.example', 'bob@y.example', 'eve@y.example', 'carl@y.example', 'dora@z.example'] },
    });
  });

  it('prefers envelope lines, falls back per part, and refuses what is not an address', () => {
    const fields = splitHeaderFields(Buffer.from('From: from@x.example\r\nTo: to@y.example\r\n'));
    assert.deepEqual(envelopeOf({ sender: 'env@x.example', recipients: [], bodyOffset: 0 }, fields), {
      ok: true,
      value: { sender: 'env@x.example', recipients: ['to@y.example'] },
    });
    assert.deepEqual(envelopeOf({ sender: '', recipients: ['r@y.example'], bodyOffset: 0 }, fields), {
      ok: true,
      value: { sender: '', recipients: ['r@y.example'] },
    });
    const bad = (text: string) => envelopeOf(NO_ENVELOPE, splitHeaderFields(Buffer.from(text)));
    assert.match((bad('To: a@y.example\r\n') as { reason: string }).reason, /no sender/);
    assert.match((bad('From: undisclosed:;\r\nTo: a@y.example\r\n') as { reason: string }).reason, /no sender/);
    assert.match((bad('From: a@x.example\r\nTo: undisclosed-recipients:;\r\n') as { reason: string }).reason, /no recipients/);
    assert.match((bad('From: a@x.example\r\nTo: b@y.example, helpdesk\r\n') as { reason: string }).reason, /not an e-mail address in To: "helpdesk"/);
    assert.match((bad('From: a@x.example\r\nCc: "a\tb"@y.example\r\n') as { reason: string }).reason, /in Cc: "\\"a\\tb\\"@y.example"/);
    // A quoted local part is an address (RFC 5321 4.1.2), spaces and all.
    assert.deepEqual(bad('From: a@x.example\r\nCc: "a b"@y.example\r\n'), { ok: true, value: { sender: 'a@x.example', recipients: ['"a b"@y.example'] } });
  });

  it('drops Bcc: (folded too) and adds Message-ID:/Date: only when missing', () => {
    const added = { messageId: () => '<new@relay>', date: () => 'Mon, 30 Nov 2026 04:11:28 +0000' };
    const rewrite = (text: string) => rewriteHeaders(splitHeaderFields(Buffer.from(text)), added).toString();
    assert.equal(
      rewrite('From: a\r\nBcc: x@y,\r\n z@y\r\nSubject: s\r\n'),
      'From: a\r\nSubject: s\r\nMessage-ID: <new@relay>\r\nDate: Mon, 30 Nov 2026 04:11:28 +0000\r\n',
    );
    assert.equal(rewrite('message-id: <m@x>\r\nDATE: d\r\nBCC: x@y\r\n'), 'message-id: <m@x>\r\nDATE: d\r\n');
    assert.equal(rewrite('Subject: no line end'), 'Subject: no line end\r\nMessage-ID: <new@relay>\r\nDate: Mon, 30 Nov 2026 04:11:28 +0000\r\n');
    assert.equal(rewrite('Message-ID: <m@x>\r\nDate: d'), 'Message-ID: <m@x>\r\nDate: d', 'nothing added: bytes kept as they are');
  });
});
