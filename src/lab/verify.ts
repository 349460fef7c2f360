/**
 * `cordon lab verify`: probe every pair of the matrix live and compare with the static verifier.
 *
 * What is compared. The static engine answers "does a new connection's first packet get from A
 * to B through every enforcement point on the way?" (replies are assumed to come back through
 * the stateful rules). The lab measures exactly that: the agent sends each probe (a TCP SYN, a UDP
 * datagram, an ICMP echo request) from the source's namespace, and raw sockets in every namespace
 * report what their kernel DELIVERED locally, i.e. what got past the destination's own input
 * firewall. A probe counts as allowed when its packet was delivered. Whether an answer came back
 * (tcp connected or reset, udp echoed, icmp reply) is recorded too and shown, but it is not the
 * comparison: a network with `egress: none` lets packets out that can never be answered.
 *
 * Which flows. For every source endpoint (hosts, `internet`, `lan` when the spec uses it) and every
 * address of every destination (a host's nics; for a zone, one lab address per class of the
 * addresses the rules distinguish), each tcp and udp port the policy, services and expectations
 * name (both ends of a range), one port nothing names, and icmp.
 *
 * Sources that are not one address. The static engine treats the internet, the LAN and a roaming
 * peer outside its tunnel as "any address of that zone"; when it allows a flow it says for which
 * source address (a witness). The probe is then sent from a lab address in the same class as the
 * witness (the rules cannot tell them apart), from the internet or upstream namespace.
 */
import type { Ir } from '../ir/types.js';
import type { Source } from '../ir/paths.js';
import type { Expectation, Model } from '../model/types.js';
import { flowContains, formatFlow, type Flow, type FlowSet } from '../util/flows.js';
import { formatIPv4, inRange, parseIPv4 } from '../util/ip.js';
import { Engine, type Dest, type Reach } from '../verify/engine.js';
import { endpoints, destName, targetDests, targetSources, type Endpoint } from '../verify/endpoints.js';
import { explain, type Explanation } from '../verify/explain.js';
import { Agent, type ProbeRequest, type ProbeStatus, type Seen } from './agent.js';
import type { Progress } from './exec.js';
import { placeholderKeys } from './keys.js';
import { classOf, planLab, type AddrClass, type LabLayout } from './plan.js';

export interface VerifyOptions {
  /** How long a probe waits for its packet to be delivered and answered. */
  readonly timeoutMs: number;
  /** Probe only these flows (the benchmark uses 5); default: every port the spec names, one it does not, icmp. */
  readonly flows?: readonly Flow[];
  readonly say?: (p: Progress) => void;
}

/** One probe and its two verdicts. */
export interface ProbeCase {
  readonly id: number;
  /** Matrix row and column (endpoint names). */
  readonly from: string;
  readonly to: string;
  readonly dst: number;
  readonly flow: Flow;
  readonly srcNs: string;
  /** The source address the probe was bound to; undefined = the kernel's choice. */
  readonly srcAddr: number | undefined;
  readonly dstNs: string;
  readonly staticAllowed: boolean;
  delivered: boolean;
  status: ProbeStatus;
  ms: number;
  detail: string | undefined;
  /** Sent a second time because the first was not seen although the static engine allows it. */
  retried?: boolean;
}

export interface Difference {
  readonly probe: ProbeCase;
  /** The static engine's account of the flow, hop by hop. */
  readonly explanation: Explanation;
  /** What the lab saw, in words. */
  readonly live: string;
}

export interface CellSummary {
  readonly from: string;
  readonly to: string;
  readonly probes: number;
  readonly delivered: number;
  readonly staticAllowed: number;
  readonly differences: number;
  /** Delivered, but no answer came back (informational). */
  readonly unanswered: number;
}

export interface StepResult {
  readonly text: string;
  readonly comment: string | undefined;
  readonly verdict: 'allow' | 'deny';
  readonly ok: boolean;
  /** Probes behind the step. */
  readonly probes: number;
  readonly delivered: number;
  readonly answered: number;
  readonly detail: string;
}

