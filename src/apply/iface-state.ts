/**
 * The interface state a rendered ifupdown or netplan file describes, as kernel objects (links,
 * IPv4 addresses, IPv4 routes), and the `ip -batch` lines that turn one state into another. Pure:
 * the runtime half (snapshot, batch, read-back, rollback) is iface-apply.ts.
 *
 * The wanted state is computed from the model, by the same rules the ifupdown and netplan
 * renderers follow (src/render/ifupdown, src/render/netplan), never by parsing their text back:
 *  - every nic on a declared network: the link exists and is up, and holds exactly the nic's
 *    address (IPv4; IPv6 is not modelled, its link-local addresses are left alone);
 *  - on a hypervisor, the nic of a network it owns is a bridge (STP off, forward delay 0, as
 *    `bridge-stp off` / `bridge-fd 0`), created when missing; its ports are the physical ports
 *    the model gives it (src/model/bridge-ports.ts: the network's `ports:`, else the uplink when
 *    the network's gateway is a router no declared host holds — the renderer's `bridge-ports`);
 *    guests' taps join when the guest starts;
 *  - the default route through a gateway and the static routes through gateways, each on the nic
 *    that reaches the next hop, `proto static`; other non-kernel IPv4 routes on those nics go, so
 *    the nics look exactly as the file says;
 *  - ifupdown's `auto lo`: loopback up.
 * Bridges named virbr* (libvirtd's), tunnels, public nics and the uplink's own address are
 * configured elsewhere (the files say so) and are not touched.
 *
 * Names reach `ip -batch` as words: every name is checked here against the spec's interface-name
 * rule (letters, digits, `_ . @ -`, at most 15 bytes), so none can carry a space, a quote, a `#`
 * or a newline into the batch; names are always written after `dev`/`name`, so one that looks
 * like a keyword or an option (`up`, `-x`) is still a name.
 */
import { bridgePortNames, netplanBridges } from '../model/bridge-ports.js';
import type { Host, Model } from '../model/types.js';
import { ifnameProblem } from '../spec/identifiers.js';
import { formatCidr, formatIPv4 } from '../util/ip.js';

export const IFACE_TARGETS = ['ifupdown', 'netplan'] as const;
export type IfaceTarget = (typeof IFACE_TARGETS)[number];

export interface LinkState {
  readonly name: string;
  readonly exists: boolean;
  /** `bridge` links are created and deleted by apply; `device` links (nics, ports) must exist. */
  readonly kind: 'bridge' | 'device';
  /** Administratively up (the UP flag), not carrier. */
  readonly up: boolean;
  /** The bridge this link is a port of; null = none; undefined = not managed. */
  readonly master: string | null | undefined;
  /** Bridges only: STP state (0 off) and forward delay (centiseconds). */
  readonly stp?: number;
  readonly forwardDelay?: number;
}

export interface AddrState {
  readonly dev: string;
  readonly local: string;
  readonly prefixlen: number;
  readonly broadcast?: string;
  readonly scope?: string;
}

export interface RouteState {
  /** `default` or a CIDR (`/32` written bare, as ip prints it). */
  readonly dst: string;
  readonly gateway?: string;
  readonly dev: string;
  readonly protocol?: string;
  readonly scope?: string;
  readonly prefsrc?: string;
  readonly metric?: number;
}

/**
 * Which kernel objects a state speaks for: `links` (existence, kind, up, master) and `managed`
 * (their IPv4 addresses and non-kernel routes of the main table). Everything else in the
 * namespace is outside it and never touched.
 */
export interface Scope {
  readonly links: readonly string[];
  readonly managed: readonly string[];
}

export interface IfaceState {
  readonly scope: Scope;
  readonly links: readonly LinkState[];
  readonly addresses: readonly AddrState[];
  readonly routes: readonly RouteState[];
}

/** A wanted state that cannot be reached from the current one (a nic or port missing): nothing is changed. */
export class PlanError extends Error {}

