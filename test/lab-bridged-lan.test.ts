/**
 * Seed 000's vmbr0 as the seed writes it: bridged to the physical NIC enp1s0, the home LAN and its
 * router beyond it (examples/proxmox-dual-bridge.yaml, `ports: [enp1s0]`). What would break:
 *
 *  - the model: the LAN reaches agentfarm at layer 2 (in by enp1s0, through pve's forward hook),
 *    and the internet reaches the WireGuard endpoint 10.0.0.1 through the LAN's router, by the port;
 *  - the lab plan: the upstream namespace plays that router and the LAN's devices, joined to pve's
 *    vmbr0 by a veth whose pve end is enp1s0 (a bridge port), not routed through an uplink;
 *  - live: live = static with the `lan` row and column probed from beyond the port; the upstream
 *    reaches the guests on-link; and what pve's firewall can and cannot stop there — with
 *    br_netfilter (net.bridge.bridge-nf-call-iptables=1, what the nftables renderer relies on) the
 *    LAN is held off agentfarm by pve:forward; with it off, bridged frames (the LAN ↔ agentfarm,
 *    agentfarm ↔ ollama on vmbr1) pass unfiltered while routed and local paths stay filtered. A lab
 *    that routed the LAN instead of bridging it would not show that difference.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { compile } from '../src/ir/compile.js';
import { Topology } from '../src/ir/paths.js';
import type { Ir } from '../src/ir/types.js';
import { teardownLab } from '../src/lab/exec.js';
import { placeholderKeys } from '../src/lab/keys.js';
import { freshPrefix, upLab } from '../src/lab/lab.js';
import { planLab } from '../src/lab/plan.js';
import { verifyLab, type VerifyResult } from '../src/lab/verify.js';
import { loadModel, loadModelFromText } from '../src/model/load.js';
import { formatFlow } from '../src/util/flows.js';
import { formatIPv4, inRange, parseIPv4 } from '../src/util/ip.js';
import { probeLab } from './support/lab-env.js';
import { requireOrSkip } from './support/require-env.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SPEC = join(ROOT, 'examples', 'proxmox-dual-bridge.yaml');
const addr = (s: string): number => parseIPv4(s)!;

function load(): Ir {
  const r = loadModel(SPEC);
  assert.ok(r.model, r.diagnostics.map((d) => d.message).join('; '));
  return compile(r.model);
}

/** The seed with a second NIC in vmbr0 (`bridge-ports enp1s0 enp2s0`): one LAN beyond both. */
function loadTwoPorts(): Ir {
  const text = readFileSync(SPEC, 'utf8').replace('egress: routed, ports: [enp1s0]', 'egress: routed, ports: [enp1s0, enp2s0]');
  const r = loadModelFromText(text, SPEC);
  assert.ok(r.model, r.diagnostics.map((d) => d.message).join('; '));
  assert.deepEqual(r.model.networks.get('vmbr0')!.ports, ['enp1s0', 'enp2s0']);
  return compile(r.model);
}

describe('seed 000 bridged: the model', () => {
  const ir = load();
  const topo = new Topology(ir.model);
  it('vmbr0 has the port enp1s0; pve routes through the home router on it, which no host holds', () => {
    assert.deepEqual(ir.model.networks.get('vmbr0')!.ports, ['enp1s0']);
    assert.deepEqual(ir.model.networks.get('vmbr1')!.ports, []);
    const pve = ir.model.hosts.get('pve')!;
    assert.equal(pve.uplink, undefined);
    assert.deepEqual(pve.defaultRoute, { kind: 'gateway', via: addr('10.0.0.254'), segment: 'vmbr0' });
  });
  it('the LAN reaches agentfarm bridged: in by enp1s0 through pve:forward, not routed', () => {
    const paths = topo.paths({ kind: 'zone', zone: 'lan' }, addr('10.0.0.10'), { compromised: false, underlay: false });
    assert.deepEqual(
      paths.map((p) => p.nodes),
      [['lan', 'vmbr0', 'agentfarm']],
    );
    assert.deepEqual(
      paths[0]!.hops.map((h) => [h.point, h.iif, h.oif, h.inPort]),
      [
        ['pve:forward', 'vmbr0', 'vmbr0', 'enp1s0'],
        ['agentfarm:input', 'ens18', undefined, undefined],
      ],
    );
  });
  it("agentfarm's internet goes through pve and out vmbr0 again to the LAN's router, not NATed by pve", () => {
    const [p] = topo.paths({ kind: 'host', host: 'agentfarm' }, addr('8.8.8.8'), { compromised: false, underlay: false });
    assert.ok(p);
    assert.deepEqual(p.nodes, ['agentfarm', 'vmbr0', 'pve', 'vmbr0', 'lan', 'internet']);
    assert.deepEqual(p.end, { kind: 'zone', zone: 'internet' });
    assert.ok(
      p.hops.every((h) => h.natSrc === undefined),
      'no NAT on the way',
    );
  });
  it("the internet reaches the WireGuard endpoint 10.0.0.1 through the LAN's router, in by enp1s0", () => {
    const paths = topo.paths({ kind: 'zone', zone: 'internet' }, addr('10.0.0.1'), { compromised: false, underlay: true });
    assert.deepEqual(
      paths.map((p) => p.hops.map((h) => [h.point, h.iif, h.inPort])),
      [[['pve:input', 'vmbr0', 'enp1s0']]],
    );
    // And nothing else of vmbr0 is reachable from the internet: the home router NATs.
    const guest = topo.paths({ kind: 'zone', zone: 'internet' }, addr('10.0.0.10'), { compromised: false, underlay: false });
    assert.deepEqual(
      guest.map((p) => p.end.kind),
      ['dropped'],
    );
  });
});

