/**
 * `nft -j list ruleset` → IR chains: the inverse of the nftables target, for cordon's own tables.
 *
 * Each inet table `cordon_<point>` becomes the IR chain of that enforcement point: its base
 * chain(s) are walked in order, `jump`s are inlined, set lookups (concatenated intervals over
 * `ip saddr . ip daddr . meta l4proto . th dport`, or plain address sets) become rules over
 * address ranges and flows, `meta mark` becomes the bridge port that the bridge table
 * `cordon_<host>_ports` marks, and a trailing unconditional verdict becomes the chain's default.
 * The result has the same point ids as the IR compiled from the spec, so an `Ir` can be rebuilt
 * with these chains (`withImportedChains`) and verified like the original: that is the
 * round-trip check "the rule set the kernel holds means what the spec says".
 *
 * Nothing is dropped silently. Expressions that cannot match an IPv4 packet (IPv6 neighbour
 * discovery, `meta nfproto != ipv4`) are understood and left out, because cordon models IPv4
 * only; `ct state invalid` and other non-new states become state `established`, which the
 * verifier (it asks about new connections) never matches. Everything else cordon cannot express
 * (ICMP types, source ports, NAT, a partial set of "other" protocols, conditional `return`…) is
 * a CORDON041 (not importable) diagnostic naming the expression, and so is any table that is not cordon's.
 * cordon's NAT table `ip cordon_<host>_nat` is checked and left out: it only masquerades and forwards ports, which the
 * verifier derives from the spec (`readNat` reports anything in it that would filter or redirect);
 * so are its IPv6 and layer-2 tables, which cannot match IPv4 (`readNonIpv4` checks that they cannot).
 */
import { diag, type Diagnostic, type Severity } from '../../diag/diagnostic.js';
import { Code } from '../../diag/codes.js';
import type { Action, Chain, Ir, IrMatch, IrRule, RuleRole } from '../../ir/types.js';
import { pointId } from '../../ir/types.js';
import { HOOKS, type Hook, type Model, type Origin } from '../../model/types.js';
import { assertNever } from '../../util/assert.js';
import { portsTableName, tableName, TABLE_PREFIX } from '../../model/names.js';
import { ALL_PORTS, flowIsEmpty, flowUnion, type FlowSet } from '../../util/flows.js';
import * as R from '../../util/rangeset.js';
import type { RangeSet } from '../../util/rangeset.js';
import { ipv6TableName, l2TableName } from '../../render/nftables/ipv6.js';
import { natTableName } from '../../render/nftables/nat.js';
import { parseRuleset, tableKey, type NftChain, type NftRule, type NftRuleset, type NftSet } from './ruleset.js';
import { concatParts, describeValue, members, parseAddr, parseIfname, parseMark, parsePort, parseProto, type Iv, type Parsed } from './values.js';
import { ANY_ADDRESS, formatIPv4, isAnyAddress } from '../../util/ip.js';

export { parseRuleset } from './ruleset.js';
export type { NftRuleset } from './ruleset.js';

export interface ImportOptions {
  /** The spec's model: names the enforcement points and the bridge ports. */
  readonly model: Model;
  /** The host whose kernel the rule set was read from; it enforces every imported chain. */
  readonly host: string;
  /** Where the JSON came from, for origins and diagnostics; default `nft:<host>`. */
  readonly file?: string;
}

export interface ImportResult {
  /** One chain per cordon table found, sorted by point. */
  readonly chains: readonly Chain[];
  /** Bridge ports by mark, from cordon's bridge table (empty when there is none). */
  readonly marks: ReadonlyMap<number, readonly string[]>;
  readonly diagnostics: readonly Diagnostic[];
}

/** The base chains the nftables target gives each kind of enforcement point. */
export const BASE_HOOKS: Readonly<Record<Hook, readonly string[]>> = {
  input: ['input'],
  output: ['output'],
  forward: ['forward'],
  'guest-out': ['forward', 'input'],
  'guest-in': ['forward', 'output'],
};

/**
 * A copy of `ir` whose chains enforced on `host` are the imported ones. A point the kernel
 * has no table for is absent from the result: nothing enforces it there.
 */
export function withImportedChains(ir: Ir, host: string, chains: readonly Chain[], diagnostics: readonly Diagnostic[] = []): Ir {
  const out = new Map<string, Chain>();
  for (const [id, c] of ir.chains) if (c.enforcedOn !== host) out.set(id, c);
  for (const c of chains) out.set(c.point, c);
  return { model: ir.model, chains: out, diagnostics: [...ir.diagnostics, ...diagnostics] };
}

type Opt = RangeSet | undefined;

/** A conjunction over the address/protocol/port dimensions; undefined = any. */
interface Box {
  readonly src: Opt;
  readonly dst: Opt;
  readonly proto: Opt;
  readonly port: Opt;
}

const ANY_BOX: Box = { src: undefined, dst: undefined, proto: undefined, port: undefined };

/** What one rule matches: a box, optionally or-ed with set elements, plus the bindings. */
interface Cond {
  readonly box: Box;
  /** Set lookups: the packet matches one of these (each also within `box`); undefined = no lookup. */
  readonly alts: readonly Box[] | undefined;
  readonly iif: readonly string[] | undefined;
  readonly oif: readonly string[] | undefined;
  readonly inPort: readonly string[] | undefined;
  readonly state: 'new' | 'established' | undefined;
  /** Why the rule cannot match an IPv4 packet; undefined = it can. */
  readonly never: string | undefined;
}

const ANY_COND: Cond = { box: ANY_BOX, alts: undefined, iif: undefined, oif: undefined, inPort: undefined, state: undefined, never: undefined };

const ALL_PROTOS: RangeSet = [[0, 255]];
const PROTO_TCP = 6;
const PROTO_UDP = 17;
const PROTO_ICMP = 1;
const OTHER_PROTOS: RangeSet = R.subtract(ALL_PROTOS, [
  [PROTO_ICMP, PROTO_ICMP],
  [PROTO_TCP, PROTO_TCP],
  [PROTO_UDP, PROTO_UDP],
]);

