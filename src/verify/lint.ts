/**
 * `cordon lint`: rules that never match, rules that change nothing, allow/deny overlaps, names
 * declared but never used, and ports opened to every address when a narrower target was meant.
 *
 * The rule findings are computed per IR chain (where first-match order is real) and reported per
 * rule of the spec: one policy rule compiles into several chains, so each finding is said once, at
 * the rule's own line, with the chains it holds in. cordon's plumbing (stateful replies, loopback,
 * anti-spoofing, tunnel transport, egress modes) is never reported on, but it does take traffic
 * away from the rules after it.
 */
import { Engine } from './engine.js';
import type { BoxNames } from './lint-overlap.js';
import { IdBag } from './id-bag.js';
import { type ChainLint, isSubject, lintChain, type PartFilter, verdictOf } from './lint-chain.js';
import { RuleIds } from './rule-ids.js';
import { EMPTY, occurrences, REDUNDANT, SHADOWED, statusColumn, subjectColumn } from './lint-occurrences.js';
export type { Overlap } from './lint-overlap.js';
import { describeDecision, explain } from './explain.js';
import type { Diagnostic, Severity } from '../diag/diagnostic.js';
import { Code } from '../diag/codes.js';
import { diag, sortDiagnostics } from '../diag/diagnostic.js';
import type { Action, Chain, Ir, IrRule } from '../ir/types.js';
import type { Host, Model, Origin, PolicyRule, Target } from '../model/types.js';
import { ALL, targetAddrs } from '../model/addresses.js';
import { ALL_FLOWS, flowEqual, flowUnion, formatFlowSet, NO_FLOWS } from '../util/flows.js';
import { localeOrder, sortByName } from '../util/collate.js';
import { formatCidr, formatIPv4, formatRange, rangeToCidrs } from '../util/ip.js';
import * as R from '../util/rangeset.js';
import type { RangeSet } from '../util/rangeset.js';
import { ADDR_MAX, FLOW_MAX, lineToFlows, nameHas, STATE_ESTABLISHED, type Box, type NameSet } from './box.js';

/** The codes lint reports: findings about the rules, never bad input. */
export const LINT_CODES = [
  Code.SHADOWED_RULE,
  Code.REDUNDANT_RULE,
  Code.ALLOW_DENY_OVERLAP,
  Code.UNUSED_GROUP,
  Code.UNUSED_SERVICE,
  Code.PORT_TO_ANY,
  Code.TUNNEL_BLOCKED,
  Code.RULE_APPLIES_NOWHERE,
  Code.LINT_UNDECIDED,
] as const;

export interface LintOptions {
  /**
   * Finds spec positions by JSON path (a `SourceMap` fits). Used to point unused groups and
   * services at their declaration; without it they are reported at line 0 of the file.
   */
  readonly source?: { pos(path: readonly (string | number)[], key?: boolean): { file: string; line: number; col: number; path: string } };
  /** Work limit per rule for the coverage searches (default 20,000 steps); past it a rule is "undecided". */
  readonly budget?: number;
}

// ---- from chains to the user's rules --------------------------------------------------------

interface Occurrence {
  readonly chain: Chain;
  readonly rule: IrRule;
  readonly lint: ChainLint;
}

