/**
 * The Proxmox importer, with expectations written from the Proxmox VE admin guide ("Proxmox VE
 * Firewall") and pve-firewall's parser, never from the importer's own output:
 * - the firewall is disabled until cluster.fw says `enable: 1`;
 * - host traffic: established and loopback pass, host.fw's rules come before cluster.fw's
 *   ("useful if you want to overwrite rules from cluster.fw"), policy_in defaults to DROP and
 *   policy_out to ACCEPT;
 * - a guest's IN rules guard traffic to it (policy_in DROP by default), OUT rules traffic from it;
 * - macros, IP sets (+name), aliases, ranges and lists in -source/-dest, security groups;
 * - disabled rules (|) are skipped; a rule pve-firewall cannot parse (-o) is skipped with a
 *   warning; FORWARD is not read by the classic pve-firewall;
 * - a host rule about a guest's address never matches bridged traffic.
 * And the golden imports of the seeds' trees (UPDATE_GOLDEN=1 rewrites them; review the diff).
 */
import { strict as assert } from 'node:assert';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { ImportResult, SourceTree } from '../src/import/common/contract.js';
import { proxmoxImporter } from '../src/import/proxmox/index.js';
import { compile } from '../src/ir/compile.js';
import type { Hop } from '../src/ir/paths.js';
import { loadModel, loadModelFromText } from '../src/model/load.js';
import { findRenderer } from '../src/render/registry.js';
import { parseSpecText } from '../src/spec/parse.js';
import { flowContains, flowEqual, formatFlowSet, type Flow } from '../src/util/flows.js';
import { formatIPv4, parseIPv4 } from '../src/util/ip.js';
import { acceptedFlows, evalChain } from '../src/verify/chain-eval.js';
import { diskTree } from '../src/cli/commands/import-common.js';

const TOPO = `version: 1
networks:
  vmbr0: { cidr: 10.0.0.0/24, gateway: 10.0.0.1, egress: nat }
hosts:
  pve: { kind: hypervisor, uplink: enp1s0, nics: { vmbr0: 10.0.0.1 } }
  web: { kind: vm, id: 100, nics: { vmbr0: 10.0.0.10 } }
`;

function run(files: Record<string, string>, topo = TOPO): ImportResult {
  const all: Record<string, string> = { 'root/etc/hostname': 'pve\n' };
  for (const [k, v] of Object.entries(files)) all[`root/${k}`] = v;
  const tree: SourceTree = { read: (p) => all[p], list: (p) => (p === 'root' ? ['etc'] : undefined) };
  const p = parseSpecText(topo, 'topo.yaml');
  assert.ok(p.ok);
  return proxmoxImporter.import({ paths: ['root'], tree, topology: { spec: p.value.spec, file: 'topo.yaml' }, host: undefined });
}

function accepts(r: ImportResult, point: string, pkt: { src: string; dst: string; iif?: string; inPort?: string }, flow: Flow): boolean {
  const m = loadModelFromText(r.text, 'imported.yaml');
  assert.ok(m.model, m.diagnostics.map((d) => `${d.line} ${d.message}`).join('\n') + r.text);
  const chain = compile(m.model).chains.get(point);
  assert.ok(chain, `no chain ${point}`);
  const hop: Hop = { point, host: chain.enforcedOn, hook: chain.hook, iif: pkt.iif, oif: undefined, inPort: pkt.inPort, natSrc: undefined };
  return flowContains(acceptedFlows(evalChain(chain, hop, parseIPv4(pkt.src)!, parseIPv4(pkt.dst)!)), flow);
}

const ssh: Flow = { proto: 'tcp', port: 22 };
const http: Flow = { proto: 'tcp', port: 80 };
const CLUSTER = 'etc/pve/firewall/cluster.fw';