function meet(a: Opt, b: Opt): Opt {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return R.intersect(a, b);
}

function meetBox(a: Box, b: Box): Box {
  return { src: meet(a.src, b.src), dst: meet(a.dst, b.dst), proto: meet(a.proto, b.proto), port: meet(a.port, b.port) };
}

function boxEmpty(b: Box): boolean {
  return [b.src, b.dst, b.proto, b.port].some((x) => x !== undefined && x.length === 0);
}

function meetList(a: readonly string[] | undefined, b: readonly string[] | undefined): readonly string[] | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a.filter((x) => b.includes(x));
}

const MAX_ALTS = 1_000_000;

function conjoin(a: Cond, b: Cond): Cond {
  let alts: readonly Box[] | undefined;
  if (a.alts && b.alts) {
    if (a.alts.length * b.alts.length > MAX_ALTS) throw new Error(`two set lookups in one rule would need ${a.alts.length * b.alts.length} combinations`);
    const out: Box[] = [];
    for (const x of a.alts)
      for (const y of b.alts) {
        const m = meetBox(x, y);
        if (!boxEmpty(m)) out.push(m);
      }
    alts = out;
  } else alts = a.alts ?? b.alts;
  let state = a.state ?? b.state;
  let never = a.never ?? b.never;
  if (a.state && b.state && a.state !== b.state) {
    state = a.state;
    never ??= 'contradictory ct state matches';
  }
  return { box: meetBox(a.box, b.box), alts, iif: meetList(a.iif, b.iif), oif: meetList(a.oif, b.oif), inPort: meetList(a.inPort, b.inPort), state, never };
}

function isAny(c: Cond): boolean {
  return (
    c.box.src === undefined &&
    c.box.dst === undefined &&
    c.box.proto === undefined &&
    c.box.port === undefined &&
    c.alts === undefined &&
    c.iif === undefined &&
    c.oif === undefined &&
    c.inPort === undefined &&
    c.state === undefined &&
    c.never === undefined
  );
}

/** The fields cordon can reason about, as they appear on the left of a match. */
type Field =
  | { readonly kind: 'src' | 'dst' | 'proto' }
  | { readonly kind: 'port'; readonly proto: number | undefined }
  | { readonly kind: 'iif' | 'oif' | 'mark' | 'nfproto' | 'ethertype' | 'ctstate' }
  | { readonly kind: 'ipv6'; readonly what: string };

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fieldOf(left: unknown): Parsed<Field> {
  if (isObj(left) && isObj(left.meta)) {
    switch (left.meta.key) {
      case 'iifname':
      case 'iif':
        return { ok: true, value: { kind: 'iif' } };
      case 'oifname':
      case 'oif':
        return { ok: true, value: { kind: 'oif' } };
      case 'mark':
        return { ok: true, value: { kind: 'mark' } };
      case 'l4proto':
        return { ok: true, value: { kind: 'proto' } };
      case 'nfproto':
        return { ok: true, value: { kind: 'nfproto' } };
      case 'protocol':
        return { ok: true, value: { kind: 'ethertype' } };
    }
    return { ok: false, error: `meta ${String(left.meta.key)}` };
  }
  if (isObj(left) && isObj(left.payload)) {
    const p = left.payload.protocol;
    const f = left.payload.field;
    if (p === 'ip' && f === 'saddr') return { ok: true, value: { kind: 'src' } };
    if (p === 'ip' && f === 'daddr') return { ok: true, value: { kind: 'dst' } };
    if (p === 'ip' && f === 'protocol') return { ok: true, value: { kind: 'proto' } };
    if ((p === 'th' || p === 'tcp' || p === 'udp') && f === 'dport')
      return { ok: true, value: { kind: 'port', proto: p === 'tcp' ? PROTO_TCP : p === 'udp' ? PROTO_UDP : undefined } };
    if (p === 'ip6' || p === 'icmpv6') return { ok: true, value: { kind: 'ipv6', what: `${String(p)} ${String(f)}` } };
    return { ok: false, error: `${String(p)} ${String(f)}` };
  }
  if (isObj(left) && isObj(left.ct)) {
    if (left.ct.key === 'state') return { ok: true, value: { kind: 'ctstate' } };
    return { ok: false, error: `ct ${String(left.ct.key)}` };
  }
  return { ok: false, error: describeValue(left) };
}

function fieldName(f: Field): string {
  switch (f.kind) {
    case 'src':
      return 'ip saddr';
    case 'dst':
      return 'ip daddr';
    case 'proto':
      return 'meta l4proto';
    case 'port':
      return f.proto === PROTO_TCP ? 'tcp dport' : f.proto === PROTO_UDP ? 'udp dport' : 'th dport';
    case 'iif':
      return 'iifname';
    case 'oif':
      return 'oifname';
    case 'mark':
      return 'meta mark';
    case 'nfproto':
      return 'meta nfproto';
    case 'ethertype':
      return 'meta protocol';
    case 'ctstate':
      return 'ct state';
    case 'ipv6':
      return f.what;
    default:
      return assertNever(f, 'field');
  }
}

/** Context shared by one import: the rule set, the model's names, and where to put diagnostics. */
class Importer {
  readonly ds: Diagnostic[] = [];
  readonly marks = new Map<number, string[]>();
  private readonly sets = new Map<string, NftSet>();
  private readonly chainsByTable = new Map<string, NftChain[]>();
  private readonly rulesByChain = new Map<string, NftRule[]>();
  private readonly universe: readonly string[];
  private readonly allPorts: readonly string[];
  readonly file: string;

