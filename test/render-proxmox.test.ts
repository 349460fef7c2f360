/**
 * proxmox target: goldens for every example in three variants (pve-firewall, proxmox-firewall,
 * the forward path left to nftables), byte-identical re-renders, every rendered line checked
 * against the Proxmox firewall file format (test/support/pvefw.ts) and every name resolved, the
 * bridges' /etc/network/interfaces stanzas, the rules' decisions against the IR's on honest
 * packets, and the diagnostics for what Proxmox cannot express.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Chain, Ir } from '../src/ir/types.js';
import { bridgePortNames } from '../src/model/bridge-ports.js';
import type { Host } from '../src/model/types.js';
import { proxmoxRenderer } from '../src/render/proxmox/index.js';
import type { RenderResult } from '../src/render/types.js';
import { flowContains, type Flow } from '../src/util/flows.js';
import { formatIPv4, parseCidr } from '../src/util/ip.js';
import * as R from '../src/util/rangeset.js';
import { exampleFiles, irOfText, render } from './support/golden.js';
import { fwDecide, parseFw, unresolved, type FwFile, type FwImpl, type FwKind } from './support/pvefw.js';
import { assertProperty } from './support/seed.js';
import { checkTargetGolden, loadExample } from './support/target-golden.js';

const EXAMPLES = exampleFiles().map(loadExample);

const VARIANTS: readonly { dir: string; params: Record<string, string>; impl: FwImpl }[] = [
  { dir: 'pve-firewall', params: {}, impl: 'pve-firewall' },
  { dir: 'proxmox-firewall', params: { firewall: 'proxmox-firewall' }, impl: 'proxmox-firewall' },
  { dir: 'forward-nftables', params: { forward: 'nftables' }, impl: 'pve-firewall' },
];

function kindOf(path: string): FwKind | 'interfaces' {
  const base = path.split('/').pop()!;
  if (base === 'cluster.fw') return 'cluster';
  if (base === 'host.fw') return 'host';
  if (base === 'interfaces') return 'interfaces';
  assert.match(base, /^\d+\.fw$/, `unexpected file ${path}`);
  return 'vm';
}

/** Files per hypervisor directory, parsed. */
function parseAll(result: RenderResult, impl: FwImpl): Map<string, { cluster: FwFile; host: FwFile; vms: Map<number, FwFile>; interfaces: string }> {
  const out = new Map<string, { cluster: FwFile; host: FwFile; vms: Map<number, FwFile>; interfaces: string }>();
  for (const f of result.files) {
    const host = f.path.split('/')[0]!;
    const entry = out.get(host) ?? { cluster: undefined as unknown as FwFile, host: undefined as unknown as FwFile, vms: new Map(), interfaces: '' };
    if (f.path.endsWith('/guest-nics.sh')) continue; // a shell script, tested on its own below
    const kind = kindOf(f.path);
    if (kind === 'interfaces') entry.interfaces = f.content;
    else {
      const parsed = parseFw(f.content, kind, impl);
      assert.deepEqual(parsed.errors, [], `${f.path} is not valid Proxmox firewall syntax`);
      if (kind === 'cluster') entry.cluster = parsed;
      else if (kind === 'host') entry.host = parsed;
      else entry.vms.set(Number(f.path.split('/').pop()!.replace('.fw', '')), parsed);
    }
    out.set(host, entry);
  }
  return out;
}

describe('proxmox target: goldens', () => {
  for (const ex of EXAMPLES) {
    for (const v of VARIANTS) {
      it(`${ex.name} (${v.dir}): matches test/golden/${ex.name}/proxmox/${v.dir}/`, (t) => {
        if (!ex.ir) return t.skip('spec does not resolve');
        checkTargetGolden(ex, `proxmox/${v.dir}`, render(proxmoxRenderer, ex.ir, v.params));
      });
    }
  }

  it('renders the same bytes twice, from two loads of the same spec', () => {
    for (const ex of EXAMPLES) {
      if (!ex.ir) continue;
      const again = loadExample(exampleFiles().find((f) => f.endsWith(`/${ex.name}.yaml`))!).ir!;
      for (const v of VARIANTS) {
        const a = render(proxmoxRenderer, ex.ir, v.params);
        const b = render(proxmoxRenderer, again, v.params);
        assert.deepEqual(b.files, a.files, `${ex.name} ${v.dir}`);
        assert.deepEqual(b.diagnostics, a.diagnostics, `${ex.name} ${v.dir}`);
      }
    }
  });
});

