/**
 * Renderers on random specs, compared by meaning, not bytes:
 * - nftables: every enforcing host's rule set loaded into a network namespace of our own, read
 *   back with `nft -j list ruleset`, imported into IR chains; the rebuilt IR must give the spec's
 *   reachability matrix in both views (a renderer bug that changes what a rule matches shows up
 *   as a different cell);
 * - iptables: every file through `iptables-restore --test` (nft and legacy backends) inside
 *   `unshare -rn`; there is no iptables importer, so the rendered rules are then evaluated with
 *   test/support/iptables-sim.ts and must decide every boundary packet at every built-in chain as
 *   the IR's chains do.
 * The specs come from both random generators (test/oracle/drafts.ts: tunnels, vpn-only, peers,
 * hand-written firewalls; test/oracle/specs.ts: trusted hosts with any egress), with the
 * property seed (test/support/seed.ts). CORDON_RENDER_RUNS sets how many of each (default 6).
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { compile } from '../src/ir/compile.js';
import type { Hop } from '../src/ir/paths.js';
import type { Ir } from '../src/ir/types.js';
import { importNftJson, withImportedChains } from '../src/import/nft-json/index.js';
import { loadModelFromText } from '../src/model/load.js';
import { iptablesRenderer } from '../src/render/iptables/index.js';
import { enforcingHosts, nftablesRenderer } from '../src/render/nftables/index.js';
import { ALL_FLOWS, flowContains, flowEqual, formatFlowSet, type Flow } from '../src/util/flows.js';
import { formatIPv4 } from '../src/util/ip.js';
import { acceptedFlows, evalChain } from '../src/verify/chain-eval.js';
import { computeMatrix, type Matrix } from '../src/verify/matrix.js';
import { draftToYaml, specArb } from './oracle/drafts.js';
import { subsetArb, subsetYaml } from './oracle/specs.js';
import { findProgram } from './support/golden.js';
import { decide, parseSave, type Packet } from './support/iptables-sim.js';
import { NetnsPool, netnsSkipReason } from './support/netns-fixture.js';
import { withSeed } from './support/seed.js';

const RUNS = Number(process.env.CORDON_RENDER_RUNS ?? '6');

/**
 * Hand-written chains with runs of port-less rules that mix "any" and named sources and
 * destinations: the renderer folds such runs into address sets, and must not let one rule's
 * "any" widen its neighbours'.
 */
const handRule = fc.record({
  action: fc.constantFrom<'accept' | 'drop'>('accept', 'accept', 'drop'),
  from: fc.option(fc.nat(40), { nil: undefined, freq: 2 }),
  to: fc.option(fc.nat(40), { nil: undefined, freq: 2 }),
  ports: fc.option(fc.constantFrom('tcp/22', 'tcp/80,443', 'udp/53', 'icmp'), { nil: undefined, freq: 1 }),
  iif: fc.constant(undefined),
  state: fc.constant(false),
});
const runHeavyArb = fc
  .tuple(
    specArb,
    fc.array(
      fc.record({
        point: fc.nat(20),
        policy: fc.constantFrom<'accept' | 'drop'>('drop', 'drop', 'accept'),
        rules: fc.array(handRule, { minLength: 2, maxLength: 6 }),
      }),
      { minLength: 1, maxLength: 3 },
    ),
  )
  .map(([d, firewalls]) => ({ ...d, uplink: true, firewalls }));

/** Random spec texts from the generators. */
function specTexts(seed: number): string[] {
  const a = fc.sample(specArb, { numRuns: RUNS, seed }).map(draftToYaml);
  const b = fc.sample(subsetArb, { numRuns: RUNS, seed: seed + 1 }).map(subsetYaml);
  const c = fc.sample(runHeavyArb, { numRuns: 2 * RUNS + 3, seed: seed + 2 }).map(draftToYaml);
  return [...a, ...b, ...c];
}

function irOf(text: string): Ir {
  const r = loadModelFromText(text, 'random.yaml');
  assert.ok(r.model, `${r.diagnostics.map((d) => `${d.code} ${d.message}`).join('\n')}\n${text}`);
  return compile(r.model);
}