export interface VerifyResult {
  readonly file: string;
  readonly prefix: string;
  readonly endpoints: readonly string[];
  readonly probes: readonly ProbeCase[];
  readonly cells: readonly CellSummary[];
  readonly differences: readonly Difference[];
  readonly steps: readonly StepResult[];
  readonly ms: { readonly prepare: number; readonly probe: number; readonly total: number };
  readonly flows: readonly string[];
}

/** One packet each way through every tunnel before the real probes, so every session is in use. */
function tunnelWarmup(L: LabLayout): ProbeCase[] {
  const out: ProbeCase[] = [];
  for (const t of L.tunnels) {
    if (t.server) continue;
    const server = L.tunnels.find((x) => x.tunnel === t.tunnel && x.server);
    if (!server) continue;
    for (const [from, to] of [
      [t, server],
      [server, t],
    ] as const) {
      out.push({
        id: -(out.length + 1),
        from: from.host,
        to: to.host,
        dst: to.addr,
        flow: { proto: 'icmp' },
        srcNs: from.ns,
        srcAddr: undefined,
        dstNs: to.ns,
        staticAllowed: false,
        delivered: false,
        status: 'error',
        ms: 0,
        detail: 'warm-up',
      });
    }
  }
  return out;
}

/** Ports to probe: both ends of every range the spec names, plus one port nothing names. */
export function probeFlows(model: Model): Flow[] {
  const tcp = new Set<number>();
  const udp = new Set<number>();
  const add = (f: FlowSet | undefined): void => {
    if (!f) return;
    for (const [set, into] of [
      [f.tcp, tcp],
      [f.udp, udp],
    ] as const) {
      for (const [lo, hi] of set) {
        if (lo <= 1 && hi >= 65535) continue;
        into.add(Math.max(lo, 1));
        into.add(hi);
      }
    }
  };
  for (const r of model.policy) add(r.ports);
  for (const h of model.hosts.values()) for (const f of h.services.values()) add(f);
  for (const e of model.expectations) add(e.flows);
  for (const t of model.tunnels.values()) udp.add(t.listen);
  if (model.dns) {
    udp.add(53);
    tcp.add(53);
  }
  const closed = (used: Set<number>): number => {
    let p = 9;
    while (used.has(p)) p++;
    return p;
  };
  const out: Flow[] = [];
  for (const p of [...tcp, closed(tcp)].sort((a, b) => a - b)) out.push({ proto: 'tcp', port: p });
  for (const p of [...udp, closed(udp)].sort((a, b) => a - b)) out.push({ proto: 'udp', port: p });
  out.push({ proto: 'icmp' });
  return out;
}

const SPORT_LO = 10000;
const SPORT_HI = 60999;
const WAVE = 250000;

interface Planned {
  from: Endpoint;
  to: string;
  dst: number;
  flow: Flow;
  reach: Reach;
}

