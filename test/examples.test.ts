/**
 * The seed examples and the seeds' mistakes.
 *
 * Every examples/*.yaml must load, compile and pass every expectation and invariant, with at least
 * as many expectations as the seed has verification steps encoded. Every examples/mistakes/*.yaml
 * must fail, and on the specific check that names its mistake, not on something incidental. A few
 * seed verification steps are also asked of the engine directly: verdict and deciding rule, with
 * the rule's origin pointing at the line of the example that says it.
 */
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { compile } from '../src/ir/compile.js';
import type { Source } from '../src/ir/paths.js';
import type { Ir } from '../src/ir/types.js';
import { loadModel } from '../src/model/load.js';
import type { Assume } from '../src/model/types.js';
import type { Flow } from '../src/util/flows.js';
import { parseIPv4 } from '../src/util/ip.js';
import { runChecks, type CheckResult } from '../src/verify/checks.js';
import { Engine, type Dest } from '../src/verify/engine.js';
import { explain, type Explanation, type HopExplanation } from '../src/verify/explain.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EXAMPLES = join(ROOT, 'examples');
const MISTAKES = join(EXAMPLES, 'mistakes');

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort();
}

function load(path: string): Ir {
  const r = loadModel(path);
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  assert.equal(errors.length, 0, `${path} does not load:\n${errors.map((d) => `  ${d.code} ${d.message}`).join('\n')}`);
  assert.ok(r.model, `${path}: no model`);
  return compile(r.model);
}

function failures(checks: readonly CheckResult[]): string {
  return checks
    .filter((c) => !c.ok)
    .map((c) => `  ${c.kind} ${c.name} [${c.assume}]: ${c.message}`)
    .join('\n');
}

/**
 * Per example: the least number of `expect:` entries (the seed's verification steps encoded) and
 * the host names the seed's topology requires.
 */
const EXPECTED: Record<string, { minExpect: number; hosts: readonly string[] }> = {
  'proxmox-dual-bridge.yaml': { minExpect: 7, hosts: ['pve', 'agentfarm', 'ollama', 'wg-client'] },
  'libvirt-nat-filtered.yaml': { minExpect: 14, hosts: ['kvm-host', 'agent-1', 'agent-2'] },
  'libvirt-isolated.yaml': { minExpect: 6, hosts: ['kvm-host', 'secure-vm'] },
  'libvirt-bridge.yaml': { minExpect: 7, hosts: ['kvm-host', 'bridge-vm', 'lan-router', 'lan-device'] },
  'agentfarm-platform.yaml': { minExpect: 18, hosts: ['agentfarm', 'llm', 'sandbox', 'vault', 'customer-1', 'customer-2'] },
  'phoenix-gateway.yaml': {
    minExpect: 26,
    hosts: ['hypervisor', 'gateway', 'traefik', 'step-ca', 'portainer', 'portainer-agent', 'granite-embedding', 'granite-3b', 'ollama', 'llamacpp'],
  },
  'vpn-only-vm.yaml': { minExpect: 10, hosts: ['mac-host', 'workload-vm', 'vpn-server', 'lan-router', 'lan-device'] },
};