  constructor(
    readonly rs: NftRuleset,
    readonly opts: ImportOptions,
  ) {
    this.file = opts.file ?? `nft:${opts.host}`;
    for (const s of rs.sets) this.sets.set(`${tableKey(s.family, s.table)} ${s.name}`, s);
    for (const c of rs.chains) {
      const k = tableKey(c.family, c.table);
      this.chainsByTable.set(k, [...(this.chainsByTable.get(k) ?? []), c]);
    }
    for (const r of rs.rules) {
      const k = `${tableKey(r.family, r.table)} ${r.chain}`;
      const list = this.rulesByChain.get(k);
      if (list) list.push(r);
      else this.rulesByChain.set(k, [r]);
    }
    const m = opts.model;
    const h = m.hosts.get(opts.host);
    const names = new Set<string>(['lo']);
    if (h) {
      for (const n of h.nics) names.add(n.ifname);
      if (h.uplink) names.add(h.uplink);
      if (h.defaultRoute.kind === 'uplink') names.add(h.defaultRoute.ifname);
    }
    for (const t of m.tunnels.values()) if (t.server === opts.host || h?.nics.some((n) => n.segment === t.name)) names.add(t.ifname);
    for (const n of m.networks.values()) if (n.owner === opts.host) names.add(n.bridge);
    this.universe = [...names].sort();
    const ports = new Set<string>();
    for (const g of m.hosts.values()) for (const n of g.nics) if (n.port && m.networks.get(n.segment)?.owner === opts.host) ports.add(n.port);
    this.allPorts = [...ports].sort();
  }

  report(severity: Severity, message: string, path: string, hint?: string): void {
    this.ds.push(diag(Code.NOT_IMPORTABLE, severity, message, { file: this.file, path }, hint));
  }

  chainsOf(family: string, table: string): NftChain[] {
    return this.chainsByTable.get(tableKey(family, table)) ?? [];
  }

  rulesOf(family: string, table: string, chain: string): NftRule[] {
    return this.rulesByChain.get(`${tableKey(family, table)} ${chain}`) ?? [];
  }

  setOf(family: string, table: string, name: string): NftSet | undefined {
    return this.sets.get(`${tableKey(family, table)} ${name}`);
  }

  /**
   * Checks cordon's NAT table (src/render/nftables/nat.ts) and imports nothing from it: NAT does not
   * filter, and the verifier already masquerades where the model says (src/ir/paths.ts). What would
   * make it filter or redirect (a drop policy, a verdict other than accept, a DNAT to an address the
   * spec forwards nothing to, a packet mark the filter chains read) is reported, because the matrix
   * would not show it.
   */
  readNat(family: string, table: string, dnatTo: ReadonlySet<string>): void {
    const where = `${family} ${table}`;
    const SILENT = new Set(['match', 'counter', 'masquerade', 'snat', 'accept', 'log', 'limit']);
    for (const c of this.chainsOf(family, table)) {
      const at = `${where} chain ${c.name}`;
      if (c.policy === 'drop') this.report('error', `${at}: policy drop in cordon's NAT table filters packets the verifier does not see dropped`, at);
      for (const r of this.rulesOf(family, table, c.name)) {
        const rat = `${at} handle ${r.handle ?? '?'}`;
        for (const x of r.expr) {
          const key = isObj(x) ? Object.keys(x)[0] : undefined;
          if (key !== undefined && SILENT.has(key)) continue;
          if (key === 'mangle' && isObj(x) && isObj(x.mangle) && isObj(x.mangle.key) && isObj(x.mangle.key.ct)) continue;
          // A DNAT to a guest the spec forwards to: the verifier takes port forwards from the model, as it does masquerading.
          if (key === 'dnat' && isObj(x) && isObj(x.dnat) && typeof x.dnat.addr === 'string' && dnatTo.has(x.dnat.addr)) continue;
          this.report(
            'error',
            `${rat}: ${key === undefined ? describeValue(x) : `'${key}'`} in cordon's NAT table is not masquerading; the verifier does not see it`,
            rat,
            'NAT in cordon comes from egress: nat; write any other rule in the spec',
          );
        }
      }
    }
  }

  /**
   * Checks cordon's IPv6 and layer-2 tables (src/render/nftables/ipv6.ts) and imports nothing from
   * them: each rule that drops, jumps or changes a packet must be unable to match an IPv4 packet (an
   * ip6 table, `meta nfproto ipv6`, or a frame whose ether type is not ip), and each chain must
   * accept by default, so the IPv4 verdicts are all in
   * the point tables. Anything else is reported: the matrix would not show it.
   */
  readNonIpv4(family: string, table: string): void {
    const where = `${family} ${table}`;
    const notIpv4 = (x: unknown): boolean => {
      if (!isObj(x) || !isObj(x.match)) return false;
      const { op, left, right } = x.match;
      if (op === '==' && isObj(left) && isObj(left.meta) && left.meta.key === 'nfproto' && right === 'ipv6') return true;
      const etherType = isObj(left) && isObj(left.payload) && left.payload.protocol === 'ether' && left.payload.field === 'type';
      const values = isObj(right) && Array.isArray(right.set) ? right.set : [right];
      return op === '!=' && etherType && values.includes('ip');
    };
    for (const c of this.chainsOf(family, table)) {
      const at = `${where} chain ${c.name}`;
      if (c.policy !== undefined && c.policy !== 'accept')
        this.report('error', `${at}: policy ${c.policy} in cordon's ${table} table decides IPv4 packets the verifier does not see`, at);
      for (const r of this.rulesOf(family, table, c.name)) {
        if (family === 'ip6' || r.expr.some(notIpv4)) continue;
        // An accept, a counter or a log in one base chain decides nothing for the others.
        const acts = r.expr.map((x) => (isObj(x) ? Object.keys(x)[0] : undefined));
        if (acts.every((k) => k === 'match' || k === 'counter' || k === 'log' || k === 'limit' || k === 'accept')) continue;
        const rat = `${at} handle ${r.handle ?? '?'}`;
        this.report(
          'error',
          `${rat}: ${describeRule(r)} can match IPv4, and cordon's ${table} table is for IPv6 and non-IP frames only; the verifier does not see it`,
          rat,
        );
      }
    }
  }

