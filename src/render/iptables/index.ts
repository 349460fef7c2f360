/**
 * iptables target, for hosts without nftables: per enforcing host `HOST/rules.v4` and
 * `HOST/rules.v6` in iptables-save format, loaded atomically with iptables-restore /
 * ip6tables-restore (each replaces the whole filter table; mangle stays as it is, and so does nat
 * unless the host masquerades an `egress: nat` network: then rules.v4 holds its nat table, nat.ts).
 *
 * One user chain per enforcement point (`CORDON-PVE-FWD`), jumped from INPUT, OUTPUT or FORWARD.
 * Several points can sit on one hook (a guest's guest-out and the hypervisor's forward chain both
 * see a guest's routed packet), and a packet must pass every one of them, as it must pass every
 * nftables base chain. So the guest chains are jumped first and RETURN what they accept; the
 * host's own point is jumped last and decides with ACCEPT or DROP. Built-in policies follow the
 * host's own points, so a flushed table still fails closed.
 *
 * Addresses become one rule per (source prefix, destination prefix) from the CIDR decomposition
 * of the IR's ranges; destination ports are packed into `-m multiport` (15 ports, a range counts
 * two). Bridge ports are matched with `-m physdev --physdev-in` (needs br_netfilter).
 */
import { diag, type Diagnostic } from '../../diag/diagnostic.js';
import { Code } from '../../diag/codes.js';
import type { Chain, Ir, IrRule } from '../../ir/types.js';
import type { Hook, Model } from '../../model/types.js';
import { ALL_FLOWS, ALL_PORTS, flowEqual, type FlowSet } from '../../util/flows.js';
import { ANY_ADDRESS, type Cidr, cidrRange, formatCidr, formatIPv4, isAnyAddress, networkOf, rangeToCidrs } from '../../util/ip.js';
import * as R from '../../util/rangeset.js';
import type { RangeSet } from '../../util/rangeset.js';
import { assertNever } from '../../util/assert.js';
import { commented, Emitter, headerLines } from '../emit.js';
import { ifname, inert, quotedText } from '../escape.js';
import { forwardRules, hasNat } from '../nat.js';
import { natMarkLines, natSection } from './nat.js';
import type { Renderer, RenderOptions, RenderResult, RenderedFile } from '../types.js';
import { chainName, continuationChainName, logDropChainName, logPrefix, MAX_CHAIN_NAME, ruleChainName } from '../../model/names.js';

export const iptablesRenderer: Renderer = {
  name: 'iptables',
  description: 'iptables-restore files (rules.v4, rules.v6) per host, for hosts without nftables',
  params: [],
  render(ir: Ir, opts: RenderOptions): RenderResult {
    const ds: Diagnostic[] = [];
    const files: RenderedFile[] = [];
    const hosts = enforcingHosts(ir);
    for (const host of hosts) {
      if (opts.host !== undefined && opts.host !== host) continue;
      const plan = planHost(ir, host, ds);
      files.push({ path: `${host}/rules.v4`, content: renderV4(ir, plan, ds), secret: false });
      files.push({ path: `${host}/rules.v6`, content: renderV6(ir, plan), secret: false });
    }
    if (opts.host !== undefined && files.length === 0) {
      ds.push(
        diag(
          Code.UNKNOWN_NAME,
          'error',
          `host '${opts.host}' enforces no cordon chain, so it gets no iptables rules`,
          { file: ir.model.file },
          `hosts with chains: ${hosts.join(', ') || 'none'}`,
        ),
      );
    }
    return { files, diagnostics: ds };
  },
};

type Builtin = 'INPUT' | 'FORWARD' | 'OUTPUT';
const BUILTINS: readonly Builtin[] = ['INPUT', 'FORWARD', 'OUTPUT'];

/** One enforcement point as a user chain, and where it is jumped from. */
interface Point {
  readonly chain: Chain;
  readonly name: string;
  /** Chain that logs (rate-limited) and drops; jumped by logged drops and a drop default. */
  readonly logDrop: string | undefined;
  /** True for the host's own points: they decide, so accept is ACCEPT; guest points RETURN. */
  readonly final: boolean;
  /** Built-in chain → one jump per selector (argument list). */
  readonly jumps: ReadonlyMap<Builtin, readonly string[][]>;
}

