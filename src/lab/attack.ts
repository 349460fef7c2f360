/**
 * `cordon lab attack HOST`: the compromised-guest view, tested for real. From inside the guest's
 * namespace (where a hostile workload has root) the lab tries what DESIGN.md's threat model says
 * such a workload can do, and reports which moves get it further:
 *
 *   1. flush its in-guest firewall (`nft flush ruleset`);
 *   2. route around its configuration: send via every other forwarding host on each of its
 *      networks, through every tunnel it holds keys for, out of its internet interface;
 *   3. change its address / forge its source: send from the source addresses the static engine
 *      distinguishes (one lab address per class), and from one more foreign address;
 *   4. use UDP, ICMP and DNS (udp/53 to public resolvers) to get out: part of every probe round.
 *
 * Everything it reaches this way (a packet delivered past the destination's input firewall, as in
 * `lab verify`) is compared with `cordon matrix --assume compromised` for this source: the static
 * engine lets an untrusted source pick any first hop and forge any source address, so every flow
 * the attack gets through must be one it predicted, and every flow it predicts should be one the
 * attack reaches. Afterwards the guest's routes, addresses and firewall are put back.
 */
import { run } from '../system/exec.js';
import type { Ir } from '../ir/types.js';
import { lanRouterAddress } from '../model/bridge-ports.js';
import type { Host } from '../model/types.js';
import { flowContains, formatFlow, type Flow } from '../util/flows.js';
import { ADDR_MAX, formatIPv4 } from '../util/ip.js';
import * as R from '../util/rangeset.js';
import { Engine, type Reach } from '../verify/engine.js';
import { endpoints } from '../verify/endpoints.js';
import { explain, type Explanation } from '../verify/explain.js';
import type { Progress } from './exec.js';
import { placeholderKeys } from './keys.js';
import { planLab, WG_FWMARK, WORLD_GW, type LabLayout } from './plan.js';
import { destAddresses, probeFlows, runProbes, type ProbeCase } from './verify.js';

/** The routing table the attack's routes go into (looked up before main, except by WireGuard's own transport). */
const ATTACK_TABLE = 777;

export interface AttackMove {
  /** What the workload does, in words. */
  readonly move: string;
  /** The commands, as run inside the guest's namespace. */
  readonly commands: readonly string[];
  /** The move itself worked (the kernel accepted it). */
  readonly done: boolean;
  /** Flows it reaches that the unmodified guest does not reach (for the summary move: what gets out). */
  readonly gained: readonly string[];
  /** A summary over every round rather than one move. */
  readonly summary?: boolean;
  /** For the summary: how many of the (destination, flow) pairs that got out the compromised view does not allow. */
  readonly unexpected?: number;
}

export interface AttackDifference {
  readonly to: string;
  readonly dst: string;
  readonly flow: string;
  readonly static: 'allow' | 'deny';
  readonly live: 'delivered' | 'not delivered';
  /** The move and source that got it through, when it got through. */
  readonly how: string | undefined;
  readonly explanation: Explanation;
}

export interface AttackResult {
  readonly host: string;
  readonly prefix: string;
  readonly moves: readonly AttackMove[];
  readonly probes: number;
  /** (destination, flow) pairs probed, reached as configured, reached under attack, allowed by the compromised view. */
  readonly pairs: number;
  readonly reachedConfigured: number;
  readonly reachedAttack: number;
  readonly staticCompromised: number;
  readonly differences: readonly AttackDifference[];
  readonly ms: number;
  readonly notes: readonly string[];
}

interface Choice {
  readonly name: string;
  /** `ip route` arguments after `DST/32`, for the attack table; undefined = the configured routes. */
  readonly via: string | undefined;
}

function martian(a: number): boolean {
  return a < 0x01000000 || a >>> 24 === 127 || a >= 0xe0000000 || a >>> 16 === 0xa9fe;
}