describe('examples: every seed example passes cordon test', () => {
  it('every example has a minimum expectation count and host list here', () => {
    assert.deepEqual(yamlFiles(EXAMPLES), Object.keys(EXPECTED).sort());
  });

  for (const file of yamlFiles(EXAMPLES)) {
    it(file, () => {
      const ir = load(join(EXAMPLES, file));
      const want = EXPECTED[file];
      assert.ok(want, `${file} is not listed in EXPECTED`);
      assert.ok(
        ir.model.expectations.length >= want.minExpect,
        `${file}: ${ir.model.expectations.length} expectations, the seed's steps need at least ${want.minExpect}`,
      );
      for (const e of ir.model.expectations)
        assert.ok(e.comment && e.comment.length > 0, `${file}: expectation '${e.origin.text}' has no comment quoting the seed`);
      for (const h of want.hosts) assert.ok(ir.model.hosts.has(h), `${file}: host '${h}' is missing`);
      const checks = runChecks(ir);
      assert.ok(
        checks.some((c) => c.kind === 'invariant'),
        `${file}: no invariant was checked`,
      );
      assert.equal(failures(checks), '', `${file} has failing checks`);
    });
  }

  it('seed 003 hosts carry the seed addresses and kinds', () => {
    const ir = load(join(EXAMPLES, 'phoenix-gateway.yaml'));
    const want: Record<string, [string, string]> = {
      hypervisor: ['10.0.0.13', 'hypervisor'],
      gateway: ['10.0.0.153', 'container'],
      traefik: ['10.0.0.12', 'container'],
      'step-ca': ['10.0.0.10', 'container'],
      portainer: ['10.0.0.111', 'vm'],
      'portainer-agent': ['10.0.0.102', 'vm'],
      'granite-embedding': ['10.0.0.141', 'container'],
      'granite-3b': ['10.0.0.142', 'container'],
      ollama: ['10.0.0.155', 'container'],
      llamacpp: ['10.0.0.157', 'container'],
    };
    for (const [name, [addr, kind]] of Object.entries(want)) {
      const h = ir.model.hosts.get(name)!;
      assert.equal(h.kind, kind, name);
      assert.deepEqual(
        h.nics.map((n) => n.address),
        [parseIPv4(addr)],
        name,
      );
      if (name !== 'hypervisor') assert.equal(h.guestFirewall, true, `${name} has a per-guest firewall`);
    }
  });

  it('seed 002: the sandbox has no interface at all, and the tunnel overlaps no network', () => {
    const ir = load(join(EXAMPLES, 'agentfarm-platform.yaml'));
    assert.equal(ir.model.hosts.get('sandbox')!.nics.length, 0);
    const wg0 = ir.model.tunnels.get('wg0')!;
    assert.equal(wg0.listen, 51820);
    for (const n of ir.model.networks.values()) assert.ok(n.range.hi < wg0.range.lo || n.range.lo > wg0.range.hi, `wg0 overlaps ${n.name}`);
    const peers = [...ir.model.hosts.values()].filter((h) => h.kind === 'peer');
    assert.ok(peers.length >= 2, 'at least two peers');
  });

  it('seed 004: the topology the seed describes', () => {
    const ir = load(join(EXAMPLES, 'vpn-only-vm.yaml'));
    const m = ir.model;
    const addr = (h: string, seg: string): number | undefined => m.hosts.get(h)!.nics.find((n) => n.segment === seg)?.address;
    assert.equal(addr('mac-host', 'lan'), parseIPv4('192.168.1.100'));
    assert.equal(addr('workload-vm', 'wg0'), parseIPv4('10.99.0.2'));
    assert.equal(addr('vpn-server', 'internet'), parseIPv4('203.0.113.1'));
    assert.equal(addr('lan-router', 'lan'), parseIPv4('192.168.1.1'));
    assert.equal(addr('lan-device', 'lan'), parseIPv4('192.168.1.50'));
    assert.equal(m.hosts.get('workload-vm')!.egress, 'vpn-only');
    assert.equal(m.hosts.get('lan-router')!.managed, false);
    assert.equal(m.networks.get('lan')!.gateway, parseIPv4('192.168.1.1'));
  });
});

/** For each mistake file: the checks that must fail, each by name, with a pattern its message must match. */
interface MistakeSpec {
  readonly mustFail: readonly { name: string | RegExp; message?: RegExp; assume?: Assume }[];
  /** Checks that must still pass: the mistake is narrower than "everything is broken". */
  readonly mustPass?: readonly (string | RegExp)[];
  /** For files cordon refuses to load: the diagnostic code that names the mistake. */
  readonly diagnostic?: string;
}