interface HostPlan {
  readonly host: string;
  readonly points: readonly Point[];
  /** Bridge ports on bridges this host owns. */
  readonly ports: ReadonlySet<string>;
  readonly policy: ReadonlyMap<Builtin, 'ACCEPT' | 'DROP'>;
  readonly inGuest: boolean;
}

function enforcingHosts(ir: Ir): string[] {
  return [...new Set([...ir.chains.values()].map((c) => c.enforcedOn))].sort();
}

function ownedPorts(model: Model, host: string): Set<string> {
  const ports = new Set<string>();
  for (const h of model.hosts.values()) {
    for (const n of h.nics) {
      if (n.port && model.networks.get(n.segment)?.owner === host) ports.add(n.port);
    }
  }
  // Its bridges' physical ports too (networks.ports): a rule may be bound to one (a tunnel
  // endpoint the LAN's router forwards in), matched with physdev like a guest's port.
  for (const n of model.networks.values()) if (n.owner === host) for (const p of n.ports) ports.add(p);
  return ports;
}

function ownBuiltin(hook: Hook): Builtin | undefined {
  switch (hook) {
    case 'input':
      return 'INPUT';
    case 'output':
      return 'OUTPUT';
    case 'forward':
      return 'FORWARD';
    case 'guest-in':
    case 'guest-out':
      return undefined;
    default:
      return assertNever(hook, 'hook');
  }
}

function planHost(ir: Ir, host: string, ds: Diagnostic[]): HostPlan {
  const model = ir.model;
  const chains = [...ir.chains.values()].filter((c) => c.enforcedOn === host).sort((a, b) => a.point.localeCompare(b.point));
  const ports = ownedPorts(model, host);
  const points: Point[] = [];
  const names = new Map<string, string>();
  for (const c of chains) {
    const name = chainName(c.host, c.hook);
    const clash = names.get(name);
    if (clash !== undefined || name.length > MAX_CHAIN_NAME) {
      ds.push(
        diag(
          Code.KERNEL_NAME,
          'error',
          `iptables chain name '${name}' for ${c.point} ${clash ? `clashes with the one for ${clash}` : 'is too long'}`,
          { file: model.file, line: c.policyOrigin.line, col: c.policyOrigin.col, path: c.policyOrigin.path },
          'rename one of the hosts',
        ),
      );
      continue;
    }
    names.set(name, c.point);
    const jumps = new Map<Builtin, string[][]>();
    const own = ownBuiltin(c.hook);
    if (own) {
      jumps.set(own, [[]]);
    } else {
      const guest = model.hosts.get(c.host)!;
      if (c.hook === 'guest-out') {
        const sel = guest.nics.filter((n) => n.port && ports.has(n.port)).map((n) => ['-m', 'physdev', '--physdev-in', ifname(n.port!)]);
        if (sel.length === 0) {
          ds.push(
            diag(Code.ROUTING, 'error', `${c.point}: ${c.host} has no port on a bridge of ${host}, so its outgoing packets cannot be told apart`, {
              file: model.file,
              line: guest.origin.line,
              col: guest.origin.col,
              path: guest.origin.path,
            }),
          );
          continue;
        }
        jumps.set('FORWARD', sel);
        jumps.set('INPUT', sel);
      } else {
        // Packets into the guest through its bridge ports: to the addresses of its nics on this
        // host's bridges. Not its tunnel address: that traffic reaches the guest inside the
        // tunnel's transport, past the port, and the verifier (src/ir/paths.ts) lets it skip
        // guest-in, as a Proxmox or nwfilter per-guest firewall does.
        const sel = [...new Set(guest.nics.filter((n) => n.port && ports.has(n.port)).map((n) => n.address))]
          .sort((a, b) => a - b)
          .map((a) => ['-d', `${formatIPv4(a)}/32`]);
        jumps.set('FORWARD', sel);
        jumps.set('OUTPUT', sel);
      }
    }
    const logDrop = c.policy === 'drop' || c.rules.some((r) => r.log && r.action === 'drop') ? logDropChainName(name) : undefined;
    points.push({ chain: c, name, logDrop, final: own !== undefined, jumps });
  }
  const policy = new Map<Builtin, 'ACCEPT' | 'DROP'>();
  for (const b of BUILTINS) {
    const own = points.find((p) => p.final && p.jumps.has(b));
    // No point of the host's own on this hook: cordon says nothing there, the Linux default holds.
    policy.set(b, own ? (own.chain.policy === 'drop' ? 'DROP' : 'ACCEPT') : 'ACCEPT');
  }
  return { host, points, ports, policy, inGuest: chains.some((c) => c.inGuest) };
}

