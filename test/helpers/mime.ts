// Reads a delivery status notification with a real MIME parser (mailparser), so the tests see what a mail
// program sees: the report type, the status part's fields, and the returned message with its transfer encoding.
import { simpleParser } from 'mailparser';

export interface MimeReport {
  subject: string | undefined;
  returnPath: unknown;
  /** multipart/report's report-type parameter. */
  reportType: string | undefined;
  /** message/delivery-status or message/global-delivery-status. */
  statusType: string;
  perMessage: Map<string, string>;
  perRecipient: Array<Map<string, string>>;
  returnedType: string;
  returnedEncoding: string | undefined;
  returned: string;
  readable: string;
}

function fields(block: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of block.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) map.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
  }
  return map;
}

export async function parseMime(raw: Buffer): Promise<MimeReport> {
  const parsed = await simpleParser(raw, { skipHtmlToText: true, skipTextToHtml: true, skipTextLinks: true, skipImageLinks: true, keepDeliveryStatus: true });
  const contentType = parsed.headers.get('content-type') as { value: string; params: Record<string, string> } | undefined;
  if (contentType?.value !== 'multipart/report') throw new Error(`not a multipart/report: ${JSON.stringify(contentType)}`);
  const status = parsed.attachments.find((a) => /^message\/(global-)?delivery-status$/.test(a.contentType));
  if (!status) throw new Error('no delivery-status part');
  const returned = parsed.attachments.find((a) => a !== status);
  if (!returned) throw new Error('no returned message part');
  const blocks = status.content.toString('utf8').trim().split(/\r?\n\r?\n/);
  const encoding = returned.headers.get('content-transfer-encoding');
  return {
    subject: parsed.subject,
    returnPath: parsed.headers.get('return-path'),
    reportType: contentType.params['report-type'],
    statusType: status.contentType,
    perMessage: fields(blocks[0]!),
    perRecipient: blocks.slice(1).map(fields),
    returnedType: returned.contentType,
    returnedEncoding: typeof encoding === 'string' ? encoding : undefined,
    returned: returned.content.toString('utf8'),
    readable: parsed.text ?? '',
  };
}