describe('seed 000 bridged: the lab plan', () => {
  const plan = planLab(load(), { prefix: 'cl1234', keys: placeholderKeys() });
  const ips = plan.steps.flatMap((s) => (s.kind === 'ip' ? [`${s.ns ?? '-'}: ${s.cmd}`] : []));
  it('joins the upstream to vmbr0 by a veth whose pve end is the bridge port enp1s0', () => {
    assert.ok(ips.some((l) => /^-: link add l0 address \S+ netns cl1234\.upstream type veth peer name enp1s0 address \S+ netns cl1234-pve$/.test(l)));
    assert.ok(ips.includes('cl1234-pve: link set enp1s0 master vmbr0'));
    assert.ok(!ips.some((l) => /^cl1234-pve: addr add .* dev enp1s0$/.test(l)), 'the port carries no address');
  });
  it("holds the home router and the LAN's addresses on vmbr0 on that leg, none of them on its loopback", () => {
    assert.ok(ips.includes('cl1234.upstream: addr add 10.0.0.254/24 dev l0'));
    const lanHere = plan.layout.lanClasses.flatMap((c) => c.addrs).filter((a) => inRange(a, { lo: addr('10.0.0.0'), hi: addr('10.0.0.255') }));
    assert.ok(lanHere.length > 0, 'the LAN has lab addresses in vmbr0');
    for (const a of lanHere) {
      assert.ok(ips.includes(`cl1234.upstream: addr add ${formatIPv4(a)}/24 dev l0`), formatIPv4(a));
      assert.ok(!ips.includes(`cl1234.upstream: addr add ${formatIPv4(a)}/32 dev lo`), formatIPv4(a));
      assert.equal(plan.layout.addrNs.get(a), plan.layout.upstreamNs);
    }
  });
  it('routes the endpoint from the internet to the upstream and gives pve no uplink of its own', () => {
    assert.ok(ips.includes('cl1234.internet: route add 10.0.0.1/32 via 169.254.0.2 dev upstream onlink'));
    assert.ok(ips.includes('cl1234-pve: route add default via 10.0.0.254 dev vmbr0'));
    assert.ok(!ips.some((l) => l.startsWith('cl1234-pve: ') && l.includes('169.254.')), 'pve has no link to the world but its bridge port');
    const nat = plan.steps.find((s) => s.kind === 'nft' && s.name === 'upstream NAT');
    assert.ok(nat && nat.kind === 'nft');
    assert.match(nat.ruleset, /oifname "world" ip saddr 10\.0\.0\.0\/24 ip saddr != 10\.0\.0\.1 snat to /);
  });
});