function matrixDiff(a: Matrix, b: Matrix): string[] {
  const out: string[] = [];
  a.cells.forEach((row, i) =>
    row.forEach((cell, j) => {
      const other = b.cells[i]?.[j];
      if (JSON.stringify(cell) !== JSON.stringify(other))
        out.push(`${a.endpoints[i]!.name} → ${a.endpoints[j]!.name}: spec ${cell ? formatFlowSet(cell) : '·'}, kernel ${other ? formatFlowSet(other) : '·'}`);
    }),
  );
  return out;
}

/**
 * The first packet (fixed addresses, interfaces and bridge port; all flows) on which a chain of
 * `b` accepts other flows than the same chain of `a`; undefined when there is none among the
 * sampled boundary packets.
 */
function chainDisagreement(a: Ir, b: Ir, seed: number): string | undefined {
  for (const [point, ca] of a.chains) {
    const cb = b.chains.get(point);
    if (!cb) return `${point}: missing after the round trip`;
    const addrs = new Set<number>([0x08080808, 0x0ac80001]);
    const ifs = new Set<string | undefined>([undefined]);
    const ports = new Set<string | undefined>([undefined]);
    for (const r of [...ca.rules, ...cb.rules]) {
      for (const [lo, hi] of [...(r.match.src ?? []), ...(r.match.dst ?? [])])
        for (const x of [lo - 1, lo, hi, hi + 1]) if (x >= 0 && x <= 0xffffffff) addrs.add(x);
      for (const i of [...(r.match.iif ?? []), ...(r.match.oif ?? [])]) ifs.add(i);
      for (const p of r.match.inPort ?? []) ports.add(p);
    }
    for (const h of a.model.hosts.values()) for (const n of h.nics) addrs.add(n.address);
    // A per-guest chain sees only its guest's packets: out of its ports, or to its addresses
    // behind them. Packets to the guest's other addresses (its tunnel address) skip guest-in on
    // the verifier's paths (src/ir/paths.ts), so the kernel's chain must let them pass untouched.
    const guest = a.model.hosts.get(ca.host)!;
    const behind = ca.hook === 'guest-in' ? behindPorts(a, guest.name, ca.enforcedOn) : undefined;
    const dsts = ca.hook === 'guest-in' ? guest.nics.map((n) => n.address) : [...addrs];
    const inPorts = ca.hook === 'guest-out' ? guest.nics.flatMap((n) => (n.port ? [n.port] : [])) : [...ports];
    const hopArb = fc.record({
      src: fc.constantFrom(...addrs),
      dst: fc.constantFrom(...dsts),
      iif: fc.constantFrom(...ifs),
      oif: fc.constantFrom(...ifs),
      inPort: fc.constantFrom(...inPorts),
    });
    for (const h of fc.sample(hopArb, { numRuns: 300, seed })) {
      const hop: Hop = { point, host: ca.enforcedOn, hook: ca.hook, iif: h.iif, oif: h.oif, inPort: h.inPort, natSrc: undefined };
      const fa = behind && !behind.includes(h.dst) ? ALL_FLOWS : acceptedFlows(evalChain(ca, hop, h.src, h.dst));
      const fb = acceptedFlows(evalChain(cb, hop, h.src, h.dst));
      if (!flowEqual(fa, fb))
        return `${point}: ${JSON.stringify({ ...h, src: formatIPv4(h.src), dst: formatIPv4(h.dst) })}: spec accepts ${formatFlowSet(fa) || 'nothing'}, kernel accepts ${formatFlowSet(fb) || 'nothing'}`;
    }
  }
  return undefined;
}

/** The addresses of `guest`'s nics that sit behind a port of a bridge `host` owns. */
function behindPorts(ir: Ir, guest: string, host: string): number[] {
  return ir.model.hosts
    .get(guest)!
    .nics.filter((n) => n.port !== undefined && ir.model.networks.get(n.segment)?.owner === host)
    .map((n) => n.address);
}

const netnsSkip = netnsSkipReason();

