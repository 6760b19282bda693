// Decodes IIS's IPSECLIST blob (RelayIpList, IPSecurity), the hex string MetaBase.xml stores, following the
// MD_IP_SEC layout in iiscnfg.h (see /work/shared/references/iis-metabase.md §3). It fails closed: any
// structural surprise is an error, never a guess, because a wrong guess here can turn a relay open.
//
//   0  iDenyAddr  4 iGrantAddr  8 iDenyName  12 iGrantName   (SELFREFINDEX: byte offset | 0x80000000)
//   16 dwFlags    20 cRefSize
//   ADDRESS_HEADER: cEntries, cAddresses, then cEntries x ADDRESS_LIST_ENTRY
//   ADDRESS_LIST_ENTRY (20 bytes): iFamily (2 = AF_INET), cAddresses, cFullBytes, LastByte, iFirstAddress
//   the items at iFirstAddress: [subnet mask][address 1]...[address N], 4 bytes each, network order
import { failure, ok, type Result } from '../result.js';

export interface IpEntry {
  /** Dotted quad of the network address. */
  address: string;
  prefix: number;
}

export interface IpSecList {
  /** "All except the list below": everyone, except `deny`. Otherwise "only the list below": `grant`. */
  grantByDefault: boolean;
  grant: IpEntry[];
  deny: IpEntry[];
  /** DNS-name entries (need reverse DNS, which mailroot does not do); kept so the caller can refuse them. */
  grantNames: number;
  denyNames: number;
  /** Oddities that do not change the reading (unusual flags). */
  notes: string[];
}

const SELF_REF = 0x80000000;
const AF_INET = 2;
const ENTRY_BYTES = 20;

class Malformed extends Error {}

export function formatIpEntry(entry: IpEntry): string {
  return entry.prefix === 32 ? entry.address : `${entry.address}/${entry.prefix}`;
}

/** Decodes the attribute text; an empty string is the valid "grant by default, nothing denied". */
export function decodeIpSecList(text: string): Result<IpSecList> {
  const hex = text.trim();
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    return failure('not a hex string of whole bytes');
  }
  const bytes = Buffer.from(hex, 'hex');
  if (bytes.length === 0) return ok({ grantByDefault: true, grant: [], deny: [], grantNames: 0, denyNames: 0, notes: [] });
  try {
    return ok(decode(bytes));
  } catch (err) {
    if (err instanceof Malformed) return failure(`${err.message}; the value is ${bytes.length} bytes`);
    throw err;
  }
}

function decode(b: Buffer): IpSecList {
  if (b.length < 24) throw new Malformed('shorter than the 24-byte header');
  const u32 = (offset: number): number => {
    if (offset < 0 || offset + 4 > b.length) throw new Malformed(`reads past the end at byte ${offset}`);
    return b.readUInt32LE(offset);
  };
  const ref = (at: number, what: string, size = 8): number => {
    const value = u32(at);
    if ((value & SELF_REF) === 0) throw new Malformed(`${what} at byte ${at} is not a self-relative offset (0x${value.toString(16)})`);
    const offset = value & ~SELF_REF;
    if (offset + size > b.length) throw new Malformed(`${what} points past the end (offset ${offset})`);
    return offset;
  };
  const notes: string[] = [];
  const flags = u32(16);
  if (flags !== 1) notes.push(`unusual flags value ${flags} (every known sample has 1)`);

  const readAddresses = (at: number, what: string): IpEntry[] => {
    const offset = ref(at, what);
    const entries = u32(offset);
    const total = u32(offset + 4);
    if (entries > 64) throw new Malformed(`${what} claims ${entries} sublists`);
    const out: IpEntry[] = [];
    for (let k = 0; k < entries; k++) {
      const e = offset + 8 + ENTRY_BYTES * k;
      const family = u32(e);
      const count = u32(e + 4);
      const fullBytes = u32(e + 8);
      const lastByte = u32(e + 12);
      if (family !== AF_INET) throw new Malformed(`${what} sublist ${k + 1} has address family ${family}, not AF_INET (2)`);
      if (fullBytes > 4 || lastByte > 0xff) throw new Malformed(`${what} sublist ${k + 1} has an impossible mask (${fullBytes}, ${lastByte})`);
      if (count < 1) throw new Malformed(`${what} sublist ${k + 1} lacks its subnet mask item`);
      if (count > 65_536) throw new Malformed(`${what} sublist ${k + 1} claims ${count} addresses`);
      const first = ref(e + 16, `${what} sublist ${k + 1} address array`, 4 * count);
      if (first + 4 * count > b.length) throw new Malformed(`${what} sublist ${k + 1} runs past the end`);
      const mask = b.subarray(first, first + 4);
      const expected = Buffer.alloc(4);
      expected.fill(0xff, 0, fullBytes);
      if (fullBytes < 4) expected[fullBytes] = lastByte;
      if (!mask.equals(expected)) {
        throw new Malformed(`${what} sublist ${k + 1} mask ${dotted(mask)} disagrees with its header (${fullBytes} full bytes, last byte ${lastByte})`);
      }
      const prefix = prefixOf(mask);
      if (prefix === undefined) throw new Malformed(`${what} sublist ${k + 1} mask ${dotted(mask)} is not contiguous`);
      for (let i = 1; i < count; i++) {
        const address = b.subarray(first + 4 * i, first + 4 * i + 4);
        const network = Buffer.from(address.map((byte, j) => byte & mask[j]!));
        if (!network.equals(address)) throw new Malformed(`${what} entry ${dotted(address)} has bits outside its mask ${dotted(mask)}`);
        out.push({ address: dotted(address), prefix });
      }
    }
    if (out.length !== total) throw new Malformed(`${what} says ${total} addresses but holds ${out.length}`);
    return out;
  };
  const countNames = (at: number, what: string): number => {
    const offset = ref(at, what);
    return u32(offset); // cEntries: any name sublist at all is refused by the caller
  };

  const deny = readAddresses(0, 'deny list');
  const grant = readAddresses(4, 'grant list');
  const denyNames = countNames(8, 'denied names');
  const grantNames = countNames(12, 'granted names');
  const grantEntries = u32(ref(4, 'grant list'));
  return { grantByDefault: grantEntries === 0 && grantNames === 0, grant, deny, grantNames, denyNames, notes };
}

