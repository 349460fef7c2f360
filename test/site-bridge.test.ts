/**
 * Issue 18's topology pieces (branch sitebr), each tested where it would break:
 *
 * - networks.ports: validated as interface names at the spec boundary (hostile text refused with
 *   CORDON018), clashes refused; rendered as bridge-ports (ifupdown, Proxmox); the LAN beyond the
 *   port in the model (the `lan` endpoint holds the network's undeclared addresses, packets are
 *   bridged through the owner's forward hook and the per-guest firewall, not routed) and
 *   CORDON055 when the policy separates a guest without a per-guest firewall from that LAN;
 * - networks.dhcp: located errors (outside, reversed, holding a static address or the gateway);
 *   libvirt <dhcp><range>, dnsmasq dhcp-range where the DNS server is on the network;
 * - wg-quick `DNS =` for tunnel members from hosts.X.nameservers, tunnels.X.nameservers or the zone.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Topology } from '../src/ir/paths.js';
import { loadModelFromText } from '../src/model/load.js';
import { dnsRenderer } from '../src/render/dns/index.js';
import { ifupdownRenderer } from '../src/render/ifupdown/index.js';
import { libvirtRenderer } from '../src/render/libvirt/index.js';
import { netplanHosts, netplanRenderer } from '../src/render/netplan/index.js';
import { proxmoxRenderer } from '../src/render/proxmox/index.js';
import { wireguardRenderer } from '../src/render/wireguard/index.js';
import { flowEqual, formatFlowSet } from '../src/util/flows.js';
import { parseIPv4 } from '../src/util/ip.js';
import * as R from '../src/util/rangeset.js';
import { bridgedLanDiagnostics } from '../src/verify/bridged-lan.js';
import { endpoints } from '../src/verify/endpoints.js';
import { Engine } from '../src/verify/engine.js';
import { computeFastMatrix } from '../src/verify/fast-matrix.js';
import { computeMatrix } from '../src/verify/matrix.js';
import { findProgram, irOfText, render, ROOT, run } from './support/golden.js';
import { noteOrFail } from './support/require-env.js';
import { testKeySource } from './support/wg-test-keys.js';

const BRIDGED = `version: 1
networks:
  vmbr0: { cidr: 10.0.0.0/24, gateway: 10.0.0.1, egress: nat, ports: [enp2s0] }
  vmbr1: { cidr: 192.168.100.0/24, egress: none }
hosts:
  pve: { kind: hypervisor, uplink: enp1s0, nics: { vmbr0: 10.0.0.1, vmbr1: 192.168.100.1 }, services: { ssh: tcp/22 } }
  agentfarm:
    kind: vm
    id: 101
    nics:
      vmbr0: { address: 10.0.0.10, ifname: ens18 }
      vmbr1: { address: 192.168.100.10, ifname: ens19 }
    services: { web: tcp/8080 }
  ollama: { kind: vm, id: 102, egress: isolated, nics: { vmbr1: { address: 192.168.100.20, ifname: ens18 } } }
policy:
  - allow: { from: lan, to: agentfarm.web }
  - allow: { from: agentfarm, to: internet, ports: [tcp/443] }
`;

function codes(text: string): string[] {
  return loadModelFromText(text, 'x.yaml').diagnostics.map((d) => `${d.code} ${d.path}`);
}

function fileOf(r: { files: readonly { path: string; content: string }[] }, path: string): string {
  const f = r.files.find((x) => x.path === path);
  assert.ok(f, `no ${path}: ${r.files.map((x) => x.path).join(', ')}`);
  return f.content;
}

const addr = (s: string): number => parseIPv4(s)!;

describe('networks.ports: the spec boundary', () => {
  it('accepts interface names and keeps them in order', () => {
    const r = loadModelFromText(BRIDGED.replace('[enp2s0]', '[enp2s0, enp3s0]'), 'x.yaml');
    assert.ok(r.model, r.diagnostics.map((d) => d.message).join('\n'));
    assert.deepEqual(r.model.networks.get('vmbr0')!.ports, ['enp2s0', 'enp3s0']);
    assert.deepEqual(r.model.networks.get('vmbr1')!.ports, []);
  });
  for (const hostile of ['"enp1s0\\nup reboot"', '"a b"', '"$(id)"', '"x;rm"', '"vmbr0\\u202e"', '"waytoolonginterfacename"']) {
    it(`refuses the port name ${hostile} at its path`, () => {
      const c = codes(BRIDGED.replace('[enp2s0]', `[${hostile}]`));
      assert.ok(
        c.some((x) => /^CORDON01[78] networks\.vmbr0\.ports\[0\]$/.test(x)),
        c.join('\n'),
      );
    });
  }
  it("refuses a port listed twice, a bridge or tunnel name, the uplink the owner routes through, another bridge's port", () => {
    assert.ok(codes(BRIDGED.replace('[enp2s0]', '[enp2s0, enp2s0]')).includes('CORDON011 networks.vmbr0.ports[1]'));
    assert.ok(codes(BRIDGED.replace('[enp2s0]', '[vmbr1]')).includes('CORDON011 networks.vmbr0.ports[0]'));
    assert.ok(codes(BRIDGED.replace('[enp2s0]', '[enp1s0]')).includes('CORDON011 networks.vmbr0.ports[0]'));
    const twice = BRIDGED.replace('egress: none }', 'egress: none, ports: [enp2s0] }');
    assert.ok(codes(twice).includes('CORDON011 networks.vmbr1.ports[0]'), codes(twice).join('\n'));
  });
  it('refuses a port on a network no hypervisor holds', () => {
    const text = `version: 1
networks:
  seg: { cidr: 10.1.0.0/24, ports: [eth9] }
hosts:
  a: { kind: vm, nics: { seg: 10.1.0.5 } }
`;
    assert.ok(codes(text).includes('CORDON016 networks.seg.ports[0]'), codes(text).join('\n'));
  });
});

describe('networks.ports: rendered', () => {
  const ir = irOfText(BRIDGED);
  it('ifupdown: bridge-ports lists the port, a bridge without one says none', () => {
    const text = fileOf(render(ifupdownRenderer, ir), 'ifupdown/pve/interfaces');
    assert.match(text, /^iface enp2s0 inet manual$/m);
    assert.match(text, /iface vmbr0 inet static\n {4}address 10\.0\.0\.1\/24\n {4}bridge-ports enp2s0\n/);
    assert.match(text, /iface vmbr1 inet static\n {4}address 192\.168\.100\.1\/24\n {4}bridge-ports none\n/);
  });
  it('proxmox: bridge-ports in the interfaces file', () => {
    const text = fileOf(render(proxmoxRenderer, ir, { forward: 'nftables' }), 'pve/interfaces');
    assert.match(text, /iface vmbr0 inet static\n {4}address 10\.0\.0\.1\/24\n {4}bridge-ports enp2s0\n/);
    assert.match(text, /^iface enp2s0 inet manual$/m);
  });
});

describe('networks.ports: netplan bridges', () => {
  const GENERATE = findProgram('/usr/lib/netplan/generate', '/lib/netplan/generate');
  it("a hypervisor with a physical port gets its bridges, the port a member; netplan's generator makes it a bridge port", (t) => {
    const ir = irOfText(BRIDGED);
    assert.deepEqual(
      netplanHosts(ir.model).map((h) => h.name),
      ['agentfarm', 'ollama', 'pve'],
    );
    const text = fileOf(render(netplanRenderer, ir), 'netplan/pve/00-cordon.yaml');
    assert.match(text, /\n {2}ethernets:\n {4}enp2s0:\n {6}dhcp4: false\n {2}bridges:\n {4}vmbr0:\n/);
    assert.match(text, /vmbr0:\n {6}dhcp4: false\n {6}addresses:\n {8}- 10\.0\.0\.1\/24\n {6}interfaces:\n {8}- enp2s0\n/);
    assert.match(text, /vmbr1:\n {6}dhcp4: false\n {6}addresses:\n {8}- 192\.168\.100\.1\/24\n {6}interfaces: \[\]\n/);
    const none = irOfText(BRIDGED.replace(', ports: [enp2s0]', ''));
    assert.ok(!netplanHosts(none.model).some((h) => h.name === 'pve'), 'no physical port: the hypervisor is left to ifupdown/proxmox');
    if (!GENERATE) return noteOrFail(t, 'netplan.io not installed (make setup installs it): generator skipped');
    const root = mkdtempSync(join(tmpdir(), 'cordon-sitebr-netplan-'));
    try {
      mkdirSync(join(root, 'etc', 'netplan'), { recursive: true });
      const path = join(root, 'etc', 'netplan', '00-cordon.yaml');
      writeFileSync(path, text);
      chmodSync(path, 0o600);
      const r = run(GENERATE, ['--root-dir', root])!;
      assert.equal(r.code, 0, r.out);
      const unit = readFileSync(join(root, 'run', 'systemd', 'network', '10-netplan-enp2s0.network'), 'utf8');
      assert.match(unit, /^Bridge=vmbr0$/m);
      assert.match(readFileSync(join(root, 'run', 'systemd', 'network', '10-netplan-vmbr0.netdev'), 'utf8'), /^Kind=bridge$/m);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('networks.ports: the LAN beyond the port in the model and the verifier', () => {
  const ir = irOfText(BRIDGED);
  const model = ir.model;
  it("the network's undeclared addresses are the LAN's; declared ones are not", () => {
    assert.ok(R.contains(model.lan, addr('10.0.0.77')));
    assert.ok(!R.contains(model.lan, addr('10.0.0.10')));
    assert.ok(!R.contains(model.lan, addr('10.0.0.1')));
    assert.ok(!R.contains(model.lan, addr('192.168.100.77')), 'a bridge without a port holds no LAN');
    assert.ok(
      endpoints(model).some((e) => e.name === 'lan'),
      'the matrix has a lan row and column',
    );
  });
  it('lan → a guest on the bridge is bridged: the owner forward hook (in and out the bridge, by the port), then the guest', () => {
    const paths = new Topology(model).paths({ kind: 'zone', zone: 'lan' }, addr('10.0.0.10'), { compromised: false, underlay: false });
    const p = paths.find((x) => x.end.kind === 'host');
    assert.ok(p, JSON.stringify(paths.map((x) => x.end)));
    assert.deepEqual(p.nodes, ['lan', 'vmbr0', 'agentfarm']);
    assert.deepEqual(
      p.hops.map((h) => [h.point, h.iif, h.oif, h.inPort]),
      [
        ['pve:forward', 'vmbr0', 'vmbr0', 'enp2s0'],
        ['agentfarm:input', 'ens18', undefined, undefined],
      ],
    );
  });
  it('a guest → an undeclared address of the bridged network ends in the lan zone; without the port it goes nowhere', () => {
    const to = (m: typeof model) => new Topology(m).paths({ kind: 'host', host: 'agentfarm' }, addr('10.0.0.77'), { compromised: false, underlay: false });
    assert.deepEqual(
      to(model).map((p) => p.end),
      [{ kind: 'zone', zone: 'lan' }],
    );
    const plain = irOfText(BRIDGED.replace(', ports: [enp2s0]', '')).model;
    assert.equal(to(plain)[0]!.end.kind, 'dropped');
  });
  it('a compromised guest may route through a router of the bridged LAN: past pve:forward in and out the bridge, to the internet', () => {
    const paths = new Topology(model).paths({ kind: 'host', host: 'agentfarm' }, addr('8.8.8.8'), { compromised: true, underlay: false });
    const p = paths.find((x) => x.nodes.includes('lan'));
    assert.ok(p, paths.map((x) => x.nodes.join(' → ')).join('\n'));
    assert.deepEqual(p.nodes, ['agentfarm', 'vmbr0', 'lan', 'internet']);
    assert.deepEqual(p.end, { kind: 'zone', zone: 'internet' });
    assert.deepEqual(
      p.hops.map((h) => [h.point, h.iif, h.oif, h.inPort]),
      [
        ['agentfarm:output', undefined, 'ens18', undefined],
        ['pve:forward', 'vmbr0', 'vmbr0', 'tap101i0'],
      ],
    );
    const configured = new Topology(model).paths({ kind: 'host', host: 'agentfarm' }, addr('8.8.8.8'), { compromised: false, underlay: false });
    assert.ok(!configured.some((x) => x.nodes.includes('lan')), 'as configured it routes through pve');
  });
  it('the matrix shows what the LAN reaches: the allowed web port, nothing else', () => {
    const m = computeMatrix(ir, 'configured');
    const i = m.endpoints.findIndex((e) => e.name === 'lan');
    const j = m.endpoints.findIndex((e) => e.name === 'agentfarm');
    assert.ok(i >= 0 && j >= 0);
    const cell = m.cells[i]![j]!;
    assert.ok(cell, 'lan → agentfarm has a cell');
    assert.equal(formatFlowSet(cell), 'tcp/8080');
  });
});

describe('networks.ports: the fast matrix agrees with the per-pair engine on bridged paths', () => {
  // Many alike guests on the bridged network make the fast matrix group them as leaves.
  const many = Array.from(
    { length: 6 },
    (_, i) => `  g${i}: { kind: vm, nics: { vmbr0: 10.0.0.${30 + i} }${i % 2 ? ', firewall: { guest: true }' : ''} }`,
  ).join('\n');
  const text = BRIDGED.replace(
    'policy:\n',
    `${many}\npolicy:\n  - allow: { from: lan, to: g1, ports: tcp/22 }\n  - allow: { from: g2, to: lan, ports: udp/53 }\n`,
  );
  for (const assume of ['configured', 'compromised'] as const)
    it(assume, () => {
      const ir = irOfText(text);
      const slow = computeMatrix(ir, assume);
      const fast = computeFastMatrix(ir, assume, new Engine(ir), { verifyTemplates: true });
      slow.cells.forEach((row, i) =>
        row.forEach((c, j) => {
          const f = fast.cell(i, j);
          const same = c === undefined ? f === undefined : f !== undefined && flowEqual(c, f);
          assert.ok(same, `${slow.endpoints[i]!.name} → ${slow.endpoints[j]!.name}: ${c && formatFlowSet(c)} vs ${f && formatFlowSet(f)}`);
        }),
      );
      const lan = slow.endpoints.findIndex((e) => e.name === 'lan');
      const g1 = slow.endpoints.findIndex((e) => e.name === 'g1');
      assert.equal(formatFlowSet(slow.cells[lan]![g1]!), 'tcp/22');
    });
});

describe('CORDON055: a bridged physical port and a guest the policy separates from the LAN', () => {
  it('warns at the port for a guest without a per-guest firewall', () => {
    const ds = bridgedLanDiagnostics(irOfText(BRIDGED).model);
    assert.equal(ds.length, 1, ds.map((d) => d.message).join('\n'));
    assert.equal(ds[0]!.code, 'CORDON055');
    assert.equal(ds[0]!.severity, 'warning');
    assert.equal(ds[0]!.path, 'networks.vmbr0.ports');
    assert.equal(ds[0]!.line, 3);
    assert.match(ds[0]!.message, /guest 'agentfarm'.*lan → agentfarm: tcp\/8080; agentfarm → lan: nothing/);
  });
  it('cordon check prints it with the code frame at ports: and still exits 0', () => {
    const r = spawnSync(join(ROOT, 'bin/cordon'), ['check', '-'], {
      input: BRIDGED,
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '', CORDON_DEBUG: '' },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /:3:70: warning CORDON055: network 'vmbr0' bridges enp2s0/);
    assert.match(r.stderr, /at networks\.vmbr0\.ports/);
    assert.match(r.stdout, /ok \(3 hosts, 2 networks/);
  });
  it('is quiet with a per-guest firewall, without a port, and where the policy opens everything both ways', () => {
    assert.deepEqual(
      bridgedLanDiagnostics(
        irOfText(BRIDGED.replace('    services: { web: tcp/8080 }', '    services: { web: tcp/8080 }\n    firewall: { guest: true }')).model,
      ),
      [],
    );
    assert.deepEqual(bridgedLanDiagnostics(irOfText(BRIDGED.replace(', ports: [enp2s0]', '')).model), []);
    const open = BRIDGED.replace(
      '  - allow: { from: lan, to: agentfarm.web }',
      '  - allow: { from: lan, to: agentfarm }\n  - allow: { from: agentfarm, to: lan }',
    );
    assert.deepEqual(bridgedLanDiagnostics(irOfText(open).model), []);
  });
});

const DHCP = `version: 1
networks:
  agents: { cidr: 192.168.101.0/24, gateway: 192.168.101.1, egress: nat, bridge: virbr1, dhcp: { start: 192.168.101.100, end: 192.168.101.254 } }
  lab: { cidr: 10.5.0.0/24, gateway: 10.5.0.1, egress: none, dhcp: { start: 10.5.0.50, end: 10.5.0.99 } }
hosts:
  kvm: { kind: hypervisor, uplink: eth0, nics: { agents: 192.168.101.1, lab: 10.5.0.1 }, services: { dns: udp/53 } }
  a1: { kind: vm, nics: { agents: 192.168.101.10 } }
dns: { domain: internal.example.org, server: kvm }
`;

describe('networks.dhcp', () => {
  it('resolves the pool', () => {
    const r = loadModelFromText(DHCP, 'x.yaml');
    assert.ok(r.model, r.diagnostics.map((d) => d.message).join('\n'));
    assert.deepEqual(r.model.networks.get('agents')!.dhcp, { start: addr('192.168.101.100'), end: addr('192.168.101.254') });
    assert.equal(r.model.networks.get('lab')!.dhcp!.end, addr('10.5.0.99'));
  });
  const cases: [string, string, string][] = [
    ['outside the network', 'start: 192.168.101.100', 'start: 192.168.102.100'],
    ['the broadcast address', 'end: 192.168.101.254', 'end: 192.168.101.255'],
    ['not an address', 'end: 192.168.101.254', 'end: "254; rm -rf /"'],
  ];
  for (const [what, from, to] of cases)
    it(`refuses an end ${what}, at its path`, () => {
      const c = codes(DHCP.replace(from, to));
      assert.ok(
        c.some((x) => /^CORDON0(05|10) networks\.agents\.dhcp\.(start|end)$/.test(x)),
        c.join('\n'),
      );
    });
  it('refuses a reversed pool, one holding the gateway, one holding a static address', () => {
    assert.ok(
      codes(DHCP.replace('start: 192.168.101.100, end: 192.168.101.254', 'start: 192.168.101.200, end: 192.168.101.100')).includes(
        'CORDON010 networks.agents.dhcp.end',
      ),
    );
    assert.ok(codes(DHCP.replace('start: 192.168.101.100', 'start: 192.168.101.1')).includes('CORDON006 networks.agents.dhcp'));
    assert.ok(codes(DHCP.replace('start: 192.168.101.100', 'start: 192.168.101.5')).includes('CORDON006 networks.agents.dhcp'));
  });
  it('libvirt: <dhcp><range> inside the <ip> of the network it belongs to', () => {
    const r = render(libvirtRenderer, irOfText(DHCP));
    const xml = fileOf(r, 'libvirt/kvm/networks/agents.xml');
    assert.match(
      xml,
      /<ip address='192\.168\.101\.1' netmask='255\.255\.255\.0'>\n\s+<dhcp>\n\s+<range start='192\.168\.101\.100' end='192\.168\.101\.254'\/>\n\s+<\/dhcp>\n\s+<\/ip>/,
    );
    const none = render(libvirtRenderer, irOfText(DHCP.replace(', dhcp: { start: 192.168.101.100, end: 192.168.101.254 }', '')));
    assert.doesNotMatch(fileOf(none, 'libvirt/kvm/networks/agents.xml'), /^\s*<dhcp>/m);
  });
  it("dnsmasq: dhcp-range for the DNS server's own network, never for libvirt's (virbr*), which libvirt serves", () => {
    const conf = fileOf(render(dnsRenderer, irOfText(DHCP)), 'dns/kvm/dnsmasq.conf');
    assert.match(conf, /^dhcp-range=10\.5\.0\.50,10\.5\.0\.99,255\.255\.255\.0,12h$/m);
    assert.match(conf, /^dhcp-option=option:router,10\.5\.0\.1$/m);
    assert.match(conf, /^dhcp-option=option:dns-server,10\.5\.0\.1$/m);
    assert.doesNotMatch(conf, /dhcp-range=192\.168\.101/);
  });
});

const WG = `version: 1
networks:
  lan0: { cidr: 10.0.0.0/24, gateway: 10.0.0.1, egress: nat }
tunnels:
  wg0: { server: gw, cidr: 10.8.0.0/24, endpoint: 203.0.113.5 }
hosts:
  gw: { kind: router, nics: { internet: 203.0.113.5, lan0: 10.0.0.1, wg0: 10.8.0.1 }, services: { dns: udp/53 } }
  phone: { kind: peer, via: wg0, address: 10.8.0.2 }
  laptop: { kind: peer, via: wg0, address: 10.8.0.3 }
`;

describe('wireguard: DNS = for members', () => {
  const keyed = wireguardRenderer.withKeys(testKeySource());
  const conf = (text: string, host: string): string =>
    fileOf(keyed.render(irOfText(text), { host: undefined, params: new Map() }), `wireguard/${host}/wg0.conf`);
  it('none without nameservers or a zone on the tunnel', () => {
    assert.doesNotMatch(conf(WG, 'phone'), /^DNS/m);
  });
  it("the tunnel's nameservers, a member's own winning; never in the server's config", () => {
    const text = WG.replace('endpoint: 203.0.113.5 }', 'endpoint: 203.0.113.5, nameservers: [10.8.0.1] }').replace(
      'address: 10.8.0.3 }',
      'address: 10.8.0.3, nameservers: [1.1.1.1, 9.9.9.9] }',
    );
    assert.match(conf(text, 'phone'), /^DNS = 10\.8\.0\.1$/m);
    assert.match(conf(text, 'laptop'), /^DNS = 1\.1\.1\.1, 9\.9\.9\.9$/m);
    assert.doesNotMatch(conf(text, 'gw'), /^DNS/m);
  });
  it("the dns: zone's server on the tunnel, with the zone as search domain", () => {
    const text = `${WG}dns: { domain: corp.example.org, server: gw }\n`;
    assert.match(conf(text, 'phone'), /^DNS = 10\.8\.0\.1, corp\.example\.org$/m);
  });
  it('refuses a nameserver that is not an address', () => {
    const c = codes(WG.replace('endpoint: 203.0.113.5 }', 'endpoint: 203.0.113.5, nameservers: ["10.8.0.1\\nPostUp = id"] }'));
    assert.ok(c.includes('CORDON010 tunnels.wg0.nameservers[0]'), c.join('\n'));
  });
});