/** A name unsafe to pass to ip, refused (never quoted). */
export function checkName(name: string): string {
  const problem = ifnameProblem(name);
  if (problem !== undefined) throw new PlanError(`refusing to pass ${JSON.stringify(name)} to ip: ${problem}`);
  return name;
}

const byName = (a: { name: string }, b: { name: string }): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** The state the `target` file of host `h` describes. */
export function wantedState(model: Model, h: Host, target: IfaceTarget): IfaceState {
  const links = new Map<string, LinkState>();
  const addresses: AddrState[] = [];
  const routes: RouteState[] = [];
  const managed: string[] = [];
  // ifupdown writes every bridge a hypervisor owns; netplan only those of a hypervisor with a bridge
  // that has a physical port (src/model/bridge-ports.ts), and lists only the network's own ports.
  const hyper = h.kind === 'hypervisor' && (target === 'ifupdown' || netplanBridges(model, h));
  const portsOf = (segment: string): readonly string[] =>
    target === 'ifupdown' ? bridgePortNames(model, h, segment) : (model.networks.get(segment)?.ports ?? []);
  if (target === 'ifupdown') {
    // `iface lo inet loopback`: up, with the address the kernel gives it (named, so a rollback takes it away again).
    links.set('lo', { name: 'lo', exists: true, kind: 'device', up: true, master: undefined });
    managed.push('lo');
    addresses.push({ dev: 'lo', local: '127.0.0.1', prefixlen: 8, scope: 'host' });
  }
  for (const n of h.nics) {
    const net = model.networks.get(n.segment);
    if (!net) continue;
    const bridge = hyper && net.owner === h.name;
    if (bridge && /^virbr/.test(n.ifname)) continue;
    const dev = checkName(n.ifname);
    managed.push(dev);
    links.set(
      dev,
      bridge
        ? { name: dev, exists: true, kind: 'bridge', up: true, master: null, stp: 0, forwardDelay: 0 }
        : { name: dev, exists: true, kind: 'device', up: true, master: undefined },
    );
    if (bridge) for (const p of portsOf(n.segment)) links.set(checkName(p), { name: p, exists: true, kind: 'device', up: true, master: dev });
    addresses.push({ dev, local: formatIPv4(n.address), prefixlen: net.cidr.len });
    if (h.defaultRoute.kind === 'gateway' && h.defaultRoute.segment === n.segment)
      routes.push({ dst: 'default', gateway: formatIPv4(h.defaultRoute.via), dev, protocol: 'static' });
    for (const r of h.routes)
      if (r.via.kind === 'gateway' && r.via.segment === n.segment)
        routes.push({ dst: routeDst(formatCidr(r.to)), gateway: formatIPv4(r.via.address), dev, protocol: 'static' });
  }
  const ls = [...links.values()].sort(byName);
  return {
    scope: { links: ls.map((l) => l.name), managed: [...new Set(managed)].sort() },
    links: ls,
    addresses: sortAddrs(addresses),
    routes: sortRoutes(routes),
  };
}

/** ip prints a host route without `/32`. */
const routeDst = (cidr: string): string => cidr.replace(/\/32$/, '');

export const addrKey = (a: AddrState): string => `${a.dev} ${a.local}/${a.prefixlen}`;
export const routeKey = (r: RouteState): string =>
  [
    r.dst,
    r.gateway && `via ${r.gateway}`,
    `dev ${r.dev}`,
    r.protocol && `proto ${r.protocol}`,
    r.scope && `scope ${r.scope}`,
    r.prefsrc && `src ${r.prefsrc}`,
    r.metric !== undefined && `metric ${r.metric}`,
  ]
    .filter((x) => typeof x === 'string' && x !== '')
    .join(' ');
const sortAddrs = (a: AddrState[]): AddrState[] => a.sort((x, y) => (addrKey(x) < addrKey(y) ? -1 : addrKey(x) > addrKey(y) ? 1 : 0));
const sortRoutes = (a: RouteState[]): RouteState[] => a.sort((x, y) => (routeKey(x) < routeKey(y) ? -1 : routeKey(x) > routeKey(y) ? 1 : 0));