export function lint(ir: Ir, opts: LintOptions = {}): Diagnostic[] {
  const model = ir.model;
  // Sorted once: the names, the ports to any and the unused services go by host in name order.
  const hosts = sortByName([...model.hosts.values()], (h) => h.name);
  const names = new Namer(model, hosts);
  const ds: Diagnostic[] = [];
  const chains = sortByName([...ir.chains.values()], (c) => c.point);
  const bridgeOf = portBridges(model);
  // Only the parts some packet can be in: a frame from a bridge port comes in on its bridge.
  const parts: PartFilter = {
    keep: (b) => onTheirBridge(b, bridgeOf) !== undefined,
    keepMeet: (a, b) => meetOnTheirBridge(a, b, bridgeOf),
  };
  const results = chains.map((c) => lintChain(c, { ...opts, parts }));

  // Each spec rule's id, per chain and rule index: the overlap pairs below are millions on big
  // specs, and building two key strings for each was a good part of lint's time.
  const ids = new RuleIds();
  const keyIds = results.map((res) => {
    const rules = res.chain.rules;
    const kid = new Int32Array(rules.length);
    for (let x = 0; x < rules.length; x++) kid[x] = ids.id(rules[x]!.origin);
    return kid;
  });
  const subjects = results.map((res) => subjectColumn(res.chain.rules));
  const status = results.map(statusColumn);
  const occ = occurrences(keyIds, subjects, ids.size);

  const dead = new Uint8Array(ids.size);
  for (const k of occ.order) {
    const from = occ.start[k]!;
    const to = occ.start[k + 1]!;
    // What every chain of the rule says of it, as the bits all of its occurrences share.
    let all = EMPTY | SHADOWED | REDUNDANT;
    let gone = true;
    for (let t = from; t < to; t++) {
      const st = status[occ.chain[t]!]![occ.rule[t]!]!;
      all &= st;
      if (st === 0) gone = false;
    }
    const subject = results[occ.chain[from]!]!.chain.rules[occ.rule[from]!]!;
    if ((all & EMPTY) !== 0) {
      dead[k] = 1;
      ds.push(
        diag(
          Code.RULE_APPLIES_NOWHERE,
          'warning',
          `${quote(subject.origin)} can never apply: it matches no packet (a source or destination set is empty)`,
          atOrigin(subject.origin),
          'check its from/to: a group or name may resolve to nothing here',
        ),
      );
      continue;
    }
    if (!gone) continue;
    const list: Occurrence[] = [];
    let shadowedEverywhere = true;
    for (let t = from; t < to; t++) {
      const res = results[occ.chain[t]!]!;
      const st = status[occ.chain[t]!]![occ.rule[t]!]!;
      if ((st & (SHADOWED | EMPTY)) === 0) shadowedEverywhere = false;
      list.push({ chain: res.chain, rule: res.chain.rules[occ.rule[t]!]!, lint: res });
    }
    if (shadowedEverywhere) {
      dead[k] = 1;
      ds.push(shadowDiagnostic(subject, list, ids));
      continue;
    }
    ds.push(
      redundantDiagnostic(
        subject,
        list.filter((o) => o.lint.redundant.has(o.rule.index)),
        ids,
      ),
    );
  }

  // Overlaps: one finding per rule whose traffic earlier rules partly take, naming those rules.
  interface Pair {
    earlier: IrRule;
    chains: string[];
    parts: Box[];
  }
  /**
   * Per later rule: the first three earlier rules met, in full (the message shows their parts);
   * of the others only their ids and whether any is a policy rule. A big spec has millions of
   * pairs, nearly all past the third, and an object each for those was most of lint's memory.
   */
  interface Later {
    later: IrRule;
    shown: Map<number, Pair>;
    /** Made when a fourth earlier rule comes: most later rules have fewer. */
    rest: IdBag | undefined;
    /** Whether every earlier rule in `rest` is cordon's plumbing. */
    restPlumbing: boolean;
    chains: string[];
  }
  const overlapped = new Map<number, Later>();
  // A run is one later rule's pairs in one chain (they come together, earlier rules ascending);
  // addedIn[id] === run: spec rule id went into that later rule's `rest` in this run.
  const addedIn = new Int32Array(ids.size).fill(-1);
  let run = -1;
  for (let c = 0; c < results.length; c++) {
    const res = results[c]!;
    const list = res.overlapList;
    if (list.length === 0) continue;
    const kid = keyIds[c]!;
    const rules = res.chain.rules;
    const point = res.chain.point;
    // Per rule, from a column: a big chain has millions of pairs, each a read of a random rule.
    const subject = subjects[c]!;
    let runOf = -1;
    let e: Later | undefined;
    /** Whether e.chains is known to hold this chain. */
    let listed = false;
    for (let k = 0; k < list.length; k++) {
      const i = list.i(k);
      const lk = kid[i]!;
      if (i !== runOf) {
        runOf = i;
        run++;
        e = overlapped.get(lk);
        listed = false;
      }
      const j = list.j(k);
      const ek = kid[j]!;
      if (dead[lk] === 1 || dead[ek] === 1) continue;
      const known = e?.shown.get(ek);
      // lintChain listed only the pairs with a part on a real bridge.
      if (e && !known && e.shown.size >= 3) {
        if (!listed) {
          if (!e.chains.includes(point)) e.chains.push(point);
          listed = true;
        }
        if (addedIn[ek] !== run) {
          addedIn[ek] = run;
          (e.rest ??= new IdBag()).add(ek, run);
          if (subject[j] === 1) e.restPlumbing = false;
        }
        continue;
      }
      // The message shows the parts of the first three pairs, three parts each. A pair already
      // known in this chain with its three parts adds nothing more.
      if (known && known.chains.includes(point) && known.parts.length >= 3) continue;
      if (!e) overlapped.set(lk, (e = { later: rules[i]!, shown: new Map(), rest: undefined, restPlumbing: true, chains: [] }));
      if (!e.chains.includes(point)) e.chains.push(point);
      listed = true;
      let p = known;
      if (!p) e.shown.set(ek, (p = { earlier: rules[list.j(k)]!, chains: [], parts: [] }));
      if (!p.chains.includes(point)) p.chains.push(point);
      if (p.parts.length < 3) {
        for (const b of list.at(k).parts()) {
          if (p.parts.length >= 3) break;
          const x = onTheirBridge(b, bridgeOf);
          if (x) p.parts.push(x);
        }
      }
    }
  }
  for (const { later, shown: byEarlier, rest, restPlumbing, chains } of overlapped.values()) {
    const list = [...byEarlier.values()];
    const count = list.length + (rest?.distinct() ?? 0);
    const partsOf = (p: Pair): string => {
      const texts = [...new Set(p.parts.map((b) => names.box(b)))];
      return texts.slice(0, 2).join('; and on ') + (texts.length > 2 ? ' (and more)' : '');
    };
    let message: string;
    if (count === 1) {
      const p = list[0]!;
      message = `${quote(later.origin)} and the earlier ${quote(p.earlier.origin)}${lineOf(p.earlier.origin, later.origin)} overlap on ${partsOf(p)}: there the earlier one ${verb(p.earlier.action)} (${p.chains.join(', ')})`;
    } else {
      const shown = list.map((p) => `${quote(p.earlier.origin)}${lineOf(p.earlier.origin, later.origin)} ${verb(p.earlier.action)} ${partsOf(p)}`);
      const more = count > 3 ? `; and ${count - 3} more rules` : '';
      message = `${quote(later.origin)} overlaps ${count} earlier rules of the other verdict, which win where they overlap: ${shown.join('; ')}${more} (${chains.join(', ')})`;
    }
    const plumbing = restPlumbing && list.every((p) => !isSubject(p.earlier));
    ds.push(
      diag(
        Code.ALLOW_DENY_OVERLAP,
        'info',
        message,
        atOrigin(later.origin),
        plumbing ? undefined : `if ${quote(later.origin)} should win there, move it above the earlier rules; if not, this is the intended exception`,
      ),
    );
  }

  for (const res of results) {
    for (const i of res.undecided) {
      const r = res.chain.rules[i]!;
      ds.push(
        diag(
          Code.LINT_UNDECIDED,
          'info',
          `lint could not decide within its work limit whether ${quote(r.origin)} is shadowed in ${res.chain.point}`,
          atOrigin(r.origin),
        ),
      );
    }
  }

  // Policy rules that compile into no chain at all.
  for (const p of model.policy) {
    const id = ids.find(p.origin);
    if (id !== undefined && occ.start[id + 1]! > occ.start[id]!) continue;
    ds.push(
      diag(
        Code.RULE_APPLIES_NOWHERE,
        'warning',
        `${quote(p.origin)} never applies: no enforcement point cordon manages sees this traffic`,
        atOrigin(p.origin),
        'a rule between two addresses of one host, or between hosts no managed firewall sits between, compiles to nothing',
      ),
    );
  }

  ds.push(...portToAny(ir, names, hosts, chains));
  ds.push(...unused(model, hosts, opts));
  ds.push(...tunnelFindings(ir));
  return sortDiagnostics(ds);
}

