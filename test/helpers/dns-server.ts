// A tiny authoritative DNS server on loopback (UDP), enough for MX delivery tests: MX, A and AAAA records from a
// table, NOERROR without answers for a known name without that type (c-ares: ENODATA), NXDOMAIN otherwise.
import dgram from 'node:dgram';
import net from 'node:net';

export interface DnsRecords {
  /** [preference, exchange]; exchange "." is a null MX. */
  mx?: Array<[number, string]>;
  a?: string[];
  aaaa?: string[];
}

const TYPE_A = 1;
const TYPE_MX = 15;
const TYPE_AAAA = 28;

function encodeName(name: string): Buffer {
  const labels = name.replace(/\.$/, '').split('.').filter((l) => l !== '');
  return Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'ascii')])), Buffer.from([0])]);
}

function ipv6Bytes(address: string): Buffer {
  const [head, tail] = address.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

export class DnsServer {
  readonly records = new Map<string, DnsRecords>();
  queries = 0;
  #socket: dgram.Socket | undefined;

  set(name: string, records: DnsRecords): this {
    this.records.set(name.toLowerCase(), records);
    return this;
  }

  get address(): string {
    return `127.0.0.1:${this.#socket!.address().port}`;
  }

  async start(): Promise<this> {
    const socket = dgram.createSocket('udp4');
    socket.on('message', (query, peer) => {
      this.queries++;
      const reply = this.#answer(query);
      if (reply) socket.send(reply, peer.port, peer.address);
    });
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    this.#socket = socket;
    return this;
  }

  #answer(query: Buffer): Buffer | undefined {
    if (query.length < 17) return undefined;
    let offset = 12;
    const labels: string[] = [];
    while (offset < query.length && query[offset]! !== 0) {
      const length = query[offset]!;
      labels.push(query.subarray(offset + 1, offset + 1 + length).toString('ascii'));
      offset += length + 1;
    }
    const questionEnd = offset + 5;
    const type = query.readUInt16BE(offset + 1);
    const name = labels.join('.').toLowerCase();
    const records = this.records.get(name);
    const answers: Buffer[] = [];
    const rr = (rrType: number, data: Buffer) => {
      const head = Buffer.alloc(12);
      head.writeUInt16BE(0xc00c, 0); // the question's name
      head.writeUInt16BE(rrType, 2);
      head.writeUInt16BE(1, 4); // IN
      head.writeUInt32BE(60, 6);
      head.writeUInt16BE(data.length, 10);
      answers.push(head, data);
    };
    if (records && type === TYPE_MX) {
      for (const [preference, exchange] of records.mx ?? []) {
        const pref = Buffer.alloc(2);
        pref.writeUInt16BE(preference);
        rr(TYPE_MX, Buffer.concat([pref, exchange === '.' ? Buffer.from([0]) : encodeName(exchange)]));
      }
    }
    if (records && type === TYPE_A) for (const a of records.a ?? []) rr(TYPE_A, Buffer.from(a.split('.').map(Number)));
    if (records && type === TYPE_AAAA) for (const a of records.aaaa ?? []) if (net.isIPv6(a)) rr(TYPE_AAAA, ipv6Bytes(a));
    const header = Buffer.alloc(12);
    query.copy(header, 0, 0, 2); // id
    header.writeUInt16BE(0x8580 | (records ? 0 : 3), 2); // response, authoritative, RD, RA; NXDOMAIN if unknown
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length / 2, 6);
    return Buffer.concat([header, query.subarray(12, questionEnd), ...answers]);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.#socket ? this.#socket.close(() => resolve()) : resolve()));
  }
}