/** `ip -j` output, as much of it as is read here. */
interface JLink {
  ifname: string;
  flags?: string[];
  master?: string;
  linkinfo?: { info_kind?: string; info_data?: { stp_state?: number; forward_delay?: number } };
}
interface JAddr {
  ifname: string;
  addr_info?: { family?: string; local?: string; prefixlen?: number; broadcast?: string; scope?: string }[];
}
interface JRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  scope?: string;
  prefsrc?: string;
  metric?: number;
  type?: string;
}

function array<T>(doc: unknown, what: string): T[] {
  if (!Array.isArray(doc)) throw new Error(`${what}: expected a JSON array from ip -j`);
  return doc as T[];
}

/**
 * The state of `scope` in a namespace, from `ip -j -d link show`, `ip -j -4 addr show` and
 * `ip -j -4 route show table main`. Kernel routes (from addresses) are the addresses' business
 * and are not listed.
 */
export function observedState(scope: Scope, linksDoc: unknown, addrsDoc: unknown, routesDoc: unknown): IfaceState {
  const jl = new Map(array<JLink>(linksDoc, 'ip link').map((l) => [l.ifname, l]));
  const links: LinkState[] = scope.links.map((name) => {
    const l = jl.get(name);
    if (!l) return { name, exists: false, kind: 'device', up: false, master: null };
    const bridge = l.linkinfo?.info_kind === 'bridge';
    const d = l.linkinfo?.info_data;
    return {
      name,
      exists: true,
      kind: bridge ? 'bridge' : 'device',
      up: (l.flags ?? []).includes('UP'),
      master: l.master ?? null,
      ...(bridge ? { stp: d?.stp_state ?? 0, forwardDelay: d?.forward_delay ?? 0 } : {}),
    };
  });
  const managed = new Set(scope.managed);
  const addresses: AddrState[] = [];
  for (const a of array<JAddr>(addrsDoc, 'ip addr')) {
    if (!managed.has(a.ifname)) continue;
    for (const i of a.addr_info ?? []) {
      if (i.family !== 'inet' || i.local === undefined || i.prefixlen === undefined) continue;
      addresses.push({
        dev: a.ifname,
        local: i.local,
        prefixlen: i.prefixlen,
        ...(i.broadcast ? { broadcast: i.broadcast } : {}),
        ...(i.scope ? { scope: i.scope } : {}),
      });
    }
  }
  const routes: RouteState[] = [];
  for (const r of array<JRoute>(routesDoc, 'ip route')) {
    if (r.dev === undefined || !managed.has(r.dev) || r.protocol === 'kernel' || (r.type !== undefined && r.type !== 'unicast')) continue;
    routes.push({
      dst: r.dst,
      dev: r.dev,
      ...(r.gateway ? { gateway: r.gateway } : {}),
      ...(r.protocol && r.protocol !== 'boot' ? { protocol: r.protocol } : {}),
      ...(r.scope && r.scope !== 'global' ? { scope: r.scope } : {}),
      ...(r.prefsrc ? { prefsrc: r.prefsrc } : {}),
      ...(r.metric ? { metric: r.metric } : {}),
    });
  }
  return { scope, links, addresses: sortAddrs(addresses), routes: sortRoutes(routes) };
}