  /** Reads cordon's bridge table: which mark each bridge port gets. */
  readPorts(family: string, table: string): void {
    const where = `${family} ${table}`;
    for (const c of this.chainsOf(family, table)) {
      const at = `${where} chain ${c.name}`;
      if (c.hook !== 'prerouting' || c.type !== 'filter') {
        this.report(
          'warning',
          `${at}: cordon's bridge table should only have a filter chain on the prerouting hook (found ${c.hook ? `hook ${c.hook}` : 'a regular chain'}); it is not imported`,
          at,
        );
        continue;
      }
      for (const r of this.rulesOf(family, table, c.name)) {
        const rat = `${at} handle ${r.handle ?? '?'}`;
        let ports: string[] | undefined;
        let mark: number | undefined;
        let understood = true;
        for (const e of r.expr) {
          const field = isObj(e) && isObj(e.match) && e.match.op === '==' ? fieldOf(e.match.left) : undefined;
          if (isObj(e) && isObj(e.match) && field?.ok && field.value.kind === 'iif') {
            const names = members(e.match.right).map(parseIfname);
            if (names.every((n) => n.ok)) ports = names.map((n) => (n as { value: string }).value);
            else understood = false;
          } else if (
            isObj(e) &&
            isObj(e.mangle) &&
            isObj(e.mangle.key) &&
            isObj(e.mangle.key.meta) &&
            e.mangle.key.meta.key === 'mark' &&
            typeof e.mangle.value === 'number'
          ) {
            mark = e.mangle.value;
          } else if (isObj(e) && 'counter' in e) {
            // counters change nothing
          } else {
            understood = false;
          }
        }
        if (!understood || ports === undefined || mark === undefined) {
          this.report('error', `${rat}: expected 'iifname "PORT" meta mark set MARK', found ${describeRule(r)}; not imported`, rat);
          continue;
        }
        this.marks.set(mark, [...(this.marks.get(mark) ?? []), ...ports]);
      }
    }
  }

  /** The ports whose mark is in `marks`. */
  portsOfMarks(marks: RangeSet, at: string): string[] {
    const out = new Set<string>();
    for (const [lo, hi] of marks) {
      let found = false;
      for (const [m, ports] of this.marks) {
        if (m >= lo && m <= hi) {
          for (const p of ports) out.add(p);
          found = true;
        }
      }
      if (!found)
        this.report(
          'warning',
          `${at}: mark ${lo === hi ? `0x${lo.toString(16)}` : `0x${lo.toString(16)}-0x${hi.toString(16)}`} is set by no rule of cordon's bridge table, so it matches no bridge port`,
          at,
        );
    }
    return [...out].sort();
  }

  /** Interface names a match stands for; `tap*` wildcards expand over the model's names. */
  ifnames(values: readonly string[]): string[] {
    const out = new Set<string>();
    for (const v of values) {
      if (v.endsWith('*')) {
        for (const u of [...this.universe, ...this.allPorts]) if (u.startsWith(v.slice(0, -1))) out.add(u);
      } else out.add(v);
    }
    return [...out].sort();
  }

  /** The values on the right of a match: literals, an anonymous set, or `@set`. */
  rightValues(right: unknown, family: string, table: string): Parsed<unknown[]> {
    if (typeof right === 'string' && right.startsWith('@')) {
      const s = this.setOf(family, table, right.slice(1));
      if (!s) return { ok: false, error: `set ${right} does not exist in ${family} ${table}` };
      return { ok: true, value: s.elem.map((e) => members(e)[0]) };
    }
    if (Array.isArray(right)) return { ok: true, value: right };
    return { ok: true, value: members(right) };
  }

  /** One `match` expression as a condition; an error names what cordon does not understand. */
  matchCond(m: Record<string, unknown>, family: string, table: string, hook: Hook, at: string): Parsed<Cond> {
    const op = m.op;
    if (op !== '==' && op !== '!=' && op !== 'in') return { ok: false, error: `operator '${String(op)}' in ${describeValue(m)}` };
    const neg = op === '!=';
    if (isObj(m.left) && Array.isArray(m.left.concat)) return this.concatCond(m.left.concat, m.right, neg, family, table);
    const f = fieldOf(m.left);
    if (!f.ok) return { ok: false, error: `match on ${f.error}` };
    const field = f.value;
    if (field.kind === 'ipv6') return { ok: true, value: { ...ANY_COND, never: `${field.what} matches IPv6 only` } };
    const vals = this.rightValues(m.right, family, table);
    if (!vals.ok) return vals;
    const values = vals.value;
    const ranges = (parse: (v: unknown) => Parsed<Iv>): Parsed<RangeSet> => {
      const out: Iv[] = [];
      for (const v of values) {
        const p = parse(v);
        if (!p.ok) return p;
        out.push(p.value);
      }
      return { ok: true, value: R.normalize(out) };
    };
    switch (field.kind) {
      case 'src':
      case 'dst': {
        const r = ranges(parseAddr);
        if (!r.ok) return r;
        const set = neg ? R.complement(r.value, ANY_ADDRESS[0]!) : r.value;
        return { ok: true, value: { ...ANY_COND, box: { ...ANY_BOX, [field.kind]: set } } };
      }
      case 'proto': {
        const r = ranges(parseProto);
        if (!r.ok) return r;
        return { ok: true, value: { ...ANY_COND, box: { ...ANY_BOX, proto: neg ? R.complement(r.value, [0, 255]) : r.value } } };
      }
      case 'port': {
        const r = ranges(parsePort);
        if (!r.ok) return r;
        const proto = field.proto === undefined ? undefined : R.span(field.proto, field.proto);
        return { ok: true, value: { ...ANY_COND, box: { ...ANY_BOX, proto, port: neg ? R.complement(r.value, [0, 65535]) : r.value } } };
      }
      case 'iif':
      case 'oif': {
        const names: string[] = [];
        for (const v of values) {
          const n = parseIfname(v);
          if (!n.ok) return n;
          names.push(n.value);
        }
        let list = this.ifnames(names);
        if (neg) {
          list = this.universe.filter((u) => !list.includes(u));
          this.report(
            'warning',
            `${at}: '${fieldName(field)} != ${names.join(', ')}' is imported as the other interfaces the model knows on ${this.opts.host} (${list.join(', ') || 'none'})`,
            at,
          );
        }
        return { ok: true, value: { ...ANY_COND, [field.kind]: list } };
      }
      case 'mark': {
        const r = ranges(parseMark);
        if (!r.ok) return r;
        let ports = this.portsOfMarks(r.value, at);
        if (neg) {
          ports = this.allPorts.filter((p) => !ports.includes(p));
          if (hook !== 'guest-out')
            this.report(
              'warning',
              `${at}: 'meta mark !=' also matches packets that came in by no bridge port; the IR can only say "one of the other ports" (${ports.join(', ') || 'none'})`,
              at,
            );
        }
        return { ok: true, value: { ...ANY_COND, inPort: ports } };
      }
      case 'nfproto':
      case 'ethertype': {
        const names = values.map((v) => String(v));
        const v4 = field.kind === 'nfproto' ? ['ipv4', '2'] : ['ip', '2048', '0x0800'];
        const hasV4 = names.some((n) => v4.includes(n));
        return {
          ok: true,
          value: hasV4 !== neg ? ANY_COND : { ...ANY_COND, never: `${fieldName(field)} ${neg ? '!= ' : ''}${names.join(', ')} excludes IPv4` },
        };
      }
      case 'ctstate': {
        const states = values.map((v) => String(v));
        const known = ['new', 'established', 'related', 'invalid', 'untracked'];
        const unknown = states.filter((s) => !known.includes(s));
        if (unknown.length) return { ok: false, error: `ct state ${unknown.join(', ')}` };
        const matchesNew = states.includes('new') !== neg;
        return { ok: true, value: { ...ANY_COND, state: matchesNew ? 'new' : 'established' } };
      }
      default:
        return assertNever(field, 'field');
    }
  }