export async function verifyLab(ir: Ir, prefix: string, opts: VerifyOptions): Promise<VerifyResult> {
  const t0 = performance.now();
  const plan = planLab(ir, { prefix, keys: placeholderKeys() });
  const L = plan.layout;
  const engine = new Engine(ir);
  const eps = endpoints(ir.model);
  const flows = opts.flows ?? probeFlows(ir.model);
  const reachCache = new Map<string, Reach>();
  const reachOf = (src: Source, dst: number): Reach => {
    const k = `${src.kind === 'host' ? src.host : `@${src.zone}`}|${dst}`;
    let r = reachCache.get(k);
    if (!r) {
      r = engine.reach(src, { kind: 'addr', addr: dst }, 'configured');
      reachCache.set(k, r);
    }
    return r;
  };
  const planned: Planned[] = [];
  for (const a of eps) {
    for (const b of eps) {
      if (a === b || (a.source.kind === 'zone' && b.dest.kind === 'zone')) continue;
      for (const dst of destAddresses(b.dest, ir.model, L, engine)) {
        const reach = reachOf(a.source, dst);
        for (const flow of flows) planned.push({ from: a, to: b.name, dst, flow, reach });
      }
    }
  }
  // Expectations: the seed's own steps, probed the same way (most are already in the matrix).
  // Per expectation: for each (source, destination) pair and flow, the probes to the
  // destination's addresses (a flow reaches a host when it reaches any of its addresses).
  const stepProbes = new Map<Expectation, { groups: Map<string, string[]>; missing: string[] }>();
  const key = (from: string, dst: number, f: Flow): string => `${from}|${dst}|${formatFlow(f)}`;
  const have = new Set(planned.map((p) => key(p.from.name, p.dst, p.flow)));
  for (const e of ir.model.expectations) {
    if (!e.assume.includes('configured')) continue;
    const groups = new Map<string, string[]>();
    const missing: string[] = [];
    for (const s of targetSources(ir.model, e.from)) {
      for (const d of targetDests(ir.model, e.to)) {
        if (s.kind === 'host' && d.kind === 'host' && s.host === d.host) continue;
        const from = eps.find((x) =>
          s.kind === 'host' ? x.source.kind === 'host' && x.source.host === s.host : x.source.kind === 'zone' && x.source.zone === s.zone,
        );
        if (!from) continue;
        const addrs = destAddresses(d, ir.model, L, engine);
        const to = destName(ir.model, d);
        if (addrs.length === 0) missing.push(`${to} has no address in the lab`);
        for (const flow of stepFlows(e, flows)) {
          const g = `${from.name} → ${to} ${formatFlow(flow)}`;
          const list = groups.get(g) ?? [];
          for (const dst of addrs) {
            const k = key(from.name, dst, flow);
            list.push(k);
            if (!have.has(k)) {
              have.add(k);
              planned.push({ from, to, dst, flow, reach: reachOf(from.source, dst) });
            }
          }
          groups.set(g, list);
        }
      }
    }
    stepProbes.set(e, { groups, missing });
  }
  // Where each probe is sent from.
  const cases: ProbeCase[] = [];
  const defaultInternet = pickDefault(L.internetClasses, parseIPv4('198.51.100.1')!);
  const defaultLan = pickDefault(L.lanClasses, parseIPv4('192.168.77.1')!);
  for (const p of planned) {
    const staticAllowed = flowContains(p.reach.allowed, p.flow);
    const dstNs = L.addrNs.get(p.dst);
    if (!dstNs) continue;
    let srcNs: string;
    let srcAddr: number | undefined;
    const src = p.from.source;
    const anonymous = src.kind === 'zone' || isAnonymous(ir.model, src.host, p.dst);
    if (!anonymous && src.kind === 'host') {
      srcNs = L.hostNs.get(src.host)!;
      srcAddr = undefined;
    } else {
      const lan = src.kind === 'zone' && src.zone === 'lan';
      const cls = lan ? L.lanClasses : L.internetClasses;
      srcNs = lan ? L.upstreamNs : L.internetNs;
      const witness = staticAllowed ? p.reach.verdicts.find((v) => flowContains(v.allowed, p.flow))?.src : undefined;
      srcAddr = (witness !== undefined ? classOf(cls, witness)?.addrs[0] : undefined) ?? (lan ? defaultLan : defaultInternet);
    }
    cases.push({
      id: cases.length + 1,
      from: p.from.name,
      to: p.to,
      dst: p.dst,
      flow: p.flow,
      srcNs,
      srcAddr,
      dstNs,
      staticAllowed,
      delivered: false,
      status: 'error',
      ms: 0,
      detail: undefined,
    });
  }
  // Probes the static engine lets through a rate-limited rule are sent no faster than the limit
  // allows (the engine ignores rates; the kernel does not).
  const lanes = rateLanes(ir, cases, planned);
  const t1 = performance.now();
  opts.say?.({ stage: 'probe', event: 'start', steps: cases.length, ms: 0, message: undefined });
  // Source ports never collide with a port something in the lab listens on.
  const avoid = new Set<number>(flows.flatMap((f) => (f.port !== undefined ? [f.port] : [])));
  for (const s of plan.steps) if (s.kind === 'listen') avoid.add(s.port);
  for (const t of ir.model.tunnels.values()) avoid.add(t.listen);
  avoid.add(53).add(67).add(68);
  const watch = [...L.hostNs.values(), L.internetNs, L.upstreamNs];
  const warm = tunnelWarmup(L);
  await runProbes([...warm, ...cases], lanes, watch, avoid, opts, prefix);
  // A packet the static engine lets through and the lab did not see gets one more try, on its
  // own: a burst can overflow a userspace tunnel's queues, which is loss, not a verdict.
  const limited = new Set(lanes.flatMap((l) => l.cases));
  const again = cases.filter((c) => c.staticAllowed && !c.delivered && !limited.has(c) && !c.detail?.startsWith('not probed'));
  if (again.length > 0) {
    await new Promise((r) => setTimeout(r, 200));
    await runProbes(again, [], watch, avoid, opts, prefix);
    for (const c of again) c.retried = true;
  }
  const t2 = performance.now();
  opts.say?.({ stage: 'probe', event: 'done', steps: cases.length, ms: t2 - t1, message: undefined });

  // Compare.
  const byKey = new Map(cases.map((c) => [key(c.from, c.dst, c.flow), c]));
  const differences: Difference[] = [];
  for (const c of cases) {
    if (c.delivered === c.staticAllowed || c.detail?.startsWith('not probed')) continue;
    const p = planned[c.id - 1]!;
    differences.push({ probe: c, explanation: explain(ir, p.reach, c.flow), live: liveWords(c) });
  }
  const cells: CellSummary[] = [];
  const cellMap = new Map<string, CellSummary & { probes: number }>();
  for (const c of cases) {
    const k = `${c.from}\0${c.to}`;
    const cur = cellMap.get(k) ?? { from: c.from, to: c.to, probes: 0, delivered: 0, staticAllowed: 0, differences: 0, unanswered: 0 };
    cellMap.set(k, {
      ...cur,
      probes: cur.probes + 1,
      delivered: cur.delivered + (c.delivered ? 1 : 0),
      staticAllowed: cur.staticAllowed + (c.staticAllowed ? 1 : 0),
      differences: cur.differences + (c.delivered !== c.staticAllowed ? 1 : 0),
      unanswered: cur.unanswered + (c.delivered && !answered(c.status) ? 1 : 0),
    });
  }
  cells.push(...cellMap.values());
  const steps: StepResult[] = [];
  for (const e of ir.model.expectations) {
    const sp = stepProbes.get(e);
    if (!sp) continue;
    const groups = [...sp.groups].map(([name, keys]) => ({ name, probes: keys.map((k) => byKey.get(k)).filter((x): x is ProbeCase => x !== undefined) }));
    const all = groups.flatMap((g) => g.probes);
    const reached = groups.filter((g) => g.probes.some((p) => p.delivered));
    let ok: boolean;
    let detail: string;
    if (all.length === 0) {
      // A destination without an address cannot be reached: a deny holds, an allow cannot.
      ok = e.verdict === 'deny' && sp.missing.length > 0;
      detail = sp.missing.length ? `${sp.missing.join('; ')}${ok ? ': nothing can reach it' : ''}` : 'nothing to probe';
    } else if (e.verdict === 'deny') {
      ok = reached.length === 0;
      detail = ok
        ? `${all.length} probe${all.length === 1 ? '' : 's'}, none delivered`
        : `delivered: ${reached
            .slice(0, 3)
            .map((g) => g.name)
            .join('; ')}`;
    } else if (e.flows) {
      const lost = groups.filter((g) => !g.probes.some((p) => p.delivered));
      ok = lost.length === 0;
      detail = ok
        ? `delivered${reached.every((g) => g.probes.some((p) => p.delivered && answered(p.status))) ? ' and answered' : ''}: ${groups
            .slice(0, 3)
            .map((g) => g.name)
            .join('; ')}${groups.length > 3 ? ` and ${groups.length - 3} more` : ''}`
        : `not delivered: ${lost
            .slice(0, 3)
            .map((g) => g.name)
            .join('; ')}`;
    } else {
      // "any flow at all": every source reaches every destination with something.
      const pairs = new Map<string, boolean>();
      for (const g of groups) {
        const pair = g.name.replace(/ [^ ]+$/, '');
        pairs.set(pair, (pairs.get(pair) ?? false) || g.probes.some((p) => p.delivered));
      }
      const none = [...pairs].filter(([, v]) => !v).map(([k]) => k);
      ok = none.length === 0;
      detail = ok ? `${all.filter((p) => p.delivered).length} of ${all.length} probes delivered` : `nothing delivered: ${none.slice(0, 3).join('; ')}`;
    }
    const delivered = all.filter((p) => p.delivered);
    steps.push({
      text: e.origin.text,
      comment: e.comment,
      verdict: e.verdict,
      ok,
      probes: all.length,
      delivered: delivered.length,
      answered: delivered.filter((p) => answered(p.status)).length,
      detail,
    });
  }
  return {
    file: ir.model.file,
    prefix,
    endpoints: eps.map((e) => e.name),
    probes: cases,
    cells,
    differences,
    steps,
    ms: { prepare: t1 - t0, probe: t2 - t1, total: performance.now() - t0 },
    flows: flows.map(formatFlow),
  };
}

