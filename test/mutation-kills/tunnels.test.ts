/**
 * Tunnels meet per-guest firewalls: two defects that every other test let through.
 *
 * 1. A guest with a per-guest firewall (guest-in, run by its bridge's owner) and a tunnel address.
 *    The verifier's paths (src/ir/paths.ts) put guest-in only where a packet enters the guest
 *    through its bridge port, as a Proxmox or nwfilter per-guest firewall sees it: traffic to the
 *    tunnel address reaches the guest inside the tunnel's transport and skips guest-in. The
 *    nftables and iptables targets used to run guest-in for every address of the guest, the
 *    tunnel's too, so the kernel dropped what the verifier allowed. Judged here by the kernel
 *    itself: each target's rule set for the hypervisor is loaded into an anonymous network
 *    namespace (`unshare -n`) with interfaces of the hypervisor's names, the hypervisor sends a
 *    UDP datagram to each address of the guest, and one its own firewall drops in OUTPUT fails
 *    with EPERM ("Operation not permitted"). Sent or refused must be the engine's verdict for that address,
 *    so this fails whichever side moves: the renderers or the model.
 *
 * 2. The tunnel server's listen port (src/ir/compile.ts, tunnelListen): a local member's knock was
 *    bound to the server's bridge interface only, so a compromised guest on the same bridge could
 *    forge the member's underlay address and reach the WireGuard port. Now a member behind a port
 *    of a bridge the server owns is bound to that port. The static cells here; the live proof (a
 *    forged packet from the other guest's namespace in a real lab) is in test/lab-tunnel-forge.test.ts.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { compile } from '../../src/ir/compile.js';
import type { Ir } from '../../src/ir/types.js';
import { loadModelFromText } from '../../src/model/load.js';
import type { Assume } from '../../src/model/types.js';
import { iptablesRenderer } from '../../src/render/iptables/index.js';
import { nftablesRenderer } from '../../src/render/nftables/index.js';
import { flowContains, formatFlowSet } from '../../src/util/flows.js';
import { formatIPv4 } from '../../src/util/ip.js';
import { Engine, type Dest } from '../../src/verify/engine.js';
import { requireOrSkip } from '../support/require-env.js';

function build(text: string): Ir {
  const r = loadModelFromText(text, 'tunnels-kills.yaml');
  assert.ok(r.model, r.diagnostics.map((d) => d.message).join('\n'));
  return compile(r.model);
}

function cell(ir: Ir, from: string, to: Dest, assume: Assume = 'configured'): string {
  return formatFlowSet(new Engine(ir).reach({ kind: 'host', host: from }, to, assume).allowed);
}

// hv serves wg0 and owns net0; g0 sits on both, with a per-guest firewall that lets nothing in
// (hand-written, so no policy rule opens it), while hv's own output allows udp/9 to g0.
const GUEST_TUNNEL = `
version: 1
networks:
  net0: { cidr: 10.1.0.0/24, gateway: 10.1.0.1, egress: routed }
tunnels:
  wg0: { server: hv, listen: 51820, cidr: 10.99.0.0/24 }
hosts:
  hv: { kind: hypervisor, uplink: enp1s0, nics: { net0: 10.1.0.1, wg0: 10.99.0.1 } }
  g0: { kind: vm, id: 100, firewall: { guest: true }, nics: { net0: 10.1.0.10, wg0: 10.99.0.20 } }
policy:
  - allow: { from: hv, to: g0, ports: udp/9 }
  - allow: { from: g0, to: hv, ports: udp/51820 }   # the tunnel's transport past g0's guest-out
firewalls:
  g0:guest-in: { policy: drop, rules: [] }
`;

function kernelProbe(): string | undefined {
  if (process.platform !== 'linux') return 'needs Linux network namespaces';
  if (process.getuid?.() !== 0) return 'needs root (loads rule sets into throw-away network namespaces)';
  const r = spawnSync('unshare', ['-n', 'sh', '-c', 'nft list ruleset && iptables-restore --version && bash --version'], { encoding: 'utf8' });
  if (r.status !== 0) return `cannot run nft, iptables-restore and bash in a new network namespace: ${(r.stderr || r.error?.message || '').trim()}`;
  return undefined;
}

const kernelSkip = requireOrSkip('tunnels: guest-in in the kernel', kernelProbe());

/**
 * Loads `rules` with `load` in an anonymous namespace holding an interface per nic of `host` (same
 * name and address; a veth pair, as the kernel here has no dummy driver), sends one UDP datagram
 * to port 9 of each of `addrs` from there, and says which the kernel refused.
 */