/** /etc/network/interfaces as cordon writes it: auto/iface stanzas with known bridge options. */
function checkInterfaces(text: string, ir: Ir, host: Host): string[] {
  const errors: string[] = [];
  const autos = new Set<string>();
  const ifaces = new Map<string, Map<string, string>>();
  let cur: Map<string, string> | undefined;
  text.split('\n').forEach((line, i) => {
    const err = (m: string): void => void errors.push(`line ${i + 1}: ${m}: ${line}`);
    if (line.trim() === '' || line.trim().startsWith('#')) return;
    let m = /^auto (\S+)$/.exec(line);
    if (m) {
      autos.add(m[1]!);
      cur = undefined;
      return;
    }
    m = /^iface (\S+) inet (static|manual)$/.exec(line);
    if (m) {
      if (ifaces.has(m[1]!)) err('interface twice');
      cur = new Map([['method', m[2]!]]);
      ifaces.set(m[1]!, cur);
      return;
    }
    m = /^ {4}(address|gateway|bridge-ports|bridge-stp|bridge-fd) (.+)$/.exec(line);
    if (!m || !cur) return err('not an ifupdown line cordon writes');
    if (cur.has(m[1]!)) err(`${m[1]} twice`);
    cur.set(m[1]!, m[2]!);
  });
  for (const a of autos) if (!ifaces.has(a)) errors.push(`auto ${a} without an iface stanza`);
  for (const net of ir.model.networks.values()) {
    if (net.owner !== host.name) continue;
    const st = ifaces.get(net.bridge);
    if (!st) {
      errors.push(`no stanza for bridge ${net.bridge}`);
      continue;
    }
    const nic = host.nics.find((n) => n.segment === net.name)!;
    if (st.get('address') !== `${formatIPv4(nic.address)}/${net.cidr.len}`) errors.push(`${net.bridge}: address ${st.get('address')}`);
    const addr = parseCidr(st.get('address') ?? '', false);
    if (!addr || R.contains([[net.range.lo, net.range.hi]], addr.addr) === false) errors.push(`${net.bridge}: address outside ${net.name}`);
    const ports = st.get('bridge-ports');
    const want = bridgePortNames(ir.model, host, net.name);
    if (ports !== (want.length > 0 ? want.join(' ') : 'none')) errors.push(`${net.bridge}: bridge-ports ${ports}`);
    for (const port of want) if (ifaces.get(port)?.get('method') !== 'manual') errors.push(`${port} has no manual stanza`);
    if (st.get('bridge-stp') !== 'off' || st.get('bridge-fd') !== '0') errors.push(`${net.bridge}: stp/fd`);
    if (!autos.has(net.bridge)) errors.push(`${net.bridge} is not auto`);
  }
  return errors;
}

describe('proxmox target: the Proxmox file format', () => {
  for (const ex of EXAMPLES) {
    for (const v of VARIANTS) {
      it(`${ex.name} (${v.dir}): every line parses, every name resolves, the bridges are well-formed`, (t) => {
        if (!ex.ir) return t.skip('spec does not resolve');
        const result = render(proxmoxRenderer, ex.ir, v.params);
        for (const [host, files] of parseAll(result, v.impl)) {
          assert.ok(files.cluster && files.host, `${host}: cluster.fw and host.fw`);
          for (const f of [files.cluster, files.host, ...files.vms.values()]) assert.deepEqual(unresolved(f, files.cluster), [], host);
          assert.deepEqual(checkInterfaces(files.interfaces, ex.ir, ex.ir.model.hosts.get(host)!), [], `${host}/interfaces`);
          // What the files claim about themselves.
          assert.equal(files.cluster.options.get('enable'), '1');
          if (v.impl === 'proxmox-firewall') assert.equal(files.host.options.get('nftables'), '1');
          else assert.ok(!files.host.rules.some((r) => r.dir === 'FORWARD'), 'pve-firewall gets no FORWARD rules');
          for (const [vmid, vm] of files.vms) {
            assert.equal(vm.options.get('enable'), '1', `${vmid}.fw`);
            if (vm.options.get('ipfilter') === '1')
              assert.ok(
                [...vm.ipsets.keys()].some((k) => k.startsWith('ipfilter-net')),
                `${vmid}.fw: ipfilter without an ipfilter-net set`,
              );
          }
        }
      });
    }
  }
});