function dotted(bytes: Uint8Array): string {
  return Array.from(bytes).join('.');
}

function prefixOf(mask: Uint8Array): number | undefined {
  const bits = Array.from(mask, (byte) => byte.toString(2).padStart(8, '0')).join('');
  return /^1*0*$/.test(bits) ? bits.indexOf('0') === -1 ? 32 : bits.indexOf('0') : undefined;
}

/** Builds a blob the way the IIS Manager GUI does (for fixtures and tests): one /32 sublist, or several masks. */
export function encodeIpSecList(options: { grantByDefault: boolean; entries: IpEntry[] }): string {
  const { grantByDefault, entries } = options;
  const byPrefix = new Map<number, IpEntry[]>();
  for (const entry of entries) byPrefix.set(entry.prefix, [...(byPrefix.get(entry.prefix) ?? []), entry]);
  // "Only the list below" with nobody still carries one /32 sublist holding just the mask (the GUI's template).
  if (!grantByDefault && byPrefix.size === 0) byPrefix.set(32, []);
  const sublists = [...byPrefix.entries()];
  const listBytes = 8 + ENTRY_BYTES * sublists.length;
  const denyAt = 24;
  const grantAt = denyAt + (grantByDefault ? listBytes : 8);
  const denyNameAt = grantAt + (grantByDefault ? 8 : listBytes);
  const grantNameAt = denyNameAt + 8;
  const dataAt = grantNameAt + 8;
  const header = Buffer.alloc(dataAt);
  const w = (offset: number, value: number) => header.writeUInt32LE(value >>> 0, offset);
  w(0, denyAt | SELF_REF);
  w(4, grantAt | SELF_REF);
  w(8, denyNameAt | SELF_REF);
  w(12, grantNameAt | SELF_REF);
  w(16, 1);
  w(20, dataAt);
  const listAt = grantByDefault ? denyAt : grantAt;
  w(listAt, sublists.length);
  w(listAt + 4, entries.length);
  const data: Buffer[] = [];
  let dataOffset = dataAt;
  sublists.forEach(([prefix, items], k) => {
    const e = listAt + 8 + ENTRY_BYTES * k;
    const mask = Buffer.alloc(4);
    for (let bit = 0; bit < prefix; bit++) mask[bit >> 3]! |= 0x80 >> (bit & 7);
    const fullBytes = Math.floor(prefix / 8);
    w(e, AF_INET);
    w(e + 4, items.length + 1);
    w(e + 8, fullBytes);
    w(e + 12, fullBytes < 4 ? mask[fullBytes]! : 0);
    w(e + 16, dataOffset | SELF_REF);
    data.push(mask, ...items.map((item) => Buffer.from(item.address.split('.').map(Number))));
    dataOffset += 4 * (items.length + 1);
  });
  return Buffer.concat([header, ...data]).toString('hex');
}