  /** `ip saddr . ip daddr . meta l4proto . th dport @set`: one alternative box per element. */
  private concatCond(parts: readonly unknown[], right: unknown, neg: boolean, family: string, table: string): Parsed<Cond> {
    const fields: Field[] = [];
    for (const p of parts) {
      const f = fieldOf(p);
      if (!f.ok) return { ok: false, error: `concatenation with ${f.error}` };
      if (!['src', 'dst', 'proto', 'port'].includes(f.value.kind)) return { ok: false, error: `concatenation with ${fieldName(f.value)}` };
      fields.push(f.value);
    }
    if (neg) return { ok: false, error: `negated lookup '${fields.map(fieldName).join(' . ')} != …'` };
    const vals = this.rightValues(right, family, table);
    if (!vals.ok) return vals;
    let fixed: Box = ANY_BOX;
    for (const f of fields) if (f.kind === 'port' && f.proto !== undefined) fixed = meetBox(fixed, { ...ANY_BOX, proto: R.span(f.proto, f.proto) });
    const alts: Box[] = [];
    for (const v of vals.value) {
      const comps = concatParts(v);
      if (comps.length !== fields.length) return { ok: false, error: `element ${describeValue(v)} has ${comps.length} parts, the lookup ${fields.length}` };
      let b: Box = fixed;
      for (let i = 0; i < fields.length; i++) {
        const f = fields[i]!;
        const c = comps[i];
        const parsed = f.kind === 'src' || f.kind === 'dst' ? parseAddr(c) : f.kind === 'proto' ? parseProto(c) : parsePort(c);
        if (!parsed.ok) return { ok: false, error: `element ${describeValue(v)}: ${parsed.error}` };
        const key = f.kind as 'src' | 'dst' | 'proto' | 'port';
        b = meetBox(b, { ...ANY_BOX, [key]: [parsed.value] });
      }
      if (!boxEmpty(b)) alts.push(b);
    }
    return { ok: true, value: { ...ANY_COND, alts } };
  }
}

type Verdict = { readonly kind: 'accept' | 'drop' | 'reject' } | { readonly kind: 'jump' | 'goto'; readonly target: string } | { readonly kind: 'return' };

interface ParsedRule {
  readonly cond: Cond;
  readonly verdict: Verdict | undefined;
  readonly log: boolean;
  readonly rate: string | undefined;
  /** The rule's matches as text, to pair a log-only rule with the verdict rule after it. */
  readonly key: string;
  readonly errors: readonly string[];
}

function parseRule(im: Importer, r: NftRule, hook: Hook, at: string): ParsedRule {
  let cond = ANY_COND;
  let verdict: Verdict | undefined;
  let log = false;
  let rate: string | undefined;
  const errors: string[] = [];
  const matches: unknown[] = [];
  for (const e of r.expr) {
    if (!isObj(e)) {
      errors.push(`expression ${describeValue(e)}`);
      continue;
    }
    const [k, v] = Object.entries(e)[0] ?? ['', undefined];
    if (verdict !== undefined) errors.push(`'${k}' after the verdict`);
    switch (k) {
      case 'match': {
        matches.push(v);
        const c = isObj(v) ? im.matchCond(v, r.family, r.table, hook, at) : ({ ok: false, error: describeValue(v) } as const);
        if (c.ok) {
          try {
            cond = conjoin(cond, c.value);
          } catch (err) {
            errors.push((err as Error).message);
          }
        } else errors.push(c.error);
        break;
      }
      case 'counter':
        break;
      case 'limit': {
        if (isObj(v) && v.inv === true) errors.push(`limit over ${describeValue(v)}`);
        // eslint-disable-next-line @typescript-eslint/no-base-to-string -- nft's JSON gives `per` as a string (second, minute, …)
        else if (isObj(v) && typeof v.rate === 'number') rate = `${v.rate}/${String(v.per ?? 'second')}`;
        else errors.push(`limit ${describeValue(v)}`);
        break;
      }
      case 'log':
        log = true;
        break;
      case 'accept':
      case 'drop':
      case 'reject':
        verdict = { kind: k };
        break;
      case 'jump':
      case 'goto':
        if (isObj(v) && typeof v.target === 'string') verdict = { kind: k, target: v.target };
        else errors.push(`${k} ${describeValue(v)}`);
        break;
      case 'return':
        verdict = { kind: 'return' };
        break;
      case 'continue':
        break;
      default:
        errors.push(`statement '${k}' ${describeValue(v)}`);
    }
  }
  // A log rule's limit throttles the log, not the traffic.
  if (verdict === undefined) rate = undefined;
  return { cond, verdict, log, rate, key: JSON.stringify(matches), errors };
}