// --- the rules decide as the IR does, for honest packets ---------------------------------------

interface Sender {
  readonly src: number;
  /** Interface it reaches the hypervisor by. */
  readonly ingress: string | undefined;
  readonly port: string | undefined;
  readonly host: string | undefined;
}

function irDecide(
  c: Chain,
  hop: { iif: string | undefined; oif: string | undefined; inPort: string | undefined },
  src: number,
  dst: number,
  flow: Flow,
): 'ACCEPT' | 'DROP' {
  for (const r of c.rules) {
    const m = r.match;
    if (m.state === 'established') continue;
    if (m.iif && (hop.iif === undefined || !m.iif.includes(hop.iif))) continue;
    if (m.oif && (hop.oif === undefined || !m.oif.includes(hop.oif))) continue;
    if (m.inPort && (hop.inPort === undefined || !m.inPort.includes(hop.inPort))) continue;
    if (m.src && !R.contains(m.src, src)) continue;
    if (m.dst && !R.contains(m.dst, dst)) continue;
    if (!flowContains(m.flows, flow)) continue;
    return r.action === 'accept' ? 'ACCEPT' : 'DROP';
  }
  return c.policy === 'accept' ? 'ACCEPT' : 'DROP';
}

function flowOf(proto: number, dport: number | undefined): Flow {
  return proto === 6 ? { proto: 'tcp', port: dport } : proto === 17 ? { proto: 'udp', port: dport } : proto === 1 ? { proto: 'icmp' } : { proto: 'other' };
}

