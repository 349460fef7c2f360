/**
 * Benchmark: `lint` of one 5,000-rule chain (target: under 1 s).
 *
 * The chain is what an imported firewall of a busy host looks like: a stateful rule, then rules
 * over /16–/32 prefixes from a handful of sites, single ports and port ranges, some bound to an
 * input interface, 70 % accept. About one rule in twenty is a narrowed copy of an earlier rule
 * (shadowed by one), and some are covered only by two earlier rules together. Generated from a
 * fixed seed, so every run lints the same chain.
 *
 * Baseline, measured in the same run over the same chain: the naive pass every lint needs at the
 * least, testing every pair of rules for a shared packet (O(n²) box intersections, no coverage).
 * `ratio` = lint time / baseline time.
 */
import type { Chain, Ir, IrMatch, IrRule } from '../src/ir/types.js';
import { loadModelFromText } from '../src/model/load.js';
import type { Origin } from '../src/model/types.js';
import { ALL_FLOWS, flowIntersect, flowIsEmpty, NO_FLOWS, type FlowSet } from '../src/util/flows.js';
import * as R from '../src/util/rangeset.js';
import type { RangeSet } from '../src/util/rangeset.js';
import { lint } from '../src/verify/lint.js';
import { lintChain } from '../src/verify/lint-chain.js';

const RULES = 5000;

/** mulberry32: small, fast, deterministic. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function prefix(base: number, len: number, rand: () => number): RangeSet {
  const size = 2 ** (32 - len);
  const within = Math.floor(rand() * (2 ** 16 / Math.min(size, 2 ** 16))) * size;
  const lo = base + (within % 2 ** 16);
  return [[lo, lo + size - 1]];
}

function pickLen(rand: () => number): number {
  const x = rand();
  return x < 0.05 ? 16 : x < 0.15 ? 20 : x < 0.5 ? 24 : x < 0.7 ? 28 : 32;
}

function flows(rand: () => number): FlowSet {
  const x = rand();
  const proto = rand() < 0.8 ? 'tcp' : 'udp';
  if (x < 0.05) return { ...NO_FLOWS, icmp: true };
  if (x < 0.1) return { ...NO_FLOWS, [proto]: [[1, 65535]] };
  if (x < 0.4) {
    const lo = 1024 + Math.floor(rand() * 60000);
    return { ...NO_FLOWS, [proto]: [[lo, lo + Math.floor(rand() * 500)]] };
  }
  const common = [22, 53, 80, 443, 3306, 5432, 6379, 8080, 8443, 11434];
  return {
    ...NO_FLOWS,
    [proto]: [[common[Math.floor(rand() * common.length)]!, common[Math.floor(rand() * common.length)]!]].map(
      ([a, b]) => [Math.min(a!, b!), Math.max(a!, b!)] as const,
    ),
  };
}

/** Narrows a set to a random part of it (a sub-prefix, a sub-range). */
function narrow(rs: RangeSet, rand: () => number): RangeSet {
  const [lo, hi] = rs[0]!;
  const size = hi - lo + 1;
  if (size === 1) return rs;
  const part = Math.max(1, Math.floor(size / 2 ** (1 + Math.floor(rand() * 4))));
  const start = lo + Math.floor(rand() * (size - part + 1));
  return [[start, start + part - 1]];
}

function narrowFlows(f: FlowSet, rand: () => number): FlowSet {
  return { ...f, tcp: f.tcp.length ? narrow(f.tcp, rand) : f.tcp, udp: f.udp.length ? narrow(f.udp, rand) : f.udp };
}

