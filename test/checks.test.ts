/**
 * Every check of `cordon test` (src/verify/checks.ts), table-driven: for each one, minimal specs
 * that must fail it and specs that must pass it. The failing cases include the traps a check
 * could fall into: a deny rule naming both ends is not an allow (no-vm-to-vm, no-vm-to-host), a
 * rule naming a network is not a rule naming the guest, an allow expectation is not met by some
 * of its ports.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { compile } from '../src/ir/compile.js';
import { loadModelFromText } from '../src/model/load.js';
import { runChecks, type CheckResult } from '../src/verify/checks.js';

function results(text: string): CheckResult[] {
  const r = loadModelFromText(text, 'checks.yaml');
  assert.ok(r.model, r.diagnostics.map((d) => `${d.code} ${d.message}`).join('\n'));
  return runChecks(compile(r.model));
}

/** Two guests and a hypervisor on one bridge; `extra` is appended (policy, expect, hosts…). */
const LAN = (policy: string, extra = '', guestA = '') => `
version: 1
networks:
  lan0: { cidr: 10.1.0.0/24, gateway: 10.1.0.1, egress: nat }
hosts:
  hv: { kind: hypervisor, uplink: enp1s0, nics: { lan0: 10.1.0.1 }, services: { ssh: tcp/22 } }
  a: { kind: vm, id: 101, nics: { lan0: 10.1.0.10 }${guestA} }
  b: { kind: vm, id: 102, nics: { lan0: 10.1.0.11 }, services: { ssh: tcp/22 } }
policy:
${policy}
${extra}
`;

/** A hypervisor serving a WireGuard tunnel to a roaming laptop, and a guest with no rules at all. */
const WG = (hv: string) => `
version: 1
networks:
  net0: { cidr: 10.1.0.0/24, egress: none }
hosts:
  hv: { kind: hypervisor, nics: { net0: 10.1.0.1, wg0: 10.99.0.1 }${hv} }
  g0: { kind: vm, id: 100, nics: { net0: 10.1.0.10 }, firewall: { antiSpoof: false } }
  laptop: { kind: peer, via: wg0, address: 10.99.0.2 }
tunnels:
  wg0: { server: hv, listen: 51820, cidr: 10.99.0.0/24 }
policy:
  - allow: { from: laptop, to: hv, ports: tcp/22 }
expect:
  - { from: laptop, to: hv, ports: tcp/22, verdict: allow, assume: configured }
`;

interface Case {
  readonly title: string;
  readonly spec: string;
  /** The check's name as `cordon test` prints it. */
  readonly check: string;
  readonly ok: boolean;
  /** For failures: what the message must say. */
  readonly says?: RegExp;
  /** Which view (expectations are checked in both). */
  readonly assume?: 'configured' | 'compromised';
}