function header(ir: Ir, plan: HostPlan, family: 'IPv4' | 'IPv6'): string[] {
  const cmd = family === 'IPv4' ? 'iptables-restore' : 'ip6tables-restore';
  const lines = [
    ...headerLines(
      ir.model,
      `iptables rule set for ${plan.host} (${family}): load with ${cmd} (atomic; replaces the whole filter table${
        family === 'IPv4' && hasNat(ir.model, plan.host)
          ? ` and, as this host ${forwardRules(ir.model, plan.host).length > 0 ? 'forwards ports' : 'masquerades'}, the whole nat table; mangle is left as it is`
          : ', nat and mangle are left as they are'
      }).`,
    ),
  ];
  if (plan.inGuest)
    lines.push(
      `These chains run inside ${plan.host}, an untrusted host: defence in depth only, the verifier does not count them when the guest is assumed compromised.`,
    );
  return lines;
}

function renderV4(ir: Ir, plan: HostPlan, ds: Diagnostic[]): string {
  const bodies = plan.points.map((p) => renderPoint(ir, plan, p, ds));
  const e = new Emitter('');
  e.lines_(commented(header(ir, plan, 'IPv4'), '# '));
  e.line("# Restoring replaces the whole filter table: chains other tools keep there (Docker's DOCKER-*,");
  e.line("# libvirt's LIBVIRT_*, fail2ban's f2b-*) are gone until those tools add them again.");
  e.line('# One user chain per enforcement point. A packet must pass every point on its hook: guest');
  e.line("# chains are jumped first and RETURN what they accept, the host's own chain decides last.");
  e.line('# A rule whose addresses are "a prefix except a few" (the internet, a subnet but the host) gets');
  e.line('# its own chain -R<n>: jumped on the prefix, it RETURNs the exceptions and decides on the rest.');
  if (plan.ports.size > 0) {
    e.line('# Bridged guest traffic reaches FORWARD only with br_netfilter and');
    e.line('# net.bridge.bridge-nf-call-iptables=1 on this host (cordon apply sets it). Bridge ports are');
    e.line("# matched with -m physdev --physdev-in, without --physdev-is-bridged, so that a guest's routed");
    e.line('# packets (which enter through the same port) are bound to it as well.');
  }
  e.gap();
  e.line('*filter');
  for (const b of BUILTINS) e.line(`:${b} ${plan.policy.get(b)} [0:0]`);
  plan.points.forEach((p, i) => {
    e.line(`:${p.name} - [0:0]`);
    for (const sub of bodies[i]!.subs) e.line(`:${sub.name} - [0:0]`);
    if (p.logDrop) e.line(`:${p.logDrop} - [0:0]`);
  });
  const marks = natMarkLines(ir.model, plan.host);
  if (marks.length) {
    e.gap();
    e.line('# NAT networks: mark new connections by where they entered (the *nat table below reads it)');
    e.lines_(marks);
  }
  for (const b of BUILTINS) {
    const jumping = plan.points.filter((p) => p.jumps.has(b)).sort((x, y) => Number(x.final) - Number(y.final) || x.name.localeCompare(y.name));
    if (jumping.length === 0) continue;
    e.gap();
    e.line(`# ${b}: ${jumping.map((p) => p.chain.point).join(', then ')}`);
    for (const p of jumping) {
      for (const sel of p.jumps.get(b)!) e.line(['-A', b, ...sel, '-j', p.name].join(' '));
    }
  }
  plan.points.forEach((p, i) => {
    const body = bodies[i]!;
    e.gap();
    e.lines_(body.main);
    for (const sub of body.subs) {
      e.gap();
      e.lines_(sub.lines);
    }
    if (p.logDrop) {
      e.gap();
      e.line(`# ${p.logDrop}: log (at most 5 a second) and drop, for ${p.chain.point}`);
      e.line(`-A ${p.logDrop} -m limit --limit 5/sec --limit-burst 10 -j LOG --log-prefix "${quotedText(logPrefix(p.chain.point, 'drop'))}" --log-level 6`);
      e.line(`-A ${p.logDrop} -j DROP`);
    }
  });
  e.gap();
  e.line('COMMIT');
  const nat = natSection(ir.model, plan.host);
  if (nat.length) {
    e.gap();
    e.lines_(nat);
  }
  return e.toString();
}

