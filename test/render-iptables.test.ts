/**
 * iptables target: goldens for every example, byte-identical re-renders, the real validators
 * (`iptables-restore --test`, `ip6tables-restore --test`, nft and legacy backends, inside
 * `unshare -rn`), a load into a fresh network namespace read back with iptables-save, and a
 * simulation of the rendered chains against the IR's own verdicts on many packets.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Ir } from '../src/ir/types.js';
import { iptablesRenderer, addrArgs, hullOf, portMatches } from '../src/render/iptables/index.js';
import { chainName, logPrefix, MAX_CHAIN_NAME, MAX_LOG_PREFIX } from '../src/model/names.js';
import type { RenderResult } from '../src/render/types.js';
import { flowContains, type Flow } from '../src/util/flows.js';
import { cidrRange, parseCidr } from '../src/util/ip.js';
import * as R from '../src/util/rangeset.js';
import type { RangeSet } from '../src/util/rangeset.js';
import { exampleFiles, findProgram, irOfText, render } from './support/golden.js';
import { decide, parseSave, type Packet } from './support/iptables-sim.js';
import { assertProperty } from './support/seed.js';
import { checkTargetGolden, loadExample } from './support/target-golden.js';
import { skipOrFail } from './support/require-env.js';

const EXAMPLES = exampleFiles().map(loadExample);

function renderAll(ir: Ir): RenderResult {
  return render(iptablesRenderer, ir);
}

/** `unshare -rn` works here (unprivileged user + network namespace): the validators can run. */
const UNSHARE = spawnSync('unshare', ['-rn', 'true']).status === 0;