function answered(s: ProbeStatus): boolean {
  return s === 'ok' || s === 'refused';
}

function pickDefault(cls: readonly AddrClass[], typical: number): number | undefined {
  return (classOf(cls, typical) ?? cls[0])?.addrs[0];
}

/** A roaming peer sends outside its tunnel (from somewhere on the internet) to this address. */
function isAnonymous(model: Model, host: string, dst: number): boolean {
  const h = model.hosts.get(host)!;
  if (!h.roaming) return false;
  const t = h.nics.map((n) => model.tunnels.get(n.segment)).find((x) => x !== undefined);
  if (!t) return true;
  if (inRange(dst, t.range)) return false;
  for (const n of model.networks.values()) if (inRange(dst, n.range)) return false;
  return true;
}

/** The lab addresses standing for a destination. */
export function destAddresses(d: Dest, model: Model, L: LabLayout, engine: Engine): number[] {
  switch (d.kind) {
    case 'host':
      return (model.hosts.get(d.host)?.nics ?? []).map((n) => n.address).filter((a) => L.addrNs.has(a));
    case 'addr':
      return L.addrNs.has(d.addr) ? [d.addr] : [];
    case 'zone': {
      const cls = d.zone === 'internet' ? L.internetClasses : L.lanClasses;
      const out = new Set<number>();
      for (const rep of engine.zoneDestinations(d.zone)) {
        const c = classOf(cls, rep);
        if (c) out.add(c.addrs[0]!);
      }
      return [...out].sort((a, b) => a - b);
    }
  }
}