const MISTAKE_CHECKS: Record<string, MistakeSpec> = {
  'proxmox-dual-bridge-as-written.yaml': {
    mustFail: [
      { name: 'no-internet: ollama', message: /ollama \(only on egress: none networks\) reaches the internet/ },
      { name: 'no-vm-to-host: ollama', message: /reaches hypervisor pve on tcp\/22/ },
      { name: 'no-vm-to-host: agentfarm', message: /reaches hypervisor pve on any/ },
      { name: 'ollama → 8.8.8.8 icmp: deny', assume: 'compromised' },
      { name: 'wg-client → ollama tcp/11434: deny', assume: 'configured' },
    ],
    mustPass: ['agentfarm → ollama tcp/11434: allow', 'wg-client → agentfarm tcp/8080: allow'],
  },
  'libvirt-ssh-to-any.yaml': {
    mustFail: [
      { name: 'no-vm-to-host: agent-1', message: /agent-1 reaches hypervisor kvm-host on tcp\/22/ },
      { name: 'no-vm-to-host: agent-2', message: /agent-2 reaches hypervisor kvm-host on tcp\/22/ },
      { name: 'agent-1 → kvm-host tcp/22: deny', assume: 'compromised' },
    ],
    // The receiving VM's own nwfilter (direction in, state NEW, drop) still stops VM-to-VM.
    mustPass: ['no-vm-to-vm: agent-1', 'no-vm-to-vm: agent-2', 'agent-1 → agent-2: deny'],
  },
  'vpn-only-killswitch-as-written.yaml': {
    mustFail: [
      { name: 'vpn-only: workload-vm', message: /tunnel wg0 cannot come up: its own UDP transport to the endpoint \(udp\/51820\) is blocked/ },
      { name: 'workload-vm → internet tcp/443: allow', assume: 'configured' },
      { name: 'workload-vm → lan-router icmp: deny', assume: 'compromised' },
      { name: 'workload-vm → lan-device tcp/22: deny', assume: 'compromised' },
    ],
    // As configured the in-guest rules do block the LAN: the seed's claim fails only compromised.
    mustPass: ['workload-vm → lan-router icmp: deny'],
  },
  'phoenix-out-rules-only.yaml': {
    mustFail: [
      { name: 'gateway → traefik tcp/80: allow' },
      { name: 'traefik → ollama tcp/11434: allow' },
      { name: 'step-ca → gateway tcp/80: allow' },
      { name: 'portainer → portainer-agent tcp/9001: allow' },
      { name: 'internet → gateway tcp/443: allow' },
      { name: 'portainer-agent → hypervisor udp/53: allow' },
    ],
    mustPass: ['ollama → internet: deny'],
  },
  'agentfarm-wg-overlap.yaml': { mustFail: [], diagnostic: 'CORDON007' },
};

function matches(c: CheckResult, name: string | RegExp): boolean {
  return typeof name === 'string' ? c.name === name : name.test(c.name);
}

