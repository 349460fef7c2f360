/**
 * Port forwards (spec `forwards:`) through the pipeline, on one small spec: a hypervisor with an
 * uplink publishes a guest's https (and, on public port 2222, its ssh) while the policy allows the
 * internet to reach the guest on every port. What must hold:
 *  - model: the default `via` is the host holding the guest network's gateway; entry = its uplink;
 *  - verifier: the internet (and the LAN) reach the guest on the forwarded tcp/udp ports only (and
 *    no icmp), whatever the policy allows more; without the forwards they reach nothing of it; the
 *    per-pair engine and the fast matrix agree;
 *  - render: nftables prerouting `dnat to` (with the port when it changes), iptables PREROUTING
 *    DNAT, each accepted by the target's own tool; proxmox and libvirt say, at the forward's line,
 *    that they cannot write DNAT.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { compile } from '../src/ir/compile.js';
import type { Ir } from '../src/ir/types.js';
import { loadModelFromText } from '../src/model/load.js';
import { findRenderer } from '../src/render/registry.js';
import { Engine } from '../src/verify/engine.js';
import { computeFastMatrix } from '../src/verify/fast-matrix.js';
import { computeMatrix } from '../src/verify/matrix.js';
import { formatFlowSet, NO_FLOWS } from '../src/util/flows.js';

const SPEC = (forwards: string): string => `version: 1
networks:
  vmbr0: { cidr: 10.0.0.0/24, gateway: 10.0.0.1, egress: nat }
hosts:
  pve: { kind: hypervisor, uplink: enp1s0, nics: { vmbr0: 10.0.0.1 } }
  web: { kind: vm, id: 101, nics: { vmbr0: 10.0.0.10 }, firewall: { guest: true }, services: { https: tcp/443, ssh: tcp/22, dns: [udp/53, tcp/53] } }
  other: { kind: vm, id: 102, nics: { vmbr0: 10.0.0.11 }, services: { https: tcp/443 } }
${forwards}
policy:
  - allow: { from: [internet, lan], to: web }
  - allow: { from: internet, to: other.https }
`;
const WITH = SPEC(`forwards:
  - { to: web.https, comment: "the site" }
  - { to: web.ssh, port: 2222 }
  - { to: web.dns }`);

function load(text: string): Ir {
  const r = loadModelFromText(text, 'forwards.yaml');
  assert.ok(r.model, r.diagnostics.map((d) => d.message).join('; '));
  return compile(r.model);
}

function cell(ir: Ir, from: string, to: string): string {
  for (const assume of ['configured', 'compromised'] as const) {
    const m = computeMatrix(ir, assume);
    const i = m.endpoints.findIndex((e) => e.name === from);
    const j = m.endpoints.findIndex((e) => e.name === to);
    assert.ok(i >= 0 && j >= 0, `${from} / ${to} are endpoints`);
    const slow = formatFlowSet(m.cells[i]![j] ?? NO_FLOWS);
    const fast = computeFastMatrix(ir, assume, new Engine(ir));
    assert.equal(formatFlowSet(fast.cell(i, j) ?? NO_FLOWS), slow, `${from} → ${to} (${assume}): fast matrix = per-pair engine`);
    if (assume === 'compromised') return slow;
  }
  return '';
}

describe('port forwards', () => {
  it('model: via defaults to the gateway holder, entry to its uplink, the public port where given', () => {
    const ir = load(WITH);
    const f = ir.model.forwards;
    assert.deepEqual(
      f.map((x) => [x.via, x.entry.join(','), x.host, x.service, x.ports.map((p) => `${p.proto}/${p.public.join('-')}→${p.target.join('-')}`).join(' ')]),
      [
        ['pve', 'enp1s0', 'web', 'https', 'tcp/443-443→443-443'],
        ['pve', 'enp1s0', 'web', 'ssh', 'tcp/2222-2222→22-22'],
        ['pve', 'enp1s0', 'web', 'dns', 'tcp/53-53→53-53 udp/53-53→53-53'],
      ],
    );
  });

  it('verifier: the world reaches the forwarded ports and nothing else, however much the policy allows', () => {
    const ir = load(WITH);
    // Other IP protocols are not DNATed: the policy's "allow … to: web" (no ports) lets them in.
    assert.equal(cell(ir, 'internet', 'web'), 'tcp/22,53,443 udp/53 other');
    assert.equal(cell(ir, 'lan', 'web'), 'tcp/22,53,443 udp/53 other');
    // other.https is allowed by the policy, but nothing forwards to it.
    assert.equal(cell(ir, 'internet', 'other'), '-');
    const without = load(SPEC(''));
    assert.equal(cell(without, 'internet', 'web'), '-');
  });

  it('nftables: prerouting dnat in the NAT table, the new port where it changes; nft -c accepts it', (t) => {
    const r = findRenderer('nftables')!.render(load(WITH), { host: 'pve', params: new Map() });
    const text = r.files.find((f) => f.path === 'pve/cordon.nft')!.content;
    assert.match(text, /type nat hook prerouting priority dstnat; policy accept;/);
    assert.match(text, /# the site\n\t*iifname "enp1s0" fib daddr type local tcp dport 443 dnat to 10\.0\.0\.10 comment "forward web\.https"/);
    assert.match(text, /iifname "enp1s0" fib daddr type local tcp dport 2222 dnat to 10\.0\.0\.10:22 /);
    assert.match(text, /iifname "enp1s0" fib daddr type local udp dport 53 dnat to 10\.0\.0\.10 /);
    // The masquerading of egress: nat is still there beside it.
    assert.match(text, /masquerade comment "vmbr0 behind pve"/);
    if (process.getuid?.() !== 0) return t.skip('nft -c needs root');
    const c = spawnSync('unshare', ['-rn', 'nft', '-c', '-f', '-'], { input: text, encoding: 'utf8' });
    assert.equal(c.status, 0, c.stderr);
  });

  it('iptables: PREROUTING DNAT for local addresses on the uplink; iptables-restore --test accepts it', (t) => {
    const r = findRenderer('iptables')!.render(load(WITH), { host: 'pve', params: new Map() });
    const text = r.files.find((f) => f.path === 'pve/rules.v4')!.content;
    assert.match(text, /-A PREROUTING -i enp1s0 -p tcp -m addrtype --dst-type LOCAL -m tcp --dport 2222 .* -j DNAT --to-destination 10\.0\.0\.10:22\n/);
    assert.match(text, /-A PREROUTING -i enp1s0 -p udp -m addrtype --dst-type LOCAL -m udp --dport 53 .* -j DNAT --to-destination 10\.0\.0\.10\n/);
    assert.match(text, /^# iptables rule set for pve .*as this host forwards ports, the whole nat table/);
    if (process.getuid?.() !== 0) return t.skip('iptables-restore needs root');
    const c = spawnSync('unshare', ['-n', 'iptables-restore', '--test'], { input: text, encoding: 'utf8' });
    assert.equal(c.status, 0, c.stderr);
  });

  it('proxmox and libvirt cannot write DNAT: a warning at the forward, pointing at the nftables table', () => {
    const ir = load(WITH);
    for (const target of ['proxmox', 'libvirt']) {
      const r = findRenderer(target)!.render(ir, { host: undefined, params: new Map() });
      const ds = r.diagnostics.filter((d) => d.code === 'CORDON012' && /DNAT/.test(d.message));
      assert.equal(ds.length, 3, `${target}: ${r.diagnostics.map((d) => d.message).join('; ')}`);
      assert.deepEqual(
        ds.map((d) => d.path),
        ['forwards[0]', 'forwards[1]', 'forwards[2]'],
      );
      for (const d of ds) assert.match(d.hint ?? '', /cordon render -t nftables --host pve.*cordon_pve_nat/);
    }
  });
});