export function buildChain(n = RULES, seed = 5000): Chain {
  const rand = rng(seed);
  const srcSites = Array.from({ length: 8 }, (_, k) => (10 << 24) + (k << 16));
  const dstSites = Array.from({ length: 8 }, (_, k) => ((172 << 24) + ((16 + k) << 16)) >>> 0);
  const ifs = ['eth0', 'eth1', 'wg0', 'vmbr1'];
  const origin = (i: number, text: string): Origin => ({ file: 'bench.yaml', line: i + 1, col: 7, path: `firewalls.fw:forward.rules[${i}]`, text });
  const matches: { m: IrMatch; action: 'accept' | 'drop'; role: IrRule['role'] }[] = [
    {
      m: { src: undefined, dst: undefined, flows: ALL_FLOWS, iif: undefined, oif: undefined, inPort: undefined, state: 'established' },
      action: 'accept',
      role: 'stateful',
    },
  ];
  while (matches.length < n) {
    const x = rand();
    const prev = matches[1 + Math.floor(rand() * Math.max(1, matches.length - 1))];
    if (x < 0.05 && prev && prev.role === 'handwritten') {
      // A narrowed copy of an earlier rule: shadowed by it.
      const p = prev.m;
      matches.push({
        m: { ...p, src: narrow(p.src!, rand), dst: narrow(p.dst!, rand), flows: narrowFlows(p.flows, rand) },
        action: rand() < 0.5 ? prev.action : prev.action === 'accept' ? 'drop' : 'accept',
        role: 'handwritten',
      });
      continue;
    }
    const src = prefix(srcSites[Math.floor(rand() * srcSites.length)]!, pickLen(rand), rand);
    const dst = prefix(dstSites[Math.floor(rand() * dstSites.length)]!, pickLen(rand), rand);
    const iif = rand() < 0.5 ? [ifs[Math.floor(rand() * ifs.length)]!] : undefined;
    const action = rand() < 0.7 ? 'accept' : 'drop';
    if (x < 0.08 && matches.length + 3 <= n) {
      // Two rules that only together cover a third.
      const lo = 2000 + Math.floor(rand() * 50000);
      const base = { src, dst, oif: undefined, inPort: undefined, state: undefined, iif } as const;
      matches.push({ m: { ...base, flows: { ...NO_FLOWS, tcp: [[lo, lo + 50]] } }, action, role: 'handwritten' });
      matches.push({ m: { ...base, flows: { ...NO_FLOWS, tcp: [[lo + 40, lo + 100]] } }, action, role: 'handwritten' });
      matches.push({ m: { ...base, flows: { ...NO_FLOWS, tcp: [[lo + 10, lo + 90]] } }, action: rand() < 0.5 ? 'accept' : 'drop', role: 'handwritten' });
      continue;
    }
    matches.push({ m: { src, dst, flows: flows(rand), iif, oif: undefined, inPort: undefined, state: undefined }, action, role: 'handwritten' });
  }
  const rules: IrRule[] = matches.map((x, index) => ({
    id: `fw:forward#${index}`,
    index,
    match: x.m,
    action: x.action,
    log: false,
    rate: undefined,
    role: x.role,
    origin: origin(index, `${x.action.toUpperCase()} rule ${index}`),
    policyIndex: undefined,
  }));
  return {
    point: 'fw:forward',
    host: 'fw',
    hook: 'forward',
    enforcedOn: 'fw',
    inGuest: false,
    policy: 'drop',
    policyOrigin: origin(-1, 'fw:forward policy drop'),
    rules,
    handwritten: true,
  };
}

/** The chain with an empty model around it (the model only matters for names in messages). */
function irOf(chain: Chain): Ir {
  const r = loadModelFromText('version: 1\ndescription: lint benchmark\n', 'bench.yaml');
  if (!r.model) throw new Error(`bench model: ${r.diagnostics.map((d) => d.message).join('; ')}`);
  return { model: r.model, chains: new Map([[chain.point, chain]]), diagnostics: [] };
}

/** The naive baseline: every pair of rules tested for a shared packet, with plain set operations. */
function pairwise(chain: Chain): number {
  const sets = (a: RangeSet | undefined, b: RangeSet | undefined): boolean => !a || !b || R.intersect(a, b).length > 0;
  const names = (a: readonly string[] | undefined, b: readonly string[] | undefined): boolean => !a || !b || a.some((x) => b.includes(x));
  let pairs = 0;
  const rules = chain.rules;
  for (let i = 0; i < rules.length; i++) {
    const a = rules[i]!.match;
    for (let j = 0; j < i; j++) {
      const b = rules[j]!.match;
      if (
        (a.state === undefined || b.state === undefined || a.state === b.state) &&
        sets(a.src, b.src) &&
        sets(a.dst, b.dst) &&
        !flowIsEmpty(flowIntersect(a.flows, b.flows)) &&
        names(a.iif, b.iif) &&
        names(a.oif, b.oif) &&
        names(a.inPort, b.inPort)
      )
        pairs++;
    }
  }
  return pairs;
}

/** Wall time, and this process's CPU time (which a busy machine inflates much less). */
function time<T>(f: () => T): { ms: number; cpuMs: number; value: T } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = f();
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { ms, cpuMs: (c.user + c.system) / 1000, value };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export async function benchLint(): Promise<{ name: string; ms: number; baselineMs: number; ratio: number; notes: string }> {
  const chain = buildChain();
  const ir = irOf(chain);
  // Warm the JIT on a smaller chain so the timed runs measure steady state.
  lint(irOf(buildChain(500, 7)));
  pairwise(buildChain(500, 7));
  const runs = [0, 1, 2].map(() => time(() => lint(ir)));
  const base = [0, 1, 2].map(() => time(() => pairwise(chain)));
  const ms = median(runs.map((r) => r.ms));
  const baselineMs = median(base.map((r) => r.ms));
  const ds = runs[0]!.value;
  const per = lintChain(chain);
  const count = (code: string): number => ds.filter((d) => d.code === code).length;
  const twoOrMore = [...per.shadowed.values()].filter((s) => s.by.length >= 2).length;
  return {
    name: `lint: one ${chain.rules.length}-rule chain`,
    ms,
    baselineMs,
    ratio: ms / baselineMs,
    notes:
      `median of 3 runs (CPU ${median(runs.map((r) => r.cpuMs)).toFixed(0)} ms lint, ${median(base.map((r) => r.cpuMs)).toFixed(0)} ms baseline); ` +
      `${count('CORDON030')} shadowed (${twoOrMore} covered only by 2+ rules together), ${count('CORDON031')} redundant, ` +
      `${count('CORDON032')} overlaps, ${per.undecided.length} undecided; baseline = naive O(n²) pairwise intersection test ` +
      `(${base[0]!.value} intersecting pairs, no coverage); target < 1000 ms`,
  };
}