/**
 * A tunnel whose own UDP transport is blocked never comes up (seed 004's kill switch allows only
 * lo and wg0, forgetting the packets that carry wg0). Checked as configured: that is what runs.
 */
export function tunnelFindings(ir: Ir, engine = new Engine(ir)): Diagnostic[] {
  const ds: Diagnostic[] = [];
  for (const t of [...ir.model.tunnels.values()].sort((a, b) => localeOrder(a.name, b.name))) {
    const members = [...ir.model.hosts.values()]
      .filter((h) => h.name !== t.server && h.nics.some((n) => n.segment === t.name))
      .sort((a, b) => localeOrder(a.name, b.name));
    for (const m of members) {
      const check = engine.checkTransport({ tunnel: t.name, peer: m.name }, 'configured');
      if (check.ok || !check.reach) continue;
      const flow = { proto: 'udp' as const, port: t.listen };
      const why = explain(ir, check.reach, flow);
      const last = why.path?.hops.find((h) => h.verdict === 'drop');
      const where = last ? ` at ${last.point} by ${describeDecision(last.decision)}` : why.path ? `: ${why.path.end}` : ': no route to the endpoint';
      ds.push(
        diag(
          Code.TUNNEL_BLOCKED,
          'warning',
          `tunnel '${t.name}' cannot come up for ${m.name}: its UDP transport to ${formatIPv4(t.endpoint)}:${t.listen} is dropped${where}`,
          { file: t.origin.file, line: t.origin.line, col: t.origin.col, path: t.origin.path },
          `allow udp/${t.listen} to ${formatIPv4(t.endpoint)} out of ${m.name}'s underlay interface, or nothing goes through '${t.name}'`,
        ),
      );
    }
  }
  return ds;
}