interface SubChain {
  readonly name: string;
  readonly lines: readonly string[];
}

function renderPoint(ir: Ir, plan: HostPlan, p: Point, ds: Diagnostic[]): { main: string[]; subs: SubChain[] } {
  const c = p.chain;
  const main: string[] = [
    `# ${inert(`${p.name}: enforcement point ${c.point}${c.handwritten ? ' (hand-written in the spec)' : ''}; default ${c.policy} — ${c.policyOrigin.text}`)}`,
  ];
  const subs: SubChain[] = [];
  // The chain rules are appended to: the point's own, or after a goto its continuation chain.
  let cur = p.name;
  let lines = main;
  for (const r of c.rules) {
    lines.push(`# ${inert(`${r.id} ${r.origin.path ? `${r.origin.path}: ` : ''}${r.origin.text} (${r.origin.file.split('/').pop()}:${r.origin.line})`)}`);
    const out = renderRule(ir, plan, p, r, ds, cur);
    if (out.lines.length === 0) lines.push('# (matches no packet: nothing to render)');
    lines.push(...out.lines);
    if (out.sub) subs.push(out.sub);
    if (out.cont) {
      cur = out.cont;
      lines = [`# ${cur}: ${c.point} after ${r.id}, reached by goto (so a RETURN here leaves the point)`];
      subs.push({ name: cur, lines });
    }
  }
  const verdict = c.policy === 'drop' ? p.logDrop! : p.final ? 'ACCEPT' : 'RETURN';
  lines.push(`-A ${cur} -m comment --comment "${quotedText(`cordon ${c.point} default`)}" -j ${verdict}`);
  return { main, subs };
}

/** Protocol part of a rule: `-p …` goes with the addresses, `-m …` after them. */
interface ProtoPart {
  readonly p: readonly string[];
  readonly m: readonly string[];
}

/** Every IP protocol except tcp (6), udp (17) and icmp (1), as iptables-save prints it. */
const U32_OTHER = ['-m', 'u32', '--u32', '"0x6&0xff=0x0,0x2:0x5,0x7:0x10,0x12:0xff"'];

export function protoParts(f: FlowSet): ProtoPart[] {
  if (flowEqual(f, ALL_FLOWS)) return [{ p: [], m: [] }];
  const out: ProtoPart[] = [];
  for (const proto of ['tcp', 'udp'] as const) {
    const ports = f[proto];
    if (ports.length === 0) continue;
    if (R.equal(ports, ALL_PORTS)) out.push({ p: ['-p', proto], m: [] });
    else for (const m of portMatches(proto, ports)) out.push({ p: ['-p', proto], m });
  }
  if (f.icmp) out.push({ p: ['-p', 'icmp'], m: [] });
  if (f.other) out.push({ p: [], m: U32_OTHER });
  return out;
}

