/**
 * IR chain → Proxmox firewall rules (`IN ACCEPT -i net0 -source dc/a -dest +dc/b -p tcp -dport 443`).
 *
 * What Proxmox does by itself is left out: replies (conntrack established/related), dropping
 * invalid packets, loopback, and anti-spoofing (the `ipfilter` option). What Proxmox cannot say
 * exactly becomes a diagnostic: a bridge port (Proxmox binds guests by their addresses, which
 * holds only where every guest on that bridge has ipfilter), an output interface on a forwarded
 * packet, a rate limit, "every other protocol".
 */
import { diag, type Diagnostic, type Severity } from '../../diag/diagnostic.js';
import { Code } from '../../diag/codes.js';
import type { Chain, IrRule } from '../../ir/types.js';
import type { Host, Model } from '../../model/types.js';
import { ALL_FLOWS, ALL_PORTS, flowEqual, NO_FLOWS, type FlowSet } from '../../util/flows.js';
import { formatIPv4, isAnyAddress } from '../../util/ip.js';
import * as R from '../../util/rangeset.js';
import type { RangeSet } from '../../util/rangeset.js';
import { assertNever } from '../../util/assert.js';
import { ifname, inert } from '../escape.js';
import { prefixesOf, refOf, type Directory } from './names.js';

export type Dir = 'IN' | 'OUT' | 'FORWARD';

export interface FwRule {
  readonly dir: Dir;
  readonly action: 'ACCEPT' | 'DROP' | 'REJECT';
  readonly macro: string | undefined;
  readonly iface: string | undefined;
  readonly source: string | undefined;
  readonly dest: string | undefined;
  readonly proto: string | undefined;
  readonly dport: string | undefined;
  readonly log: string | undefined;
  /** Where the rule came from, for the rule's own comment. */
  readonly comment: string;
  /** The policy rule it came from (rules of one policy rule in one file can become a security group). */
  readonly policyIndex: number | undefined;
  readonly policyText: string;
}

/** The rule as a line of a .fw file, in the option order Proxmox itself writes. */
export function formatRule(r: FwRule, comment = r.comment): string {
  const parts: string[] = [r.dir, r.macro ? `${r.macro}(${r.action})` : r.action];
  if (r.iface) parts.push('-i', ifname(r.iface));
  if (r.source) parts.push('-source', r.source);
  if (r.dest) parts.push('-dest', r.dest);
  if (r.proto) parts.push('-p', r.proto);
  if (r.dport) parts.push('-dport', r.dport);
  if (r.log) parts.push('-log', r.log);
  return `${parts.join(' ')} # ${comment}`;
}