function refusedPings(ir: Ir, host: string, load: string, rules: string, addrs: readonly number[]): Map<number, boolean> {
  const h = ir.model.hosts.get(host)!;
  const lines = ['set -e'];
  h.nics.forEach((n, i) => {
    const seg = ir.model.networks.get(n.segment) ?? ir.model.tunnels.get(n.segment);
    assert.ok(seg, `${n.segment} is a network or a tunnel`);
    const len = 'cidr' in seg ? seg.cidr.len : 24;
    lines.push(
      `ip link add ${n.ifname} type veth peer name peer${i}`,
      `ip addr add ${formatIPv4(n.address)}/${len} dev ${n.ifname}`,
      `ip link set ${n.ifname} up`,
      `ip link set peer${i} up`,
    );
  });
  lines.push('ip link set lo up', load, 'set +e');
  // bash's /dev/udp: a connected UDP socket whose write fails with EPERM when OUTPUT drops it
  // (iputils ping here reports no error for a dropped echo request).
  for (const a of addrs) lines.push(`echo "== ${formatIPv4(a)}"`, `bash -c 'echo x > /dev/udp/${formatIPv4(a)}/9' 2>&1 && echo sent`);
  const r = spawnSync('unshare', ['-n', 'sh', '-c', lines.join('\n')], { input: rules, encoding: 'utf8' });
  const out = `${r.stdout}${r.stderr}`;
  assert.ok(out.includes('== '), `the namespace script failed before pinging: ${out}`);
  const refused = new Map<number, boolean>();
  for (const a of addrs) {
    const part = out.split(`== ${formatIPv4(a)}\n`)[1]?.split('== ')[0] ?? '';
    assert.match(part, /Operation not permitted|^sent$/m, `udp to ${formatIPv4(a)}: ${part}`);
    refused.set(a, /Operation not permitted/.test(part));
  }
  return refused;
}

describe('a guest with a per-guest firewall and a tunnel address: the kernel runs guest-in where the verifier does', { skip: kernelSkip }, () => {
  const ir = build(GUEST_TUNNEL);
  const g0 = ir.model.hosts.get('g0')!.nics.map((n) => n.address);
  const engine = new Engine(ir);
  const allowed = new Map(
    g0.map((a) => [a, flowContains(engine.reach({ kind: 'host', host: 'hv' }, { kind: 'addr', addr: a }, 'configured').allowed, { proto: 'udp', port: 9 })]),
  );

  it('the engine: hv reaches g0 through the tunnel, not across the bridge (guest-in lets nothing in)', () => {
    assert.equal(allowed.get(0x0a01000a), false, 'hv → 10.1.0.10 crosses the bridge port: guest-in drops it');
    assert.equal(allowed.get(0x0a630014), true, 'hv → 10.99.0.20 reaches g0 inside the tunnel: guest-in is not on its path');
  });

  const targets = [
    { name: 'nftables', load: 'nft -f -', render: () => nftablesRenderer.render(ir, { host: 'hv', params: new Map() }), file: 'hv/cordon.nft' },
    { name: 'iptables', load: 'iptables-restore', render: () => iptablesRenderer.render(ir, { host: 'hv', params: new Map() }), file: 'hv/rules.v4' },
  ];
  for (const t of targets) {
    it(`${t.name}: hv's datagrams to each address of g0 are sent or refused as the engine says`, () => {
      const out = t.render();
      assert.deepEqual(
        out.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message),
        [],
      );
      const f = out.files.find((x) => x.path === t.file);
      assert.ok(f, `${t.name} renders ${t.file}`);
      const refused = refusedPings(ir, 'hv', t.load, f.content, g0);
      for (const a of g0)
        assert.equal(
          !refused.get(a),
          allowed.get(a),
          `hv → ${formatIPv4(a)} udp/9: the engine says ${allowed.get(a) ? 'allow' : 'deny'}, the kernel ${refused.get(a) ? 'refused' : 'sent'} it`,
        );
    });
  }
});