/** The sampled flows that stand for an expectation's flows. */
function stepFlows(e: Expectation, flows: readonly Flow[]): Flow[] {
  if (!e.flows) return [...flows];
  const f = e.flows;
  const out = flows.filter((x) => flowContains(f, x));
  return out;
}

function liveWords(c: ProbeCase): string {
  const from = c.srcAddr !== undefined ? ` (sent from ${formatIPv4(c.srcAddr)} in ${c.srcNs})` : ` (sent from ${c.srcNs})`;
  if (c.delivered) return `delivered to ${c.dstNs}${from}; answer: ${c.status}`;
  return `not delivered within the timeout${from}; the sender saw: ${c.status}${c.detail ? ` (${c.detail})` : ''}`;
}

/** A rate-limited rule and the probes that must pass it. */
export interface RateLane {
  readonly rule: string;
  /** Packets the limiter lets through at once (nft's default burst). */
  readonly burst: number;
  /** Seconds to refill the burst. */
  readonly refill: number;
  readonly cases: ProbeCase[];
}

const NFT_DEFAULT_BURST = 5;

function rateLanes(ir: Ir, cases: readonly ProbeCase[], planned: readonly Planned[]): RateLane[] {
  const rules = new Map<string, string>();
  for (const c of ir.chains.values()) for (const r of c.rules) if (r.rate) rules.set(r.id, r.rate);
  if (rules.size === 0) return [];
  const lanes = new Map<string, RateLane>();
  for (const c of cases) {
    if (!c.staticAllowed) continue;
    const e = explain(ir, planned[c.id - 1]!.reach, c.flow);
    for (const h of e.path?.hops ?? []) {
      if (h.decision.kind !== 'rule') continue;
      const rate = rules.get(h.decision.ruleId);
      if (!rate) continue;
      const m = /^(\d+)\/(second|minute|hour)$/.exec(rate);
      const perSecond = m ? Number(m[1]) / (m[2] === 'second' ? 1 : m[2] === 'minute' ? 60 : 3600) : 1;
      const lane = lanes.get(h.decision.ruleId) ?? {
        rule: `${h.decision.ruleId} (${rate}, "${h.decision.origin.text}")`,
        burst: NFT_DEFAULT_BURST,
        refill: NFT_DEFAULT_BURST / perSecond,
        cases: [],
      };
      lane.cases.push(c);
      lanes.set(h.decision.ruleId, lane);
      break;
    }
  }
  return [...lanes.values()];
}