describe('examples/mistakes: each seed mistake fails on the check that names it', () => {
  it('every mistake file is listed here', () => {
    assert.deepEqual(yamlFiles(MISTAKES), Object.keys(MISTAKE_CHECKS).sort());
  });

  for (const file of yamlFiles(MISTAKES)) {
    it(file, () => {
      const path = join(MISTAKES, file);
      const spec = MISTAKE_CHECKS[file];
      assert.ok(spec, `${file} is not listed in MISTAKE_CHECKS`);
      const text = readFileSync(path, 'utf8');
      assert.match(text.split('\n')[0]!, /^# MISTAKE — seed 00\d/, `${file} starts with a header naming the seed`);
      if (spec.diagnostic) {
        const r = loadModel(path);
        assert.equal(r.model, undefined, `${file} must be refused`);
        assert.ok(
          r.diagnostics.some((d) => d.code === spec.diagnostic && d.severity === 'error'),
          `${file}: expected ${spec.diagnostic}, got ${r.diagnostics.map((d) => d.code).join(', ')}`,
        );
        return;
      }
      const checks = runChecks(load(path));
      assert.ok(
        checks.some((c) => !c.ok),
        `${file} must fail`,
      );
      for (const want of spec.mustFail) {
        const hits = checks.filter((c) => matches(c, want.name) && (!want.assume || c.assume === want.assume));
        assert.ok(
          hits.length > 0,
          `${file}: no check named ${String(want.name)}${want.assume ? ` [${want.assume}]` : ''}; have:\n${checks.map((c) => `  ${c.name} [${c.assume}]`).join('\n')}`,
        );
        const failed = hits.filter((c) => !c.ok);
        assert.ok(failed.length > 0, `${file}: ${String(want.name)} should fail but passed`);
        if (want.message)
          assert.ok(
            failed.some((c) => want.message!.test(c.message)),
            `${file}: ${String(want.name)} failed with '${failed.map((c) => c.message).join(' | ')}', expected ${want.message}`,
          );
        for (const c of failed) assert.ok(c.witness, `${file}: ${c.name} failed without a witness`);
      }
      for (const name of spec.mustPass ?? []) {
        const hits = checks.filter((c) => matches(c, name));
        assert.ok(hits.length > 0, `${file}: no check named ${String(name)}`);
        // For a deny expectation checked in both views, the configured one is what must still hold.
        const configured = hits.filter((c) => c.assume === 'configured');
        const judged = configured.length > 0 && hits.some((c) => c.kind === 'expect') ? configured : hits;
        assert.ok(
          judged.every((c) => c.ok),
          `${file}: ${String(name)} should still pass: ${judged.map((c) => c.message).join(' | ')}`,
        );
      }
    });
  }

  it('the kill switch dies at the in-guest OUTPUT policy, on the tunnel transport', () => {
    const checks = runChecks(load(join(MISTAKES, 'vpn-only-killswitch-as-written.yaml')));
    const vpn = checks.find((c) => c.name === 'vpn-only: workload-vm')!;
    const drop = vpn.witness?.path?.hops.find((h) => h.verdict === 'drop');
    assert.equal(drop?.point, 'workload-vm:output');
    assert.equal(drop?.oif, 'eth0');
    assert.equal(drop?.decision.kind, 'default');
    assert.match(vpn.witness!.flow, /udp\/51820/);
  });

  it('seed 000 as written: vmbr0 bridged to enp1s0 as the seed writes; "IN ACCEPT -i vmbr0" opens pve to the home LAN, forward ACCEPT lets it at agentfarm', () => {
    const file = join(MISTAKES, 'proxmox-dual-bridge-as-written.yaml');
    const ir = load(file);
    assert.deepEqual(ir.model.networks.get('vmbr0')!.ports, ['enp1s0']);
    const toPve = ask(ir, 'lan', '10.0.0.1', { proto: 'tcp', port: 8006 });
    assert.equal(toPve.verdict, 'allow');
    const h = decidingHop(toPve);
    assert.deepEqual([h.point, h.iif, h.inPort], ['pve:input', 'vmbr0', 'enp1s0']);
    assert.equal(originLine(h), itemLineOf(file, 'comment: "IN ACCEPT -i vmbr0'));
    const toGuest = ask(ir, 'lan', 'agentfarm', { proto: 'tcp', port: 8080 });
    assert.equal(toGuest.verdict, 'allow');
    const fwd = toGuest.path!.hops.find((x) => x.point === 'pve:forward')!;
    assert.deepEqual([fwd.iif, fwd.oif, fwd.inPort, fwd.decision.kind], ['vmbr0', 'vmbr0', 'enp1s0', 'default']);
  });

  it("seed 003 as written: the receiver's IN policy drops the proxy connection", () => {
    const checks = runChecks(load(join(MISTAKES, 'phoenix-out-rules-only.yaml')));
    const c = checks.find((x) => x.name === 'gateway → traefik tcp/80: allow')!;
    const hops = c.witness!.path!.hops;
    assert.equal(hops.find((h) => h.point === 'gateway:guest-out')?.verdict, 'accept', 'the OUT rule does its part');
    const drop = hops.find((h) => h.verdict === 'drop')!;
    assert.equal(drop.point, 'traefik:guest-in');
    assert.equal(drop.decision.kind, 'default');
  });
});

/** One flow through the engine, explained. */
function ask(ir: Ir, from: string, to: string, flow: Flow, assume: Assume = 'configured'): Explanation {
  const source: Source = from === 'internet' || from === 'lan' ? { kind: 'zone', zone: from } : { kind: 'host', host: from };
  const addr = parseIPv4(to);
  const dest: Dest = to === 'internet' || to === 'lan' ? { kind: 'zone', zone: to } : addr !== undefined ? { kind: 'addr', addr } : { kind: 'host', host: to };
  const engine = new Engine(ir);
  return explain(ir, engine.reach(source, dest, assume), flow);
}

/** The hop that decided: the dropping one for a deny, else the last policy rule that accepted. */
function decidingHop(e: Explanation): HopExplanation {
  const hops = e.path?.hops ?? [];
  const h = e.verdict === 'deny' ? hops.find((x) => x.verdict === 'drop') : [...hops].reverse().find((x) => x.decision.kind === 'rule');
  assert.ok(h, `no deciding hop in ${e.summary}`);
  return h;
}

/** The 1-based line of the example that holds `needle` (exactly one must). */
function lineOf(file: string, needle: string): number {
  const lines = readFileSync(file, 'utf8').split('\n');
  const hits = lines.flatMap((l, i) => (l.includes(needle) ? [i + 1] : []));
  assert.equal(hits.length, 1, `'${needle}' occurs ${hits.length} times in ${file}`);
  return hits[0]!;
}

/** The line of the YAML list item (`- …`) that contains the unique line holding `needle`. */
function itemLineOf(file: string, needle: string): number {
  const lines = readFileSync(file, 'utf8').split('\n');
  for (let i = lineOf(file, needle) - 1; i >= 0; i--) if (/^\s*- /.test(lines[i]!)) return i + 1;
  assert.fail(`'${needle}' is not inside a list item in ${file}`);
}

/** A setting's origin is its key's line or, for a block mapping, the first line of its body. */
function assertAtKey(line: number, keyLine: number): void {
  assert.ok(line === keyLine || line === keyLine + 1, `origin line ${line} is not at the key on line ${keyLine}`);
}

function originLine(h: HopExplanation): number {
  assert.ok(h.decision.kind === 'rule' || h.decision.kind === 'default', `decision at ${h.point} has no origin (${h.decision.kind})`);
  return h.decision.origin.line;
}

describe('seed verification steps, asked of the engine directly', () => {
  it('seed 001: "urllib.request.urlopen(\'https://www.google.com\') — Should work", by the nwfilter whitelist rule', () => {
    const file = join(EXAMPLES, 'libvirt-nat-filtered.yaml');
    const e = ask(load(file), 'agent-1', 'internet', { proto: 'tcp', port: 443 }, 'compromised');
    assert.equal(e.verdict, 'allow');
    const h = decidingHop(e);
    assert.equal(h.decision.kind, 'rule');
    assert.equal(originLine(h), itemLineOf(file, 'ports: [udp/53, tcp/80, tcp/443, tcp/22, tcp/9418]'));
  });

  it("seed 001: \"s.connect(('example.com', 8080)) — Should fail\", at agent-1's nwfilter (host side)", () => {
    const file = join(EXAMPLES, 'libvirt-nat-filtered.yaml');
    const e = ask(load(file), 'agent-1', 'internet', { proto: 'tcp', port: 8080 }, 'compromised');
    assert.equal(e.verdict, 'deny');
    const h = decidingHop(e);
    assert.equal(h.point, 'agent-1:guest-out');
    assert.equal(h.enforcedOn, 'kvm-host', "the per-guest filter runs on the host, out of the guest's reach");
    assert.equal(h.decision.kind, 'default');
    assertAtKey(originLine(h), lineOf(file, '  agent-1:'));
  });

  it('seed 004: "ping 192.168.1.1 — Blocked", even compromised, by the Mac\'s vpn-only rule', () => {
    const file = join(EXAMPLES, 'vpn-only-vm.yaml');
    const e = ask(load(file), 'workload-vm', '192.168.1.1', { proto: 'icmp' }, 'compromised');
    assert.equal(e.verdict, 'deny');
    for (const p of [e.path!, ...e.alternatives]) assert.equal(p.verdict, 'deny', `path ${p.chain} must be denied`);
    const direct = [e.path!, ...e.alternatives].find((p) => p.hops.some((h) => h.point === 'mac-host:forward'))!;
    const drop = direct.hops.find((h) => h.verdict === 'drop')!;
    assert.equal(drop.point, 'mac-host:forward');
    assert.ok(drop.decision.kind === 'rule' && /vpn-only — everything else outside wg0 is dropped/.test(drop.decision.origin.text));
    assertAtKey(originLine(drop), lineOf(file, '  workload-vm:'));
  });

  it('seed 004: "curl google.com — Goes through wg0 (VPN)", with the tunnel up', () => {
    const file = join(EXAMPLES, 'vpn-only-vm.yaml');
    const e = ask(load(file), 'workload-vm', 'internet', { proto: 'tcp', port: 443 });
    assert.equal(e.verdict, 'allow');
    assert.ok(e.path!.nodes.includes('wg0'), `goes through wg0: ${e.path!.chain}`);
    assert.ok(e.path!.tunnels.every((t) => t.up));
    assert.equal(originLine(decidingHop(e)), lineOf(file, 'from: workload-vm, to: internet, ports: [tcp/80'));
  });

  it('seed 003: "Allow Nginx to proxy to Traefik", opened at both guests\' ports', () => {
    const file = join(EXAMPLES, 'phoenix-gateway.yaml');
    const e = ask(load(file), 'gateway', 'traefik', { proto: 'tcp', port: 80 }, 'compromised');
    assert.equal(e.verdict, 'allow');
    const points = e.path!.hops.map((h) => h.point);
    assert.ok(points.includes('gateway:guest-out') && points.includes('traefik:guest-in'), points.join(', '));
    assert.equal(originLine(decidingHop(e)), lineOf(file, 'from: gateway, to: traefik.web'));
  });

  it('seed 003: granite-3b does not reach Portainer (default DROP at its own port)', () => {
    const file = join(EXAMPLES, 'phoenix-gateway.yaml');
    const e = ask(load(file), 'granite-3b', 'portainer', { proto: 'tcp', port: 9443 }, 'compromised');
    assert.equal(e.verdict, 'deny');
    assert.equal(decidingHop(e).point, 'granite-3b:guest-out');
  });

  it('seed 002: customers reach the API only through wg0', () => {
    const file = join(EXAMPLES, 'agentfarm-platform.yaml');
    const ir = load(file);
    const via = ask(ir, 'customer-1', 'agentfarm', { proto: 'tcp', port: 443 });
    assert.equal(via.verdict, 'allow');
    assert.ok(via.path!.nodes.includes('wg0'));
    const h = decidingHop(via);
    assert.equal(h.point, 'agentfarm:input');
    assert.equal(h.iif, 'wg0');
    assert.equal(originLine(h), lineOf(file, 'VPN-only: Betalande kunder via WireGuard; nginx rate limits'));
    const direct = ask(ir, 'internet', 'agentfarm', { proto: 'tcp', port: 443 }, 'compromised');
    assert.equal(direct.verdict, 'deny');
    assert.equal(decidingHop(direct).point, 'agentfarm:input');
  });

  it('seed 002: "network_disabled: True" — the sandbox has no path anywhere', () => {
    const ir = load(join(EXAMPLES, 'agentfarm-platform.yaml'));
    const e = ask(ir, 'sandbox', 'internet', { proto: 'udp', port: 53 }, 'compromised');
    assert.equal(e.verdict, 'deny');
    for (const p of [e.path, ...e.alternatives]) if (p) assert.match(p.end, /no route/);
  });

  it('seed 000: "Från WireGuard-klient: curl http://192.168.100.20:11434 — Ska INTE fungera"', () => {
    const file = join(EXAMPLES, 'proxmox-dual-bridge.yaml');
    const e = ask(load(file), 'wg-client', 'ollama', { proto: 'tcp', port: 11434 }, 'compromised');
    assert.equal(e.verdict, 'deny');
    assert.equal(decidingHop(e).point, 'pve:forward');
  });
});