describe('seed 000 bridged by two ports: the lab plan', () => {
  const plan = planLab(loadTwoPorts(), { prefix: 'cl1234', keys: placeholderKeys() });
  const ips = plan.steps.flatMap((s) => (s.kind === 'ip' ? [`${s.ns ?? '-'}: ${s.cmd}`] : []));
  it('puts every port on the bridge, each a veth into the upstream', () => {
    for (const [wif, port] of [
      ['l0', 'enp1s0'],
      ['l1', 'enp2s0'],
    ]) {
      assert.ok(
        ips.some((l) =>
          new RegExp(`^-: link add ${wif} address \\S+ netns cl1234\\.upstream type veth peer name ${port} address \\S+ netns cl1234-pve$`).test(l),
        ),
        `${wif} ↔ ${port}`,
      );
      assert.ok(ips.includes(`cl1234-pve: link set ${port} master vmbr0`), port);
      assert.ok(ips.includes(`cl1234-pve: link set ${port} up`), port);
    }
    assert.ok(!plan.notes.some((n) => /builds the LAN beyond \S+ only/.test(n)), plan.notes.join('\n'));
  });
  it('lets the LAN in by the first port only, as the verifier does: the second leg holds no address and answers no ARP', () => {
    // paths.ts: the LAN's hops come in by ports[0].
    const topo = new Topology(loadTwoPorts().model);
    const [p] = topo.paths({ kind: 'zone', zone: 'lan' }, addr('10.0.0.10'), { compromised: false, underlay: false });
    assert.equal(p!.hops[0]!.inPort, 'enp1s0');
    assert.ok(ips.includes('cl1234.upstream: addr add 10.0.0.254/24 dev l0'));
    assert.ok(!ips.some((l) => /^cl1234\.upstream: (addr add|neigh replace) .* dev l1( |$)/.test(l)), 'nothing on l1');
    assert.ok(ips.includes('cl1234.upstream: link set l1 arp off up'));
  });
});

const SKIP = requireOrSkip('lab (live, bridged LAN)', probeLab());