describe('proxmox target: the rules decide as the IR does (honest packets)', () => {
  for (const ex of EXAMPLES) {
    for (const v of VARIANTS) {
      it(`${ex.name} (${v.dir}): host IN/OUT/FORWARD and every guest's IN/OUT`, (t) => {
        if (!ex.ir) return t.skip('spec does not resolve');
        const ir = ex.ir;
        const model = ir.model;
        const result = render(proxmoxRenderer, ir, v.params);
        for (const [hname, files] of parseAll(result, v.impl)) {
          const h = model.hosts.get(hname)!;
          const own = new Set(h.nics.map((n) => n.address));
          const senders: Sender[] = [];
          for (const g of model.hosts.values()) {
            if (g.name === hname) continue;
            for (const n of g.nics) {
              const net = model.networks.get(n.segment);
              const tun = model.tunnels.get(n.segment);
              if (net?.owner === hname) senders.push({ src: n.address, ingress: net.bridge, port: n.port, host: g.name });
              else if (tun?.server === hname) senders.push({ src: n.address, ingress: tun.ifname, port: undefined, host: g.name });
            }
          }
          for (const [lo, hi] of [...model.internet, ...model.lan])
            for (const a of [lo, hi]) senders.push({ src: a, ingress: h.uplink, port: undefined, host: undefined });
          const dsts = [...new Set([...senders.map((s) => s.src), ...own, 0x08080808])];
          const egress = (dst: number): string | undefined => {
            for (const n of model.networks.values()) if (n.owner === hname && dst >= n.range.lo && dst <= n.range.hi) return n.bridge;
            for (const tn of model.tunnels.values()) if (tn.server === hname && dst >= tn.range.lo && dst <= tn.range.hi) return tn.ifname;
            return h.uplink;
          };
          const policy = (dir: string): string => files.cluster.options.get(`policy_${dir}`) ?? (dir === 'in' ? 'DROP' : 'ACCEPT');
          const ports = [...new Set([0, 22, 53, 80, 443, 2049, 8000, 8080, 9000, 9001, 9418, 9443, 11434, 51820, 65535])];
          const arb = fc.record({
            s: fc.nat({ max: senders.length - 1 }),
            d: fc.nat({ max: dsts.length - 1 }),
            proto: fc.constantFrom(6, 17, 1, 47),
            dport: fc.constantFrom(...ports),
          });
          const check = (name: string, run: (x: { s: Sender; dst: number; proto: number; dport: number | undefined }) => boolean): void => {
            assertProperty(
              fc.property(arb, ({ s, d, proto, dport }) =>
                run({ s: senders[s]!, dst: dsts[d]!, proto, dport: proto === 6 || proto === 17 ? dport : undefined }),
              ),
              { numRuns: 800, endOnFailure: true, examples: [] },
            );
            void name;
          };
          const input = ir.chains.get(`${hname}:input`);
          if (input) {
            check('IN', ({ s, dst, proto, dport }) => {
              if (!own.has(dst)) return true;
              const want = irDecide(input, { iif: s.ingress, oif: undefined, inPort: s.port }, s.src, dst, flowOf(proto, dport));
              return fwDecide(files.host, files.cluster, 'IN', policy('in'), { src: s.src, dst, iface: s.ingress, proto, dport }).verdict === want;
            });
          }
          const output = ir.chains.get(`${hname}:output`);
          if (output) {
            check('OUT', ({ dst, proto, dport }) => {
              for (const src of own) {
                const want = irDecide(output, { iif: undefined, oif: egress(dst), inPort: undefined }, src, dst, flowOf(proto, dport));
                if (fwDecide(files.host, files.cluster, 'OUT', policy('out'), { src, dst, iface: egress(dst), proto, dport }).verdict !== want) return false;
              }
              return true;
            });
          }
          const fwd = ir.chains.get(`${hname}:forward`);
          if (fwd && files.host.rules.some((r) => r.dir === 'FORWARD')) {
            check('FORWARD', ({ s, dst, proto, dport }) => {
              if (own.has(dst)) return true;
              const want = irDecide(fwd, { iif: s.ingress, oif: egress(dst), inPort: s.port }, s.src, dst, flowOf(proto, dport));
              return fwDecide(files.host, files.cluster, 'FORWARD', policy('forward'), { src: s.src, dst, iface: s.ingress, proto, dport }).verdict === want;
            });
          }
          for (const [vmid, vm] of files.vms) {
            const g = [...model.hosts.values()].find((x) => x.id === vmid)!;
            const netOf = (addr: number): string | undefined => {
              const n = g.nics.find((x) => x.address === addr);
              const m = n?.port ? /i(\d+)$/.exec(n.port) : null;
              return m ? `net${m[1]}` : undefined;
            };
            const out = ir.chains.get(`${g.name}:guest-out`);
            if (out) {
              check(`${vmid} OUT`, ({ s, dst, proto, dport }) => {
                if (s.host !== g.name) return true;
                const want = irDecide(out, { iif: s.ingress, oif: undefined, inPort: s.port }, s.src, dst, flowOf(proto, dport));
                return (
                  fwDecide(vm, files.cluster, 'OUT', vm.options.get('policy_out') ?? 'ACCEPT', { src: s.src, dst, iface: netOf(s.src), proto, dport })
                    .verdict === want
                );
              });
            }
            const inn = ir.chains.get(`${g.name}:guest-in`);
            if (inn) {
              check(`${vmid} IN`, ({ s, proto, dport }) => {
                if (s.host === g.name) return true;
                for (const n of g.nics) {
                  const want = irDecide(inn, { iif: s.ingress, oif: undefined, inPort: s.port }, s.src, n.address, flowOf(proto, dport));
                  if (
                    fwDecide(vm, files.cluster, 'IN', vm.options.get('policy_in') ?? 'DROP', {
                      src: s.src,
                      dst: n.address,
                      iface: netOf(n.address),
                      proto,
                      dport,
                    }).verdict !== want
                  )
                    return false;
                }
                return true;
              });
            }
          }
        }
      });
    }
  }
});

// --- what Proxmox cannot express ---------------------------------------------------------------

const DUAL = `version: 1
networks:
  vmbr0: { cidr: 10.0.0.0/24, gateway: 10.0.0.1, egress: nat }
  vmbr1: { cidr: 192.168.100.0/24 }
hosts:
  pve: { kind: hypervisor, uplink: enp1s0, nics: { vmbr0: 10.0.0.1, vmbr1: 192.168.100.1 }, services: { ssh: tcp/22 } }
  web: { kind: vm, id: 101, nics: { vmbr0: 10.0.0.10 }, firewall: { guest: true }, services: { http: tcp/80 } }
  llm: { kind: vm, id: 102, egress: isolated, nics: { vmbr1: 192.168.100.20 }, services: { api: tcp/11434 } }
policy:
  - allow: { from: web, to: internet, ports: [tcp/443, udp/53] }
  - allow: { from: internet, to: web.http }
  - allow: { from: lan, to: pve.ssh }
`;

