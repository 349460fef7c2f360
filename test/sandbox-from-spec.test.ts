/**
 * src/sandbox/from-spec.ts: `cordon run --spec FILE --as HOST` egress rules agree with the
 * verifier's configured matrix, for every example and every host in it: every rule is allowed by
 * the engine (checked at sample addresses inside its CIDR, for every flow of the rule), every
 * allowed matrix cell is covered by the rules, no zone rule opens private space. Plus a few
 * hand-checked spot checks against the YAML.
 */
import { strict as assert } from 'node:assert';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { compile } from '../src/ir/compile.js';
import type { Ir } from '../src/ir/types.js';
import { NOT_INTERNET } from '../src/model/addresses.js';
import { loadModel, loadModelFromText } from '../src/model/load.js';
import { specEgress, type SpecEgressRule } from '../src/sandbox/from-spec.js';
import { ALL_FLOWS, flowCovers, flowEqual, flowIsEmpty, flowUnion, formatFlowSet, NO_FLOWS, PORT_MAX, type FlowSet } from '../src/util/flows.js';
import { cidrRange, formatCidr, formatIPv4, parseIPv4 } from '../src/util/ip.js';
import * as R from '../src/util/rangeset.js';
import { Engine } from '../src/verify/engine.js';
import { computeMatrix } from '../src/verify/matrix.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EXAMPLES = join(ROOT, 'examples');
const FILES = readdirSync(EXAMPLES)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

function load(path: string): Ir {
  const r = loadModel(path);
  assert.ok(r.model, `${path} does not load: ${r.diagnostics.map((d) => d.message).join('; ')}`);
  return compile(r.model);
}

function ip(text: string): number {
  const n = parseIPv4(text);
  assert.ok(n !== undefined, text);
  return n;
}

/** The flows one rule opens. */
function ruleFlows(r: SpecEgressRule): FlowSet {
  switch (r.proto) {
    case 'any':
      return ALL_FLOWS;
    case 'icmp':
      return { ...NO_FLOWS, icmp: true };
    case 'tcp':
    case 'udp': {
      const ports = r.ports ? R.span(r.ports.lo, r.ports.hi) : R.span(0, PORT_MAX);
      return { ...NO_FLOWS, [r.proto]: ports };
    }
  }
}

/** What the rules open to one address. */
function coverage(rules: readonly SpecEgressRule[], addr: number): FlowSet {
  let acc = NO_FLOWS;
  for (const r of rules) {
    const { lo, hi } = cidrRange(r.cidr);
    if (addr >= lo && addr <= hi) acc = flowUnion(acc, ruleFlows(r));
  }
  return acc;
}

/** A sandbox rule cannot say "other IP protocols" short of `any`: the one flow the rules may leave out. */
function expressible(f: FlowSet): FlowSet {
  return flowEqual(f, ALL_FLOWS) ? f : { ...f, other: false };
}

function samples(r: SpecEgressRule): number[] {
  const { lo, hi } = cidrRange(r.cidr);
  return [...new Set([lo, lo + Math.floor((hi - lo) / 2), hi])];
}