const CASES: readonly Case[] = [
  // no-vm-to-vm -------------------------------------------------------------------------------
  {
    title: 'no-vm-to-vm: a deny naming both guests, after an allow to their network, is not an allow',
    spec: LAN('  - allow: { from: a, to: lan0, ports: tcp/22 }\n  - deny: { from: a, to: b, ports: tcp/22 }'),
    check: 'no-vm-to-vm: a',
    ok: false,
    says: /a reaches guest b on tcp\/22, which no rule naming both allows/,
  },
  {
    title: 'no-vm-to-vm: a rule naming only the network does not name the guest',
    spec: LAN('  - allow: { from: lan0, to: lan0 }'),
    check: 'no-vm-to-vm: a',
    ok: false,
    says: /a reaches guest b/,
  },
  {
    title: 'no-vm-to-vm: a deny naming both guests, before the allow to the network, keeps them apart',
    spec: LAN('  - deny: { from: a, to: b }\n  - allow: { from: a, to: lan0, ports: tcp/22 }'),
    check: 'no-vm-to-vm: a',
    ok: true,
  },
  {
    title: 'no-vm-to-vm: an allow naming both guests is what the invariant permits',
    spec: LAN('  - allow: { from: a, to: b.ssh }'),
    check: 'no-vm-to-vm: a',
    ok: true,
  },
  {
    title: 'no-vm-to-vm: an allow naming both grants only its own ports, not what another rule adds',
    spec: LAN('  - allow: { from: a, to: b, ports: tcp/22 }\n  - allow: { from: a, to: lan0, ports: tcp/80 }'),
    check: 'no-vm-to-vm: a',
    ok: false,
    says: /on tcp\/80/,
  },
  // no-vm-to-host -----------------------------------------------------------------------------
  {
    title: 'no-vm-to-host: a deny naming the hypervisor, after an allow to the network, is not an allow',
    spec: LAN('  - allow: { from: a, to: lan0, ports: tcp/22 }\n  - deny: { from: a, to: hv, ports: tcp/22 }'),
    check: 'no-vm-to-host: a',
    ok: false,
    says: /a reaches hypervisor hv on tcp\/22/,
  },
  {
    title: "no-vm-to-host: a rule naming the hypervisor's service is allowed",
    spec: LAN('  - allow: { from: a, to: hv.ssh }'),
    check: 'no-vm-to-host: a',
    ok: true,
  },
  {
    title: 'no-vm-to-host: a declared control channel is allowed',
    spec: LAN('  - allow: { from: a, to: lan0, ports: tcp/22 }', '', ', control: [hv.ssh]'),
    check: 'no-vm-to-host: a',
    ok: true,
  },
  {
    title: 'no-vm-to-host: a control channel covers only its own ports',
    spec: LAN('  - allow: { from: a, to: lan0, ports: "tcp/22,443" }', '', ', control: [hv.ssh]'),
    check: 'no-vm-to-host: a',
    ok: false,
    says: /on tcp\/443/,
  },
  {
    // Found by the reference semantics (test/oracle): the listen rule was not bound to the uplink.
    title: 'no-vm-to-host: a guest forging a public source cannot knock on the WireGuard port of a hypervisor without uplink',
    spec: WG(''),
    check: 'no-vm-to-host: g0',
    ok: true,
  },
  {
    title: 'no-vm-to-host: nor on one with an uplink, where the peers knock from',
    spec: WG(', uplink: enp1s0'),
    check: 'no-vm-to-host: g0',
    ok: true,
  },
  {
    title: 'no-vm-to-host: a guest forging the address of a tunnel member on another network cannot knock either',
    spec: `
version: 1
networks:
  net0: { cidr: 10.1.0.0/24, egress: none }
  net1: { cidr: 10.2.0.0/24, egress: none }
hosts:
  hv: { kind: hypervisor, nics: { net0: 10.1.0.1, net1: 10.2.0.1, wg0: 10.99.0.1 } }
  g0: { kind: vm, id: 100, nics: { net0: 10.1.0.10 }, firewall: { antiSpoof: false } }
  m1: { kind: vm, id: 101, nics: { net1: 10.2.0.10, wg0: 10.99.0.2 } }
tunnels:
  wg0: { server: hv, listen: 51820, cidr: 10.99.0.0/24 }
policy:
  - allow: { from: m1, to: hv, ports: tcp/22 }
`,
    check: 'no-vm-to-host: g0',
    ok: true,
  },
  // no-internet -------------------------------------------------------------------------------
  {
    title: 'no-internet: an isolated guest stays inside even when the policy allows it out',
    spec: LAN('  - allow: { from: a, to: internet }', '', ', egress: isolated'),
    check: 'no-internet: a',
    ok: true,
  },
  {
    title: 'no-internet: an isolated guest behind a hand-written accept-all forward path gets out',
    spec: LAN('  - allow: { from: a, to: internet }', 'firewalls:\n  "hv:forward": { policy: accept }', ', egress: isolated'),
    check: 'no-internet: a',
    ok: false,
    says: /reaches the internet/,
  },
  {
    title: 'no-internet: a guest only on an egress:none network, with a deny-free forward path, stays inside',
    spec: `
version: 1
networks:
  llm: { cidr: 192.168.100.0/24, gateway: 192.168.100.1, egress: none }
  wan: { cidr: 10.0.0.0/24, gateway: 10.0.0.1, egress: nat }
hosts:
  hv: { kind: hypervisor, uplink: enp1s0, nics: { llm: 192.168.100.1, wan: 10.0.0.1 } }
  ollama: { kind: vm, id: 102, nics: { llm: 192.168.100.20 } }
policy:
  - allow: { from: any, to: internet }
`,
    check: 'no-internet: ollama',
    ok: true,
  },
  {
    title: 'no-internet: a guest only on an egress:none network leaks when the forward path is hand-written open',
    spec: `
version: 1
networks:
  llm: { cidr: 192.168.100.0/24, gateway: 192.168.100.1, egress: none }
  wan: { cidr: 10.0.0.0/24, gateway: 10.0.0.1, egress: nat }
hosts:
  hv: { kind: hypervisor, uplink: enp1s0, nics: { llm: 192.168.100.1, wan: 10.0.0.1 } }
  ollama: { kind: vm, id: 102, nics: { llm: 192.168.100.20 } }
policy:
  - allow: { from: any, to: internet }
firewalls:
  "hv:forward": { policy: drop, rules: [ { action: accept, to: internet } ] }
`,
    check: 'no-internet: ollama',
    ok: false,
    says: /only on egress: none networks\) reaches the internet/,
  },
  // expectations ------------------------------------------------------------------------------
  {
    title: 'expect deny: fails when the flow is allowed',
    spec: LAN('  - allow: { from: a, to: b.ssh }', 'expect:\n  - { from: a, to: b, ports: tcp/22, verdict: deny }'),
    check: 'a → b tcp/22: deny',
    ok: false,
    says: /a → b is allowed for tcp\/22/,
    assume: 'configured',
  },
  {
    title: 'expect deny: holds when a deny comes first, even though a later allow names the same flow',
    spec: LAN('  - deny: { from: a, to: b }\n  - allow: { from: a, to: b.ssh }', 'expect:\n  - { from: a, to: b, ports: tcp/22, verdict: deny }'),
    check: 'a → b tcp/22: deny',
    ok: true,
    assume: 'compromised',
  },
  {
    title: 'expect allow: a deny rule for the flow is not an allow',
    spec: LAN('  - deny: { from: a, to: b.ssh }', 'expect:\n  - { from: a, to: b, ports: tcp/22, verdict: allow }'),
    check: 'a → b tcp/22: allow',
    ok: false,
    says: /a → b is denied for tcp\/22/,
    assume: 'configured',
  },
  {
    title: 'expect allow: fails when only some of the listed ports pass',
    spec: LAN('  - allow: { from: a, to: b, ports: tcp/22 }', 'expect:\n  - { from: a, to: b, ports: "tcp/22,80", verdict: allow }'),
    check: 'a → b tcp/22,80: allow',
    ok: false,
    says: /denied for tcp\/80/,
    assume: 'configured',
  },
  {
    title: 'expect allow: holds when the rule allows it',
    spec: LAN('  - allow: { from: a, to: b.ssh }', 'expect:\n  - { from: a, to: b, ports: tcp/22, verdict: allow }'),
    check: 'a → b tcp/22: allow',
    ok: true,
    assume: 'configured',
  },
];