function diags(r: RenderResult, severity?: string): string[] {
  return r.diagnostics.filter((d) => severity === undefined || d.severity === severity).map((d) => `${d.code} ${d.message}`);
}

describe('proxmox target: diagnostics for what cannot be expressed', () => {
  it('pve-firewall ignores FORWARD rules: the forward chain is an error that says what to do', () => {
    const r = render(proxmoxRenderer, irOfText(DUAL));
    const err = r.diagnostics.find((d) => d.severity === 'error' && d.message.includes('pve-firewall ignores FORWARD rules'));
    assert.ok(err, diags(r).join('\n'));
    assert.equal(err.code, 'CORDON012');
    assert.match(err.hint ?? '', /cordon render -t nftables --host pve/);
    assert.match(err.hint ?? '', /forward=nftables/);
    const host = r.files.find((f) => f.path === 'pve/host.fw')!.content;
    assert.doesNotMatch(host, /^FORWARD /m);
    assert.match(host, /FORWARD: pve:forward is NOT here/);
  });

  it('forward=nftables leaves the forward chain to the nftables target, as an info', () => {
    const r = render(proxmoxRenderer, irOfText(DUAL), { forward: 'nftables' });
    assert.deepEqual(diags(r, 'error'), []);
    assert.ok(r.diagnostics.some((d) => d.severity === 'info' && d.message.includes("left to cordon's nftables rule set")));
  });

  it('proxmox-firewall takes FORWARD rules and a forward policy; a bridge shared by two guests is an error', () => {
    const spec = DUAL.replace('policy:', '  llm2: { kind: vm, id: 103, nics: { vmbr1: 192.168.100.21 } }\npolicy:');
    const r = render(proxmoxRenderer, irOfText(spec), { firewall: 'proxmox-firewall' });
    const host = r.files.find((f) => f.path === 'pve/host.fw')!.content;
    const cluster = r.files.find((f) => f.path === 'pve/cluster.fw')!.content;
    assert.match(host, /^nftables: 1$/m);
    assert.match(host, /^FORWARD ACCEPT .*-dest \+dc\/internet -p tcp -dport 443/m);
    assert.match(cluster, /^policy_forward: DROP$/m);
    // Host-level FORWARD rules never see traffic bridged between llm and llm2 on vmbr1.
    assert.ok(
      r.diagnostics.some((d) => d.severity === 'error' && d.message.includes('bridged on vmbr1 between llm, llm2')),
      diags(r).join('\n'),
    );
    // web is alone on vmbr0, whose gateway pve routes itself (the uplink stays out of the bridge).
    assert.ok(!r.diagnostics.some((d) => d.message.includes('bridged on vmbr0')), diags(r).join('\n'));
  });

  it("the uplink joins a nat network's bridge only when the gateway is a router behind it", () => {
    const own = render(proxmoxRenderer, irOfText(DUAL), { forward: 'nftables' });
    const ifs = own.files.find((f) => f.path === 'pve/interfaces')!.content;
    assert.match(ifs, /iface vmbr0 inet static\n {4}address 10\.0\.0\.1\/24\n {4}bridge-ports none\n {4}bridge-stp off\n {4}bridge-fd 0/);
    assert.match(ifs, /pve routes it and masquerades it through enp1s0, vmbr1 \(table ip cordon_pve_nat of cordon's nftables rule set, not post-up lines\)/);
    assert.ok(!own.diagnostics.some((d) => d.message.includes('masquerades')), 'with forward=nftables the NAT is loaded with the rule set: no note');
    const native = render(proxmoxRenderer, irOfText(DUAL), { firewall: 'proxmox-firewall' });
    const note = native.diagnostics.find((d) => d.message.includes('pve masquerades vmbr0'));
    assert.ok(note && note.severity === 'info', diags(native).join('\n'));
    assert.match(note.hint ?? '', /cordon render -t nftables --host pve/);
    const behind = render(proxmoxRenderer, irOfText(DUAL.replace('gateway: 10.0.0.1,', 'gateway: 10.0.0.254,')), { firewall: 'proxmox-firewall' });
    const ifs2 = behind.files.find((f) => f.path === 'pve/interfaces')!.content;
    assert.match(ifs2, /^iface enp1s0 inet manual$/m);
    assert.match(ifs2, /iface vmbr0 inet static\n {4}address 10\.0\.0\.1\/24\n {4}bridge-ports enp1s0\n/);
    assert.match(ifs2, /iface vmbr1 inet static\n {4}address 192\.168\.100\.1\/24\n {4}bridge-ports none\n/);
    // Now web shares vmbr0 with the LAN behind enp1s0, bridged: host-level FORWARD rules do not see it.
    assert.ok(
      behind.diagnostics.some((d) => d.severity === 'error' && d.message.includes('bridged on vmbr0 between web, the uplink enp1s0')),
      diags(behind).join('\n'),
    );
  });

  it('a guest without an id has no <vmid>.fw: error, naming the fix', () => {
    const r = render(proxmoxRenderer, irOfText(DUAL.replace('web: { kind: vm, id: 101,', 'web: { kind: vm,')), { forward: 'nftables' });
    const err = r.diagnostics.find((d) => d.severity === 'error' && d.message.includes("guest 'web' has no id"));
    assert.ok(err, diags(r).join('\n'));
    assert.match(err.hint ?? '', /hosts\.web\.id/);
    assert.ok(!r.files.some((f) => /\/\d+\.fw$/.test(f.path)));
  });

  it('a guest with ipfilter: OUT rules without -source, ipfilter-net0 with its address, macros where exact', () => {
    const r = render(proxmoxRenderer, irOfText(DUAL), { forward: 'nftables' });
    const vm = r.files.find((f) => f.path === 'pve/101.fw')!.content;
    assert.match(vm, /^ipfilter: 1$/m);
    assert.match(vm, /^\[IPSET ipfilter-net0\].*\n\n10\.0\.0\.10$/m);
    assert.match(vm, /^policy_in: DROP$/m);
    assert.match(vm, /^policy_out: DROP$/m);
    assert.match(vm, /^OUT ACCEPT -i net0 -dest \+dc\/internet -p tcp -dport 443 /m);
    assert.match(vm, /^IN HTTP\(ACCEPT\) -source \+dc\/internet -dest dc\/web /m);
    assert.match(r.files.find((f) => f.path === 'pve/host.fw')!.content, /^IN SSH\(ACCEPT\) -source \+dc\/lan -dest \+dc\/pve /m);
  });

  it('a rate limit and "other protocols" are said, not silently dropped', () => {
    const spec = `${DUAL}  - allow: { from: web, to: llm, ports: [tcp/22], rate: 5/minute }\n  - allow: { from: web, to: 192.0.2.0/24, ports: [other] }\n`;
    const r = render(proxmoxRenderer, irOfText(spec), { forward: 'nftables' });
    assert.ok(
      r.diagnostics.some((d) => d.severity === 'warning' && d.message.includes('rate limit (5/minute)')),
      diags(r).join('\n'),
    );
    assert.ok(
      r.diagnostics.some((d) => d.severity === 'error' && d.message.includes('protocols other than tcp, udp and icmp')),
      diags(r).join('\n'),
    );
  });

  it('rules bound to bridge ports of guests without ipfilter say who could forge or dodge the address', () => {
    const r = render(proxmoxRenderer, irOfText(DUAL), { firewall: 'proxmox-firewall' });
    // llm (no guest firewall) could leave its isolation drop by sending from another address.
    const w = r.diagnostics.find(
      (d) => d.severity === 'warning' && d.message.startsWith('pve:forward') && d.message.includes('llm could send from another address and pass'),
    );
    assert.ok(w, diags(r).join('\n'));
    assert.match(w.hint ?? '', /hosts\.llm firewall: \{ guest: true \}/);
    // web has ipfilter and is alone on vmbr0: its allows, bound by address, cannot be borrowed.
    assert.ok(!r.diagnostics.some((d) => d.message.includes('could send from that address')), diags(r).join('\n'));
    const two = render(
      proxmoxRenderer,
      irOfText(
        DUAL.replace(
          'llm: { kind: vm, id: 102, egress: isolated, nics: { vmbr1: 192.168.100.20 }',
          'llm: { kind: vm, id: 102, egress: isolated, nics: { vmbr0: 10.0.0.20 }',
        ),
      ),
      { firewall: 'proxmox-firewall' },
    );
    assert.ok(
      two.diagnostics.some((d) => d.severity === 'warning' && d.message.includes('llm could send from that address and be let through too')),
      diags(two).join('\n'),
    );
  });

  it('unknown parameter values are errors; a spec without a hypervisor is an error', () => {
    assert.ok(diags(render(proxmoxRenderer, irOfText(DUAL), { firewall: 'ufw' }), 'error').some((m) => m.includes('firewall=ufw')));
    assert.ok(diags(render(proxmoxRenderer, irOfText(DUAL), { forward: 'maybe' }), 'error').some((m) => m.includes('forward=maybe')));
    const none = render(
      proxmoxRenderer,
      irOfText(`version: 1
networks:
  lan0: { cidr: 10.1.0.0/24 }
hosts:
  box: { kind: server, nics: { lan0: 10.1.0.5 } }
`),
    );
    assert.ok(
      diags(none, 'error').some((m) => m.includes('no hypervisor')),
      diags(none).join('\n'),
    );
    assert.equal(none.files.length, 0);
  });

  it('the header and comments carry no second # (proxmox-firewall splits a rule at its last #)', () => {
    for (const ex of EXAMPLES) {
      if (!ex.ir) continue;
      for (const f of render(proxmoxRenderer, ex.ir, { firewall: 'proxmox-firewall' }).files) {
        for (const line of f.content.split('\n')) {
          if (line.startsWith('#') || line.trim() === '') continue;
          assert.ok(line.indexOf('#') === line.lastIndexOf('#'), `${f.path}: ${line}`);
        }
      }
    }
  });
});

describe('proxmox target: guest NIC lines (guest-nics.sh)', () => {
  it('a VM gets net<N> from its port name, a stable MAC and firewall=1 only where its <vmid>.fw filters it; sh -n accepts the script', () => {
    const r = render(proxmoxRenderer, irOfText(DUAL), { forward: 'nftables' });
    const sh = r.files.find((f) => f.path === 'pve/guest-nics.sh')!;
    assert.ok(sh.executable);
    const web = /^qm set 101 --net0 'virtio=(02(?::[0-9A-F]{2}){5}),bridge=vmbr0,firewall=1'$/m.exec(sh.content);
    assert.ok(web, sh.content);
    // llm has no per-guest firewall: no firewall=1, and its own MAC.
    const llm = /^qm set 102 --net0 'virtio=(02(?::[0-9A-F]{2}){5}),bridge=vmbr1'$/m.exec(sh.content);
    assert.ok(llm, sh.content);
    assert.notEqual(web[1], llm[1]);
    const again = render(proxmoxRenderer, irOfText(DUAL), { forward: 'nftables' }).files.find((f) => f.path === 'pve/guest-nics.sh')!;
    assert.equal(again.content, sh.content, 'the same spec gives the same MACs');
    const check = spawnSync('sh', ['-n'], { input: sh.content, encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
  });

  it("a container gets name, bridge, ip/prefix, gw only on its default route's network, and the dns zone's resolver", () => {
    const r = render(
      proxmoxRenderer,
      irOfText(`version: 1
networks:
  vmbr0: { cidr: 10.0.0.0/24, gateway: 10.0.0.13 }
  vmbr9: { cidr: 10.9.0.0/24 }
hosts:
  hv: { kind: hypervisor, nics: { vmbr0: 10.0.0.13, vmbr9: 10.9.0.1 }, services: { dns: [udp/53, tcp/53] } }
  nginx: { kind: container, id: 101, nics: { vmbr0: 10.0.0.153, vmbr9: { address: 10.9.0.5, ifname: eth1 } }, firewall: { guest: true } }
dns: { domain: internal.example.org, server: hv, records: { nginx: nginx } }
policy:
  - allow: { from: nginx, to: hv.dns }
`),
      { forward: 'nftables' },
    );
    const sh = r.files.find((f) => f.path === 'hv/guest-nics.sh')!.content;
    assert.match(
      sh,
      /^pct set 101 --net0 'name=eth0,bridge=vmbr0,ip=10\.0\.0\.153\/24,gw=10\.0\.0\.13,firewall=1' --net1 'name=eth1,bridge=vmbr9,ip=10\.9\.0\.5\/24,firewall=1' --nameserver 10\.0\.0\.13 --searchdomain internal\.example\.org$/m,
    );
  });
});