function describeRule(r: NftRule): string {
  return r.expr.map(exprText).join(' ');
}

function valueText(v: unknown): string {
  if (typeof v === 'string') return v.startsWith('@') ? v : /^[\w.:/-]+$/.test(v) ? v : JSON.stringify(v);
  if (typeof v === 'number') return String(v);
  if (Array.isArray(v)) return `{ ${v.map(valueText).join(', ')} }`;
  if (isObj(v)) {
    if (Array.isArray(v.set)) return `{ ${v.set.map((x) => valueText(members(x)[0])).join(', ')} }`;
    if (isObj(v.prefix)) return `${String(v.prefix.addr)}/${String(v.prefix.len)}`;
    if (Array.isArray(v.range)) return `${valueText(v.range[0])}-${valueText(v.range[1])}`;
    if (Array.isArray(v.concat)) return v.concat.map(leftText).join(' . ');
    return leftText(v);
  }
  return describeValue(v);
}

function leftText(l: unknown): string {
  if (isObj(l)) {
    if (isObj(l.meta)) return `meta ${String(l.meta.key)}`;
    if (isObj(l.payload)) return `${String(l.payload.protocol)} ${String(l.payload.field)}`;
    if (isObj(l.ct)) return `ct ${String(l.ct.key)}`;
    if (Array.isArray(l.concat)) return l.concat.map(leftText).join(' . ');
  }
  return valueText(l);
}

function exprText(e: unknown): string {
  if (!isObj(e)) return describeValue(e);
  const [k, v] = Object.entries(e)[0] ?? ['', undefined];
  switch (k) {
    case 'match': {
      if (!isObj(v)) return describeValue(e);
      const op = v.op === '==' || v.op === 'in' ? '' : `${String(v.op)} `;
      return `${leftText(v.left)} ${op}${valueText(v.right)}`;
    }
    case 'counter':
      return 'counter';
    case 'limit':
      return isObj(v) ? `limit rate ${String(v.rate)}/${String(v.per)}` : 'limit';
    case 'log':
      return isObj(v) && typeof v.prefix === 'string' ? `log prefix ${JSON.stringify(v.prefix)}` : 'log';
    case 'jump':
    case 'goto':
      return isObj(v) ? `${k} ${String(v.target)}` : k;
    case 'mangle':
      return isObj(v) ? `${leftText(v.key)} set ${valueText(v.value)}` : k;
    case 'reject':
      return isObj(v) && typeof v.type === 'string' ? `reject with ${v.type}` : 'reject';
    default:
      return v === null ? k : `${k} ${describeValue(v)}`;
  }
}

interface Flat {
  readonly cond: Cond;
  readonly action: Action;
  readonly log: boolean;
  readonly rate: string | undefined;
  readonly origin: Origin;
}

type End = 'fallthrough' | 'return' | 'terminal';

function flatten(im: Importer, family: string, table: string, chain: string, hook: Hook, prefix: Cond, stack: readonly string[]): { flats: Flat[]; end: End } {
  const flats: Flat[] = [];
  let pendingLog: string | undefined;
  for (const r of im.rulesOf(family, table, chain)) {
    const at = `${family} ${table} chain ${chain} handle ${r.handle ?? '?'}`;
    const p = parseRule(im, r, hook, at);
    const text = describeRule(r);
    if (p.errors.length) {
      im.report(
        'error',
        `${at}: not imported: cordon cannot express ${p.errors.map((e) => `'${e}'`).join(', ')} (rule: ${text})`,
        at,
        "the verifier does not see this rule; write it in the spec or leave it out of cordon's tables",
      );
      pendingLog = undefined;
      continue;
    }
    const cond = conjoin(prefix, p.cond);
    const origin: Origin = { file: im.file, line: 0, col: 0, path: at, text: `nft ${at}: ${text}${r.comment ? ` (${r.comment})` : ''}` };
    const v = p.verdict;
    if (v === undefined) {
      pendingLog = p.log ? p.key : undefined;
      continue;
    }
    const log = pendingLog === p.key || p.log;
    pendingLog = undefined;
    if (cond.never !== undefined) continue;
    switch (v.kind) {
      case 'accept':
      case 'drop':
      case 'reject':
        flats.push({ cond, action: v.kind, log, rate: p.rate, origin });
        if (isAny(p.cond)) return { flats, end: 'terminal' };
        break;
      case 'jump':
      case 'goto': {
        if (stack.includes(v.target)) {
          im.report('error', `${at}: ${v.kind} ${v.target} loops back (${[...stack, v.target].join(' → ')}); not imported`, at);
          break;
        }
        if (!im.chainsOf(family, table).some((c) => c.name === v.target)) {
          im.report('error', `${at}: ${v.kind} to chain '${v.target}', which does not exist in ${family} ${table}`, at);
          break;
        }
        if (v.kind === 'goto' && !isAny(p.cond)) {
          im.report('error', `${at}: a conditional goto cannot be expressed as one ordered chain; not imported (rule: ${text})`, at);
          break;
        }
        const inner = flatten(im, family, table, v.target, hook, cond, [...stack, v.target]);
        flats.push(...inner.flats);
        if (isAny(p.cond) && inner.end === 'terminal') return { flats, end: 'terminal' };
        if (v.kind === 'goto') return { flats, end: inner.end === 'terminal' ? 'terminal' : 'return' };
        break;
      }
      case 'return':
        if (isAny(p.cond)) return { flats, end: 'return' };
        im.report('error', `${at}: a conditional return cannot be expressed as one ordered chain; not imported (rule: ${text})`, at);
        break;
      default:
        assertNever(v, 'verdict');
    }
  }
  return { flats, end: 'fallthrough' };
}