/** The rule without its comment: equal texts mean equal rules. */
export function ruleText(r: FwRule): string {
  return formatRule(r, '').replace(/ # $/, '');
}

/**
 * A comment Proxmox can read back: no `#` (proxmox-firewall splits a rule at its last `#`),
 * ASCII arrows, one line.
 */
export function fwComment(text: string): string {
  return inert(
    text
      .replace(/→/g, '->')
      .replace(/#/g, 'no.')
      .replace(/[\r\n]+/g, ' ')
      .replace(/\s+/g, ' ')
      .trim(),
  ).slice(0, 200);
}

/** Proxmox macros cordon uses, exactly as pve-firewall defines them. */
const MACROS: readonly [string, FlowSet][] = [
  ['SSH', { ...NO_FLOWS, tcp: [[22, 22]] }],
  ['HTTP', { ...NO_FLOWS, tcp: [[80, 80]] }],
  ['HTTPS', { ...NO_FLOWS, tcp: [[443, 443]] }],
  [
    'Web',
    {
      ...NO_FLOWS,
      tcp: [
        [80, 80],
        [443, 443],
      ],
    },
  ],
  ['DNS', { ...NO_FLOWS, tcp: [[53, 53]], udp: [[53, 53]] }],
];

/** Interface names Proxmox accepts in `-i` of host rules (pve-iface). */
export const HOST_IFACE_RE = /^[a-z][a-z0-9_]{1,20}([:.]\d+)?$/i;

export interface Zone {
  readonly dir: Dir;
  readonly level: 'host' | 'guest';
  /** The hypervisor the files are for. */
  readonly hyper: Host;
  /** For guest zones: the guest whose <vmid>.fw this is. */
  readonly guest: Host | undefined;
  readonly chain: Chain;
  /** Guest zones: Proxmox's ipfilter (anti-spoofing) is on, so a guest's source is always its own. */
  readonly ipfilter: boolean;
}

export interface Env {
  readonly model: Model;
  readonly names: Directory;
  readonly ds: Diagnostic[];
  /** Hosts with a port on this network that Proxmox's ipfilter does not hold to their addresses. */
  readonly spoofers: (network: string) => string[];
}

interface Bind {
  readonly iface: string | undefined;
  /** Addresses standing in for a bridge port the zone cannot name. */
  readonly src: RangeSet | undefined;
}

function at(env: Env, r: IrRule) {
  return { file: env.model.file, line: r.origin.line, col: r.origin.col, path: r.origin.path };
}

function say(env: Env, r: IrRule, zone: Zone, severity: Severity, message: string, hint?: string): void {
  env.ds.push(diag(Code.TARGET_CANNOT_EXPRESS, severity, `${zone.chain.point} → Proxmox: rule "${r.origin.text}" ${message}`, at(env, r), hint));
}

/** Which nic a bridge port is: the guest, the network, and Proxmox's netN when the name tells. */
function portInfo(model: Model, port: string): { host: Host; network: string; net: number | undefined } | undefined {
  for (const h of model.hosts.values()) {
    for (const n of h.nics) {
      if (n.port !== port) continue;
      const m = /^(?:tap|veth)(\d+)i(\d+)$/.exec(port);
      const net = m && h.id !== undefined && Number(m[1]) === h.id ? Number(m[2]) : undefined;
      return { host: h, network: n.segment, net };
    }
  }
  return undefined;
}

function addrsOfNic(h: Host, network: string): RangeSet {
  return R.normalize(h.nics.filter((n) => n.segment === network).map((n) => [n.address, n.address] as const));
}

function ownAddrs(h: Host): RangeSet {
  return R.normalize(h.nics.map((n) => [n.address, n.address] as const));
}

/**
 * Rules that lost a bridge-port binding, by who could exploit it: for an accept, other guests
 * forging the bound guest's address ('forge'); for a drop, the bound guest sending from another
 * address ('escape'). Only guests that Proxmox's ipfilter does not hold count.
 */
type SpoofNotes = Map<string, { kind: 'forge' | 'escape'; who: string[]; rules: IrRule[] }>;

function bindsOf(env: Env, zone: Zone, r: IrRule, notes: SpoofNotes): Bind[] | undefined {
  const m = r.match;
  const binds: Bind[] = [];
  const lost: string[] = [];
  const spoofed = new Set<string>();
  const kind = r.action === 'accept' ? 'forge' : 'escape';
  const portBind = (port: string): Bind | undefined => {
    const info = portInfo(env.model, port);
    const physical = info ? undefined : [...env.model.networks.values()].find((n) => n.owner === zone.hyper.name && n.ports.includes(port));
    if (physical) {
      // A bridge's physical port (networks.ports: the LAN's router forwarding a tunnel endpoint in):
      // Proxmox names no port, so the rule binds to the bridge, where a guest on it that
      // ipfilter does not hold could forge the source the port stood for.
      if (kind === 'forge') for (const s of env.spoofers(physical.name)) spoofed.add(s);
      return { iface: zone.level === 'host' && zone.dir !== 'OUT' ? physical.bridge : undefined, src: m.src };
    }
    if (!info) {
      say(env, r, zone, 'error', `matches bridge port ${port}, which belongs to no guest`);
      return undefined;
    }
    if (zone.level === 'guest' && zone.dir === 'OUT' && info.host.name === zone.guest?.name) {
      if (info.net === undefined) {
        say(
          env,
          r,
          zone,
          'error',
          `matches port ${port} of ${info.host.name}, which is not named tap<vmid>i<N> or veth<vmid>i<N>, so its netN is unknown`,
          `set hosts.${info.host.name}.id, or the nic's port to Proxmox's name`,
        );
        return undefined;
      }
      return { iface: `net${info.net}`, src: undefined };
    }
    // Proxmox names no bridge port here: bind by the guest's address (and by its bridge on the host).
    for (const s of env.spoofers(info.network)) if ((kind === 'forge') === (s !== info.host.name)) spoofed.add(s);
    const bridge = env.model.networks.get(info.network)?.bridge;
    const iface = zone.level === 'host' && zone.dir !== 'OUT' ? bridge : undefined;
    return { iface, src: m.src ?? addrsOfNic(info.host, info.network) };
  };
  switch (zone.level === 'guest' ? `guest-${zone.dir}` : zone.dir) {
    case 'IN':
    case 'FORWARD':
      for (const iif of m.iif ?? [undefined]) {
        for (const port of m.inPort ?? [undefined]) {
          if (port === undefined) {
            binds.push({ iface: iif, src: undefined });
            continue;
          }
          const b = portBind(port);
          if (!b) continue;
          if (iif !== undefined && b.iface !== iif) lost.push(`input interface ${iif}`);
          binds.push(b);
        }
      }
      if (m.oif) lost.push(`output interface ${m.oif.join(', ')} (Proxmox rules have no -o)`);
      break;
    case 'OUT':
      for (const oif of m.oif ?? [undefined]) binds.push({ iface: oif, src: undefined });
      if (m.iif) lost.push(`input interface ${m.iif.join(', ')}`);
      if (m.inPort) lost.push(`bridge port ${m.inPort.join(', ')}`);
      break;
    case 'guest-OUT':
    case 'guest-IN':
      for (const port of m.inPort ?? [undefined]) {
        if (port === undefined) {
          binds.push({ iface: undefined, src: undefined });
          continue;
        }
        const b = portBind(port);
        if (b) binds.push(b);
      }
      if (m.iif) lost.push(`input interface ${m.iif.join(', ')} (a guest's rules can only name its own netN)`);
      if (m.oif) lost.push(`output interface ${m.oif.join(', ')} (a guest's rules can only name its own netN)`);
      break;
    default:
      throw new Error(`unexpected zone ${zone.level} ${zone.dir}`);
  }
  for (const b of binds) {
    if (b.iface !== undefined && zone.level === 'host' && !HOST_IFACE_RE.test(b.iface)) {
      say(
        env,
        r,
        zone,
        'error',
        `names interface '${b.iface}', which Proxmox does not accept in -i (letters, digits and '_', 2-21 characters)`,
        'rename the bridge, tunnel or uplink',
      );
      return undefined;
    }
  }
  if (lost.length) {
    say(
      env,
      r,
      zone,
      'warning',
      `loses its ${lost.join(' and ')}: Proxmox cannot express ${lost.length === 1 ? 'it' : 'them'}, so the rule matches on addresses and ports only`,
    );
  }
  if (spoofed.size) {
    const who = [...spoofed].sort();
    const key = `${kind}:${who.join(',')}`;
    const note = notes.get(key) ?? { kind, who, rules: [] };
    note.rules.push(r);
    notes.set(key, note);
  }
  return binds;
}

const MAX_ADDR_SPEC = 512;

/**
 * Address specs for `-source`/`-dest`: a name when one stands for exactly the set (or two or three
 * names covering it), else prefix lists of at most 512 characters. `[undefined]` = any; `[]` = none.
 * `extra` is a superset that means the same here (the hypervisor's own addresses added to a
 * forwarded packet's destination: such a packet is never forwarded).
 */
function addrSpecs(env: Env, set: RangeSet | undefined, extra: RangeSet | undefined): (string | undefined)[] {
  if (set === undefined || isAnyAddress(set)) return [undefined];
  if (set.length === 0) return [];
  for (const cand of extra && !R.equal(extra, set) ? [set, extra] : [set]) {
    const named = env.names.lookup(cand);
    if (named) return [refOf(named)];
  }
  for (const cand of extra && !R.equal(extra, set) ? [set, extra] : [set]) {
    const cover = env.names.cover(cand);
    if (cover) return cover.map(refOf);
  }
  // Literal addresses: a few spans as `a.b.c.d/len` or `lo-hi` each (Proxmox allows a range only
  // alone), else prefix lists of at most 512 characters.
  const spans = set.map(([lo, hi]) => (prefixesOf([[lo, hi]]).length === 1 ? prefixesOf([[lo, hi]])[0]! : `${formatIPv4(lo)}-${formatIPv4(hi)}`));
  if (spans.length <= 3 && spans.some((x) => x.includes('-'))) return spans;
  const out: string[] = [];
  let cur = '';
  for (const p of prefixesOf(set)) {
    if (cur && cur.length + 1 + p.length > MAX_ADDR_SPEC) {
      out.push(cur);
      cur = '';
    }
    cur = cur ? `${cur},${p}` : p;
  }
  if (cur) out.push(cur);
  return out;
}

interface ProtoOpt {
  readonly macro: string | undefined;
  readonly proto: string | undefined;
  readonly dport: string | undefined;
}

/** Port lists of at most 15 entries (a range counts two), as Proxmox requires. */
function portLists(ports: RangeSet): string[] {
  const out: string[] = [];
  let cur: string[] = [];
  let slots = 0;
  for (const [lo, hi] of ports) {
    const n = lo === hi ? 1 : 2;
    if (slots + n > 15) {
      out.push(cur.join(','));
      cur = [];
      slots = 0;
    }
    cur.push(lo === hi ? String(lo) : `${lo}:${hi}`);
    slots += n;
  }
  if (cur.length) out.push(cur.join(','));
  return out;
}

function protoOpts(f: FlowSet): { opts: ProtoOpt[]; other: boolean } {
  if (flowEqual(f, ALL_FLOWS)) return { opts: [{ macro: undefined, proto: undefined, dport: undefined }], other: false };
  for (const [macro, mf] of MACROS) if (flowEqual(f, mf)) return { opts: [{ macro, proto: undefined, dport: undefined }], other: false };
  const opts: ProtoOpt[] = [];
  for (const proto of ['tcp', 'udp'] as const) {
    if (f[proto].length === 0) continue;
    if (R.equal(f[proto], ALL_PORTS)) opts.push({ macro: undefined, proto, dport: undefined });
    else for (const dport of portLists(f[proto])) opts.push({ macro: undefined, proto, dport });
  }
  if (f.icmp) opts.push({ macro: undefined, proto: 'icmp', dport: undefined });
  return { opts, other: f.other };
}

function actionOf(r: IrRule): FwRule['action'] {
  switch (r.action) {
    case 'accept':
      return 'ACCEPT';
    case 'drop':
      return 'DROP';
    case 'reject':
      return 'REJECT';
    default:
      return assertNever(r.action, 'action');
  }
}

/**
 * The set with the hypervisor's own addresses inside its span added back: "vmbr1 except pve" reads
 * as vmbr1 where that means the same (a forwarded packet is never to the hypervisor; a dropped one
 * claiming to be from it is no loss).
 */
function fillHoles(set: RangeSet, own: RangeSet): RangeSet {
  if (set.length === 0) return set;
  const span: RangeSet = [[set[0]![0], set[set.length - 1]![1]]];
  return R.union(set, R.intersect(own, span));
}

/** The rules of one IR chain, in order, for one direction of one .fw file. */
export function translateChain(env: Env, zone: Zone): FwRule[] {
  const out: FwRule[] = [];
  const own = zone.level === 'host' ? ownAddrs(zone.hyper) : ownAddrs(zone.guest!);
  const notes: SpoofNotes = new Map();
  for (const r of zone.chain.rules) {
    const m = r.match;
    // Proxmox does these itself, before any rule.
    if (r.role === 'stateful' || r.role === 'loopback') continue;
    if (r.role === 'antispoof' && zone.ipfilter) continue;
    if (m.state === 'established') {
      if (r.action === 'accept') continue; // Proxmox accepts replies before any rule: the same.
      say(env, r, zone, 'warning', 'matches established connections, which Proxmox accepts before any rule; it is rendered for new connections only');
    }
    if (r.rate && r.action === 'accept') say(env, r, zone, 'warning', `has a rate limit (${r.rate}), which Proxmox rules cannot express; rendered without it`);
    const binds = bindsOf(env, zone, r, notes);
    if (!binds) continue;
    const { opts, other } = protoOpts(m.flows);
    if (other)
      say(
        env,
        r,
        zone,
        'error',
        'matches protocols other than tcp, udp and icmp without matching all of them; a Proxmox rule names one protocol or all',
        'allow or deny `any`, or name the protocols',
      );
    const hostLevel = zone.level === 'host';
    for (const b of binds) {
      let src = b.src ?? m.src;
      const dst = m.dst;
      // A guest with ipfilter sends only from its own addresses: its OUT rules need not say so.
      if (zone.level === 'guest' && zone.dir === 'OUT' && zone.ipfilter && src !== undefined && R.covers(src, own)) src = undefined;
      const srcExtra = hostLevel && r.action !== 'accept' && src ? fillHoles(src, own) : undefined;
      const dstExtra = hostLevel && zone.dir === 'FORWARD' && dst ? fillHoles(dst, own) : undefined;
      const srcs = addrSpecs(env, src, srcExtra);
      const dsts = addrSpecs(env, dst, dstExtra);
      for (const s of srcs) {
        for (const d of dsts) {
          for (const o of opts) {
            out.push({
              dir: zone.dir,
              action: actionOf(r),
              macro: o.macro,
              iface: b.iface,
              source: s,
              dest: d,
              proto: o.proto,
              dport: o.dport,
              log: r.log ? 'info' : undefined,
              comment: fwComment(`cordon ${zone.chain.point}[${r.index}] ${r.origin.path ? `${r.origin.path}: ` : ''}${r.origin.text}`),
              policyIndex: r.role === 'policy' ? r.policyIndex : undefined,
              policyText: fwComment(`cordon ${r.origin.path ? `${r.origin.path}: ` : ''}${r.origin.text}`),
            });
          }
        }
      }
    }
  }
  for (const { kind, who, rules } of notes.values()) {
    const texts = [...new Set(rules.map((r) => `"${r.origin.text}"`))];
    const them = who.length === 1 ? 'it' : 'them';
    const one = texts.length === 1;
    const what =
      kind === 'forge'
        ? `${one ? 'lets' : 'let'} a guest's packets through by the guest's address, as Proxmox cannot name the bridge port they came in by; ${who.join(', ')} could send from that address and be let through too (no Proxmox ipfilter holds ${them})`
        : `${one ? 'stops' : 'stop'} a guest's packets by the guest's address, as Proxmox cannot name the bridge port they came in by; ${who.join(', ')} could send from another address and pass (no Proxmox ipfilter holds ${them})`;
    env.ds.push(
      diag(
        Code.TARGET_CANNOT_EXPRESS,
        'warning',
        `${zone.chain.point} → Proxmox: ${texts.length === 1 ? 'rule' : 'rules'} ${texts.join(', ')} ${what}`,
        at(env, rules[0]!),
        `give ${who.map((w) => `hosts.${w}`).join(', ')} firewall: { guest: true } and an id, so Proxmox's ipfilter binds each guest to its addresses`,
      ),
    );
  }
  return out;
}
