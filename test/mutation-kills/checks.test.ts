/**
 * `cordon test` (src/verify/checks.ts): cases that mutation testing showed no test covered. Each
 * spec is built so that the check must fail (or must not exist), and the mutant that weakened the
 * check made it pass: a no-vm-to-vm that counts deny rules or other hosts' rules as permission, a
 * vpn-only that stops looking after the first destination, checks emitted for hosts they do not
 * apply to. See TESTING.md.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { compile } from '../../src/ir/compile.js';
import { loadModelFromText } from '../../src/model/load.js';
import { runChecks, type CheckResult } from '../../src/verify/checks.js';

function checks(text: string): CheckResult[] {
  const r = loadModelFromText(text, 'kills.yaml');
  assert.ok(r.model, r.diagnostics.map((d) => d.message).join('\n'));
  return runChecks(compile(r.model));
}

function one(rs: readonly CheckResult[], name: string): CheckResult {
  const c = rs.filter((x) => x.name === name);
  assert.equal(c.length, 1, `exactly one check named '${name}' in: ${rs.map((x) => x.name).join(', ')}`);
  return c[0]!;
}

// Two guests on one bridge of a hypervisor. `hv:forward` accepting everything lets them reach each
// other on every flow, so only what a rule names both for may be excused.
const GUESTS = (policy: string, firewalls = 'firewalls:\n  "hv:forward": { policy: accept }') => `
version: 1
networks:
  guests: { cidr: 192.168.50.0/24, gateway: 192.168.50.1, egress: nat, bridge: vmbr1 }
hosts:
  hv: { kind: hypervisor, uplink: enp1s0, nics: { guests: 192.168.50.1 }, services: { ssh: tcp/22 } }
  zed: { kind: vm, nics: { guests: 192.168.50.20 }, services: { web: tcp/80 } }
  amy: { kind: vm, nics: { guests: 192.168.50.10 } }
${policy}
${firewalls}
`;

describe('no-vm-to-vm: only rules naming both guests excuse a flow', () => {
  it('an allow rule naming both for every flow excuses everything', () => {
    assert.equal(one(checks(GUESTS('policy:\n  - allow: { from: amy, to: zed }')), 'no-vm-to-vm: amy').ok, true);
  });

  it('fails when nothing names both: the hand-written forward chain lets amy reach zed', () => {
    const c = one(checks(GUESTS('')), 'no-vm-to-vm: amy');
    assert.equal(c.ok, false);
    assert.match(c.message, /^amy reaches guest zed on .*, which no rule naming both allows$/);
    assert.ok(c.witness, 'a failure carries a witness');
  });

  it('a deny rule naming both is not permission', () => {
    assert.equal(one(checks(GUESTS('policy:\n  - deny: { from: amy, to: zed }')), 'no-vm-to-vm: amy').ok, false);
  });

  it("a rule to one service excuses that service's flows only", () => {
    const c = one(checks(GUESTS('policy:\n  - allow: { from: amy, to: zed.web }')), 'no-vm-to-vm: amy');
    assert.equal(c.ok, false);
    assert.doesNotMatch(c.message, /tcp\/80\b|tcp\/\*/, 'tcp/80 is excused, the rest is not');
  });

  it("a rule's ports limit what it excuses", () => {
    const c = one(checks(GUESTS('policy:\n  - allow: { from: amy, to: zed, ports: tcp/22 }')), 'no-vm-to-vm: amy');
    assert.equal(c.ok, false);
    assert.match(c.message, /tcp\/0-21,23-65535/);
  });

  it('a rule naming amy and another host excuses nothing towards zed', () => {
    assert.equal(one(checks(GUESTS('policy:\n  - allow: { from: amy, to: hv, ports: tcp/22 }')), 'no-vm-to-vm: amy').ok, false);
    assert.equal(one(checks(GUESTS('policy:\n  - allow: { from: amy, to: hv }')), 'no-vm-to-vm: amy').ok, false);
  });

  it('a rule from another host to zed excuses nothing for amy', () => {
    assert.equal(one(checks(GUESTS('policy:\n  - allow: { from: hv, to: zed }')), 'no-vm-to-vm: amy').ok, false);
  });

  it('is not emitted for a single guest, nor when switched off', () => {
    const single = GUESTS('').replace(/\n {2}amy: .*\n/, '\n');
    assert.ok(!checks(single).some((c) => c.name.startsWith('no-vm-to-vm')));
    const off = checks(GUESTS('invariants: { no-vm-to-vm: false, no-vm-to-host: false }'));
    assert.ok(!off.some((c) => c.name.startsWith('no-vm-to-vm') || c.name.startsWith('no-vm-to-host')), off.map((c) => c.name).join(', '));
  });

  it('is judged with the guest compromised: its own firewall does not count', () => {
    // amy's own output chain drops everything; a compromised amy flushes it and reaches zed.
    const own = GUESTS('', 'firewalls:\n  "hv:forward": { policy: accept }\n  "amy:output": { policy: drop }');
    const c = one(checks(own), 'no-vm-to-vm: amy');
    assert.equal(c.ok, false);
    assert.equal(c.assume, 'compromised');
  });

  it('says what holds', () => {
    const c = one(checks(GUESTS('policy:\n  - allow: { from: amy, to: zed }')), 'no-vm-to-vm: amy');
    assert.equal(c.message, 'amy reaches other guests only where a rule names both');
    assert.equal(one(checks(GUESTS('')), 'no-vm-to-host: amy').message, 'amy reaches managed hosts only on control channels and named rules');
  });
});