/** Flows a protocol set and a destination-port set stand for, or why the IR cannot say it. */
function toFlows(proto: Opt, port: Opt): { flows: FlowSet; error: string | undefined } {
  const P = proto ?? ALL_PROTOS;
  let error: string | undefined;
  const fullPorts = port === undefined || R.equal(port, ALL_PORTS);
  const nonPort = R.subtract(P, [
    [PROTO_TCP, PROTO_TCP],
    [PROTO_UDP, PROTO_UDP],
  ]);
  if (!fullPorts && nonPort.length > 0)
    error = `a destination-port match on protocols other than tcp and udp (${nonPort.map(([a, b]) => (a === b ? a : `${a}-${b}`)).join(', ')})`;
  const others = R.intersect(P, OTHER_PROTOS);
  const other = R.equal(others, OTHER_PROTOS);
  if (others.length > 0 && !other)
    error = `a match on only some of the protocols other than tcp, udp and icmp (${others.map(([a, b]) => (a === b ? a : `${a}-${b}`)).join(', ')}): cordon treats them as one class`;
  const ports = port ?? ALL_PORTS;
  const flows: FlowSet = {
    tcp: R.contains(P, PROTO_TCP) ? ports : R.EMPTY,
    udp: R.contains(P, PROTO_UDP) ? ports : R.EMPTY,
    icmp: R.contains(P, PROTO_ICMP) && fullPorts,
    other: other && fullPorts,
  };
  return { flows, error };
}

function anyIfAll(a: Opt): Opt {
  return a !== undefined && isAnyAddress(a) ? undefined : a;
}

function roleOf(m: IrMatch): RuleRole {
  if (m.state === 'established') return 'stateful';
  if ((m.iif?.length === 1 && m.iif[0] === 'lo') || (m.oif?.length === 1 && m.oif[0] === 'lo')) return 'loopback';
  return 'handwritten';
}

/** IR rules of one flattened rule: one per (source, destination) pair of its set elements. */
function irRules(im: Importer, f: Flat): Omit<IrRule, 'id' | 'index'>[] {
  const c = f.cond;
  const boxes = c.alts ? c.alts.map((a) => meetBox(c.box, a)) : [c.box];
  const groups = new Map<string, { src: Opt; dst: Opt; flows: FlowSet }>();
  const errors = new Set<string>();
  for (const b of boxes) {
    if (boxEmpty(b)) continue;
    const { flows, error } = toFlows(b.proto, b.port);
    if (error) errors.add(error);
    if (flowIsEmpty(flows)) continue;
    const src = anyIfAll(b.src);
    const dst = anyIfAll(b.dst);
    const key = JSON.stringify([src, dst]);
    const g = groups.get(key);
    if (g) g.flows = flowUnion(g.flows, flows);
    else groups.set(key, { src, dst, flows });
  }
  for (const e of errors)
    im.report('error', `${f.origin.path}: cordon cannot express ${e}; the rule is imported without those packets (rule: ${f.origin.text})`, f.origin.path);
  return mergeGroups([...groups.values()]).map((g) => {
    const match: IrMatch = { src: g.src, dst: g.dst, flows: g.flows, iif: c.iif, oif: c.oif, inPort: c.inPort, state: c.state };
    return { match, action: f.action, log: f.log, rate: f.rate, role: roleOf(match), origin: f.origin, policyIndex: undefined };
  });
}

interface Group {
  src: Opt;
  dst: Opt;
  flows: FlowSet;
}

/**
 * Undoes the renderer's cutting of overlapping rules into disjoint set elements: elements of one
 * rule share a verdict, so two that differ in one dimension only are one box (their union).
 * Fewer, larger rules give the verifier fewer address classes to try.
 */
function mergeGroups(groups: Group[]): Group[] {
  const key = (x: Opt): string => JSON.stringify(x ?? null);
  let current = groups;
  for (let round = 0; round < 4; round++) {
    const before = current.length;
    for (const dim of ['dst', 'src'] as const) {
      const merged = new Map<string, Group>();
      for (const g of current) {
        const k = `${key(dim === 'dst' ? g.src : g.dst)}|${JSON.stringify(g.flows)}`;
        const prev = merged.get(k);
        if (!prev) merged.set(k, { ...g });
        else {
          const a = prev[dim];
          const b = g[dim];
          prev[dim] = a === undefined || b === undefined ? undefined : anyIfAll(R.union(a, b));
        }
      }
      current = [...merged.values()];
    }
    const byPair = new Map<string, Group>();
    for (const g of current) {
      const k = `${key(g.src)}|${key(g.dst)}`;
      const prev = byPair.get(k);
      if (prev) prev.flows = flowUnion(prev.flows, g.flows);
      else byPair.set(k, { ...g });
    }
    current = [...byPair.values()];
    if (current.length === before) break;
  }
  return current;
}

function sameRules(a: readonly Omit<IrRule, 'id' | 'index'>[], b: readonly Omit<IrRule, 'id' | 'index'>[]): boolean {
  const key = (rs: readonly Omit<IrRule, 'id' | 'index'>[]): string => JSON.stringify(rs.map((r) => [r.match, r.action]));
  return key(a) === key(b);
}

/** Imports cordon's tables from an `nft -j list ruleset` document as IR chains. */
export function importNftJson(json: unknown, opts: ImportOptions): ImportResult {
  const parsed = parseRuleset(json);
  const file = opts.file ?? `nft:${opts.host}`;
  if (!parsed.ok) return { chains: [], marks: new Map(), diagnostics: [diag(Code.IMPORT_MALFORMED, 'error', parsed.error, { file })] };
  return importRuleset(parsed.value, opts);
}