/** Destination-port matches: one port or range plainly, more packed 15 slots at a time. */
export function portMatches(proto: 'tcp' | 'udp', ports: RangeSet): string[][] {
  const fmt = ([lo, hi]: readonly [number, number]): string => (lo === hi ? String(lo) : `${lo}:${hi}`);
  const chunks: (readonly [number, number])[][] = [];
  let cur: (readonly [number, number])[] = [];
  let slots = 0;
  for (const s of ports) {
    const n = s[0] === s[1] ? 1 : 2;
    if (slots + n > 15) {
      chunks.push(cur);
      cur = [];
      slots = 0;
    }
    cur.push(s);
    slots += n;
  }
  if (cur.length) chunks.push(cur);
  return chunks.map((ch) => (ch.length === 1 ? ['-m', proto, '--dport', fmt(ch[0]!)] : ['-m', 'multiport', '--dports', ch.map(fmt).join(',')]));
}

function cidrsOf(set: RangeSet): Cidr[] {
  return set.flatMap(([lo, hi]) => rangeToCidrs({ lo, hi }));
}

/**
 * `-s`/`-d` alternatives for an address set: one per CIDR, or a single negated prefix when the
 * set is everything but one prefix (anti-spoofing: `! -s 192.168.101.10/32`). Empty = no packet.
 */
export function addrArgs(flag: '-s' | '-d', set: RangeSet | undefined): string[][] {
  if (set === undefined || isAnyAddress(set)) return [[]];
  if (set.length === 0) return [];
  const cidrs = cidrsOf(set);
  if (cidrs.length > 1) {
    const comp = cidrsOf(R.complement(set, ANY_ADDRESS[0]!));
    if (comp.length === 1) return [['!', flag, formatCidr(comp[0]!)]];
  }
  return cidrs.map((c) => [flag, formatCidr(c)]);
}

/**
 * A set as "this prefix, except these": the smallest prefix holding the whole set, and the
 * prefixes inside it that are not in the set. Worth it when the exceptions are fewer than the
 * set's own prefixes (the internet: everything except the private and reserved space).
 */
export interface Hull {
  readonly hull: Cidr;
  readonly except: readonly Cidr[];
}

export function hullOf(set: RangeSet | undefined): Hull | undefined {
  if (set === undefined || isAnyAddress(set) || set.length === 0) return undefined;
  const lo = set[0]![0];
  const hi = set[set.length - 1]![1];
  let len = 0;
  while (len < 32 && networkOf(lo, len + 1) === networkOf(hi, len + 1)) len++;
  const hull: Cidr = { addr: networkOf(lo, len), len };
  const range = cidrRange(hull);
  const except = cidrsOf(R.subtract([[range.lo, range.hi]], set));
  return except.length >= 1 && except.length + 1 < cidrsOf(set).length ? { hull, except } : undefined;
}

/**
 * A spec rate (`600/minute`) as iptables itself prints it back (`10/sec`): the limit match keeps
 * a period in 1/10000 s and iptables-save picks the unit from that, so writing the same form
 * keeps the rendered file and the kernel's listing identical.
 */
export function limitRate(rate: string): string {
  const [n, unit] = rate.split('/');
  const seconds = unit === 'second' ? 1 : unit === 'minute' ? 60 : unit === 'hour' ? 3600 : 86400;
  const SCALE = 10000;
  const period = Math.floor((SCALE * seconds) / Number(n));
  const rates: [string, number][] = [
    ['day', SCALE * 86400],
    ['hour', SCALE * 3600],
    ['min', SCALE * 60],
    ['sec', SCALE],
  ];
  let i = 1;
  for (; i < rates.length; i++) {
    const mult = rates[i]![1];
    if (period > mult || Math.floor(mult / period) < mult % period) break;
  }
  const [name, mult] = rates[i - 1]!;
  return `${Math.floor(mult / period)}/${name}`;
}