const VPN = (killswitch: string) => `
version: 1
networks:
  vmnet: { cidr: 192.168.64.0/24, gateway: 192.168.64.1, egress: nat }
tunnels:
  wg0: { server: vpn, cidr: 10.99.0.0/24 }
hosts:
  mac: { kind: hypervisor, uplink: en0, nics: { vmnet: 192.168.64.1 } }
  vm: { kind: vm, egress: vpn-only, nics: { vmnet: 192.168.64.2, wg0: 10.99.0.2 } }
  vpn: { kind: server, forward: true, nics: { internet: 203.0.113.1, wg0: 10.99.0.1 } }
policy:
  - allow: { from: vm, to: internet, ports: tcp/443 }
${killswitch}
`;

const VPN_CASES: readonly Case[] = [
  { title: "vpn-only: holds with cordon's own kill switch", spec: VPN(''), check: 'vpn-only: vm', ok: true },
  {
    title: "vpn-only: fails when the hypervisor's forward path is hand-written open (the guest leaves outside the tunnel)",
    spec: VPN('firewalls:\n  "mac:forward": { policy: accept }'),
    check: 'vpn-only: vm',
    ok: false,
    says: /reaches .* outside wg0/,
  },
  {
    title: "vpn-only: fails when the kill switch blocks the tunnel's own transport",
    spec: VPN('firewalls:\n  "vm:output": { policy: drop, rules: [ { action: accept, oif: lo }, { action: accept, oif: wg0 } ] }'),
    check: 'vpn-only: vm',
    ok: false,
    says: /cannot come up/,
  },
];

describe('cordon test: each check fails where it must and passes where it must', () => {
  for (const c of [...CASES, ...VPN_CASES]) {
    it(c.title, () => {
      const all = results(c.spec);
      const mine = all.filter((r) => r.name === c.check && (c.assume === undefined || r.assume === c.assume));
      assert.ok(mine.length > 0, `no check named '${c.check}'; there are: ${[...new Set(all.map((r) => r.name))].join(', ')}`);
      for (const r of mine) {
        assert.equal(r.ok, c.ok, `${r.name} (${r.assume}): expected ${c.ok ? 'PASS' : 'FAIL'}, got ${r.ok ? 'PASS' : 'FAIL'}: ${r.message}`);
        if (!c.ok) {
          if (c.says) assert.match(r.message, c.says);
          assert.ok(r.witness, `${r.name}: a failure carries a witness`);
        }
      }
    });
  }

  it('the WireGuard port stays open to the peers: with an uplink the laptop reaches the hypervisor through its tunnel', () => {
    const withUplink = results(WG(', uplink: enp1s0')).find((r) => r.kind === 'expect')!;
    assert.equal(withUplink.ok, true, withUplink.message);
    const without = results(WG('')).find((r) => r.kind === 'expect')!;
    assert.equal(without.ok, false, 'without an uplink no peer reaches the endpoint, so the tunnel never comes up');
  });

  it('every invariant kind has at least one failing and one passing case here', () => {
    const kinds = (ok: boolean) =>
      new Set([...CASES, ...VPN_CASES].filter((c) => c.ok === ok).map((c) => (/^(no-|vpn-only)/.test(c.check) ? c.check.split(':')[0]! : 'expect')));
    for (const k of ['no-vm-to-vm', 'no-vm-to-host', 'no-internet', 'vpn-only', 'expect']) {
      assert.ok(kinds(false).has(k), `${k} has no failing case`);
      assert.ok(kinds(true).has(k), `${k} has no passing case`);
    }
  });
});