describe('proxmox: what the admin guide says', () => {
  it('the firewall is disabled by default: without enable: 1 nothing is filtered', () => {
    const r = run({ [CLUSTER]: '[RULES]\nIN DROP\n' });
    assert.equal(accepts(r, 'pve:input', { src: '10.0.0.10', dst: '10.0.0.1' }, ssh), true);
    assert.ok(r.diagnostics.some((d) => d.code === 'CORDON047' && /disabled/.test(d.message)));
  });

  it('host: policy_in defaults to DROP, policy_out to ACCEPT; a macro stands for its ports', () => {
    const r = run({ [CLUSTER]: '[OPTIONS]\nenable: 1\n\n[RULES]\nIN SSH(ACCEPT) -source 10.0.0.0/24\n' });
    assert.equal(accepts(r, 'pve:input', { src: '10.0.0.10', dst: '10.0.0.1' }, ssh), true);
    assert.equal(accepts(r, 'pve:input', { src: '10.0.0.10', dst: '10.0.0.1' }, http), false);
    assert.equal(accepts(r, 'pve:input', { src: '192.0.2.1', dst: '10.0.0.1' }, ssh), false);
    assert.equal(accepts(r, 'pve:output', { src: '10.0.0.1', dst: '192.0.2.1' }, http), true);
  });

  it("host.fw's rules come before cluster.fw's, so they overwrite them", () => {
    const r = run({
      [CLUSTER]: '[OPTIONS]\nenable: 1\n[RULES]\nIN ACCEPT -p tcp -dport 22\n',
      'etc/pve/nodes/pve/host.fw': '[RULES]\nIN DROP -source 10.0.0.10 -p tcp -dport 22\n',
    });
    assert.equal(accepts(r, 'pve:input', { src: '10.0.0.10', dst: '10.0.0.1' }, ssh), false);
    assert.equal(accepts(r, 'pve:input', { src: '10.0.0.11', dst: '10.0.0.1' }, ssh), true);
  });

  it('IP sets, aliases, ranges and lists; a disabled rule is skipped; security groups expand where they are used', () => {
    const r = run({
      [CLUSTER]: `[OPTIONS]
enable: 1
[ALIASES]
admin 10.0.0.5
[IPSET ops]
10.0.0.64/26
!10.0.0.70
[group webserver]
IN ACCEPT -p tcp -dport 80
[RULES]
IN ACCEPT -source +ops -p tcp -dport 22
IN ACCEPT -source admin -p tcp -dport 8006
IN ACCEPT -source 10.0.0.20-10.0.0.29 -p tcp -dport 443
IN ACCEPT -source 10.0.0.40,10.0.0.41 -p tcp -dport 443
|IN ACCEPT -p tcp -dport 3389
`,
      'etc/pve/firewall/100.fw': '[OPTIONS]\nenable: 1\n[RULES]\nGROUP webserver\n',
    });
    assert.deepEqual(
      r.diagnostics.filter((d) => d.severity !== 'info'),
      [],
    );
    assert.equal(accepts(r, 'pve:input', { src: '10.0.0.65', dst: '10.0.0.1' }, ssh), true);
    assert.equal(accepts(r, 'pve:input', { src: '10.0.0.70', dst: '10.0.0.1' }, ssh), false, '! excludes an entry');
    assert.equal(accepts(r, 'pve:input', { src: '10.0.0.5', dst: '10.0.0.1' }, { proto: 'tcp', port: 8006 }), true);
    assert.equal(accepts(r, 'pve:input', { src: '10.0.0.25', dst: '10.0.0.1' }, { proto: 'tcp', port: 443 }), true);
    assert.equal(accepts(r, 'pve:input', { src: '10.0.0.41', dst: '10.0.0.1' }, { proto: 'tcp', port: 443 }), true);
    assert.equal(accepts(r, 'pve:input', { src: '10.0.0.30', dst: '10.0.0.1' }, { proto: 'tcp', port: 443 }), false);
    assert.equal(accepts(r, 'pve:input', { src: '10.0.0.5', dst: '10.0.0.1' }, { proto: 'tcp', port: 3389 }), false, 'disabled');
    assert.equal(accepts(r, 'web:guest-in', { src: '192.0.2.1', dst: '10.0.0.10' }, http), true, 'the group opens http to the guest');
    assert.equal(accepts(r, 'web:guest-in', { src: '192.0.2.1', dst: '10.0.0.10' }, ssh), false, 'policy_in DROP');
  });

  it('guest: OUT rules guard what leaves it (policy_out ACCEPT by default), and only with enable: 1', () => {
    const on = run({ [CLUSTER]: '[OPTIONS]\nenable: 1\n', 'etc/pve/firewall/100.fw': '[OPTIONS]\nenable: 1\npolicy_out: DROP\n[RULES]\nOUT HTTP(ACCEPT)\n' });
    assert.equal(accepts(on, 'web:guest-out', { src: '10.0.0.10', dst: '192.0.2.1', inPort: 'tap100i0' }, http), true);
    assert.equal(accepts(on, 'web:guest-out', { src: '10.0.0.10', dst: '192.0.2.1', inPort: 'tap100i0' }, ssh), false);
    const off = run({ [CLUSTER]: '[OPTIONS]\nenable: 1\n', 'etc/pve/firewall/100.fw': '[OPTIONS]\npolicy_out: DROP\n' });
    assert.ok(!off.text.includes('"web:guest-out"'), 'no guest chain without enable: 1');
    assert.ok(off.diagnostics.some((d) => d.code === 'CORDON047' && d.file.endsWith('100.fw')));
  });

  it('FORWARD is not read by pve-firewall, -o is no option: both located warnings, both rules left out', () => {
    const r = run({ [CLUSTER]: '[OPTIONS]\nenable: 1\n[RULES]\nFORWARD DROP -i vmbr0 -o vmbr1\nIN DROP -i vmbr0 -o vmbr1\n' });
    const w = r.diagnostics.filter((d) => d.code === 'CORDON044').map((d) => `${d.file}:${d.line}`);
    assert.deepEqual(w, [`root/${CLUSTER}:4`, `root/${CLUSTER}:5`]);
    assert.match(r.diagnostics.find((d) => d.line === 4)!.message, /only vmbr0 → vmbr1, never vmbr1 → vmbr0/);
  });

  it("a host rule about a guest's address never matches bridged traffic (CORDON049)", () => {
    const r = run({ [CLUSTER]: '[OPTIONS]\nenable: 1\n[RULES]\nIN ACCEPT -dest 10.0.0.10 -p tcp -dport 80\n' });
    const d = r.diagnostics.find((x) => x.code === 'CORDON049');
    assert.ok(d && d.line === 4, JSON.stringify(r.diagnostics));
    assert.match(d.hint ?? '', /100\.fw/);
  });

  it('malformed lines are errors at their line', () => {
    const r = run({
      [CLUSTER]:
        'enable: 1\n[OPTIONS]\nenable: 1\npolicy_in DROP\n[RULES]\nIN\nIN SSH(ALLOW)\nIN ACCEPT -source +nope\nIN ACCEPT -source 10.0.0.1-10.0.0.9,10.0.0.20\n',
    });
    assert.deepEqual(
      r.diagnostics.filter((d) => d.code === 'CORDON045').map((d) => d.line),
      [1, 4, 6, 7, 8, 9],
    );
  });
});