describe('specEgress agrees with the matrix', () => {
  for (const file of FILES) {
    it(file, () => {
      const ir = load(join(EXAMPLES, file));
      const engine = new Engine(ir);
      const m = computeMatrix(ir, 'configured', engine);
      const model = ir.model;
      for (const [i, ep] of m.endpoints.entries()) {
        if (ep.source.kind !== 'host') continue;
        const host = ep.name;
        const src = ep.source;
        const e = specEgress(ir, host, engine);
        assert.equal(e.host, host);
        assert.deepEqual(specEgress(ir, host, engine), e, `${file} ${host}: not deterministic`);
        const own = new Set(model.hosts.get(host)!.nics.map((n) => n.address));

        // Sorted by address, then prefix length.
        for (let k = 1; k < e.rules.length; k++) {
          const a = e.rules[k - 1]!.cidr;
          const b = e.rules[k]!.cidr;
          assert.ok(a.addr < b.addr || (a.addr === b.addr && a.len <= b.len), `${file} ${host}: rules out of order at ${k}`);
        }

        // Every rule is allowed by the engine, everywhere inside it, for every flow it opens.
        for (const r of e.rules) {
          const range = cidrRange(r.cidr);
          const isHost = r.cidr.len === 32 && [...model.hosts.values()].some((h) => h.nics.some((n) => n.address === r.cidr.addr));
          if (!isHost) {
            const set: R.RangeSet = [[range.lo, range.hi]];
            const zone = r.text.startsWith('internet') ? model.internet : model.lan;
            assert.ok(r.text.startsWith('internet') || r.text.startsWith('lan'), `${file} ${host}: ${r.text}`);
            assert.ok(R.covers(zone, set), `${file} ${host}: ${r.text} ${formatCidr(r.cidr)} lies outside the zone`);
            if (r.text.startsWith('internet'))
              assert.ok(R.isEmpty(R.intersect(NOT_INTERNET, set)), `${file} ${host}: ${r.text} ${formatCidr(r.cidr)} opens private or reserved space`);
          }
          if (r.proto === 'tcp' || r.proto === 'udp') assert.ok(r.ports === undefined || (r.ports.lo <= r.ports.hi && r.ports.hi <= PORT_MAX));
          else assert.equal(r.ports, undefined);
          for (const addr of samples(r)) {
            assert.ok(!own.has(addr), `${file} ${host}: rule ${r.text} to its own address`);
            const allowed = engine.reach(src, { kind: 'addr', addr }, 'configured').allowed;
            assert.ok(
              flowCovers(allowed, ruleFlows(r)),
              `${file} ${host}: rule "${r.text}" opens ${formatIPv4(addr)} beyond what the engine allows (${formatFlowSet(allowed)})`,
            );
          }
        }

        // Every allowed cell of HOST's row is covered by the rules.
        let reached = false;
        for (const [j, dep] of m.endpoints.entries()) {
          const cell = m.cells[i]![j];
          if (cell === undefined || flowIsEmpty(cell)) continue;
          reached = true;
          const addrs = dep.dest.kind === 'zone' ? engine.zoneDestinations(dep.dest.zone) : model.hosts.get(dep.name)!.nics.map((n) => n.address);
          let union = NO_FLOWS;
          for (const addr of addrs) {
            const allowed = engine.reach(src, { kind: 'addr', addr }, 'configured').allowed;
            union = flowUnion(union, allowed);
            const cov = coverage(e.rules, addr);
            assert.ok(
              flowCovers(cov, expressible(allowed)),
              `${file} ${host} → ${dep.name} (${formatIPv4(addr)}): engine allows ${formatFlowSet(allowed)}, rules open ${formatFlowSet(cov)}`,
            );
          }
          assert.ok(flowEqual(union, cell), `${file} ${host} → ${dep.name}: per-address flows differ from the matrix cell`);
          // The rules to this destination open exactly the cell (as far as rules can say it).
          let opened = NO_FLOWS;
          for (const r of e.rules) {
            const { lo, hi } = cidrRange(r.cidr);
            const hit =
              dep.dest.kind === 'zone'
                ? R.covers(dep.dest.zone === 'internet' ? model.internet : model.lan, [[lo, hi]]) && r.text.startsWith(`${dep.dest.zone} `)
                : addrs.includes(lo) && r.cidr.len === 32;
            if (hit) opened = flowUnion(opened, ruleFlows(r));
          }
          assert.ok(
            flowEqual(opened, expressible(cell)),
            `${file} ${host} → ${dep.name}: rules open ${formatFlowSet(opened)}, matrix says ${formatFlowSet(cell)}`,
          );
        }
        // No rule to a destination the row does not reach.
        for (const r of e.rules) {
          const owner = [...model.hosts.values()].find((h) => h.nics.some((n) => n.address === r.cidr.addr) && r.cidr.len === 32);
          const name = owner ? owner.name : r.text.startsWith('internet') ? 'internet' : 'lan';
          const j = m.endpoints.findIndex((x) => x.name === name);
          assert.ok(
            j >= 0 && m.cells[i]![j] && !flowIsEmpty(m.cells[i]![j]),
            `${file} ${host}: rule ${r.text} to ${name}, which the matrix row does not reach`,
          );
        }

        assert.equal(e.mode, !reached ? 'isolated' : model.hosts.get(host)!.egress === 'vpn-only' ? 'vpn-only' : 'filtered', `${file} ${host}: mode`);
        if (!reached) assert.equal(e.rules.length, 0);
      }
    });
  }
});

