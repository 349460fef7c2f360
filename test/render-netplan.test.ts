/**
 * netplan target: goldens for every example, byte-identical re-renders, and netplan's own
 * generator on every file. The generator binary (/usr/lib/netplan/generate --root-dir DIR) writes
 * only under DIR; the `netplan generate` wrapper would also run `udevadm control --reload` on this
 * machine, so the tests call the binary directly. Without the generator the checks that need it
 * skip locally and fail in CI (make setup installs netplan.io).
 */
import { strict as assert } from 'node:assert';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'yaml';
import type { Ir } from '../src/ir/types.js';
import { netplanBridges } from '../src/model/bridge-ports.js';
import { netplanHosts, netplanRenderer } from '../src/render/netplan/index.js';
import type { RenderedFile } from '../src/render/types.js';
import { formatIPv4 } from '../src/util/ip.js';
import { checkGolden, exampleFiles, exampleName, findProgram, irOfFile, irOfText, render, run } from './support/golden.js';
import { noteOrFail, skipOrFail } from './support/require-env.js';

const GENERATE = findProgram('/usr/lib/netplan/generate', '/lib/netplan/generate');
const tmp = mkdtempSync(join(tmpdir(), 'cordon-netplan-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs netplan's generator on one file; returns the systemd-networkd files it wrote, by name. */
function generate(f: RenderedFile): Map<string, string> {
  const root = mkdtempSync(join(tmp, 'root-'));
  mkdirSync(join(root, 'etc', 'netplan'), { recursive: true });
  const path = join(root, 'etc', 'netplan', '00-cordon.yaml');
  writeFileSync(path, f.content);
  chmodSync(path, 0o600);
  const r = run(GENERATE!, ['--root-dir', root])!;
  assert.equal(r.code, 0, `netplan generate on ${f.path}: ${r.out}`);
  assert.doesNotMatch(r.out, /error|warning/i, `netplan generate on ${f.path}: ${r.out}`);
  const dir = join(root, 'run', 'systemd', 'network');
  return new Map(
    readdirSync(dir)
      .sort()
      .map((n) => [n, readFileSync(join(dir, n), 'utf8')]),
  );
}

/** The model's view, checked against both the YAML and what networkd would get. */
function checkAgainstModel(ir: Ir, f: RenderedFile): void {
  const hostName = f.path.split('/')[1]!;
  const h = ir.model.hosts.get(hostName)!;
  type Link = { addresses: string[]; routes?: { to: string; via: string }[]; nameservers?: { addresses: string[] }; interfaces?: string[] };
  const doc = parse(f.content) as { network: { version: number; ethernets: Record<string, Link>; bridges?: Record<string, Link> } };
  assert.equal(doc.network.version, 2);
  const onNets = h.nics.filter((n) => ir.model.networks.has(n.segment));
  // A hypervisor whose bridge has a physical port: its bridges (named after the network's bridge),
  // the ports as members and plain ethernets without an address.
  const bridged = netplanBridges(ir.model, h);
  const nameOf = (n: (typeof onNets)[number]): string => (bridged ? ir.model.networks.get(n.segment)!.bridge : n.ifname);
  const links = bridged ? (doc.network.bridges ?? {}) : doc.network.ethernets;
  assert.deepEqual(Object.keys(links), onNets.map(nameOf));
  if (bridged) {
    const ports = onNets.flatMap((n) => ir.model.networks.get(n.segment)!.ports);
    assert.deepEqual(Object.keys(doc.network.ethernets), ports);
    for (const n of onNets) assert.deepEqual(links[nameOf(n)]!.interfaces, ir.model.networks.get(n.segment)!.ports, `${nameOf(n)}: its ports`);
  }
  const networkd = GENERATE ? generate(f) : undefined;
  for (const n of onNets) {
    const eth = links[nameOf(n)]!;
    const len = ir.model.networks.get(n.segment)!.cidr.len;
    assert.deepEqual(eth.addresses, [`${formatIPv4(n.address)}/${len}`]);
    const wantDefault = h.defaultRoute.kind === 'gateway' && h.defaultRoute.segment === n.segment ? formatIPv4(h.defaultRoute.via) : undefined;
    assert.equal(eth.routes?.find((r) => r.to === 'default')?.via, wantDefault, `${hostName} ${nameOf(n)}: default route`);
    if (networkd) {
      const unit = networkd.get(`10-netplan-${nameOf(n)}.network`);
      assert.ok(unit, `no networkd unit for ${nameOf(n)}: ${[...networkd.keys()].join(', ')}`);
      assert.match(unit, new RegExp(`^Name=${nameOf(n)}$`, 'm'));
      assert.match(unit, new RegExp(`^Address=${formatIPv4(n.address).replace(/\./g, '\\.')}/${len}$`, 'm'));
      if (wantDefault) assert.match(unit, new RegExp(`^Gateway=${wantDefault.replace(/\./g, '\\.')}$`, 'm'));
      else assert.doesNotMatch(unit, /^Destination=0\.0\.0\.0\/0$/m, `${hostName} ${nameOf(n)} must get no default route`);
      for (const ns of eth.nameservers?.addresses ?? []) assert.match(unit, new RegExp(`^DNS=${ns.replace(/\./g, '\\.')}$`, 'm'));
    }
  }
}

describe('netplan target: examples', () => {
  for (const file of exampleFiles()) {
    const name = exampleName(file);
    it(`${name}: matches the golden files and renders identically twice`, (t) => {
      const ir = irOfFile(file);
      if (!ir) return t.skip(`${name} does not resolve`);
      const a = render(netplanRenderer, ir);
      assert.deepEqual(a, render(netplanRenderer, irOfFile(file)!));
      assert.deepEqual(a.diagnostics, []);
      assert.deepEqual(
        a.files.map((f) => f.path),
        netplanHosts(ir.model).map((h) => `netplan/${h.name}/00-cordon.yaml`),
      );
      checkGolden(name, 'netplan', a);
    });
    it(`${name}: netplan's generator accepts every file and configures what the model says`, (t) => {
      const ir = irOfFile(file);
      if (!ir) return t.skip(`${name} does not resolve`);
      const files = render(netplanRenderer, ir).files;
      if (files.length === 0) return t.skip('no VM on a network');
      if (!GENERATE) noteOrFail(t, 'netplan.io not installed (make setup installs it): structure checked, generator skipped');
      for (const f of files) checkAgainstModel(ir, f);
    });
  }
});

describe('netplan target: seed 000 and the details', () => {
  const SPEC = `version: 1
networks:
  vmbr0: { cidr: 10.0.0.0/24, gateway: 10.0.0.1, egress: nat }
  vmbr1: { cidr: 192.168.100.0/24 }
tunnels:
  wg0: { server: pve, cidr: 10.8.0.0/24 }
hosts:
  pve: { kind: hypervisor, uplink: enp1s0, nics: { vmbr0: 10.0.0.1, vmbr1: 192.168.100.1, wg0: 10.8.0.1 } }
  agentfarm:
    kind: vm
    id: 101
    nics:
      vmbr0: { address: 10.0.0.10, ifname: ens18 }
      vmbr1: { address: 192.168.100.10, ifname: ens19 }
    routes: [{ to: 172.16.0.0/16, via: 192.168.100.254 }, { to: 10.9.0.0/16, via: wg0 }]
  ollama: { kind: vm, id: 102, nics: { vmbr1: { address: 192.168.100.20, ifname: ens18 } } }
  client: { kind: peer, via: wg0, address: 10.8.0.2 }
dns: { domain: lab.internal, server: pve, records: { ollama: ollama } }
`;

  it("writes the seed's two files: the default route only on AgentFarm's WAN nic, none for Ollama", () => {
    const r = render(netplanRenderer, irOfText(SPEC));
    assert.deepEqual(
      r.files.map((f) => f.path),
      ['netplan/agentfarm/00-cordon.yaml', 'netplan/ollama/00-cordon.yaml'],
    );
    const agent = parse(r.files[0]!.content) as { network: { ethernets: Record<string, Record<string, unknown>> } };
    assert.deepEqual(agent.network.ethernets.ens18, {
      dhcp4: false,
      addresses: ['10.0.0.10/24'],
      routes: [{ to: 'default', via: '10.0.0.1' }],
      nameservers: { search: ['lab.internal'], addresses: ['10.0.0.1'] },
    });
    // The static route goes on the nic that reaches its next hop; the tunnel route is only noted.
    assert.deepEqual(agent.network.ethernets.ens19, {
      dhcp4: false,
      addresses: ['192.168.100.10/24'],
      routes: [{ to: '172.16.0.0/16', via: '192.168.100.254' }],
    });
    assert.match(r.files[0]!.content, /^# Route 10\.9\.0\.0\/16 through tunnel wg0 is set up with the tunnel, not here\.$/m);
    const ollama = parse(r.files[1]!.content) as { network: { ethernets: Record<string, Record<string, unknown>> } };
    assert.equal(ollama.network.ethernets.ens18!.routes, undefined);
    assert.deepEqual(ollama.network.ethernets.ens18!.nameservers, { search: ['lab.internal'], addresses: ['192.168.100.1'] });
    assert.match(r.files[1]!.content, /^# No default route: ollama reaches only the networks it is on\.$/m);
  });

  it('passes the generator, with the resolver on the right link', (t) => {
    if (!GENERATE) return skipOrFail(t, 'netplan.io not installed (make setup installs it)');
    const ir = irOfText(SPEC);
    for (const f of render(netplanRenderer, ir).files) checkAgainstModel(ir, f);
    const units = generate(render(netplanRenderer, ir).files[0]!);
    assert.match(units.get('10-netplan-ens18.network')!, /^DNS=10\.0\.0\.1$/m);
    assert.match(units.get('10-netplan-ens18.network')!, /^Domains=lab\.internal$/m);
    assert.doesNotMatch(units.get('10-netplan-ens19.network')!, /^DNS=/m);
  });

  it('the generator rejects a broken file (the check is real)', (t) => {
    if (!GENERATE) return skipOrFail(t, 'netplan.io not installed (make setup installs it)');
    const root = mkdtempSync(join(tmp, 'bad-'));
    mkdirSync(join(root, 'etc', 'netplan'), { recursive: true });
    writeFileSync(join(root, 'etc', 'netplan', '00-cordon.yaml'), 'network:\n  version: 2\n  ethernets:\n    eth0:\n      addresses: [10.0.0.300/24]\n');
    chmodSync(join(root, 'etc', 'netplan', '00-cordon.yaml'), 0o600);
    assert.notEqual(run(GENERATE, ['--root-dir', root])!.code, 0);
  });

  it('--host picks one VM and refuses a host that is not one', () => {
    const ir = irOfText(SPEC);
    assert.deepEqual(
      render(netplanRenderer, ir, {}, 'ollama').files.map((f) => f.path),
      ['netplan/ollama/00-cordon.yaml'],
    );
    const r = render(netplanRenderer, ir, {}, 'pve');
    assert.equal(r.files.length, 0);
    assert.equal(r.diagnostics[0]?.code, 'CORDON004');
  });
});