function atOrigin(o: Origin): { file: string; line: number; col: number; path: string } {
  return { file: o.file, line: o.line, col: o.col, path: o.path };
}

function quote(o: Origin): string {
  return `'${o.text}'`;
}

/** ` (line N)` when the rule is elsewhere than `here`; names the spec path when there is no line. */
function lineOf(o: Origin, here?: Origin): string {
  if (here && o.line === here.line && o.file === here.file) return '';
  if (o.line > 0) return ` (line ${o.line})`;
  return o.path ? ` (${o.path})` : '';
}

function verb(a: Action): string {
  return a === 'accept' ? 'allows' : a === 'drop' ? 'denies' : 'rejects';
}

function verbPlural(a: Action): string {
  return a === 'accept' ? 'allow' : a === 'drop' ? 'deny' : 'reject';
}

/** Rules as `'text' (line N)`, joined with "and"; past five, the count of the rest. */
function listRules(rules: readonly IrRule[], here: Origin, ids: RuleIds): string {
  const u = uniqueRules(rules, ids);
  const parts = u.slice(0, 5).map((r) => `${quote(r.origin)}${lineOf(r.origin, here)}`);
  if (u.length > 5) parts.push(`${u.length - 5} more rules`);
  if (parts.length <= 1) return parts.join('');
  return `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}`;
}