describe('specEgress spot checks', () => {
  it('proxmox-dual-bridge: agentfarm reaches ollama on exactly tcp/11434, the internet on its four flows only', () => {
    // examples/proxmox-dual-bridge.yaml: `allow: { from: agentfarm, to: ollama.api }` with
    // ollama `services: { api: tcp/11434 }` at vmbr1 192.168.100.20, and
    // `allow: { from: agentfarm, to: internet, ports: [tcp/80, tcp/443, udp/53, icmp] }`.
    const e = specEgress(load(join(EXAMPLES, 'proxmox-dual-bridge.yaml')), 'agentfarm');
    assert.equal(e.mode, 'filtered');
    assert.deepEqual(
      e.rules.filter((r) => r.text.startsWith('ollama')),
      [{ cidr: { addr: ip('192.168.100.20'), len: 32 }, proto: 'tcp', ports: { lo: 11434, hi: 11434 }, text: 'ollama 192.168.100.20 tcp/11434' }],
    );
    const internet = e.rules.filter((r) => r.text.startsWith('internet'));
    assert.deepEqual([...new Set(internet.map((r) => r.text))].sort(), ['internet icmp', 'internet tcp/443', 'internet tcp/80', 'internet udp/53']);
    const open443 = (a: string): boolean => coverage(internet, ip(a)).tcp.some(([lo, hi]) => lo <= 443 && 443 <= hi);
    for (const a of ['8.8.8.8', '1.1.1.1', '203.0.113.7', '223.255.255.255']) assert.ok(open443(a), a);
    for (const a of ['10.1.2.3', '172.16.0.1', '192.168.1.1', '100.64.0.1', '127.0.0.1', '169.254.169.254', '224.0.0.1', '240.0.0.1', '0.0.0.1'])
      assert.ok(!open443(a), a);
    assert.ok(
      e.notes.some((n) => /reaches the internet on tcp\/80,443 udp\/53 icmp: allowed to any public address; private ranges \(RFC 1918/.test(n)),
      e.notes.join('\n'),
    );
  });

  it("proxmox-dual-bridge: ollama (egress: isolated) still pings agentfarm's vmbr1 leg, nothing else", () => {
    // `allow: { from: ollama, to: agentfarm, ports: icmp }`; `deny: { from: vmbr1, to: vmbr0 }`
    // keeps agentfarm's vmbr0 address (10.0.0.10) out.
    const e = specEgress(load(join(EXAMPLES, 'proxmox-dual-bridge.yaml')), 'ollama');
    assert.equal(e.mode, 'filtered');
    assert.deepEqual(e.rules, [{ cidr: { addr: ip('192.168.100.10'), len: 32 }, proto: 'icmp', ports: undefined, text: 'agentfarm 192.168.100.10 icmp' }]);
  });

  it('a host that reaches nothing is isolated, with no rules', () => {
    // examples/agentfarm-platform.yaml: llm, vault and sandbox are `egress: isolated` and no rule lets them out.
    const ir = load(join(EXAMPLES, 'agentfarm-platform.yaml'));
    for (const h of ['llm', 'vault', 'sandbox']) {
      const e = specEgress(ir, h);
      assert.equal(e.mode, 'isolated', h);
      assert.deepEqual(e.rules, [], h);
    }
  });

  it('a vpn-only host is vpn-only, with what it reaches through the tunnel', () => {
    // examples/vpn-only-vm.yaml: workload-vm is `egress: vpn-only` on wg0 (server vpn-server,
    // 203.0.113.1:51820); `allow: { from: workload-vm, to: data-server.http }` (10.99.0.5 tcp/80).
    const e = specEgress(load(join(EXAMPLES, 'vpn-only-vm.yaml')), 'workload-vm');
    assert.equal(e.mode, 'vpn-only');
    assert.ok(e.rules.some((r) => r.text === 'data-server 10.99.0.5 tcp/80' && r.cidr.addr === ip('10.99.0.5') && r.cidr.len === 32));
    assert.ok(!e.rules.some((r) => r.text.startsWith('lan-') || r.text.startsWith('mac-host')));
    assert.ok(
      e.notes.some((n) => /vpn-only/.test(n) && /wg0/.test(n) && /203\.0\.113\.1 udp\/51820/.test(n) && /WireGuard/.test(n)),
      e.notes.join('\n'),
    );
  });

  it('an unknown host is an error naming the closest and the valid hosts', () => {
    const ir = load(join(EXAMPLES, 'proxmox-dual-bridge.yaml'));
    assert.throws(
      () => specEgress(ir, 'olama'),
      (err: Error) =>
        /no host 'olama'/.test(err.message) && /did you mean 'ollama'\?/.test(err.message) && /'agentfarm', 'ollama', 'pve', 'wg-client'/.test(err.message),
    );
    assert.throws(
      () => specEgress(ir, 'zzzzzzzz'),
      (err: Error) => !/did you mean/.test(err.message) && /'agentfarm', 'ollama', 'pve', 'wg-client'/.test(err.message),
    );
  });

  it('part of the internet stays part of it: one public resolver is a /32, not the whole internet', () => {
    const text = `
version: 1
networks:
  net: { cidr: 192.168.50.0/24, gateway: 192.168.50.1, egress: nat, bridge: br0 }
hosts:
  hv: { kind: hypervisor, uplink: eth0, nics: { net: 192.168.50.1 } }
  vm: { kind: vm, nics: { net: 192.168.50.10 } }
policy:
  - allow: { from: vm, to: 9.9.9.9/32, ports: udp/53 }
  - allow: { from: vm, to: internet, ports: tcp/443-444 }
  - allow: { from: vm, to: internet, ports: tcp/445 }
`;
    const r = loadModelFromText(text, 'partial.yaml');
    assert.ok(r.model, r.diagnostics.map((d) => d.message).join('; '));
    const e = specEgress(compile(r.model), 'vm');
    const udp = e.rules.filter((x) => x.proto === 'udp');
    assert.deepEqual(udp, [{ cidr: { addr: ip('9.9.9.9'), len: 32 }, proto: 'udp', ports: { lo: 53, hi: 53 }, text: 'internet 9.9.9.9/32 udp/53' }]);
    // Adjacent port ranges from two rules are one range.
    const tcp = e.rules.filter((x) => x.proto === 'tcp');
    assert.ok(
      tcp.length > 0 && tcp.every((x) => x.ports?.lo === 443 && x.ports.hi === 445 && x.text === 'internet tcp/443-445'),
      tcp.map((x) => x.text).join(', '),
    );
    assert.ok(
      e.notes.some((n) => /reaches parts of the internet only/.test(n) && /udp\/53 to 9\.9\.9\.9/.test(n)),
      e.notes.join('\n'),
    );
  });
});