/** Same as `importNftJson`, from an already parsed rule set. */
export function importRuleset(rs: NftRuleset, opts: ImportOptions): ImportResult {
  const im = new Importer(rs, opts);
  const model = opts.model;
  const points = new Map<string, { host: string; hook: Hook }>();
  for (const h of model.hosts.values()) for (const hook of HOOKS) points.set(tableName(pointId(h.name, hook)), { host: h.name, hook });
  const portsTable = portsTableName(opts.host);

  // The bridge table first: inet rules refer to its marks.
  for (const t of rs.tables) if (t.family === 'bridge' && t.name === portsTable) im.readPorts(t.family, t.name);

  const chains: Chain[] = [];
  for (const t of rs.tables) {
    const where = `${t.family} ${t.name}`;
    if (!t.name.startsWith(TABLE_PREFIX)) {
      im.report(
        'warning',
        `table ${where} is not cordon's: its rules are not imported, so the verifier does not see them`,
        where,
        'a foreign table can still drop or (in another hook order) accept packets cordon reasons about',
      );
      continue;
    }
    if (t.family === 'bridge' && t.name === portsTable) continue;
    if (t.family === 'ip' && t.name === natTableName(opts.host)) {
      im.readNat(t.family, t.name, new Set(model.forwards.filter((f) => f.via === opts.host).map((f) => formatIPv4(f.address))));
      continue;
    }
    if ((t.family === 'ip6' && t.name === ipv6TableName(opts.host)) || (t.family === 'bridge' && t.name === l2TableName(opts.host))) {
      im.readNonIpv4(t.family, t.name);
      continue;
    }
    const point = points.get(t.name);
    if (t.family !== 'inet' || point === undefined) {
      im.report(
        'warning',
        `table ${where} has cordon's prefix but names no enforcement point of ${opts.host} in this spec; not imported`,
        where,
        `cordon's tables here: ${[...points.keys()].filter((n) => n.startsWith(tableName(`${opts.host}:`).slice(0, -1))).join(', ') || 'none'}`,
      );
      continue;
    }
    const chain = importPoint(im, t.family, t.name, point.host, point.hook);
    if (chain) chains.push(chain);
  }
  for (const o of rs.other) {
    const where = `${o.kind}${o.family ? ` ${o.family}` : ''}${o.table ? ` ${o.table}` : ''}${o.name ? ` ${o.name}` : ''}`;
    if (o.table !== undefined && !o.table.startsWith(TABLE_PREFIX)) continue; // reported with its table
    im.report('warning', `${where}: nft objects of kind '${o.kind}' are not imported`, where);
  }
  chains.sort((a, b) => a.point.localeCompare(b.point));
  const seen = new Set<string>();
  const diagnostics = im.ds.filter((d) => !seen.has(d.message) && seen.add(d.message) !== undefined);
  return { chains, marks: im.marks, diagnostics };
}

function importPoint(im: Importer, family: string, table: string, host: string, hook: Hook): Chain | undefined {
  const model = im.opts.model;
  const h = model.hosts.get(host)!;
  const point = pointId(host, hook);
  const where = `${family} ${table}`;
  const base = im.chainsOf(family, table).filter((c) => c.hook !== undefined);
  const expected = BASE_HOOKS[hook];
  for (const c of base) {
    if (!expected.includes(c.hook!))
      im.report(
        'error',
        `${where} chain ${c.name}: hook ${c.hook} is not where ${point} is enforced (${expected.join(', ')}); not imported`,
        `${where} chain ${c.name}`,
      );
    if (c.type !== 'filter')
      im.report('error', `${where} chain ${c.name}: type ${c.type ?? '?'} is not a filter chain; imported as one`, `${where} chain ${c.name}`);
  }
  const results: { hook: string; policy: 'accept' | 'drop'; rules: Omit<IrRule, 'id' | 'index'>[]; origin: Origin }[] = [];
  for (const c of base.filter((x) => expected.includes(x.hook!))) {
    const at = `${where} chain ${c.name}`;
    const { flats, end } = flatten(im, family, table, c.name, hook, ANY_COND, [c.name]);
    let policy: 'accept' | 'drop';
    let origin: Origin = { file: im.file, line: 0, col: 0, path: at, text: `nft ${at}: policy ${c.policy ?? 'accept'}` };
    const last = flats[flats.length - 1];
    if (end === 'terminal' && last && isAny(last.cond) && (last.action === 'accept' || last.action === 'drop')) {
      flats.pop();
      policy = last.action;
      origin = last.origin;
    } else if (c.policy === 'accept' || c.policy === 'drop' || c.policy === undefined) {
      policy = c.policy ?? 'accept';
    } else {
      im.report('error', `${at}: policy ${c.policy} is neither accept nor drop; imported as drop`, at);
      policy = 'drop';
    }
    results.push({ hook: c.hook!, policy, rules: flats.flatMap((f) => irRules(im, f)), origin });
  }
  const missing = expected.filter((x) => !results.some((r) => r.hook === x));
  if (missing.length) im.report('error', `${where}: no base chain on hook ${missing.join(', ')}, where cordon enforces ${point}`, where);
  const first = results[0];
  if (!first) return undefined;
  for (const r of results.slice(1)) {
    if (r.policy !== first.policy || !sameRules(r.rules, first.rules)) {
      im.report('error', `${where}: the ${r.hook} chain decides differently from the ${first.hook} chain; only the ${first.hook} chain is imported`, where);
    }
  }
  const rules: IrRule[] = first.rules.map((r, index) => ({ ...r, id: `${point}#${index}`, index }));
  return {
    point,
    host,
    hook,
    enforcedOn: im.opts.host,
    inGuest: !h.trusted && hook !== 'guest-in' && hook !== 'guest-out',
    policy: first.policy,
    policyOrigin: first.origin,
    rules,
    handwritten: false,
  };
}