describe('proxmox: golden imports of the seeds', () => {
  for (const seed of ['000', '003']) {
    it(`seed ${seed}`, () => {
      const dir = `examples/seed-configs/${seed}`;
      const p = parseSpecText(readFileSync(`${dir}/topology.yaml`, 'utf8'), `${dir}/topology.yaml`);
      assert.ok(p.ok);
      const r = proxmoxImporter.import({
        paths: [`${dir}/root`],
        tree: diskTree,
        topology: { spec: p.value.spec, file: `${dir}/topology.yaml` },
        host: undefined,
      });
      assert.ok(!r.diagnostics.some((d) => d.severity === 'error'));
      const golden = `test/import-golden/proxmox/seed-${seed}.yaml`;
      if (process.env.UPDATE_GOLDEN === '1') {
        mkdirSync('test/import-golden/proxmox', { recursive: true });
        writeFileSync(golden, r.text);
      }
      assert.equal(r.text, readFileSync(golden, 'utf8'));
      assert.ok(loadModelFromText(r.text, golden).model, 'the golden spec loads');
    });
  }
});

describe('proxmox: the topology from the node’s own files (no --topology)', () => {
  const files: Record<string, string> = {
    'root/etc/hostname': 'pve\n',
    'root/etc/network/interfaces': `auto lo
iface lo inet loopback

iface enp1s0 inet manual

auto vmbr0
iface vmbr0 inet static
    address 10.0.0.1/24
    gateway 10.0.0.254
    bridge-ports enp1s0
    bridge-stp off

auto vmbr1
iface vmbr1 inet static
    address 192.168.100.1
    netmask 255.255.255.0
    bridge-ports none
`,
    'root/etc/pve/qemu-server/100.conf':
      'net0: virtio=BC:24:11:00:00:01,bridge=vmbr0,firewall=1\nipconfig0: ip=10.0.0.10/24,gw=10.0.0.1\nnet1: virtio=BC:24:11:00:00:02,bridge=vmbr1\n[snap1]\nipconfig1: ip=192.168.100.77/24\n',
    'root/etc/pve/lxc/101.conf': 'net0: name=eth0,bridge=vmbr1,firewall=1,hwaddr=BC:24:11:00:00:03,ip=192.168.100.20/24,type=veth\n',
    'root/etc/pve/lxc/102.conf': 'net0: name=eth0,bridge=vmbr1,ip=dhcp,type=veth\n',
    'root/etc/pve/firewall/cluster.fw': '[OPTIONS]\nenable: 1\n',
    'root/etc/pve/firewall/101.fw': '[OPTIONS]\nenable: 1\n[RULES]\nIN ACCEPT -source 10.0.0.10 -p tcp -dport 11434\n',
  };
  const tree: SourceTree = {
    read: (p) => files[p],
    list: (p) => {
      const names = new Set(
        Object.keys(files)
          .filter((f) => f.startsWith(`${p}/`))
          .map((f) => f.slice(p.length + 1).split('/')[0]!),
      );
      return names.size > 0 ? [...names].sort() : undefined;
    },
  };
  const r = proxmoxImporter.import({ paths: ['root'], tree, topology: undefined, host: undefined });

  it('bridges are networks, guests are vm<vmid>/ct<vmid> with the addresses their configs give', () => {
    assert.ok(!r.diagnostics.some((d) => d.severity === 'error'), JSON.stringify(r.diagnostics, null, 1));
    const m = loadModelFromText(r.text, 'imported.yaml');
    assert.ok(m.model, m.diagnostics.map((d) => d.message).join('\n'));
    assert.equal(m.model.networks.get('vmbr0')?.egress, 'nat');
    assert.equal(m.model.networks.get('vmbr1')?.egress, 'none');
    const vm = m.model.hosts.get('vm100');
    assert.equal(vm?.kind, 'vm');
    // net1 has no address in the current config (the snapshot's ipconfig1 is an old one).
    assert.deepEqual(
      vm?.nics.map((n) => [n.segment, n.address, n.port]),
      [['vmbr0', parseIPv4('10.0.0.10'), 'tap100i0']],
    );
    const ct = m.model.hosts.get('ct101');
    assert.deepEqual(
      ct?.nics.map((n) => [n.segment, n.address, n.port]),
      [['vmbr1', parseIPv4('192.168.100.20'), 'veth101i0']],
    );
    assert.ok(!m.model.hosts.has('ct102'), 'a DHCP-only container has no address to check');
    const where = r.diagnostics.filter((d) => d.code === 'CORDON044').map((d) => `${d.file}:${d.line}`);
    assert.deepEqual(where.sort(), ['root/etc/pve/lxc/102.conf:1', 'root/etc/pve/qemu-server/100.conf:3']);
  });

  it("the guest's firewall applies at its port: ct101 takes tcp/11434 from vm100 only", () => {
    assert.equal(accepts(r, 'ct101:guest-in', { src: '10.0.0.10', dst: '192.168.100.20' }, { proto: 'tcp', port: 11434 }), true);
    assert.equal(accepts(r, 'ct101:guest-in', { src: '10.0.0.11', dst: '192.168.100.20' }, { proto: 'tcp', port: 11434 }), false);
  });

  it('a tree without etc/hostname is bad input at that file', () => {
    const bad = proxmoxImporter.import({
      paths: ['root'],
      tree: { read: (p) => (p.endsWith('hostname') ? undefined : tree.read(p)), list: (p) => tree.list(p) },
      topology: undefined,
      host: undefined,
    });
    const e = bad.diagnostics.find((d) => d.severity === 'error');
    assert.ok(e && e.file === 'root/etc/hostname', JSON.stringify(bad.diagnostics));
  });
});

