// Reads a delivery status notification back into its parts, so tests check it field by field.

export interface ParsedDsn {
  headers: Map<string, string>;
  readable: string;
  perMessage: Map<string, string>;
  perRecipient: Array<Map<string, string>>;
  returnedType: string;
  returned: string;
}

function fields(block: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of block.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) map.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
  }
  return map;
}

export function parseDsn(raw: string): ParsedDsn {
  const headerEnd = raw.indexOf('\r\n\r\n');
  const headers = fields(raw.slice(0, headerEnd));
  const boundary = /boundary="([^"]+)"/.exec(headers.get('content-type') ?? '')?.[1];
  if (!boundary) throw new Error('no multipart boundary');
  const parts = raw.split(`--${boundary}`).slice(1, -1).map((part) => part.replace(/^\r\n/, ''));
  if (parts.length !== 3) throw new Error(`expected 3 parts, got ${parts.length}`);
  const split = (part: string) => {
    const end = part.indexOf('\r\n\r\n');
    return { head: fields(part.slice(0, end)), body: part.slice(end + 4) };
  };
  const [text, status, original] = parts.map(split) as [ReturnType<typeof split>, ReturnType<typeof split>, ReturnType<typeof split>];
  if (!/^text\/plain/.test(text.head.get('content-type') ?? '')) throw new Error('first part is not text/plain');
  if (status.head.get('content-type') !== 'message/delivery-status') throw new Error('second part is not message/delivery-status');
  const blocks = status.body.trim().split(/\r\n\r\n/);
  return {
    headers,
    readable: text.body,
    perMessage: fields(blocks[0]!),
    perRecipient: blocks.slice(1).map(fields),
    returnedType: original.head.get('content-type') ?? '',
    returned: original.body,
  };
}