/** Routes a hostile guest can take instead of its configured ones (paths.ts firstHops). */
function routeChoices(ir: Ir, h: Host): Choice[] {
  const out: Choice[] = [{ name: 'as configured', via: undefined }];
  for (const nic of h.nics) {
    const net = ir.model.networks.get(nic.segment);
    if (net) {
      for (const other of [...ir.model.hosts.values()].sort((a, b) => a.name.localeCompare(b.name))) {
        if (other === h || !other.forward) continue;
        const onet = other.nics.find((n) => n.segment === net.name);
        if (onet)
          out.push({
            name: `add a route via ${other.name} (${formatIPv4(onet.address)}) on ${net.name}`,
            via: `via ${formatIPv4(onet.address)} dev ${nic.ifname}`,
          });
      }
    }
    // On a bridge with a physical port, a router of the LAN beyond it is one hop away (the lab's upstream holds it).
    const router = net && net.owner !== h.name ? lanRouterAddress(ir.model, net) : undefined;
    if (net && router !== undefined)
      out.push({
        name: `add a route via a router on the LAN beyond ${net.ports.join(', ')} (${formatIPv4(router)}) on ${net.name}`,
        via: `via ${formatIPv4(router)} dev ${nic.ifname}`,
      });
    const tun = ir.model.tunnels.get(nic.segment);
    if (tun) out.push({ name: `route everything through ${tun.name}`, via: `dev ${tun.ifname}` });
    if (nic.segment === 'internet')
      out.push({ name: `route everything out of its internet interface ${nic.ifname}`, via: `via ${formatIPv4(WORLD_GW)} dev ${nic.ifname} onlink` });
  }
  if (h.uplink) out.push({ name: `route everything out of ${h.uplink}`, via: `via ${formatIPv4(WORLD_GW)} dev ${h.uplink} onlink` });
  return out;
}

/** Source addresses worth forging: the classes the static engine allows something from, made usable. */
function forgedSources(ir: Ir, h: Host, reaches: readonly Reach[], L: LabLayout): number[] {
  const own = new Set(h.nics.map((n) => n.address));
  const cuts: number[] = [];
  for (const c of ir.chains.values()) for (const r of c.rules) if (r.match.src) for (const [lo, hi] of r.match.src) cuts.push(lo, hi + 1);
  const sortedCuts = [...new Set(cuts)].sort((a, b) => a - b);
  const classOf = (a: number): [number, number] => {
    let lo = 0;
    let hi = ADDR_MAX;
    for (const c of sortedCuts) {
      if (c <= a) lo = c;
      else {
        hi = c - 1;
        break;
      }
    }
    return [lo, hi];
  };
  const wanted = new Set<number>();
  for (const r of reaches)
    for (const v of r.verdicts) if (!own.has(v.src) && (v.allowed.tcp.length || v.allowed.udp.length || v.allowed.icmp)) wanted.add(v.src);
  // One foreign address nothing in the spec names: the attacker's "some other address".
  wanted.add(0xc6336401); // 198.51.100.1
  // Another host's address would answer its own ARP on a shared segment; the lab's internet and
  // LAN addresses are fine (the forged rounds do not probe them).
  const hostAddr = (a: number): boolean => L.addrNs.has(a) && L.addrNs.get(a) !== L.internetNs && L.addrNs.get(a) !== L.upstreamNs;
  const out = new Set<number>();
  for (const w of [...wanted].sort((a, b) => a - b)) {
    const [lo, hi] = classOf(w);
    let a = Math.max(w, lo);
    let tries = 0;
    while (a <= hi && tries < 4096 && (martian(a) || hostAddr(a) || own.has(a))) {
      a++;
      tries++;
    }
    if (a <= hi && !martian(a) && !hostAddr(a) && !own.has(a)) out.add(a);
    if (out.size >= 24) break;
  }
  return [...out];
}