/** Every way `got` differs from `want`, in words (empty = the same). Only what `want` manages counts. */
export function compareState(want: IfaceState, got: IfaceState): string[] {
  const out: string[] = [];
  const g = new Map(got.links.map((l) => [l.name, l]));
  for (const w of want.links) {
    const l = g.get(w.name);
    if (!l || l.exists !== w.exists) {
      out.push(`link ${w.name}: ${w.exists ? 'missing' : 'present, but should not exist'}`);
      continue;
    }
    if (!w.exists) continue;
    if (w.kind === 'bridge' && l.kind !== 'bridge') out.push(`link ${w.name}: not a bridge`);
    if (w.up !== l.up) out.push(`link ${w.name}: ${l.up ? 'up' : 'down'}, wanted ${w.up ? 'up' : 'down'}`);
    if (w.master !== undefined && w.master !== l.master) out.push(`link ${w.name}: master ${l.master ?? 'none'}, wanted ${w.master ?? 'none'}`);
    if (w.stp !== undefined && w.stp !== l.stp) out.push(`bridge ${w.name}: stp_state ${l.stp}, wanted ${w.stp}`);
    if (w.forwardDelay !== undefined && w.forwardDelay !== l.forwardDelay)
      out.push(`bridge ${w.name}: forward_delay ${l.forwardDelay}, wanted ${w.forwardDelay}`);
  }
  const diffSets = (what: string, a: readonly string[], b: readonly string[]): void => {
    const sa = new Set(a);
    const sb = new Set(b);
    for (const x of a) if (!sb.has(x)) out.push(`${what} ${x}: missing`);
    for (const x of b) if (!sa.has(x)) out.push(`${what} ${x}: present, not wanted`);
  };
  diffSets('address', want.addresses.map(addrKey), got.addresses.map(addrKey));
  diffSets('route', want.routes.map(routeKey), got.routes.map(routeKey));
  return out;
}

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const WORD = /^[a-z0-9]{1,32}$/;

/** One field of an address or route, checked for what it must be: a snapshot file could have been changed on disk. */
function field(value: string, ok: (v: string) => boolean, what: string): string {
  if (!ok(value)) throw new PlanError(`refusing to pass ${JSON.stringify(value)} to ip as ${what}`);
  return value;
}
const ipv4 = (v: string, what: string): string => field(v, (x) => IPV4.test(x), what);
const word = (v: string, what: string): string => field(v, (x) => WORD.test(x), what);
const dst = (v: string): string =>
  field(v, (x) => x === 'default' || (IPV4.test(x.split('/')[0]!) && /^[^/]+(?:\/(?:3[0-2]|[12]?\d))?$/.test(x)), 'a route destination');

const addrArgs = (a: AddrState): string =>
  [
    `${ipv4(a.local, 'an address')}/${field(String(a.prefixlen), (x) => /^(?:3[0-2]|[12]?\d)$/.test(x), 'a prefix length')}`,
    a.broadcast && `broadcast ${ipv4(a.broadcast, 'a broadcast address')}`,
    a.scope && a.scope !== 'global' && `scope ${word(a.scope, 'a scope')}`,
    `dev ${checkName(a.dev)}`,
  ]
    .filter((x) => typeof x === 'string' && x !== '')
    .join(' ');
const routeArgs = (r: RouteState): string =>
  [
    dst(r.dst),
    r.gateway && `via ${ipv4(r.gateway, 'a gateway')}`,
    `dev ${checkName(r.dev)}`,
    r.protocol && `proto ${word(r.protocol, 'a route protocol')}`,
    r.scope && `scope ${word(r.scope, 'a scope')}`,
    r.prefsrc && `src ${ipv4(r.prefsrc, 'a source address')}`,
    r.metric !== undefined && `metric ${field(String(r.metric), (x) => /^\d{1,10}$/.test(x), 'a metric')}`,
  ]
    .filter((x) => typeof x === 'string' && x !== '')
    .join(' ');

/** Every word was checked above; the whole line once more, against the characters ip's batch parser treats specially. */
function checkWords(line: string): string {
  if (!/^[A-Za-z0-9_.@/:\- ]+$/.test(line)) throw new PlanError(`refusing an ip -batch line with unexpected characters: ${JSON.stringify(line)}`);
  return line;
}

/**
 * The `ip -batch` lines that take `cur` to `want` (both over the same scope), in an order the
 * kernel accepts: routes out first (a route goes with its address or link), bridges deleted or
 * created, ports attached, addresses, up/down, routes in last (a gateway must be reachable).
 * Throws PlanError when `want` needs a device that does not exist: apply then changes nothing.
 */