/** Rate-limited probes go out in small waves the limiters can take, with pauses in between. */
const MAX_RATE_WAIT_S = 20;

export async function runProbes(
  cases: ProbeCase[],
  lanes: readonly RateLane[],
  watch: readonly string[],
  avoid: ReadonlySet<number>,
  opts: VerifyOptions,
  prefix: string,
): Promise<void> {
  const limited = new Set(lanes.flatMap((l) => l.cases));
  const normal = cases.filter((c) => !limited.has(c));
  const waves: { cases: ProbeCase[]; pause: number }[] = [];
  for (let w = 0; w < normal.length; w += WAVE) waves.push({ cases: normal.slice(w, w + WAVE), pause: 0 });
  const queues = lanes.map((l) => ({ lane: l, rest: [...l.cases] }));
  let waited = 0;
  while (queues.some((q) => q.rest.length > 0)) {
    const pause = Math.max(...queues.filter((q) => q.rest.length > 0).map((q) => q.lane.refill));
    if (waves.length > 0 && waited + pause > MAX_RATE_WAIT_S) {
      for (const q of queues) for (const c of q.rest.splice(0)) c.detail = `not probed: ${q.lane.rule} would take too long to refill`;
      break;
    }
    waves.push({ cases: queues.flatMap((q) => q.rest.splice(0, q.lane.burst - 1)), pause: waves.length > 0 ? pause : 0 });
    waited += pause;
  }
  const dbg = (what: string): void => {
    if (process.env.CORDON_LAB_DEBUG) process.stderr.write(`${(performance.now() / 1000).toFixed(3)} ${what}\n`);
  };
  dbg(`runProbes ${cases.length}`);
  const warmups = cases.filter((c) => c.id < 0).length;
  const probes = cases.length - warmups;
  // Two agents, one per core: the first watches every namespace and probes from half of them, the
  // second probes from the other half. A packet is mostly work of the sending process's kernel
  // context, so this halves the time on two cores.
  const agents = [Agent.start(prefix, { daemon: false }), ...(cases.length > 2000 ? [Agent.start(prefix, { daemon: false })] : [])];
  let watcher = agents[0]!;
  try {
    let errs = await watcher.batch([...new Set(watch)].map((ns) => ['watch', ns]));
    // An agent that died before its first answer (seen once under heavy load) gets one fresh start.
    if (errs.some((e) => e !== undefined && e.includes('agent exited'))) {
      dbg(`watcher restarted: ${errs.find((e) => e !== undefined)}`);
      watcher = Agent.start(prefix, { daemon: false });
      agents[0] = watcher;
      errs = await watcher.batch([...new Set(watch)].map((ns) => ['watch', ns]));
    }
    dbg('watching');
    const bad = errs.find((e) => e !== undefined);
    if (bad) throw new Error(`the lab agent cannot watch the lab: ${bad}`);
    let w = 0;
    for (const { cases: wave, pause } of waves) {
      if (pause > 0) await new Promise((r) => setTimeout(r, pause * 1000));
      // Source ports are unique per destination namespace, protocol and port (what a delivery is
      // matched by), and so never collide in a NAT on the way either; echo ids are unique per run.
      const base = SPORT_LO + Math.floor(Math.random() * 20000);
      const next = new Map<string, number>();
      let icmpN = Math.floor(Math.random() * 30000);
      const reqs: ProbeRequest[][] = agents.map(() => []);
      const expect = new Map<string, ProbeCase>();
      const split = new Map<string, number>();
      for (const c of wave) {
        const proto = c.flow.proto as 'tcp' | 'udp' | 'icmp';
        let sport: number;
        let dport: number;
        if (proto === 'icmp') {
          icmpN++;
          sport = icmpN & 0xffff;
          dport = (icmpN >>> 16) + 1;
        } else {
          dport = c.flow.port!;
          const k = `${c.dstNs}|${proto}|${dport}`;
          let port = next.get(k) ?? base;
          while (avoid.has(port)) port++;
          if (port > SPORT_HI) throw new Error(`too many probes to ${k} for one run`);
          sport = port;
          next.set(k, port + 1);
        }
        let a = split.get(c.srcNs);
        if (a === undefined) {
          a = split.size % agents.length;
          split.set(c.srcNs, a);
        }
        reqs[a]!.push({
          id: c.id,
          ns: c.srcNs,
          proto,
          src: c.srcAddr !== undefined ? formatIPv4(c.srcAddr) : undefined,
          dst: formatIPv4(c.dst),
          port: dport,
          sport,
        });
        expect.set(`${c.dstNs}|${proto}|${sport}|${dport}`, c);
      }
      const byId = new Map(wave.map((c) => [c.id, c]));
      // Progress counts the probes the result reports: tunnel warm-ups (negative ids, sent first)
      // are not among them, so "probing: 500/N" and the "N probes" that follow say the same N.
      const done = w - warmups;
      dbg(`wave of ${wave.length} ready`);
      // Each agent reports how many of its own probes have a result so far.
      const answered = agents.map(() => 0);
      const outs = await Promise.all(
        agents.map((ag, i) =>
          ag.run(reqs[i]!, opts.timeoutMs, (n) => {
            answered[i] = n;
            const sofar = Math.max(0, done + answered.reduce((a, b) => a + b, 0));
            opts.say?.({ stage: 'probe', event: 'note', steps: probes, ms: 0, message: `probing: ${Math.min(sofar, probes)}/${probes}` });
          }),
        ),
      );
      // Deliveries of the other agent's last probes may still be queued on the watcher's sockets.
      if (agents.length > 1) outs.push(await watcher.run([], 0));
      w += wave.length;
      for (const out of outs) {
        for (const r of out.results) {
          const c = byId.get(r.id);
          if (!c) continue;
          c.status = r.status;
          c.ms = r.ms;
          c.detail = r.detail;
        }
        for (const s of out.seen) markSeen(expect, s);
      }
      dbg(`wave done, ${outs.reduce((a, o) => a + o.seen.length, 0)} seen`);
    }
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
  }
}