const HOST = (control: string, input: string) => `
version: 1
networks:
  guests: { cidr: 192.168.50.0/24, gateway: 192.168.50.1, egress: nat, bridge: vmbr1 }
tunnels:
  wg0: { server: hv, cidr: 10.99.0.0/24, listen: 51820 }
hosts:
  hv: { kind: hypervisor, uplink: enp1s0, nics: { guests: 192.168.50.1, wg0: 10.99.0.1 }, services: { ssh: tcp/22, api: tcp/8006 } }
  amy: { kind: vm, nics: { guests: 192.168.50.10, wg0: 10.99.0.10 }${control} }
firewalls:
  "hv:input": ${input}
`;

describe('no-vm-to-host: control channels and tunnel transport', () => {
  const ACCEPT = '{ policy: accept }';
  it('a whole-host control channel excuses everything; a service one only that service', () => {
    assert.equal(one(checks(HOST(', control: [hv]', ACCEPT)), 'no-vm-to-host: amy').ok, true);
    const svc = one(checks(HOST(', control: [hv.ssh]', ACCEPT)), 'no-vm-to-host: amy');
    assert.equal(svc.ok, false);
    assert.match(svc.message, /^amy reaches hypervisor hv on tcp\/0-21,23-65535 udp\/0-51819,51821-65535 icmp other, which is neither/);
  });

  it("the tunnel's own transport (udp/listen to its server) is excused, and nothing more", () => {
    assert.equal(one(checks(HOST('', '{ policy: drop, rules: [ { action: accept, ports: "udp/51820" } ] }')), 'no-vm-to-host: amy').ok, true);
    const icmp = one(checks(HOST('', '{ policy: drop, rules: [ { action: accept, ports: [udp/51820, icmp] } ] }')), 'no-vm-to-host: amy');
    assert.equal(icmp.ok, false);
    assert.match(icmp.message, /on icmp,/);
    const tcp = one(checks(HOST('', '{ policy: drop, rules: [ { action: accept, ports: [udp/51820, tcp/51820] } ] }')), 'no-vm-to-host: amy');
    assert.equal(tcp.ok, false);
    assert.match(tcp.message, /on tcp\/51820,/);
  });

  it("is judged with the guest compromised: the guest's own firewall does not count", () => {
    const text = HOST('', '{ policy: accept }').replace('firewalls:\n', 'firewalls:\n  "amy:output": { policy: drop }\n');
    const c = one(checks(text), 'no-vm-to-host: amy');
    assert.equal(c.ok, false);
  });

  it('is not emitted when no managed host exists', () => {
    const text = GUESTS('', '').replace('kind: hypervisor,', 'kind: hypervisor, managed: false,');
    assert.ok(!checks(text).some((c) => c.name.startsWith('no-vm-to-host')));
  });
});

const VPN = (firewalls: string) => `
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
firewalls:
${firewalls}
`;

describe('vpn-only: nothing outside the tunnel, even compromised', () => {
  it('fails when the host forwards the guest straight to the internet (a later destination than the first)', () => {
    const c = one(checks(VPN('  "mac:forward": { policy: accept }')), 'vpn-only: vm');
    assert.equal(c.ok, false);
    assert.match(c.message, /^vm is vpn-only but reaches internet outside wg0 on .* \(via vm → vmnet → mac → internet\) when the guest is compromised$/);
    assert.equal(c.assume, 'compromised');
    assert.ok(c.witness?.path, 'the witness shows the path that leaks');
    assert.match(c.witness.path.chain, /^vm → vmnet → mac/);
  });

  it('holds with the kill switch, and says so', () => {
    const c = one(checks(VPN('  {}').replace('firewalls:\n  {}\n', '')), 'vpn-only: vm');
    assert.equal(c.ok, true, c.message);
    assert.equal(c.message, "vm reaches nothing outside wg0, and wg0's transport is open");
  });

  it('is not emitted when switched off; nor is no-internet', () => {
    const rs = checks(VPN('  "mac:forward": { policy: accept }').replace('firewalls:', 'invariants: { vpn-only: false, no-internet: false }\nfirewalls:'));
    assert.ok(!rs.some((c) => c.name.startsWith('vpn-only') || c.name.startsWith('no-internet')), rs.map((c) => c.name).join(', '));
    const iso = checks(ISO.replace('hosts:', 'invariants: { no-internet: false }\nhosts:'));
    assert.ok(!iso.some((c) => c.name.startsWith('no-internet')), iso.map((c) => c.name).join(', '));
  });

  it('fails when the host itself is open to the guest outside the tunnel', () => {
    const c = one(checks(VPN('  "mac:input": { policy: accept }')), 'vpn-only: vm');
    assert.equal(c.ok, false);
    assert.match(c.message, /reaches mac outside wg0/);
  });

  it("the tunnel's transport port is excused towards the endpoint only, not towards the internet", () => {
    const c = one(checks(VPN('  "mac:forward": { policy: drop, rules: [ { action: accept, ports: "udp/51820" } ] }')), 'vpn-only: vm');
    assert.equal(c.ok, false);
    assert.match(c.message, /reaches internet outside wg0 on udp\/51820 /);
  });
});