function inNetns(script: string, input: string): { code: number; out: string } {
  const r = spawnSync('unshare', ['-rn', 'sh', '-c', script], { input, encoding: 'utf8' });
  return { code: r.status ?? -1, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

describe('iptables target: goldens', () => {
  for (const ex of EXAMPLES) {
    it(`${ex.name}: matches test/golden/${ex.name}/iptables/`, (t) => {
      if (!ex.ir) return t.skip('spec does not resolve');
      checkTargetGolden(ex, 'iptables', renderAll(ex.ir));
    });
  }

  it('renders the same bytes twice, from two loads of the same spec', () => {
    for (const ex of EXAMPLES) {
      if (!ex.ir) continue;
      const a = renderAll(ex.ir);
      const b = renderAll(loadExample(exampleFiles().find((f) => f.endsWith(`/${ex.name}.yaml`))!).ir!);
      assert.deepEqual(b.files, a.files, ex.name);
      assert.deepEqual(b.diagnostics, a.diagnostics, ex.name);
    }
  });
});

describe("iptables target: the kernel's own tools", () => {
  const nftRestore = findProgram('iptables-restore');
  const legacyRestore = findProgram('iptables-legacy-restore');
  for (const ex of EXAMPLES) {
    it(`${ex.name}: iptables-restore --test and ip6tables-restore --test accept every file (nft and legacy)`, (t) => {
      if (!ex.ir) return t.skip('spec does not resolve');
      if (!UNSHARE) return skipOrFail(t, 'unshare -rn is not available');
      if (!nftRestore) return skipOrFail(t, 'iptables is not installed');
      for (const f of renderAll(ex.ir).files) {
        const v6 = f.path.endsWith('.v6');
        for (const backend of legacyRestore ? ['', '-legacy'] : ['']) {
          const cmd = `${v6 ? 'ip6tables' : 'iptables'}${backend}-restore --test`;
          const r = inNetns(cmd, f.content);
          assert.equal(r.code, 0, `${cmd} < ${f.path}:\n${r.out}`);
        }
      }
    });

    it(`${ex.name}: loaded into a fresh namespace, iptables-save gives back every chain and rule`, (t) => {
      if (!ex.ir) return t.skip('spec does not resolve');
      if (!UNSHARE) return skipOrFail(t, 'unshare -rn is not available');
      // iptables-nft's batch for a large table exceeds what an unprivileged namespace's netlink
      // socket takes ("Message too long"); the legacy backend loads the same text in one setsockopt.
      if (!legacyRestore) return skipOrFail(t, 'iptables-legacy-restore is not installed');
      for (const f of renderAll(ex.ir).files) {
        const tool = f.path.endsWith('.v6') ? 'ip6tables-legacy' : 'iptables-legacy';
        const r = inNetns(`${tool}-restore && ${tool}-save`, f.content);
        assert.equal(r.code, 0, `${tool}-restore < ${f.path}:\n${r.out}`);
        for (const table of f.content.includes('\n*nat\n') ? ['filter', 'nat'] : ['filter']) {
          const mine = parseSave(f.content, table);
          const back = parseSave(r.out, table);
          assert.deepEqual([...back.policies].sort(), [...mine.policies].sort(), `${f.path} ${table}: policies`);
          assert.deepEqual([...back.chains].sort(), [...mine.chains].sort(), `${f.path} ${table}: chains`);
          // Rendered in iptables-save's own canonical form, so the kernel's listing is the same text,
          // log prefixes included (the kernel cuts longer ones without a word).
          for (const [chain, rules] of mine.rules) assert.deepEqual(back.rules.get(chain) ?? [], rules, `${f.path} ${table}: chain ${chain}`);
        }
      }
    });
  }
});

/** The IR's verdict for a new connection's packet at one built-in hook of one host. */
function expected(ir: Ir, host: string, builtin: string, p: Packet): 'ACCEPT' | 'DROP' {
  const model = ir.model;
  const flow: Flow =
    p.proto === 6 ? { proto: 'tcp', port: p.dport } : p.proto === 17 ? { proto: 'udp', port: p.dport } : p.proto === 1 ? { proto: 'icmp' } : { proto: 'other' };
  for (const c of ir.chains.values()) {
    if (c.enforcedOn !== host) continue;
    const g = model.hosts.get(c.host)!;
    let applies: boolean;
    switch (c.hook) {
      case 'input':
        applies = builtin === 'INPUT';
        break;
      case 'output':
        applies = builtin === 'OUTPUT';
        break;
      case 'forward':
        applies = builtin === 'FORWARD';
        break;
      case 'guest-out':
        applies =
          (builtin === 'FORWARD' || builtin === 'INPUT') &&
          g.nics.some((n) => n.port !== undefined && n.port === p.physIn && model.networks.get(n.segment)?.owner === host);
        break;
      case 'guest-in':
        applies = (builtin === 'FORWARD' || builtin === 'OUTPUT') && g.nics.some((n) => n.address === p.dst);
        break;
    }
    if (!applies) continue;
    let verdict: 'accept' | 'drop' = c.policy;
    for (const r of c.rules) {
      const m = r.match;
      if (m.state === 'established') continue;
      if (m.iif && (p.iif === undefined || !m.iif.includes(p.iif))) continue;
      if (m.oif && (p.oif === undefined || !m.oif.includes(p.oif))) continue;
      if (m.inPort && (p.physIn === undefined || !m.inPort.includes(p.physIn))) continue;
      if (m.src && !R.contains(m.src, p.src)) continue;
      if (m.dst && !R.contains(m.dst, p.dst)) continue;
      if (!flowContains(m.flows, flow)) continue;
      verdict = r.action === 'accept' ? 'accept' : 'drop';
      break;
    }
    if (verdict === 'drop') return 'DROP';
  }
  return 'ACCEPT';
}

/** Values worth trying: every boundary the IR names, and its neighbours. */
function domains(ir: Ir, host: string): { addrs: number[]; ifaces: (string | undefined)[]; ports: (string | undefined)[]; dports: number[] } {
  const addrs = new Set<number>([0, 0x01010101, 0x08080808, 0x0a0000ff, 0x7f000001, 0xac100001, 0xc0a80101, 0xe0000001, 0xffffffff, 0x64400001]);
  const dports = new Set<number>([0, 1, 22, 53, 80, 443, 8080, 65535]);
  const add = (set: RangeSet | undefined): void => {
    for (const [lo, hi] of set ?? []) for (const a of [lo - 1, lo, hi, hi + 1]) if (a >= 0 && a <= 0xffffffff) addrs.add(a);
  };
  for (const c of ir.chains.values()) {
    if (c.enforcedOn !== host) continue;
    for (const r of c.rules) {
      add(r.match.src);
      add(r.match.dst);
      for (const [lo, hi] of [...r.match.flows.tcp, ...r.match.flows.udp]) for (const x of [lo - 1, lo, hi, hi + 1]) if (x >= 0 && x <= 65535) dports.add(x);
    }
  }
  for (const h of ir.model.hosts.values()) for (const n of h.nics) add([[n.address, n.address]]);
  const ifaces = new Set<string | undefined>([undefined, 'lo', 'eth9']);
  const ports = new Set<string | undefined>([undefined]);
  for (const n of ir.model.networks.values()) ifaces.add(n.bridge);
  for (const t of ir.model.tunnels.values()) ifaces.add(t.ifname);
  for (const h of ir.model.hosts.values()) {
    if (h.uplink) ifaces.add(h.uplink);
    for (const n of h.nics) {
      ifaces.add(n.ifname);
      if (n.port) ports.add(n.port);
    }
  }
  const num = (a: number, b: number): number => a - b;
  return { addrs: [...addrs].sort(num), ifaces: [...ifaces], ports: [...ports], dports: [...dports].sort(num) };
}

/**
 * Points that disagree (hand-written chains): a guest's chain accepts what the hypervisor's drops,
 * rejects, output interfaces, rate limits, "other" protocols, a guest with two bridges.
 */
const DISAGREEING = `version: 1
networks:
  lan0: { cidr: 10.1.0.0/24, gateway: 10.1.0.1, egress: nat }
  lab: { cidr: 10.2.0.0/24 }
hosts:
  gw: { kind: hypervisor, uplink: eth9, nics: { lan0: 10.1.0.1, lab: 10.2.0.1 }, services: { ssh: tcp/22 } }
  a1: { kind: vm, id: 101, nics: { lan0: 10.1.0.10 }, firewall: { guest: true } }
  a2: { kind: vm, id: 102, nics: { lan0: 10.1.0.11, lab: 10.2.0.11 }, firewall: { guest: true } }
  a3: { kind: vm, id: 103, nics: { lab: 10.2.0.12 } }
policy:
  - allow: { from: a1, to: internet, ports: [tcp/443, udp/53, other] }
  - allow: { from: a2, to: a1, ports: [tcp/22], rate: 10/minute }
  - allow: { from: a3, to: gw.ssh }
  - deny: { from: lab, to: lan0, log: true }
firewalls:
  gw:forward:
    policy: drop
    rules:
      - { action: accept, from: lan0, to: internet, ports: [tcp/80, tcp/443] }
      - { action: reject, from: lab, oif: eth9 }
      - { action: accept, iif: lan0, oif: lab, ports: [icmp, other] }
      - { action: accept, from: 10.2.0.0/24, to: 10.1.0.10, ports: [tcp/22] }
  a1:guest-out:
    policy: accept
    rules:
      - { action: drop, to: 10.1.0.0/24, ports: [tcp/22] }
      - { action: accept, to: internet }
`;

describe('iptables target: the rendered chains decide as the IR does', () => {
  const cases = [
    ...EXAMPLES.map((ex) => ({ name: ex.name, ir: ex.ir })),
    { name: 'hand-written points that disagree', ir: irOfText(DISAGREEING, 'disagreeing.yaml') as Ir | undefined },
  ];
  for (const ex of cases) {
    it(`${ex.name}: every built-in chain of every host, on boundary packets`, (t) => {
      if (!ex.ir) return t.skip('spec does not resolve');
      const ir = ex.ir;
      for (const f of renderAll(ir).files) {
        if (!f.path.endsWith('.v4')) continue;
        const host = f.path.split('/')[0]!;
        const save = parseSave(f.content);
        const d = domains(ir, host);
        for (const builtin of ['INPUT', 'FORWARD', 'OUTPUT']) {
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
            .map((p) => ({ ...p, dport: p.proto === 6 || p.proto === 17 ? p.dport : undefined }));
          assertProperty(
            fc.property(packet, (p) => decide(save, builtin, p) === expected(ir, host, builtin, p)),
            { numRuns: 1500, endOnFailure: true },
          );
        }
      }
    });
  }
});

/**
 * The rendered rules in real namespaces (root only): a hypervisor with one bridge and an uplink to
 * an "internet" namespace (TEST-NET), two guests on the bridge. The guest's routed packets are
 * bound to its bridge port by physdev (no --physdev-is-bridged), bridged packets between guests go
 * through FORWARD via br_netfilter, and the isolated guest stays in.
 */
describe('iptables target: live, in network namespaces', () => {
  const LIVE = `version: 1
networks:
  lan0: { cidr: 10.1.0.0/24, gateway: 10.1.0.1, egress: nat }
hosts:
  gw: { kind: hypervisor, uplink: up0, nics: { lan0: 10.1.0.1, internet: 203.0.113.1 } }
  agent: { kind: vm, id: 101, nics: { lan0: 10.1.0.10 }, firewall: { guest: true } }
  box: { kind: vm, id: 102, egress: isolated, nics: { lan0: 10.1.0.20 } }
policy:
  - allow: { from: agent, to: internet, ports: [icmp] }
  - allow: { from: box, to: agent, ports: [icmp] }
`;
  const root = process.getuid?.() === 0 && spawnSync('ip', ['netns', 'list']).status === 0 && findProgram('iptables-legacy-restore') !== undefined;
  it('routed and bridged guest traffic is decided by the rendered chains', (t) => {
    if (!root) return skipOrFail(t, 'needs root, ip netns and iptables-legacy');
    const ir = irOfText(LIVE, 'live.yaml');
    const v4 = renderAll(ir).files.find((f) => f.path === 'gw/rules.v4')!.content;
    const p = `cdi${process.pid}`;
    const sh = (cmd: string, input?: string): number => spawnSync('sh', ['-c', cmd], { input, encoding: 'utf8' }).status ?? -1;
    const ns = (n: string, cmd: string, input?: string): number => sh(`ip netns exec ${p}${n} ${cmd}`, input);
    try {
      for (const n of ['h', 'a', 'b', 'x']) assert.equal(sh(`ip netns add ${p}${n}`), 0);
      const setup = [
        `ip link add tap101i0 netns ${p}h type veth peer name eth0 netns ${p}a`,
        `ip link add tap102i0 netns ${p}h type veth peer name eth0 netns ${p}b`,
        `ip link add up0 netns ${p}h type veth peer name eth0 netns ${p}x`,
        `ip -n ${p}h link add lan0 type bridge`,
        `ip -n ${p}h link set tap101i0 master lan0`,
        `ip -n ${p}h link set tap102i0 master lan0`,
        `ip -n ${p}h addr add 10.1.0.1/24 dev lan0`,
        `ip -n ${p}h addr add 203.0.113.1/24 dev up0`,
        ...['lan0', 'tap101i0', 'tap102i0', 'up0', 'lo'].map((l) => `ip -n ${p}h link set ${l} up`),
        ...[
          ['a', '10.1.0.10'],
          ['b', '10.1.0.20'],
        ].flatMap(([n, a]) => [`ip -n ${p}${n} addr add ${a}/24 dev eth0`, `ip -n ${p}${n} link set eth0 up`, `ip -n ${p}${n} route add default via 10.1.0.1`]),
        `ip -n ${p}x addr add 203.0.113.2/24 dev eth0`,
        `ip -n ${p}x link set eth0 up`,
        `ip -n ${p}x route add 10.1.0.0/24 via 203.0.113.1`,
        `ip netns exec ${p}h sysctl -qw net.ipv4.ip_forward=1`,
        `ip netns exec ${p}h sysctl -qw net.bridge.bridge-nf-call-iptables=1`,
      ];
      for (const c of setup) assert.equal(sh(c), 0, c);
      assert.equal(ns('h', 'iptables-legacy-restore', v4), 0);
      const ping = (from: string, to: string): boolean => ns(from, `ping -c1 -W1 ${to}`) === 0;
      assert.ok(ping('a', '203.0.113.2'), 'agent → internet icmp: allowed, routed, bound by physdev');
      assert.ok(!ping('b', '203.0.113.2'), 'box → internet: isolated');
      assert.ok(ping('b', '10.1.0.10'), 'box → agent icmp: allowed, bridged through FORWARD');
      assert.ok(!ping('a', '10.1.0.20'), 'agent → box: nothing allows it (bridged, dropped in FORWARD)');
      assert.ok(!ping('x', '10.1.0.10'), 'internet → agent: nothing allows it');
    } finally {
      for (const n of ['h', 'a', 'b', 'x']) sh(`ip netns del ${p}${n} 2>/dev/null`);
    }
  });
});

describe('iptables target: pieces', () => {
  it('chain names fit 28 characters with room for -LD and -R999, and stay apart', () => {
    const names = new Set<string>();
    for (const host of ['pve', 'a-very-long-hypervisor-name-indeed', 'Agent_1', 'agent-1', 'x']) {
      for (const hook of ['input', 'output', 'forward', 'guest-in', 'guest-out'] as const) {
        const n = chainName(host, hook);
        assert.ok(n.length + 5 <= MAX_CHAIN_NAME, n);
        assert.ok(!names.has(n), `${n} twice`);
        names.add(n);
      }
    }
    assert.equal(chainName('pve', 'forward'), 'CORDON-PVE-FWD');
    assert.equal(chainName('agent-1', 'guest-out'), 'CORDON-AGENT-1-GOUT');
  });

  it('log prefixes fit the 29 characters LOG keeps', () => {
    for (const p of ['pve:forward', 'agent-1:guest-out', 'portainer-agent:guest-in', 'a-very-long-hypervisor-name-indeed:forward']) {
      for (const what of ['drop', 'accept', 'reject']) assert.ok(logPrefix(p, what).length <= MAX_LOG_PREFIX, logPrefix(p, what));
    }
    assert.equal(logPrefix('pve:forward', 'drop'), 'cordon drop pve:forward ');
  });

  it('multiport lists hold at most 15 ports, a range counting two', () => {
    const ports: [number, number][] = [];
    for (let p = 1000; p < 1040; p += 2) ports.push(p % 4 === 0 ? [p, p] : [p, p + 0]);
    ports.push([2000, 2010], [3000, 3000], [4000, 4100]);
    const matches = portMatches('tcp', R.normalize(ports));
    let covered: RangeSet = R.EMPTY;
    for (const m of matches) {
      const spec = m[m.length - 1]!;
      const slots = spec.split(',').reduce((n, x) => n + (x.includes(':') ? 2 : 1), 0);
      assert.ok(slots <= 15, spec);
      covered = R.union(covered, R.normalize(spec.split(',').map((x) => [Number(x.split(':')[0]), Number(x.split(':')[1] ?? x.split(':')[0])] as const)));
    }
    assert.ok(R.equal(covered, R.normalize(ports)));
  });

  it('a set is its prefixes, a negated prefix, or a hull minus exceptions — exactly', () => {
    const arbSet = fc
      .array(fc.tuple(fc.nat({ max: 0xffffffff }), fc.nat({ max: 4096 })), { minLength: 1, maxLength: 4 })
      .map((xs) => R.normalize(xs.map(([lo, n]) => [lo, Math.min(0xffffffff, lo + n)] as const)));
    assertProperty(
      fc.property(arbSet, (set) => {
        const union = (cidrs: string[]): RangeSet => R.normalize(cidrs.map((c) => cidrRange(parseCidr(c)!)).map((r) => [r.lo, r.hi] as const));
        const alts = addrArgs('-d', set);
        let got: RangeSet;
        if (alts.length === 1 && alts[0]![0] === '!') got = R.complement(union([alts[0]![2]!]), [0, 0xffffffff]);
        else got = union(alts.map((a) => a[1]!));
        assert.ok(R.equal(got, set));
        const h = hullOf(set);
        if (h) {
          const r = cidrRange(h.hull);
          assert.ok(
            R.equal(
              R.subtract(
                [[r.lo, r.hi]],
                union(h.except.map((c) => `${c.addr >>> 24}.${(c.addr >>> 16) & 255}.${(c.addr >>> 8) & 255}.${c.addr & 255}/${c.len}`)),
              ),
              set,
            ),
          );
        }
      }),
      { numRuns: 300 },
      7,
    );
  });

  it('a guest with a per-guest firewall gets chains jumped only for its own port and address', () => {
    const ir = irOfText(`version: 1
networks:
  lan0: { cidr: 10.1.0.0/24, gateway: 10.1.0.1, egress: nat }
hosts:
  gw: { kind: hypervisor, uplink: eth9, nics: { lan0: 10.1.0.1 } }
  agent-1: { kind: vm, id: 101, nics: { lan0: 10.1.0.10 }, firewall: { guest: true } }
policy:
  - allow: { from: agent-1, to: internet, ports: [tcp/443] }
`);
    const v4 = renderAll(ir).files.find((f) => f.path === 'gw/rules.v4')!.content;
    assert.match(v4, /^-A FORWARD -m physdev --physdev-in tap101i0 -j CORDON-AGENT-1-GOUT$/m);
    assert.match(v4, /^-A INPUT -m physdev --physdev-in tap101i0 -j CORDON-AGENT-1-GOUT$/m);
    assert.match(v4, /^-A FORWARD -d 10\.1\.0\.10\/32 -j CORDON-AGENT-1-GIN$/m);
    assert.match(v4, /^-A OUTPUT -d 10\.1\.0\.10\/32 -j CORDON-AGENT-1-GIN$/m);
    // Guest points RETURN what they accept; the hypervisor's own chain comes last and ACCEPTs.
    assert.match(v4, /^-A CORDON-AGENT-1-GOUT .* -j RETURN$/m);
    const fwd = v4.split('\n').filter((l) => l.startsWith('-A FORWARD '));
    assert.equal(fwd[fwd.length - 1], '-A FORWARD -j CORDON-GW-FWD');
    assert.match(v4, /^:FORWARD DROP \[0:0\]$/m);
    // Anti-spoofing as one negated prefix, logged through the point's log-and-drop chain.
    assert.match(v4, /^-A CORDON-AGENT-1-GOUT ! -s 10\.1\.0\.10\/32 .* -j CORDON-AGENT-1-GOUT-LD$/m);
  });

  it("IPv6: every chain drops, only loopback passes (no neighbour discovery, no RA), whatever the host's egress", () => {
    const ir = irOfText(`version: 1
networks:
  lan0: { cidr: 10.1.0.0/24 }
hosts:
  gw: { kind: hypervisor, egress: open, nics: { lan0: 10.1.0.1 } }
  agent-1: { kind: vm, id: 101, nics: { lan0: 10.1.0.10 } }
`);
    const v4 = renderAll(ir).files.find((f) => f.path === 'gw/rules.v4')!.content;
    assert.match(v4, /^:OUTPUT ACCEPT \[0:0\]$/m, 'IPv4 output is open: the IPv6 drop does not follow it');
    const v6 = renderAll(ir).files.find((f) => f.path === 'gw/rules.v6')!.content;
    assert.match(v6, /cordon does not model IPv6/);
    for (const b of ['INPUT', 'FORWARD', 'OUTPUT']) assert.match(v6, new RegExp(`^:${b} DROP \\[0:0\\]$`, 'm'));
    const accepts = v6.split('\n').filter((l) => l.endsWith('-j ACCEPT'));
    assert.deepEqual(accepts, ['-A INPUT -i lo -j ACCEPT', '-A OUTPUT -o lo -j ACCEPT']);
    assert.match(v6, /bridge-nf-call-ip6tables=1/, 'a host with guest ports is told what bridged IPv6 needs');
  });

  it('a rule on a bridge port the host does not own is an error, not a silent drop', () => {
    const ir = irOfText(`version: 1
networks:
  lan0: { cidr: 10.1.0.0/24 }
hosts:
  gw: { kind: hypervisor, nics: { lan0: 10.1.0.1 } }
  agent-1: { kind: vm, id: 101, nics: { lan0: 10.1.0.10 } }
policy:
  - allow: { from: agent-1, to: gw }
`);
    const chain = ir.chains.get('gw:input')!;
    const rule = chain.rules.find((r) => r.match.inPort)!;
    const bad = {
      ...ir,
      chains: new Map(
        [...ir.chains].map(([k, c]) => [
          k,
          k === 'gw:input' ? { ...c, rules: c.rules.map((r) => (r === rule ? { ...r, match: { ...r.match, inPort: ['tap999i0'] } } : r)) } : c,
        ]),
      ),
    };
    const res = renderAll(bad);
    assert.ok(
      res.diagnostics.some((d) => d.severity === 'error' && d.code === 'CORDON040' && d.message.includes('tap999i0')),
      JSON.stringify(res.diagnostics),
    );
  });
});