/**
 * One IR rule as lines of `cur`. A rule whose addresses are a prefix with a few exceptions gets a
 * chain of its own (`-R<n>`). Where the verdict ends the whole hook (ACCEPT, DROP, REJECT) it is
 * jumped to and RETURNs the exceptions. A guest point's accept must leave the point but not the
 * hook, which a RETURN two chains deep cannot do: there the rule's chain is entered by goto, so
 * its RETURN leaves the point, and the exceptions (and everything that is not the rule's) go on by
 * goto to a continuation chain `-K<n>` holding the point's remaining rules.
 */
function renderRule(
  ir: Ir,
  plan: HostPlan,
  p: Point,
  r: IrRule,
  ds: Diagnostic[],
  cur: string,
): { lines: string[]; sub: SubChain | undefined; cont: string | undefined } {
  const m = r.match;
  for (const port of m.inPort ?? []) {
    if (!plan.ports.has(port)) {
      ds.push(
        diag(
          Code.PORT_NOT_ON_HOST,
          'error',
          `${p.chain.point}: rule from "${r.origin.text}" matches bridge port ${port}, which is not on a bridge of ${plan.host}`,
          {
            file: ir.model.file,
            line: r.origin.line,
            col: r.origin.col,
            path: r.origin.path,
          },
        ),
      );
      return { lines: [], sub: undefined, cont: undefined };
    }
  }
  const comment = ['-m', 'comment', '--comment', `"${quotedText(`cordon ${r.id}`)}"`];
  const state =
    m.state === 'established' ? ['-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED'] : m.state === 'new' ? ['-m', 'conntrack', '--ctstate', 'NEW'] : [];
  // Interface and bridge-port alternatives: `-i/-o` go with the addresses, physdev after them.
  const binds: { ifs: string[]; phys: string[] }[] = [];
  for (const iif of m.iif ?? [undefined]) {
    for (const oif of m.oif ?? [undefined]) {
      for (const port of m.inPort ?? [undefined]) {
        binds.push({
          ifs: [...(iif ? ['-i', ifname(iif)] : []), ...(oif ? ['-o', ifname(oif)] : [])],
          phys: port ? ['-m', 'physdev', '--physdev-in', ifname(port)] : [],
        });
      }
    }
  }
  const parts = protoParts(m.flows);
  const terminal = r.action !== 'accept' || p.final;
  const contName = terminal ? undefined : continuationChainName(p.name, r.index);
  /** The lines that decide, given the head (chain, addresses, interfaces) and the match tail. */
  const verdictLines = (head: readonly string[], part: ProtoPart, tail: readonly string[]): string[] => {
    const line = (pp: readonly string[], ...target: string[]): string => [...head, ...pp, ...part.m, ...tail, ...target].join(' ');
    const out: string[] = [];
    if (r.log && r.action !== 'drop')
      out.push(
        line(
          part.p,
          '-m',
          'limit',
          '--limit',
          '5/sec',
          '--limit-burst',
          '10',
          '-j',
          'LOG',
          '--log-prefix',
          `"${quotedText(logPrefix(p.chain.point, r.action))}"`,
          '--log-level',
          '6',
        ),
      );
    switch (r.action) {
      case 'accept':
        out.push(line(part.p, ...(r.rate ? ['-m', 'limit', '--limit', limitRate(r.rate)] : []), ...comment, '-j', p.final ? 'ACCEPT' : 'RETURN'));
        break;
      case 'drop':
        out.push(line(part.p, ...comment, '-j', r.log ? p.logDrop! : 'DROP'));
        break;
      case 'reject':
        if (part.p.length === 0 && part.m.length === 0) {
          out.push(line(['-p', 'tcp'], ...comment, '-j', 'REJECT', '--reject-with', 'tcp-reset'));
          out.push(line(part.p, ...comment, '-j', 'REJECT', '--reject-with', 'icmp-port-unreachable'));
        } else {
          out.push(line(part.p, ...comment, '-j', 'REJECT', '--reject-with', part.p[1] === 'tcp' ? 'tcp-reset' : 'icmp-port-unreachable'));
        }
        break;
      default:
        assertNever(r.action, 'action');
    }
    return out;
  };

  const srcs = addrArgs('-s', m.src);
  const dsts = addrArgs('-d', m.dst);
  const plainCount = binds.length * srcs.length * dsts.length * parts.length;
  const hSrc = hullOf(m.src);
  const hDst = hullOf(m.dst);
  const subName = ruleChainName(p.name, r.index);
  if (subName && (terminal || contName) && (hSrc || hDst)) {
    const hullArgs = (flag: string, h: Hull): string[][] => [h.hull.len === 0 ? [] : [flag, formatCidr(h.hull)]];
    const jSrcs = hSrc ? hullArgs('-s', hSrc) : srcs;
    const jDsts = hDst ? hullArgs('-d', hDst) : dsts;
    const subCount = binds.length * jSrcs.length * jDsts.length + (hSrc?.except.length ?? 0) + (hDst?.except.length ?? 0) + parts.length + (contName ? 2 : 0);
    if (subCount < plainCount) {
      const enter = contName ? '-g' : '-j';
      const skip = contName ? ['-g', contName] : ['-j', 'RETURN'];
      const lines: string[] = [];
      for (const b of binds)
        for (const s of jSrcs) for (const d of jDsts) lines.push(['-A', cur, ...s, ...d, ...b.ifs, ...b.phys, ...state, ...comment, enter, subName].join(' '));
      if (contName) lines.push(`-A ${cur} -g ${contName}`);
      const what = [hSrc ? 'sources' : '', hDst ? 'destinations' : ''].filter(Boolean).join(' and ');
      const sub: string[] = [
        contName
          ? `# ${subName}: ${r.id}, entered by goto; the ${what} outside the rule go on to ${contName}, the rest is decided`
          : `# ${subName}: ${r.id}; RETURNs the ${what} outside the rule, then decides`,
      ];
      for (const c of hSrc?.except ?? []) sub.push([`-A ${subName} -s ${formatCidr(c)}`, ...skip].join(' '));
      for (const c of hDst?.except ?? []) sub.push([`-A ${subName} -d ${formatCidr(c)}`, ...skip].join(' '));
      for (const part of parts) sub.push(...verdictLines(['-A', subName], part, []));
      if (contName) sub.push(`-A ${subName} -g ${contName}`);
      return { lines, sub: { name: subName, lines: sub }, cont: contName };
    }
  }
  const lines: string[] = [];
  for (const b of binds) {
    for (const s of srcs) {
      for (const d of dsts) {
        for (const part of parts) lines.push(...verdictLines(['-A', cur, ...s, ...d, ...b.ifs], part, [...b.phys, ...state]));
      }
    }
  }
  if (r.role === 'stateful') lines.push(`-A ${cur} -m conntrack --ctstate INVALID -m comment --comment "cordon ${r.id}" -j DROP`);
  return { lines, sub: undefined, cont: undefined };
}