const ISO = `
version: 1
networks:
  wan: { cidr: 10.0.0.0/24, gateway: 10.0.0.1, egress: nat }
  llm: { cidr: 192.168.100.0/24, egress: none }
hosts:
  hv: { kind: hypervisor, uplink: enp1s0, nics: { wan: 10.0.0.1, llm: 192.168.100.1 } }
  zz-agent: { kind: vm, nics: { wan: 10.0.0.10, llm: 192.168.100.10 } }
  iso: { kind: vm, egress: isolated, nics: { wan: 10.0.0.30, llm: 192.168.100.30 } }
  opn: { kind: vm, egress: open, nics: { wan: 10.0.0.40, llm: 192.168.100.40 } }
  inner: { kind: vm, nics: { llm: 192.168.100.50 } }
`;

describe('no-internet: which hosts get which check, in a stable order', () => {
  const rs = checks(ISO);
  const names = rs.filter((c) => c.name.startsWith('no-internet')).map((c) => c.name);

  it('isolated and only-on-egress-none hosts get the plain check; dual-homed filtered ones the per-leg check', () => {
    assert.deepEqual(names, ['no-internet: inner', 'no-internet: iso', 'no-internet: zz-agent via llm']);
  });

  it('checks come sorted by host name, whatever the order in the file', () => {
    const guests = rs.filter((c) => c.name.startsWith('no-vm-to-vm')).map((c) => c.name.replace('no-vm-to-vm: ', ''));
    assert.deepEqual(guests, [...guests].sort());
    assert.deepEqual(guests, ['inner', 'iso', 'opn', 'zz-agent']);
  });

  it('says why a host is checked, and which zone it reaches', () => {
    const open = checks(`${ISO}firewalls:\n  "hv:forward": { policy: accept }\n`);
    const iso = one(open, 'no-internet: iso');
    assert.equal(iso.ok, false);
    assert.match(iso.message, /^iso \(egress: isolated\) reaches the internet on /);
    const inner = one(open, 'no-internet: inner');
    assert.match(inner.message, /^inner \(only on egress: none networks\) reaches the internet on /);
    const leg = one(open, 'no-internet: zz-agent via llm');
    assert.equal(leg.ok, false);
    assert.match(leg.message, /^zz-agent reaches the internet through its leg on llm \(egress: none\)/);
    assert.equal(one(rs, 'no-internet: iso').message, 'iso cannot reach the internet, even compromised');
    assert.equal(one(rs, 'no-internet: zz-agent via llm').message, 'nothing leaves llm for the internet from zz-agent, even compromised');
  });
});

describe('expectations: messages and witnesses', () => {
  const rs = checks(
    GUESTS(
      `policy:
  - allow: { from: amy, to: zed.web }
expect:
  - { from: amy, to: zed.web, verdict: allow }
  - { from: amy, to: zed, ports: icmp, verdict: deny }
  - { from: zed, to: amy, ports: icmp, verdict: allow }
  - { from: amy, to: amy, verdict: deny }
  - { from: amy, to: zed.web, verdict: deny }`,
      '',
    ),
  );
  const byName = (n: string) => rs.filter((c) => c.kind === 'expect' && c.name === n);

  it('a holding expectation says so', () => {
    const [c] = byName('amy → zed.web: allow');
    assert.ok(c);
    assert.equal(c.ok, true);
    assert.equal(c.message, 'amy → zed.web: allow holds');
  });

  it('a failing allow names the pair and the denied flows, with an icmp witness for an icmp-only failure', () => {
    const [c] = byName('zed → amy icmp: allow');
    assert.ok(c);
    assert.equal(c.ok, false);
    assert.equal(c.message, 'zed → amy is denied for icmp');
    assert.equal(c.witness?.flow, 'icmp');
  });

  it('a failing deny names the pair and the flows that get through', () => {
    const [c] = byName('amy → zed.web: deny');
    assert.ok(c);
    assert.equal(c.ok, false);
    assert.equal(c.message, 'amy → zed is allowed for tcp/80');
    assert.equal(c.witness?.flow, 'tcp/80');
  });

  it('a host is not checked against itself', () => {
    const self = byName('amy → amy: deny');
    assert.ok(self.length > 0);
    for (const c of self) assert.equal(c.ok, true, c.message);
  });
});