describe('seed 000 bridged: live', { skip: SKIP }, () => {
  let prefix: string | undefined;
  after(async () => {
    if (prefix) await teardownLab(prefix).catch(() => undefined);
  });
  const sh = (ns: string, ...argv: string[]): string => {
    const r = spawnSync('ip', ['netns', 'exec', ns, ...argv], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(r.status, 0, `${argv.join(' ')} in ${ns}: ${r.stderr}`);
    return r.stdout;
  };
  const cells = (r: VerifyResult, from: string, to: string): { probes: number; delivered: number } => {
    const c = r.cells.find((x) => x.from === from && x.to === to);
    assert.ok(c, `no cell ${from} → ${to}`);
    return c;
  };

  it('live = static with the LAN probed from beyond enp1s0; br_netfilter is what holds the bridged LAN off agentfarm, and only bridged paths lose it', async () => {
    const ir = load();
    prefix = await freshPrefix();
    await upLab(ir, { prefix, say: () => undefined, ephemeral: true });
    const plan = planLab(ir, { prefix, keys: placeholderKeys() });
    const up = plan.layout.upstreamNs;
    const pve = plan.layout.hostNs.get('pve')!;

    // The LAN is on-link with the guests (bridged), not behind a router: no `via` to agentfarm.
    assert.match(sh(up, 'ip', '-4', 'route', 'get', '10.0.0.10'), /^10\.0\.0\.10 dev l0 /);
    assert.match(sh(pve, 'ip', '-o', 'link', 'show', 'enp1s0'), /master vmbr0/);

    const full = await verifyLab(ir, prefix, { timeoutMs: 500 });
    assert.deepEqual(
      full.differences.map((d) => `${d.probe.from} → ${d.probe.to} ${formatIPv4(d.probe.dst)} ${formatFlow(d.probe.flow)}: ${d.live}`),
      [],
    );
    assert.deepEqual(
      full.steps.filter((s) => !s.ok).map((s) => s.text),
      [],
    );
    // The lan row and column were probed for real: pve reaches the LAN, the LAN reaches no one.
    const lanToAgentfarm = cells(full, 'lan', 'agentfarm');
    assert.ok(lanToAgentfarm.probes > 0 && lanToAgentfarm.delivered === 0);
    const pveToLan = cells(full, 'pve', 'lan');
    assert.ok(pveToLan.probes > 0 && pveToLan.delivered === pveToLan.probes);
    assert.ok(cells(full, 'agentfarm', 'internet').delivered > 0, "agentfarm reaches the internet through the LAN's router");
    // LAN probes leave the upstream by its leg into vmbr0, whatever LAN address they come from.
    for (const p of full.probes.filter((x) => x.from === 'lan' && x.to === 'agentfarm'))
      assert.equal(p.srcNs, up, `${formatIPv4(p.dst)} ${formatFlow(p.flow)} from ${p.srcNs}`);

    // Without br_netfilter pve's inet forward hook never sees a bridged frame: the LAN reaches
    // agentfarm's web port (which the policy does not open to it), and so do the other bridged
    // pairs; routed and local paths (the tunnel, pve itself) stay filtered.
    const flows = [{ proto: 'tcp' as const, port: 8080 }];
    sh(pve, 'sysctl', '-qw', 'net.bridge.bridge-nf-call-iptables=0');
    let off: VerifyResult;
    try {
      off = await verifyLab(ir, prefix, { timeoutMs: 500, flows });
    } finally {
      sh(pve, 'sysctl', '-qw', 'net.bridge.bridge-nf-call-iptables=1');
    }
    const opened = off.differences.filter((d) => d.probe.delivered && !d.probe.staticAllowed);
    assert.ok(
      opened.some((d) => d.probe.from === 'lan' && d.probe.to === 'agentfarm'),
      `the LAN did not reach agentfarm without br_netfilter: is it routed, not bridged? ${off.differences.length} differences`,
    );
    const bridged = new Set(['lan', 'agentfarm', 'ollama', 'internet']);
    for (const d of off.differences)
      assert.ok(bridged.has(d.probe.from) && bridged.has(d.probe.to), `${d.probe.from} → ${d.probe.to} changed, but it is not a bridged path`);
    const again = await verifyLab(ir, prefix, { timeoutMs: 500, flows });
    assert.equal(again.differences.length, 0, 'br_netfilter back on: live = static again');
  });
});

describe('seed 000 bridged by two ports: live', { skip: SKIP }, () => {
  let prefix: string | undefined;
  after(async () => {
    if (prefix) await teardownLab(prefix).catch(() => undefined);
  });

  it('both ports are on vmbr0 and live = static: the second port opens no way the verifier does not know', async () => {
    const ir = loadTwoPorts();
    prefix = await freshPrefix();
    await upLab(ir, { prefix, say: () => undefined, ephemeral: true });
    const plan = planLab(ir, { prefix, keys: placeholderKeys() });
    const pve = plan.layout.hostNs.get('pve')!;
    for (const port of ['enp1s0', 'enp2s0']) {
      const r = spawnSync('ip', ['-n', pve, '-o', 'link', 'show', port], { encoding: 'utf8', timeout: 10_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /master vmbr0 state UP/, port);
    }
    const v = await verifyLab(ir, prefix, { timeoutMs: 500 });
    assert.deepEqual(
      v.differences.map((d) => `${d.probe.from} → ${d.probe.to} ${formatIPv4(d.probe.dst)} ${formatFlow(d.probe.flow)}: ${d.live}`),
      [],
    );
    assert.ok(
      v.cells.some((c) => c.from === 'pve' && c.to === 'lan' && c.probes > 0 && c.delivered === c.probes),
      'pve reaches the LAN',
    );
  });

  it("a guest resolves the LAN's router by ARP through the bridge, answered from the first port's leg only", () => {
    // The lab writes every neighbour down, so probes never ARP; the verifier assumes a segment
    // is one L2 domain. Here ARP goes for real: out of agentfarm, flooded by vmbr0 to both ports,
    // through pve's bridge tables (v4only lets ARP pass), answered by the LAN beyond enp1s0.
    assert.ok(prefix, 'the lab of the test above');
    const plan = planLab(loadTwoPorts(), { prefix, keys: placeholderKeys() });
    const guest = plan.layout.hostNs.get('agentfarm')!;
    const up = plan.layout.upstreamNs;
    const ip = (ns: string, ...argv: string[]) => spawnSync('ip', ['-n', ns, ...argv], { encoding: 'utf8', timeout: 10_000 });
    const mac = (ns: string, dev: string): string => /link\/ether (\S+)/.exec(ip(ns, '-o', 'link', 'show', dev).stdout)![1]!;
    const sent = (dev: string): number => {
      const [link] = JSON.parse(ip(up, '-s', '-j', 'link', 'show', dev).stdout) as { stats64: { tx: { packets: number } } }[];
      return link!.stats64.tx.packets;
    };
    const quietBefore = sent('l1');
    assert.equal(ip(guest, 'neigh', 'del', '10.0.0.254', 'dev', 'ens18').status, 0);
    assert.equal(ip(up, 'neigh', 'del', '10.0.0.10', 'dev', 'l0').status, 0);
    // agentfarm → lan is denied at pve:forward; the ARP that comes first is not IP and passes.
    const ping = spawnSync('ip', ['netns', 'exec', guest, 'ping', '-c', '1', '-W', '1', '10.0.0.254'], { encoding: 'utf8', timeout: 10_000 });
    assert.notEqual(ping.status, 0, 'agentfarm → lan icmp is denied, as static');
    const neigh = ip(guest, 'neigh', 'show', '10.0.0.254', 'dev', 'ens18').stdout;
    assert.match(neigh, new RegExp(`lladdr ${mac(up, 'l0')} (REACHABLE|STALE|DELAY|PROBE)`), neigh);
    assert.equal(sent('l1'), quietBefore, "the second port's leg answered nothing");
  });
});