describe('proxmox round trip: cordon renders the Proxmox firewall, cordon imports it, every chain decides alike', () => {
  it('phoenix-gateway: host input/output and every guest firewall, on sampled packets', () => {
    const file = 'examples/phoenix-gateway.yaml';
    const loaded = loadModel(file);
    assert.ok(loaded.model);
    const ir = compile(loaded.model);
    const out = findRenderer('proxmox')!.render(ir, { host: undefined, params: new Map([['forward', 'nftables']]) });
    assert.ok(!out.diagnostics.some((d) => d.severity === 'error'), JSON.stringify(out.diagnostics));
    const node = out.files[0]!.path.split('/')[0]!;
    const files: Record<string, string> = { 'root/etc/hostname': `${node}\n` };
    for (const f of out.files) {
      const base = f.path.split('/').pop()!;
      if (base === 'cluster.fw') files['root/etc/pve/firewall/cluster.fw'] = f.content;
      else if (base === 'host.fw') files[`root/etc/pve/nodes/${node}/host.fw`] = f.content;
      else if (/^\d+\.fw$/.test(base)) files[`root/etc/pve/firewall/${base}`] = f.content;
    }
    const p = parseSpecText(readFileSync(file, 'utf8'), file);
    assert.ok(p.ok);
    const tree: SourceTree = { read: (x) => files[x], list: (x) => (x === 'root' ? ['etc'] : undefined) };
    const r = proxmoxImporter.import({ paths: ['root'], tree, topology: { spec: p.value.spec, file }, host: node });
    assert.ok(!r.diagnostics.some((d) => d.severity === 'error'), JSON.stringify(r.diagnostics, null, 1));
    const back = loadModelFromText(r.text, 'imported.yaml');
    assert.ok(back.model, back.diagnostics.map((d) => d.message).join('\n'));
    const ir2 = compile(back.model);
    const addrs = [...loaded.model.hosts.values()].flatMap((h) => h.nics.map((n) => n.address));
    addrs.push(parseIPv4('198.51.100.7')!, parseIPv4('10.0.0.200')!);
    const portOf = new Map([...loaded.model.hosts.values()].flatMap((h) => h.nics.filter((n) => n.port).map((n) => [n.address, n.port] as const)));
    let compared = 0;
    const diffs: string[] = [];
    for (const [point, a] of ir.chains) {
      if (!['input', 'output', 'guest-in', 'guest-out'].includes(a.hook) || (a.host !== node && !a.hook.startsWith('guest'))) continue;
      const b = ir2.chains.get(point);
      assert.ok(b, `no imported chain ${point}`);
      const host = loaded.model.hosts.get(a.host)!;
      const own = host.nics.map((n) => n.address);
      const port = host.nics[0]?.port;
      for (const src of addrs)
        for (const dst of addrs) {
          if (a.hook === 'input' && (!own.includes(dst) || own.includes(src))) continue;
          if (a.hook === 'output' && (!own.includes(src) || own.includes(dst))) continue;
          if (a.hook === 'guest-in' && (!own.includes(dst) || src === dst)) continue;
          if (a.hook === 'guest-out' && (own.includes(dst) || src === dst)) continue;
          const hop: Hop = {
            point,
            host: a.enforcedOn,
            hook: a.hook,
            iif: a.hook === 'input' ? 'vmbr0' : undefined,
            oif: a.hook === 'output' ? 'vmbr0' : undefined,
            // The bridge port the packet entered by: the sender's own, when the sender is a guest.
            inPort: a.hook === 'guest-out' ? port : portOf.get(src),
            natSrc: undefined,
          };
          const fa = acceptedFlows(evalChain(a, hop, src, dst));
          const fb = acceptedFlows(evalChain(b, hop, src, dst));
          compared++;
          if (!flowEqual(fa, fb)) diffs.push(`${point} ${formatIPv4(src)} → ${formatIPv4(dst)}: rendered ${formatFlowSet(fa)}, imported ${formatFlowSet(fb)}`);
        }
    }
    assert.ok(compared > 100, `${compared}`);
    assert.deepEqual(diffs, []);
  });
});
