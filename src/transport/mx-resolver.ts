// Where a domain's mail goes without a smart host: its MX records in preference order (RFC 5321 5.1), the
// domain itself when it has none (implicit MX), nothing when it publishes a null MX (RFC 7505). Each exchanger's
// addresses are looked up with the same resolver, so a configured DNS server (dnsServers) answers everything.
import dns from 'node:dns';

export interface MxTarget {
  /** The exchanger's name: what its certificate names, and what the log shows. */
  name: string;
  address: string;
}

export type MxAnswer =
  | { kind: 'targets'; targets: MxTarget[] }
  /** permanent: the domain does not exist or accepts no mail; otherwise try again later. */
  | { kind: 'failed'; permanent: boolean; reply: string };

/** Enough for any real domain; bounds the connections one message can cost. */
const MAX_TARGETS = 10;

export interface MxResolverOptions {
  /** "ip" or "ip:port" each; empty: the system's resolvers. */
  servers: string[];
  timeout?: number;
}

export class MxResolver {
  readonly #resolver: dns.promises.Resolver;

  constructor(options: MxResolverOptions) {
    this.#resolver = new dns.promises.Resolver({ timeout: options.timeout ?? 5_000, tries: 2 });
    if (options.servers.length > 0) this.#resolver.setServers(options.servers);
  }

  async lookup(domain: string): Promise<MxAnswer> {
    let exchangers: string[];
    try {
      const records = await this.#resolver.resolveMx(domain);
      if (records.some((r) => r.exchange === '' || r.exchange === '.')) {
        return { kind: 'failed', permanent: true, reply: `556 5.1.10 ${domain} accepts no mail (null MX)` };
      }
      // Equal preferences keep the resolver's order; RFC 5321 asks for a random one, which tests cannot check.
      exchangers = records.sort((a, b) => a.priority - b.priority).map((r) => r.exchange);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === dns.NOTFOUND) return { kind: 'failed', permanent: true, reply: `550 5.1.2 ${domain}: no such domain (DNS)` };
      if (code !== dns.NODATA) return { kind: 'failed', permanent: false, reply: `451 4.4.3 MX lookup for ${domain} failed: ${code ?? (err as Error).message}` };
      exchangers = [domain]; // no MX: the domain's own address (implicit MX)
    }
    const targets: MxTarget[] = [];
    for (const name of exchangers) {
      for (const address of await this.#addresses(name)) {
        if (targets.length < MAX_TARGETS) targets.push({ name, address });
      }
    }
    if (targets.length === 0) return { kind: 'failed', permanent: false, reply: `451 4.4.4 no address found for the mail exchangers of ${domain}: ${exchangers.join(', ')}` };
    return { kind: 'targets', targets };
  }

  async #addresses(name: string): Promise<string[]> {
    const [v4, v6] = await Promise.all([this.#resolver.resolve4(name).catch(() => []), this.#resolver.resolve6(name).catch(() => [])]);
    return [...v4, ...v6];
  }
}