export async function attackLab(
  ir: Ir,
  prefix: string,
  host: string,
  opts: { timeoutMs?: number; flows?: readonly Flow[]; say?: (p: Progress) => void },
): Promise<AttackResult> {
  const t0 = performance.now();
  const h = ir.model.hosts.get(host);
  if (!h) throw new Error(`no host '${host}' in ${ir.model.file}`);
  if (h.trusted) throw new Error(`'${host}' is a ${h.kind}, which cordon trusts to stay as configured; attack a guest (vm, container, sandbox) or a peer`);
  const plan = planLab(ir, { prefix, keys: placeholderKeys() });
  const L = plan.layout;
  const ns = L.hostNs.get(host)!;
  const engine = new Engine(ir);
  const flows = opts.flows ?? probeFlows(ir.model);
  const notes: string[] = [];
  // Destinations: every other endpoint's lab addresses.
  const dests: { to: string; dst: number; reach: Reach }[] = [];
  for (const e of endpoints(ir.model)) {
    if (e.name === host) continue;
    for (const dst of destAddresses(e.dest, ir.model, L, engine)) {
      if (h.nics.some((n) => n.address === dst)) continue;
      dests.push({ to: e.name, dst, reach: engine.reach({ kind: 'host', host }, { kind: 'addr', addr: dst }, 'compromised') });
    }
  }
  const configured = new Map(dests.map((d) => [d.dst, engine.reach({ kind: 'host', host }, { kind: 'addr', addr: d.dst }, 'configured')]));
  const sources = forgedSources(
    ir,
    h,
    dests.map((d) => d.reach),
    L,
  );
  const choices = routeChoices(ir, h);
  const watch = [...L.hostNs.values(), L.internetNs, L.upstreamNs];
  const avoid = new Set<number>(flows.flatMap((f) => (f.port !== undefined ? [f.port] : [])));
  for (const s of plan.steps) if (s.kind === 'listen') avoid.add(s.port);
  for (const t of ir.model.tunnels.values()) avoid.add(t.listen);
  avoid.add(53);
  const key = (dst: number, f: Flow): string => `${dst}|${formatFlow(f)}`;
  const reachedBy = new Map<string, string>();
  let probes = 0;
  let nextId = 1;
  const round = async (label: string, srcs: readonly (number | undefined)[], only?: ReadonlySet<string>): Promise<Set<string>> => {
    const cases: ProbeCase[] = [];
    const forgedNow = new Set(srcs.filter((x): x is number => x !== undefined));
    for (const src of srcs) {
      for (const d of dests) {
        // A forged address held on the guest's loopback would answer locally.
        if (forgedNow.has(d.dst)) continue;
        for (const flow of flows) {
          if (only && !only.has(key(d.dst, flow))) continue;
          cases.push({
            id: nextId++,
            from: host,
            to: d.to,
            dst: d.dst,
            flow,
            srcNs: ns,
            srcAddr: src,
            dstNs: L.addrNs.get(d.dst)!,
            staticAllowed: flowContains(d.reach.allowed, flow),
            delivered: false,
            status: 'error',
            ms: 0,
            detail: undefined,
          });
        }
      }
    }
    opts.say?.({ stage: 'attack', event: 'note', steps: cases.length, ms: 0, message: `${label}: ${cases.length} probes` });
    await runProbes(cases, [], watch, avoid, { timeoutMs: opts.timeoutMs ?? 400 }, prefix);
    probes += cases.length;
    const got = new Set<string>();
    for (const c of cases) {
      if (!c.delivered) continue;
      const k = key(c.dst, c.flow);
      got.add(k);
      if (!reachedBy.has(k)) reachedBy.set(k, `${label}${c.srcAddr !== undefined ? `, from ${formatIPv4(c.srcAddr)}` : ''}`);
    }
    return got;
  };
  const ipn = async (args: string): Promise<{ ok: boolean; err: string }> => {
    const r = await run(['ip', '-n', ns, ...args.split(' ')]);
    return { ok: r.code === 0, err: r.stderr.trim() };
  };
  const moves: AttackMove[] = [];
  const firewall = plan.steps.filter((s) => s.kind === 'nft' && s.ns === ns);
  const added: string[] = [];
  opts.say?.({ stage: 'attack', event: 'start', steps: choices.length, ms: 0, message: host });
  let all = new Set<string>();
  try {
    // 0. The guest as configured.
    const base = await round('as configured', [undefined]);
    all = new Set(base);
    // 1. Flush its own firewall.
    const flush = await run(['ip', 'netns', 'exec', ns, 'nft', 'flush', 'ruleset']);
    const afterFlush = await round('firewall flushed', [undefined]);
    moves.push({
      move: firewall.length ? 'flush its in-guest firewall' : 'flush its in-guest firewall (it has none)',
      commands: ['nft flush ruleset'],
      done: flush.code === 0,
      gained: gainedList(afterFlush, all),
    });
    for (const k of afterFlush) all.add(k);
    // 2 + 3. Other routes, and forged sources on every route.
    await ipn(`rule add not fwmark ${WG_FWMARK} lookup ${ATTACK_TABLE} priority 50`);
    const takeAddr = sources.map((s) => `ip addr add ${formatIPv4(s)}/32 dev lo`);
    const forged = new Set<string>();
    let forgedOk = false;
    for (const c of choices) {
      const cmds: string[] = [];
      if (c.via) {
        await ipn(`route flush table ${ATTACK_TABLE}`);
        const batch = dests.map((d) => `route replace ${formatIPv4(d.dst)}/32 ${c.via} table ${ATTACK_TABLE}`);
        const r = await run(['ip', '-n', ns, '-batch', '-'], { input: `${batch.join('\n')}\n` });
        const ok = r.code === 0;
        cmds.push(
          `ip route replace <each destination>/32 ${c.via} table ${ATTACK_TABLE}`,
          `ip rule add not fwmark 0x${WG_FWMARK.toString(16)} lookup ${ATTACK_TABLE}`,
        );
        const got = ok ? await round(c.name, [undefined]) : new Set<string>();
        moves.push({ move: c.name, commands: cmds, done: ok, gained: gainedList(got, all) });
        for (const k of got) all.add(k);
      }
      if (sources.length > 0) {
        // The forged addresses are the guest's only while it sends from them.
        for (const s of sources) if ((await ipn(`addr add ${formatIPv4(s)}/32 dev lo`)).ok) added.push(`${formatIPv4(s)}/32`);
        forgedOk ||= added.length > 0;
        try {
          const got = await round(`${c.name}, forged sources`, sources);
          for (const k of got) if (!all.has(k)) forged.add(k);
          for (const k of got) all.add(k);
        } finally {
          for (const a of added.splice(0)) await ipn(`addr del ${a} dev lo`);
        }
      }
    }
    // What the static engine allows and no round reached gets one more try on every route
    // (a burst into a userspace tunnel can lose packets).
    const missing = new Set<string>();
    for (const d of dests) for (const f of flows) if (flowContains(d.reach.allowed, f) && !all.has(key(d.dst, f))) missing.add(key(d.dst, f));
    for (const c of missing.size ? choices : []) {
      await ipn(`route flush table ${ATTACK_TABLE}`);
      if (c.via)
        await run(['ip', '-n', ns, '-batch', '-'], {
          input: `${dests.map((d) => `route replace ${formatIPv4(d.dst)}/32 ${c.via} table ${ATTACK_TABLE}`).join('\n')}\n`,
        });
      for (const k of await round(`${c.name} (again)`, [undefined], missing)) {
        all.add(k);
        missing.delete(k);
      }
      if (sources.length > 0 && missing.size > 0) {
        for (const s of sources) if ((await ipn(`addr add ${formatIPv4(s)}/32 dev lo`)).ok) added.push(`${formatIPv4(s)}/32`);
        try {
          for (const k of await round(`${c.name}, forged sources (again)`, sources, missing)) {
            all.add(k);
            forged.add(k);
            missing.delete(k);
          }
        } finally {
          for (const a of added.splice(0)) await ipn(`addr del ${a} dev lo`);
        }
      }
      if (missing.size === 0) break;
    }
    if (sources.length > 0) {
      moves.push({
        move: `change its address / forge its source (${sources.map(formatIPv4).join(', ')})`,
        commands: takeAddr,
        done: forgedOk,
        gained: [...forged].map(describeKey),
      });
    }
  } finally {
    // Put the guest back as it was.
    await ipn(`rule del lookup ${ATTACK_TABLE} priority 50`);
    await ipn(`route flush table ${ATTACK_TABLE}`);
    for (const a of added) await ipn(`addr del ${a} dev lo`);
    if (firewall.length) {
      const text = firewall.map((s) => (s.kind === 'nft' ? s.ruleset : '')).join('\n');
      const r = await run(['ip', 'netns', 'exec', ns, 'nft', '-f', '-'], { input: text });
      if (r.code !== 0) notes.push(`could not restore ${host}'s firewall: ${r.stderr.trim()}`);
    }
  }
  // What gets out to the internet over every round, tcp, udp (dns) and icmp alike, and whether the
  // compromised view allows it: most of it usually is allowed traffic, and the line must say so.
  const out = { tcp: 0, udp: 0, dns: 0, icmp: 0, unexpected: 0 };
  for (const d of dests) {
    if (d.to !== 'internet') continue;
    for (const f of flows) {
      if (!all.has(key(d.dst, f))) continue;
      if (f.proto === 'tcp' || f.proto === 'udp' || f.proto === 'icmp') out[f.proto]++;
      if (f.proto === 'udp' && f.port === 53) out.dns++;
      if (!flowContains(d.reach.allowed, f)) out.unexpected++;
    }
  }
  moves.push({
    move: 'get out to the internet over tcp, udp, dns and icmp (every round)',
    commands: ['tcp/* udp/* udp/53 icmp probes to the lab internet in every round'],
    done: true,
    summary: true,
    unexpected: out.unexpected,
    gained: [`tcp: ${out.tcp}`, `udp: ${out.udp}${out.dns > 0 ? ` (dns: ${out.dns})` : ''}`, `icmp: ${out.icmp}`].filter((x) => !x.endsWith(': 0')),
  });

  // Compare with the compromised view.
  const differences: AttackDifference[] = [];
  let staticCount = 0;
  let configuredCount = 0;
  for (const d of dests) {
    for (const f of flows) {
      const k = key(d.dst, f);
      const st = flowContains(d.reach.allowed, f);
      if (st) staticCount++;
      if (flowContains(configured.get(d.dst)!.allowed, f)) configuredCount++;
      const live = all.has(k);
      if (st === live) continue;
      differences.push({
        to: d.to,
        dst: formatIPv4(d.dst),
        flow: formatFlow(f),
        static: st ? 'allow' : 'deny',
        live: live ? 'delivered' : 'not delivered',
        how: reachedBy.get(k),
        explanation: explain(ir, d.reach, f),
      });
    }
  }
  void configuredCount;
  void R;
  return {
    host,
    prefix,
    moves,
    probes,
    pairs: dests.length * flows.length,
    reachedConfigured: [...reachedBy.values()].filter((v) => v === 'as configured').length,
    reachedAttack: all.size,
    staticCompromised: staticCount,
    differences,
    ms: performance.now() - t0,
    notes,
  };
}