function renderV6(ir: Ir, plan: HostPlan): string {
  const e = new Emitter('');
  e.lines_(commented(header(ir, plan, 'IPv6'), '# '));
  e.line('# cordon does not model IPv6: all of it is dropped except on loopback, neighbour discovery and');
  e.line('# router advertisements included (an accepted RA would give the host addresses and routes).');
  if (plan.ports.size > 0) {
    e.line('# IPv6 bridged between two guest ports reaches FORWARD only with br_netfilter and');
    e.line('# net.bridge.bridge-nf-call-ip6tables=1; iptables cannot filter at layer 2 (the nftables');
    e.line("# target's l2 table does, whatever the sysctl says).");
  }
  e.gap();
  e.line('*filter');
  for (const b of BUILTINS) e.line(`:${b} DROP [0:0]`);
  for (const b of BUILTINS) {
    e.gap();
    if (b !== 'FORWARD') e.line(`-A ${b} ${b === 'INPUT' ? '-i' : '-o'} lo -j ACCEPT`);
    e.line(`-A ${b} -m limit --limit 5/sec --limit-burst 10 -j LOG --log-prefix "${quotedText(logPrefix(`ipv6 ${b.toLowerCase()}`, 'drop'))}" --log-level 6`);
  }
  e.gap();
  e.line('COMMIT');
  return e.toString();
}