/** The first rule of each spec rule among `rules`, in their order. */
function uniqueRules(rules: readonly IrRule[], ids: RuleIds): IrRule[] {
  const seen = new Set<number>();
  return rules.filter((r) => {
    const k = ids.id(r.origin);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Groups occurrences whose explanations read the same, so each is said once with its chains. */
function groupByText<T>(items: readonly T[], chainOf: (x: T) => string, text: (x: T) => string): { text: string; chains: string[] }[] {
  const out: { text: string; chains: string[] }[] = [];
  for (const x of items) {
    const t = text(x);
    const g = out.find((o) => o.text === t);
    if (g) {
      if (!g.chains.includes(chainOf(x))) g.chains.push(chainOf(x));
    } else out.push({ text: t, chains: [chainOf(x)] });
  }
  return out;
}

function shadowDiagnostic(subject: IrRule, occ: readonly Occurrence[], ids: RuleIds): Diagnostic {
  const here = subject.origin;
  const mine = verdictOf(subject.action);
  const all = uniqueRules(
    occ.flatMap((o) => o.lint.shadowed.get(o.rule.index)?.by ?? []),
    ids,
  );
  const opposite = all.some((r) => verdictOf(r.action) !== mine);
  const explain = (by: readonly IrRule[]): string => {
    const u = uniqueRules(by, ids);
    if (u.length === 0) return 'it matches no packet here';
    const actions = new Set(u.map((r) => r.action));
    if (actions.size === 1) {
      const a = u[0]!.action;
      return u.length === 1
        ? `${listRules(u, here, ids)} ${verb(a)} all of its traffic first`
        : `${listRules(u, here, ids)} together ${verbPlural(a)} all of its traffic first`;
    }
    const shown = u.slice(0, 5).map((r) => `${quote(r.origin)}${lineOf(r.origin, here)} ${verb(r.action)} part`);
    if (u.length > 5) shown.push(`${u.length - 5} more rules take the rest`);
    return `earlier rules take all of its traffic: ${shown.join(', ')}`;
  };
  const groups = groupByText(
    occ,
    (o) => o.chain.point,
    (o) => explain(o.lint.shadowed.get(o.rule.index)?.by ?? []),
  );
  const why = groups.map((g) => `${g.text} (${g.chains.join(', ')})`).join('; ');
  const severity: Severity = 'warning';
  if (opposite) {
    const first = all.find((r) => verdictOf(r.action) !== mine)!;
    const hint = isSubject(first)
      ? `move it above ${quote(first.origin)}, or narrow that rule if it was not meant to ${verbPlural(first.action)} this traffic`
      : `${quote(first.origin)} is what cordon makes of ${first.origin.path || 'a setting'} and always comes before the policy: change that setting if this rule should apply, or remove the rule`;
    return diag(Code.SHADOWED_RULE, severity, `${quote(here)} is shadowed and never matches: ${why}`, atOrigin(here), hint);
  }
  return diag(
    Code.SHADOWED_RULE,
    severity,
    `${quote(here)} is redundant and never matches (dead rule): ${why}`,
    atOrigin(here),
    'remove it: the earlier rules already do what it says',
  );
}

function redundantDiagnostic(subject: IrRule, occ: readonly Occurrence[], ids: RuleIds): Diagnostic {
  const here = subject.origin;
  const explain = (o: Occurrence): string => {
    const f = o.lint.redundant.get(o.rule.index)!;
    const later = uniqueRules(f.by, ids);
    const parts: string[] = [];
    if (later.length > 0)
      parts.push(
        `${listRules(later, here, ids)} ${later.length === 1 ? verb(subject.action) : verbPlural(subject.action)} ${f.byDefault ? 'part of' : 'all of'} its traffic anyway`,
      );
    if (f.byDefault)
      parts.push(
        `${later.length > 0 ? 'the rest falls' : 'its traffic falls'} to the chain default (${o.chain.policyOrigin.text}), which ${verb(o.chain.policy === 'accept' ? 'accept' : 'drop')} it as well`,
      );
    return `${parts.join(', and ')}, with no rule of another action in between`;
  };
  const groups = groupByText(occ, (o) => o.chain.point, explain);
  const why = groups.map((g) => `${g.text} (${g.chains.join(', ')})`).join('; ');
  const open = occ.find(
    (o) =>
      o.lint.redundant.get(o.rule.index)?.byDefault &&
      !o.chain.handwritten &&
      o.chain.hook === 'output' &&
      o.chain.policy === 'accept' &&
      subject.action === 'accept',
  );
  const hint = open
    ? `'${open.chain.host}' lets everything out by default (${open.chain.policyOrigin.text}), so this allow restricts nothing: set \`egress: filtered\` on '${open.chain.host}' if these rules were meant as its limit, or remove the rule`
    : 'remove it, or give it `log: true` if it is there to record these packets';
  return diag(Code.REDUNDANT_RULE, 'warning', `${quote(here)} is redundant: removing it changes no verdict: ${why}`, atOrigin(here), hint);
}

// ---- bridge ports and the bridge they are on ------------------------------------------------

/** Every bridge port (tap101i0) with the interface names its bridge has on the host owning it. */
function portBridges(model: Model): ReadonlyMap<string, readonly string[]> {
  const out = new Map<string, string[]>();
  for (const h of model.hosts.values()) {
    for (const nic of h.nics) {
      if (!nic.port) continue;
      const net = model.networks.get(nic.segment);
      if (!net) continue;
      const ownerNic = net.owner !== undefined ? model.hosts.get(net.owner)?.nics.find((n) => n.segment === nic.segment) : undefined;
      out.set(nic.port, [...new Set([net.bridge, ...(ownerNic ? [ownerNic.ifname] : [])])]);
    }
  }
  return out;
}

/**
 * A box with only the bridge ports whose bridge its input interfaces take in; undefined when none
 * is left. Rule matches are independent sets, so "port tap101i0" from one rule and "in on vmbr1"
 * from another meet in a box no frame is in (tap101i0 is a port of vmbr0), and describing it would
 * name a port on the wrong bridge.
 */
function onTheirBridge<B extends BoxNames>(b: B, bridgeOf: ReadonlyMap<string, readonly string[]>): B | undefined {
  if (b.port.neg) return b;
  const all = b.port.names;
  // Index loops and a list only once a port is dropped: most parts keep every port they name.
  let names: string[] | undefined;
  for (let k = 0; k < all.length; k++) {
    const p = all[k]!;
    if (onItsBridge(p, b.iif, bridgeOf)) names?.push(p);
    else names ??= all.slice(0, k);
  }
  if (names === undefined) return all.length === 0 ? undefined : b;
  return names.length === 0 ? undefined : { ...b, port: { neg: false, names } };
}

/** Whether frames from port `p` can come in on `iif`: p is no bridge port, or its bridge is in iif. */
function onItsBridge(p: string, iif: NameSet, bridgeOf: ReadonlyMap<string, readonly string[]>): boolean {
  const bridges = bridgeOf.get(p);
  if (bridges === undefined) return true;
  for (let k = 0; k < bridges.length; k++) if (nameHas(iif, bridges[k]!)) return true;
  return false;
}

/**
 * `onTheirBridge(boxIntersect(a, b)) !== undefined` for boxes that meet, without building the
 * intersection: the ports both allow, each kept when its bridge is an input interface of both.
 */
function meetOnTheirBridge(a: BoxNames, b: BoxNames, bridgeOf: ReadonlyMap<string, readonly string[]>): boolean {
  if (a.port.neg && b.port.neg) return true;
  const listed = a.port.neg ? b.port : a.port;
  const other = a.port.neg ? a.port : b.port;
  // Index loops: this runs for every overlap pair, mostly before V8 optimises it (a for-of step
  // allocated an iterator result there).
  const names = listed.names;
  for (let k = 0; k < names.length; k++) {
    const p = names[k]!;
    if (!nameHas(other, p)) continue;
    const bridges = bridgeOf.get(p);
    if (bridges === undefined) return true;
    for (let t = 0; t < bridges.length; t++) if (nameHas(a.iif, bridges[t]!) && nameHas(b.iif, bridges[t]!)) return true;
  }
  return false;
}

// ---- describing match spaces in the user's names ------------------------------------------

function isAll(rs: RangeSet): boolean {
  return rs.length === 1 && rs[0]![0] === 0 && rs[0]![1] === ADDR_MAX;
}

/** Names addresses after the model: hosts, networks, internet; falls back to prefixes. */
class Namer {
  private readonly hostOf = new Map<number, string>();
  private readonly netOf = new Map<string, string>();
  private readonly portOf = new Map<string, string>();

  /** `hosts`: the model's hosts, sorted by name. */
  constructor(
    private readonly model: Model,
    hosts: readonly Host[],
  ) {
    for (const h of hosts) {
      for (const nic of h.nics) {
        if (!this.hostOf.has(nic.address)) this.hostOf.set(nic.address, h.name);
        if (nic.port) this.portOf.set(nic.port, h.name);
      }
    }
    for (const n of [...model.networks.values(), ...model.tunnels.values()]) this.netOf.set(`${n.range.lo}-${n.range.hi}`, n.name);
  }

  /**
   * Texts of one-range sets, by their ends: lint names a few thousand overlap parts, each a new
   * box, mostly of the same hosts and networks.
   */
  private readonly oneRange = new Map<number, Map<number, string>>();
  /** Texts of one-span flow lines, by `lo * (FLOW_MAX + 1) + hi` (exact: below 2^35). */
  private readonly oneFlow = new Map<number, string>();

  addrs(rs: RangeSet): string {
    if (rs.length !== 1) return this.addrsOf(rs);
    const lo = rs[0]![0];
    const hi = rs[0]![1];
    let byHi = this.oneRange.get(lo);
    if (byHi === undefined) this.oneRange.set(lo, (byHi = new Map<number, string>()));
    let text = byHi.get(hi);
    if (text === undefined) byHi.set(hi, (text = this.addrsOf(rs)));
    return text;
  }

  private addrsOf(rs: RangeSet): string {
    if (rs.length === 1 && rs[0]![0] === 0 && rs[0]![1] === ADDR_MAX) return 'any address';
    if (this.model.internet.length > 0 && R.equal(rs, this.model.internet)) return 'internet';
    if (this.model.lan.length > 0 && R.equal(rs, this.model.lan)) return 'lan';
    // The complement is only asked about for several ranges: most sets are one host or prefix,
    // and lint names a few thousand parts.
    if (rs.length > 1) {
      const rest = R.complement(rs, [0, ADDR_MAX]);
      if (R.size(rest) < 2 ** 31) return `any address except ${this.addrs(rest)}`;
    }
    let hostOnly = true;
    for (let k = 0; k < rs.length && hostOnly; k++) hostOnly = rs[k]![0] === rs[k]![1] && this.hostOf.has(rs[k]![0]);
    const items: string[] = [];
    if (hostOnly) {
      const byHost = new Map<string, number[]>();
      for (let k = 0; k < rs.length; k++) {
        const a = rs[k]![0];
        const h = this.hostOf.get(a)!;
        const list = byHost.get(h);
        if (list) list.push(a);
        else byHost.set(h, [a]);
      }
      for (const [h, list] of byHost) items.push(`${h} (${list.map(formatIPv4).join(', ')})`);
    } else {
      // Only three ranges are named and the rest counted: a set of thousands of ranges (what is
      // left of `any` after many exceptions) is not formatted in full for one line of text.
      for (let k = 0; k < rs.length && k < 3; k++) {
        const lo = rs[k]![0];
        const hi = rs[k]![1];
        const net = this.netOf.get(`${lo}-${hi}`);
        if (net) items.push(`${net} (${formatRange({ lo, hi })})`);
        else if (lo === hi && this.hostOf.has(lo)) items.push(`${this.hostOf.get(lo)} (${formatIPv4(lo)})`);
        else {
          const cidrs = rangeToCidrs({ lo, hi });
          items.push(cidrs.length <= 2 ? cidrs.map(formatCidr).join(', ') : formatRange({ lo, hi }));
        }
      }
    }
    const count = hostOnly ? items.length : rs.length;
    return count > 3 ? `${items.slice(0, 3).join(', ')} and ${count - 3} more ranges` : items.join(', ');
  }

  private flows(line: RangeSet): string {
    if (line.length !== 1) return Namer.flowsOf(line);
    const key = line[0]![0] * (FLOW_MAX + 1) + line[0]![1];
    let text = this.oneFlow.get(key);
    if (text === undefined) this.oneFlow.set(key, (text = Namer.flowsOf(line)));
    return text;
  }

  private static flowsOf(line: RangeSet): string {
    const f = lineToFlows(line);
    return flowEqual(f, ALL_FLOWS) ? 'all traffic' : formatFlowSet(f);
  }

  private static ifs(s: NameSet, what: string, owner?: ReadonlyMap<string, string>): string | undefined {
    if (s.neg && s.names.length === 0) return undefined;
    const list = s.names.map((x) => (owner?.get(x) ? `${x} (${owner.get(x)!})` : x)).join(', ');
    return s.neg ? `${what} other than ${list}` : `${what} ${list}`;
  }

  /** `tcp/22 from agentfarm (10.0.0.10) to internet through port tap101i0`. */
  box(b: Box): string {
    let text = this.flows(b.flow);
    if (!isAll(b.src)) text += ` from ${this.addrs(b.src)}`;
    if (!isAll(b.dst)) text += ` to ${this.addrs(b.dst)}`;
    const port = Namer.ifs(b.port, 'through bridge port', this.portOf);
    const iif = Namer.ifs(b.iif, 'in on');
    const oif = Namer.ifs(b.oif, 'out on');
    if (port) text += ` ${port}`;
    if (iif) text += ` ${iif}`;
    if (oif) text += ` ${oif}`;
    // New connections are what every question is about; only say so when the part is replies.
    if (b.state === STATE_ESTABLISHED) text += ' (established connections)';
    return text;
  }
}

// ---- ports opened to every address -----------------------------------------------------------

/** A destination so wide it takes in the user's own machines: `any`, or a prefix of /8 or shorter. */
export function isHugeTarget(t: Target): boolean {
  if (t.kind === 'any') return true;
  return t.kind === 'cidr' && t.range.hi - t.range.lo + 1 >= 2 ** 24;
}

/** `hosts`: the model's hosts sorted by name. */
function hostsIn(hosts: readonly Host[], space: RangeSet, except: ReadonlySet<string>): { name: string; kind: string }[] {
  const out: { name: string; kind: string }[] = [];
  for (const h of hosts) {
    if (except.has(h.name)) continue;
    if (h.nics.some((n) => R.contains(space, n.address))) out.push({ name: h.name, kind: h.kind });
  }
  return out;
}

function alsoReaches(model: Model, reached: readonly { name: string; kind: string }[], fromGuests: boolean, plural = false): string {
  if (reached.length === 0) return '';
  const list = reached
    .slice(0, 5)
    .map((h) => `${h.name} (${h.kind})`)
    .join(', ');
  const more = reached.length > 5 ? ` and ${reached.length - 5} more` : '';
  const guests = reached.some((h) => ['vm', 'container', 'sandbox'].includes(h.kind));
  const hosts = reached.some((h) => model.hosts.get(h.name)?.managed);
  const kinds = fromGuests ? [guests ? 'VM-to-VM' : '', hosts ? 'VM-to-host' : ''].filter(Boolean) : [];
  return `, so ${plural ? 'they also reach' : 'it also reaches'} ${list}${more}${kinds.length ? ` (${kinds.join(' and ')})` : ''}`;
}

/** `hosts`: the model's hosts, sorted by name. */
function portToAny(ir: Ir, names: Namer, hosts: readonly Host[], chains: readonly Chain[]): Diagnostic[] {
  const model = ir.model;
  const ds: Diagnostic[] = [];
  const declared = declaredSpace(model);
  for (const p of model.policy) {
    if (p.action !== 'allow' || p.ports === undefined || flowEqual(p.ports, ALL_FLOWS)) continue;
    const wide = p.to.filter((t) => isHugeTarget(t) && (t.kind === 'any' || R.intersect(targetAddrs(model, t), declared).length > 0));
    if (wide.length === 0) continue;
    const from = fromHosts(model, p);
    let space: RangeSet = R.EMPTY;
    for (const t of wide) space = R.union(space, targetAddrs(model, t));
    const fromGuests = [...from].some((h) => !model.hosts.get(h)?.trusted) || p.from.some((t) => t.kind === 'network' || t.kind === 'any');
    const reached = hostsIn(hosts, space, from);
    const w = wide.map((t) => (t.kind === 'any' ? 'any' : t.name)).join(', ');
    ds.push(
      diag(
        Code.PORT_TO_ANY,
        'warning',
        `${quote(p.origin)} allows ${formatFlowSet(p.ports)} to ${w === 'any' ? 'any address' : w}, not only to the internet${alsoReaches(model, reached, fromGuests)}`,
        atOrigin(p.origin),
        `if outbound access was meant, write \`to: internet\`; name any of your own machines it really needs beside it, e.g. \`to: [internet, ${reached[0]?.name ?? 'HOST'}]\``,
      ),
    );
  }
  // Hand-written chains: accepts with specific ports and no narrower destination, where the
  // destination varies. One finding per chain: such rules usually come as a list (a whitelist).
  for (const c of chains) {
    if (!c.handwritten || !['forward', 'output', 'guest-out'].includes(c.hook)) continue;
    const wide = c.rules.filter((r) => {
      const m = r.match;
      if (r.action !== 'accept' || m.state === 'established' || flowEqual(m.flows, ALL_FLOWS)) return false;
      const dst = m.dst ?? ALL;
      return R.size(dst) >= 2 ** 24 && R.intersect(dst, declared).length > 0;
    });
    const first = wide[0];
    if (!first) continue;
    let flows = NO_FLOWS;
    let dst: RangeSet = R.EMPTY;
    for (const r of wide) {
      flows = flowUnion(flows, r.match.flows);
      dst = R.union(dst, r.match.dst ?? ALL);
    }
    const reached = hostsIn(hosts, dst, new Set([c.host]));
    const guest = !model.hosts.get(c.host)?.trusted;
    const lines = [...new Set(wide.slice(1).map((r) => r.origin.line))].filter((l) => l > 0 && l !== first.origin.line);
    const at = lines.length === 0 ? '' : ` (line${lines.length > 1 ? 's' : ''} ${lines.join(', ')})`;
    const who =
      wide.length === 1
        ? `${quote(first.origin)} in ${c.point} allows`
        : `${quote(first.origin)} and ${wide.length - 1} more accept rule${wide.length > 2 ? 's' : ''}${at} in ${c.point} allow`;
    const to = wide.every((r) => r.match.dst === undefined) ? 'any destination' : names.addrs(dst);
    ds.push(
      diag(
        Code.PORT_TO_ANY,
        'warning',
        `${who} ${formatFlowSet(flows)} to ${to}, not only to the internet${alsoReaches(model, reached, guest, wide.length > 1)}`,
        atOrigin(first.origin),
        `if outbound access was meant, add \`to: internet\` to ${wide.length === 1 ? 'this rule' : 'these rules'}`,
      ),
    );
  }
  return ds;
}

/** Addresses of everything the spec declares: networks, tunnels and hosts. */
function declaredSpace(model: Model): RangeSet {
  const spans: [number, number][] = [];
  for (const n of [...model.networks.values(), ...model.tunnels.values()]) spans.push([n.range.lo, n.range.hi]);
  for (const h of model.hosts.values()) for (const nic of h.nics) spans.push([nic.address, nic.address]);
  return R.normalize(spans);
}

function fromHosts(model: Model, p: PolicyRule): Set<string> {
  const out = new Set<string>();
  for (const t of p.from) {
    if (t.kind === 'host' || t.kind === 'service') out.add(t.host);
  }
  return out;
}

// ---- unused names ----------------------------------------------------------------------------

/** `hosts`: the model's hosts, sorted by name. */
function unused(model: Model, hosts: readonly Host[], opts: LintOptions): Diagnostic[] {
  const ds: Diagnostic[] = [];
  const at = (path: (string | number)[], fallback?: Origin): { file: string; line: number; col: number; path: string } => {
    if (opts.source) return opts.source.pos(path, true);
    if (fallback) return { ...atOrigin(fallback), path: path.join('.') };
    return { file: model.file, line: 0, col: 0, path: path.join('.') };
  };
  for (const g of [...model.groups.keys()].sort()) {
    if (model.used.groups.has(g)) continue;
    const members = model.groups.get(g) ?? [];
    ds.push(
      diag(
        Code.UNUSED_GROUP,
        'warning',
        `group '${g}' is never used${
          members.length
            ? ` (it holds ${members
                .slice(0, 4)
                .map((t) => t.name)
                .join(', ')}${members.length > 4 ? ', …' : ''})`
            : ''
        }`,
        at(['groups', g]),
        'name it in a rule or an expectation, or remove it',
      ),
    );
  }
  for (const h of hosts) {
    if (h.services.size === 0) continue;
    for (const [s, flows] of sortByName([...h.services.entries()], (e) => e[0])) {
      if (model.used.services.has(`${h.name}.${s}`)) continue;
      ds.push(
        diag(
          Code.UNUSED_SERVICE,
          'warning',
          `service '${h.name}.${s}' (${formatFlowSet(flows)}) is never used: no rule, expectation or control channel names it`,
          at(['hosts', h.name, 'services', s], h.origin),
          `a service opens nothing by itself; allow it with a rule such as \`allow: { from: SOURCE, to: ${h.name}.${s} }\`, or remove it`,
        ),
      );
    }
  }
  return ds;
}