function describeKey(k: string): string {
  const [dst, flow] = k.split('|');
  return `${formatIPv4(Number(dst))} ${flow}`;
}

function gainedList(got: ReadonlySet<string>, before: ReadonlySet<string>): string[] {
  return [...got].filter((k) => !before.has(k)).map(describeKey);
}

export function attackToText(r: AttackResult, color: boolean): string {
  // Kept small: the CLI shows moves, then the comparison.
  const lines: string[] = [];
  const c = (s: string, code: number): string => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
  lines.push(`${c(`attack from ${r.host}`, 1)} (lab ${r.prefix}): ${r.probes} probes in ${r.ms.toFixed(0)} ms`);
  for (const m of r.moves) {
    const tag = !m.done
      ? c('failed ', 2)
      : m.summary
        ? !m.gained.length
          ? c('nothing', 32)
          : m.unexpected
            ? c('LEAKS  ', 31)
            : c('allowed', 32)
        : m.gained.length
          ? c('GAINS  ', 31)
          : c('nothing', 32);
    // The summary counts (destination, flow) pairs and says whether the spec allows them.
    const verdict = m.summary && m.gained.length ? (m.unexpected ? `; ${m.unexpected} of them not allowed by the spec` : ', all allowed by the spec') : '';
    const gained = m.summary
      ? `${m.gained.join(', ')} (destination, flow) pairs${verdict}`
      : `${m.gained.slice(0, 6).join(', ')}${m.gained.length > 6 ? ` and ${m.gained.length - 6} more` : ''}`;
    lines.push(`  ${tag} ${m.move}${m.gained.length ? `: ${gained}` : ''}`);
  }
  lines.push(
    '',
    `reached as configured: ${r.reachedConfigured} of ${r.pairs} (destination, flow) pairs; under attack: ${r.reachedAttack}; cordon --assume compromised allows: ${r.staticCompromised}`,
  );
  if (r.differences.length === 0) lines.push(c(`attack = static (compromised): all ${r.pairs} pairs agree`, 32));
  else {
    lines.push(c(`${r.differences.length} difference${r.differences.length === 1 ? '' : 's'} with cordon matrix --assume compromised:`, 31));
    for (const d of r.differences.slice(0, 20)) {
      lines.push(`  ✗ ${r.host} → ${d.to} (${d.dst}) ${d.flow}: static ${d.static.toUpperCase()}, attack ${d.live}${d.how ? ` (${d.how})` : ''}`);
      lines.push(`    ${d.explanation.summary}`);
    }
  }
  for (const n of r.notes) lines.push(c(`note: ${n}`, 2));
  return `${lines.join('\n')}\n`;
}
