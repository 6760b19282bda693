// Reads the SMTP part of an IIS 6 MetaBase.xml into keys (metabase paths) and their properties, with IIS's
// inheritance from /LM/SmtpSvc to each virtual server. Elements are matched by local name and Location compared
// without case; the namespace version is ignored (see iis-metabase.md §1.6).
import { XMLParser } from 'fast-xml-parser';

export interface MetabaseKey {
  /** The element name (the key type, e.g. IIsSmtpServer). */
  type: string;
  /** The Location as written, e.g. "/LM/SmtpSvc/1". */
  location: string;
  /** Schema properties (attributes of the start tag), by name. */
  attributes: Map<string, string>;
  /** <Custom Name= ID= Value=/> children, by name and by numeric ID. */
  customByName: Map<string, string>;
  customById: Map<string, string>;
}

export interface SmtpMetabase {
  service: MetabaseKey | undefined;
  /** Virtual servers by instance number ("1", "2", ...). */
  servers: Map<string, MetabaseKey>;
  /** Root (IIsSmtpVirtualDir) keys by instance number. */
  roots: Map<string, MetabaseKey>;
  /** Domain keys by instance number. */
  domains: Map<string, Array<{ name: string; key: MetabaseKey }>>;
}

export class MetabaseError extends Error {
  override name = 'MetabaseError';
}

type OrderedNode = Record<string, unknown> & { ':@'?: Record<string, string> };

export function parseMetabase(xml: string): SmtpMetabase {
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '',
    parseAttributeValue: false,
    parseTagValue: false,
    removeNSPrefix: true,
    preserveOrder: true,
    trimValues: false,
    processEntities: true,
  });
  let tree: OrderedNode[];
  try {
    tree = parser.parse(xml.replace(/^\uFEFF/, ''), true) as OrderedNode[];
  } catch (err) {
    throw new MetabaseError(`not well-formed XML: ${(err as Error).message}`);
  }
  const result: SmtpMetabase = { service: undefined, servers: new Map(), roots: new Map(), domains: new Map() };
  let sawConfiguration = false;
  const visit = (nodes: OrderedNode[], depth: number): void => {
    for (const node of nodes) {
      const type = Object.keys(node).find((name) => name !== ':@');
      if (!type || type.startsWith('?') || type === '#text' || type === '#comment') continue;
      if (type === 'configuration') sawConfiguration = true;
      const attrs = node[':@'] ?? {};
      const location = Object.entries(attrs).find(([name]) => name.trim() === 'Location')?.[1];
      const children = (node[type] as OrderedNode[] | undefined) ?? [];
      if (location !== undefined) classify(result, readKey(type, location, attrs, children));
      else if (depth < 3) visit(children, depth + 1);
    }
  };
  visit(tree, 0);
  if (!sawConfiguration) throw new MetabaseError('no <configuration> element: is this a MetaBase.xml?');
  return result;
}

function readKey(type: string, location: string, attrs: Record<string, string>, children: OrderedNode[]): MetabaseKey {
  const attributes = new Map<string, string>();
  for (const [name, value] of Object.entries(attrs)) if (name.trim() !== 'Location') attributes.set(name.trim(), value);
  const customByName = new Map<string, string>();
  const customById = new Map<string, string>();
  for (const child of children) {
    if (!('Custom' in child)) continue;
    const c = child[':@'] ?? {};
    const value = c.Value ?? '';
    if (c.Name) customByName.set(c.Name, value);
    if (c.ID) customById.set(c.ID.trim(), value);
  }
  return { type, location, attributes, customByName, customById };
}

function classify(result: SmtpMetabase, key: MetabaseKey): void {
  const path = key.location.trim().replace(/\/+$/, '');
  if (/^\/lm\/smtpsvc$/i.test(path)) {
    result.service = key;
    return;
  }
  let m = /^\/lm\/smtpsvc\/(\d+)$/i.exec(path);
  if (m) {
    result.servers.set(m[1]!, key);
    return;
  }
  m = /^\/lm\/smtpsvc\/(\d+)\/root$/i.exec(path);
  if (m) {
    result.roots.set(m[1]!, key);
    return;
  }
  m = /^\/lm\/smtpsvc\/(\d+)\/domain\/(.+)$/i.exec(path);
  if (m) {
    const list = result.domains.get(m[1]!) ?? [];
    list.push({ name: m[2]!, key });
    result.domains.set(m[1]!, list);
  }
}

export interface ResolvedValue {
  value: string;
  /** Where it was found: "server", "service" (inherited), or undefined when absent everywhere. */
  from: 'server' | 'service';
}

/**
 * A property of virtual server `server`, resolved as IIS does: the server's attribute, its <Custom> (by name or
 * ID), then the same on /LM/SmtpSvc when the property inherits. undefined when absent everywhere.
 */
export function resolveProperty(
  metabase: SmtpMetabase,
  server: MetabaseKey,
  name: string,
  options: { id?: number; inherit?: boolean } = {},
): ResolvedValue | undefined {
  const inKey = (key: MetabaseKey): string | undefined =>
    key.attributes.get(name) ?? key.customByName.get(name) ?? (options.id !== undefined ? key.customById.get(String(options.id)) : undefined);
  const own = inKey(server);
  if (own !== undefined) return { value: own, from: 'server' };
  if (options.inherit !== false && metabase.service) {
    const inherited = inKey(metabase.service);
    if (inherited !== undefined) return { value: inherited, from: 'service' };
  }
  return undefined;
}