describe('nftables on random specs: loaded, read back, same matrix', { skip: netnsSkip }, () => {
  const pool = new NetnsPool();
  after(() => pool.cleanup());

  it('every enforcing host of every random spec, both views', () => {
    withSeed((seed) => {
      // One namespace, flushed before each load: the rule sets are independent of each other.
      const ns = pool.create('rnd');
      for (const text of specTexts(seed)) {
        const ir = irOf(text);
        let rebuilt = ir;
        for (const host of enforcingHosts(ir)) {
          const r = nftablesRenderer.render(ir, { host, params: new Map() });
          assert.deepEqual(
            r.diagnostics.filter((d) => d.severity === 'error'),
            [],
            `${host}: render errors\n${text}`,
          );
          // One process per host: flush, load, list (the machine is shared; spawns are the cost).
          const list = pool.exec(ns, ['sh', '-c', 'nft flush ruleset && nft -f - && nft -j list ruleset'], r.files[0]!.content);
          assert.equal(list.status, 0, `${host}: loading the rule set failed: ${list.stderr}\n${text}`);
          const imported = importNftJson(JSON.parse(list.stdout), { model: ir.model, host });
          assert.deepEqual(
            imported.diagnostics.map((d) => `${d.code} ${d.message}`),
            [],
            `${host}: the importer should understand cordon's own output\n${text}`,
          );
          rebuilt = withImportedChains(rebuilt, host, imported.chains);
        }
        for (const assume of ['configured', 'compromised'] as const) {
          const diff = matrixDiff(computeMatrix(ir, assume), computeMatrix(rebuilt, assume));
          assert.deepEqual(diff, [], `${assume}: the kernel's rule set means something else than the spec\n--- spec ---\n${text}`);
        }
        // Finer than the matrix: every chain decides boundary packets as the spec's chain does,
        // also where no path of this topology would show the difference.
        const chainDiff = chainDisagreement(ir, rebuilt, seed);
        assert.equal(chainDiff, undefined, `${chainDiff}\n--- spec ---\n${text}`);
      }
      pool.remove(ns);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// iptables

const UNSHARE = spawnSync('unshare', ['-rn', 'true']).status === 0;

function inNetns(script: string, input: string): { code: number; out: string } {
  const r = spawnSync('unshare', ['-rn', 'sh', '-c', script], { input, encoding: 'utf8' });
  return { code: r.status ?? -1, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/**
 * What the IR says about one packet at a built-in chain of `host`: every chain that host runs
 * at that hook (per-guest chains by the bridge port the packet came in by, or the guest address
 * it goes to) must accept it.
 */
function irVerdict(ir: Ir, host: string, builtin: 'INPUT' | 'FORWARD' | 'OUTPUT', p: Packet): 'ACCEPT' | 'DROP' {
  const flow: Flow =
    p.proto === 6
      ? { proto: 'tcp', port: p.dport! }
      : p.proto === 17
        ? { proto: 'udp', port: p.dport! }
        : p.proto === 1
          ? { proto: 'icmp' }
          : { proto: 'other' };
  for (const c of ir.chains.values()) {
    if (c.enforcedOn !== host) continue;
    const g = ir.model.hosts.get(c.host)!;
    const hooks: Record<string, boolean> = {
      input: builtin === 'INPUT',
      output: builtin === 'OUTPUT',
      forward: builtin === 'FORWARD',
      'guest-out': builtin !== 'OUTPUT' && g.nics.some((n) => n.port !== undefined && n.port === p.physIn && ir.model.networks.get(n.segment)?.owner === host),
      // Into the guest through a port of this host's bridges: the verifier (src/ir/paths.ts)
      // puts guest-in only on that path, so traffic to the guest's tunnel address skips it.
      'guest-in': builtin !== 'INPUT' && behindPorts(ir, g.name, host).includes(p.dst),
    };
    if (!hooks[c.hook]) continue;
    const hop: Hop = { point: c.point, host, hook: c.hook, iif: p.iif, oif: p.oif, inPort: p.physIn, natSrc: undefined };
    if (!flowContains(acceptedFlows(evalChain(c, hop, p.src, p.dst)), flow)) return 'DROP';
  }
  return 'ACCEPT';
}

/** Boundary values of one host's chains: addresses, interfaces, bridge ports and ports. */
function boundaries(ir: Ir, host: string): { addrs: number[]; ifaces: (string | undefined)[]; ports: (string | undefined)[]; dports: number[] } {
  const addrs = new Set<number>([0x08080808, 0xc6336407, 0x0ac80001, 0x7f000001, 0xffffffff]);
  const dports = new Set<number>([0, 1, 65535]);
  const edges = (lo: number, hi: number, max: number, into: Set<number>): void => {
    for (const x of [lo - 1, lo, hi, hi + 1]) if (x >= 0 && x <= max) into.add(x);
  };
  for (const c of ir.chains.values()) {
    if (c.enforcedOn !== host) continue;
    for (const r of c.rules) {
      for (const [lo, hi] of [...(r.match.src ?? []), ...(r.match.dst ?? [])]) edges(lo, hi, 0xffffffff, addrs);
      for (const [lo, hi] of [...r.match.flows.tcp, ...r.match.flows.udp]) edges(lo, hi, 65535, dports);
    }
  }
  const ifaces = new Set<string | undefined>([undefined, 'lo', 'eth9']);
  const ports = new Set<string | undefined>([undefined]);
  for (const n of ir.model.networks.values()) ifaces.add(n.bridge);
  for (const t of ir.model.tunnels.values()) ifaces.add(t.ifname);
  for (const h of ir.model.hosts.values()) {
    if (h.uplink) ifaces.add(h.uplink);
    for (const n of h.nics) {
      addrs.add(n.address);
      ifaces.add(n.ifname);
      if (n.port) ports.add(n.port);
    }
  }
  return { addrs: [...addrs], ifaces: [...ifaces], ports: [...ports], dports: [...dports] };
}

describe('iptables on random specs: accepted by iptables-restore, and decides as the IR', () => {
  const restore = findProgram('iptables-restore');
  const legacy = findProgram('iptables-legacy-restore');

  it('iptables-restore --test accepts every file (nft and legacy backends)', (t) => {
    if (!UNSHARE) return t.skip('unshare -rn is not available');
    if (!restore) return t.skip('iptables is not installed');
    withSeed((seed) => {
      // Every file of every spec into one directory, checked by one shell inside one namespace.
      const dir = mkdtempSync(join(tmpdir(), 'cordon-ipt-'));
      try {
        const texts = specTexts(seed);
        texts.forEach((text, i) => {
          for (const f of iptablesRenderer.render(irOf(text), { host: undefined, params: new Map() }).files)
            writeFileSync(join(dir, `${i}_${f.path.replaceAll('/', '_')}`), f.content);
        });
        const script = `for f in ${dir}/*; do case "$f" in *.v6) t=ip6tables;; *) t=iptables;; esac; for b in ${legacy ? "'' -legacy" : "''"}; do $t$b-restore --test < "$f" || { echo "FAILED: $t$b-restore --test < $f"; exit 1; }; done; done`;
        const r = inNetns(script, '');
        const failed = /FAILED: .* < .*\/(\d+)_/.exec(r.out);
        assert.equal(r.code, 0, `${r.out}${failed ? `\n--- spec ---\n${texts[Number(failed[1])]}` : ''}`);
        assert.ok(readdirSync(dir).length >= texts.length, 'every spec rendered at least one file');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  it('the rendered chains decide boundary packets as the IR does, at every built-in chain', () => {
    withSeed((seed) => {
      for (const text of specTexts(seed)) {
        const ir = irOf(text);
        for (const f of iptablesRenderer.render(ir, { host: undefined, params: new Map() }).files) {
          if (!f.path.endsWith('.v4')) continue;
          const host = f.path.split('/')[0]!;
          const save = parseSave(f.content);
          const d = boundaries(ir, host);
          for (const builtin of ['INPUT', 'FORWARD', 'OUTPUT'] as const) {
            const packet = fc
              .record({
                src: fc.constantFrom(...d.addrs),
                dst: fc.constantFrom(...d.addrs),
                iif: builtin === 'OUTPUT' ? fc.constant(undefined) : fc.constantFrom(...d.ifaces),
                oif: builtin === 'INPUT' ? fc.constant(undefined) : fc.constantFrom(...d.ifaces),
                physIn: builtin === 'OUTPUT' ? fc.constant(undefined) : fc.constantFrom(...d.ports),
                proto: fc.constantFrom(6, 17, 1, 47),
                dport: fc.constantFrom(...d.dports),
              })
              .map((p): Packet => ({ ...p, dport: p.proto === 6 || p.proto === 17 ? p.dport : undefined }));
            fc.assert(
              fc.property(packet, (p) => {
                assert.equal(decide(save, builtin, p), irVerdict(ir, host, builtin, p), `${host} ${builtin} ${JSON.stringify(p)}\n--- spec ---\n${text}`);
              }),
              { seed, numRuns: 400, endOnFailure: true },
            );
          }
        }
      }
    });
  });
});