export function planBatch(cur: IfaceState, want: IfaceState): string[] {
  const c = new Map(cur.links.map((l) => [l.name, l]));
  const lines: string[] = [];
  const wantRoutes = new Set(want.routes.map(routeKey));
  const curRoutes = new Set(cur.routes.map(routeKey));
  for (const r of cur.routes) if (!wantRoutes.has(routeKey(r))) lines.push(`route del ${routeArgs(r)}`);
  const missing = want.links.filter((w) => w.exists && w.kind === 'device' && !c.get(w.name)?.exists).map((w) => w.name);
  if (missing.length)
    throw new PlanError(
      `${missing.length === 1 ? 'interface' : 'interfaces'} ${missing.join(', ')} ${missing.length === 1 ? 'does' : 'do'} not exist; cordon creates only bridges`,
    );
  for (const w of want.links) {
    const l = c.get(w.name);
    if (!w.exists && l?.exists) {
      if (l.kind !== 'bridge') throw new PlanError(`${w.name} should not exist, but it is not a bridge cordon made; not deleting it`);
      lines.push(`link del dev ${checkName(w.name)}`);
    }
  }
  for (const w of want.links) {
    if (!w.exists || w.kind !== 'bridge') continue;
    const l = c.get(w.name);
    const params = `stp_state ${w.stp ?? 0} forward_delay ${w.forwardDelay ?? 0}`;
    if (!l?.exists) lines.push(`link add name ${checkName(w.name)} type bridge ${params}`);
    else if (l.kind !== 'bridge') throw new PlanError(`${w.name} exists and is not a bridge; not replacing it`);
    else if (l.stp !== w.stp || l.forwardDelay !== w.forwardDelay) {
      // The kernel refuses a forward delay under 2 s while STP is on (ERANGE): STP off goes first,
      // STP on goes after the delay is back in range; one attribute per line keeps that order.
      const stp = `link set dev ${checkName(w.name)} type bridge stp_state ${w.stp ?? 0}`;
      const fd = `link set dev ${checkName(w.name)} type bridge forward_delay ${w.forwardDelay ?? 0}`;
      const steps = [l.stp !== w.stp ? stp : undefined, l.forwardDelay !== w.forwardDelay ? fd : undefined].filter((x) => x !== undefined);
      lines.push(...((w.stp ?? 0) === 0 ? steps : steps.reverse()));
    }
  }
  for (const w of want.links) {
    if (!w.exists || w.master === undefined) continue;
    const l = c.get(w.name);
    const now = l?.exists ? l.master : null;
    if (now !== w.master)
      lines.push(w.master === null ? `link set dev ${checkName(w.name)} nomaster` : `link set dev ${checkName(w.name)} master ${checkName(w.master)}`);
  }
  const wantAddrs = new Set(want.addresses.map(addrKey));
  const curAddrs = new Set(cur.addresses.map(addrKey));
  const gone = new Set(want.links.filter((w) => !w.exists).map((w) => w.name));
  for (const a of cur.addresses) if (!wantAddrs.has(addrKey(a)) && !gone.has(a.dev)) lines.push(`address del ${addrArgs(a)}`);
  for (const a of want.addresses) if (!curAddrs.has(addrKey(a))) lines.push(`address add ${addrArgs(a)}`);
  for (const w of want.links) {
    if (!w.exists) continue;
    const l = c.get(w.name);
    const upNow = l?.exists ? l.up : false;
    if (upNow !== w.up) lines.push(`link set dev ${checkName(w.name)} ${w.up ? 'up' : 'down'}`);
  }
  for (const r of want.routes) if (!curRoutes.has(routeKey(r))) lines.push(`route add ${routeArgs(r)}`);
  return lines.map(checkWords);
}

/** What a user runs on a real host so that the system's own network manager takes the files over (and keeps them across reboots). */
export function activationCommand(target: IfaceTarget): string {
  return target === 'netplan' ? 'netplan try (then netplan apply)' : 'ifreload -a (ifupdown2, as on Proxmox), or systemctl restart networking (ifupdown)';
}