// A tunnel server that owns the bridge its member sits on, and a guest on that bridge that is not a member.
const LOCAL_MEMBER = `
version: 1
networks:
  lan0: { cidr: 10.1.0.0/24, gateway: 10.1.0.1, egress: nat }
tunnels:
  wg0: { server: pve, listen: 51820, cidr: 10.8.0.0/24 }
hosts:
  pve: { kind: hypervisor, uplink: enp1s0, nics: { lan0: 10.1.0.1, wg0: 10.8.0.1 } }
  m: { kind: vm, id: 101, nics: { lan0: 10.1.0.10, wg0: 10.8.0.10 } }
  c: { kind: vm, id: 102, nics: { lan0: 10.1.0.11 } }
`;

describe("the tunnel server's listen port: a member's knock is bound to the member's bridge port", () => {
  const ir = build(LOCAL_MEMBER);
  const pve: Dest = { kind: 'host', host: 'pve' };

  it('the member knocks, as configured and compromised', () => {
    assert.equal(cell(ir, 'm', pve), 'udp/51820');
    assert.equal(cell(ir, 'm', pve, 'compromised'), 'udp/51820');
  });

  it('a compromised guest on the same bridge cannot knock by forging the member’s address', () => {
    assert.equal(cell(ir, 'c', pve), '-');
    assert.equal(cell(ir, 'c', pve, 'compromised'), '-', 'c forging 10.1.0.10 must not reach udp/51820');
  });

  it("both targets bind the rule to the member's bridge port, not to the bridge", () => {
    const nft = nftablesRenderer.render(ir, { host: 'pve', params: new Map() }).files[0]!.content;
    const ipt = iptablesRenderer.render(ir, { host: 'pve', params: new Map() }).files.find((f) => f.path === 'pve/rules.v4')!.content;
    const listen = (text: string): string[] => text.split('\n').filter((l) => /51820/.test(l) && !/^\s*#/.test(l));
    assert.ok(
      listen(ipt).some((l) => /--physdev-in tap101i0/.test(l) && /-s 10\.1\.0\.10\/32/.test(l)),
      listen(ipt).join('\n'),
    );
    assert.ok(!listen(ipt).some((l) => /-i lan0/.test(l)), `no knock bound to the bridge alone:\n${listen(ipt).join('\n')}`);
    const mark = /iifname "tap101i0" meta mark set (0x[0-9a-f]+)/.exec(nft)?.[1];
    assert.ok(mark, "nftables marks the member's port");
    const input = nft.slice(nft.indexOf('table inet cordon_pve_input {'));
    const set = new RegExp(`meta mark ${mark} ip saddr \\. ip daddr \\. meta l4proto \\. th dport @(\\w+) counter accept`).exec(input)?.[1];
    assert.ok(set, `pve's input accepts the knock only with the member's mark ${mark}:\n${input.slice(0, 1200)}`);
    assert.match(input, new RegExp(`set ${set} \\{[^}]*10\\.1\\.0\\.10 \\. 10\\.1\\.0\\.1 \\. udp \\. 51820`));
  });
});
