// Which hosts take mail for a recipient's domain: the most specific route ("corp.example", then
// "*.corp.example", "*.example", ...), else the default route (smartHost).
import type { Route, SmartHostSpec } from '../config/smart-hosts.js';
import { canonicalDomain } from '../config/domain.js';

export class RouteTable {
  readonly #default: SmartHostSpec[];
  readonly #routes = new Map<string, SmartHostSpec[]>();

  constructor(defaultHosts: SmartHostSpec[], routes: Route[]) {
    this.#default = defaultHosts;
    for (const route of routes) this.#routes.set(route.domain, route.hosts);
  }

  lookup(recipient: string): SmartHostSpec[] {
    const at = recipient.lastIndexOf('@');
    if (at === -1 || this.#routes.size === 0) return this.#default;
    const domain = recipient.slice(at + 1);
    if (domain.startsWith('[')) return this.#default; // an address literal names no domain
    const name = canonicalDomain(domain);
    const exact = this.#routes.get(name);
    if (exact) return exact;
    for (let dot = name.indexOf('.'); dot !== -1; dot = name.indexOf('.', dot + 1)) {
      const wildcard = this.#routes.get(`*${name.slice(dot)}`);
      if (wildcard) return wildcard;
    }
    return this.#default;
  }

  /** Recipients grouped by the route that takes them, in the envelope's order. */
  split(recipients: string[]): Array<{ hosts: SmartHostSpec[]; recipients: string[] }> {
    const groups = new Map<SmartHostSpec[], string[]>();
    for (const recipient of recipients) {
      const hosts = this.lookup(recipient);
      const group = groups.get(hosts);
      if (group) group.push(recipient);
      else groups.set(hosts, [recipient]);
    }
    return [...groups].map(([hosts, list]) => ({ hosts, recipients: list }));
  }
}