function markSeen(expect: Map<string, ProbeCase>, s: Seen): void {
  const c = expect.get(`${s.ns}|${s.proto}|${s.sport}|${s.dport}`);
  if (c) c.delivered = true;
}

export function verifyToJson(r: VerifyResult): unknown {
  return {
    file: r.file,
    prefix: r.prefix,
    ok: r.differences.length === 0 && r.steps.every((s) => s.ok),
    probes: r.probes.length,
    delivered: r.probes.filter((p) => p.delivered).length,
    retried: r.probes.filter((p) => p.retried).length,
    deliveredOnRetry: r.probes.filter((p) => p.retried && p.delivered).length,
    differences: r.differences.map((d) => ({
      from: d.probe.from,
      to: d.probe.to,
      dst: formatIPv4(d.probe.dst),
      flow: formatFlow(d.probe.flow),
      static: d.probe.staticAllowed ? 'allow' : 'deny',
      live: d.probe.delivered ? 'delivered' : 'not delivered',
      liveDetail: d.live,
      explanation: d.explanation,
    })),
    cells: r.cells,
    steps: r.steps,
    flows: r.flows,
    ms: { prepare: Math.round(r.ms.prepare), probe: Math.round(r.ms.probe), total: Math.round(r.ms.total) },
  };
}
