/**
 * spec → IR (src/ir/compile.ts), judged by what it means: the matrix cell the compiled chains give
 * (the reachability engine over them), never the chains' text, so these hold when compile is
 * rewritten for speed. Each case was chosen because a mutant of compile.ts changed that cell and no
 * other fast test noticed. See TESTING.md (mutation testing).
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { Code } from '../../src/diag/codes.js';
import { compile } from '../../src/ir/compile.js';
import type { Ir } from '../../src/ir/types.js';
import { loadModelFromText } from '../../src/model/load.js';
import type { Assume } from '../../src/model/types.js';
import { Engine, type Dest } from '../../src/verify/engine.js';
import { formatFlowSet } from '../../src/util/flows.js';
import { parseIPv4 } from '../../src/util/ip.js';

function build(text: string): Ir {
  const r = loadModelFromText(text, 'compile-kills.yaml');
  assert.ok(r.model, r.diagnostics.map((d) => d.message).join('\n'));
  return compile(r.model);
}

/** The matrix cell from `from` to `to`: a host name, `internet`, or a dotted address. */
function cell(ir: Ir, from: string, to: string, assume: Assume = 'configured'): string {
  const src = from === 'internet' ? ({ kind: 'zone', zone: 'internet' } as const) : ({ kind: 'host', host: from } as const);
  let dst: Dest;
  if (to === 'internet' || to === 'lan') dst = { kind: 'zone', zone: to };
  else if (/^\d/.test(to)) dst = { kind: 'addr', addr: parseIPv4(to)! };
  else dst = { kind: 'host', host: to };
  return formatFlowSet(new Engine(ir).reach(src, dst, assume).allowed);
}

// A trusted server straight on the internet: only its own output chain stands between it and the
// internet, so that chain's default policy is the whole answer.
const SERVER = (egress: string, policy: string) => `
version: 1
hosts:
  srv: { kind: server, egress: ${egress}, nics: { internet: 198.51.100.10 } }
${policy}
`;

describe("a trusted host's output: the default policy follows its egress", () => {
  it('egress filtered: only what a rule allows leaves the host', () => {
    const ir = build(SERVER('filtered', 'policy:\n  - allow: { from: srv, to: internet, ports: tcp/443 }'));
    assert.equal(cell(ir, 'srv', 'internet'), 'tcp/443');
    assert.equal(cell(ir, 'srv', '203.0.113.7'), 'tcp/443');
  });

  it('egress filtered and no rule: nothing leaves the host', () => {
    assert.equal(cell(build(SERVER('filtered', '')), 'srv', 'internet'), '-');
  });

  it('egress open: everything leaves the host, except what a deny takes', () => {
    assert.equal(cell(build(SERVER('open', '')), 'srv', 'internet'), 'any');
    const ir = build(SERVER('open', 'policy:\n  - deny: { from: srv, to: internet, ports: tcp/25 }'));
    assert.equal(cell(ir, 'srv', 'internet'), 'tcp/0-24,26-65535 udp/* icmp other');
  });
});

// Guests on a bridge the hypervisor owns: hv's forward chain (and its input chain, for traffic to
// hv itself) is where the policy is enforced, bound to each guest's bridge port.
const GUESTS = `
version: 1
networks:
  guests: { cidr: 10.1.0.0/24, gateway: 10.1.0.1, egress: nat }
hosts:
  hv: { kind: hypervisor, uplink: eth9, nics: { guests: 10.1.0.1 }, services: { ssh: tcp/22 } }
  a: { kind: vm, id: 101, nics: { guests: 10.1.0.10 } }
  b: { kind: vm, id: 102, nics: { guests: 10.1.0.11 }, services: { web: tcp/80 } }
  c: { kind: vm, id: 103, nics: { guests: 10.1.0.12 } }
  iso: { kind: vm, id: 104, egress: isolated, nics: { guests: 10.1.0.13 } }
  opn: { kind: vm, id: 105, egress: open, nics: { guests: 10.1.0.14 } }
policy:
  - allow: { from: a, to: b.web }
  - allow: { from: a, to: hv.ssh }
  - allow: { from: a, to: internet, ports: [tcp/443, udp/53] }
  - allow: { from: iso, to: internet, ports: tcp/443 }
  - allow: { from: iso, to: b.web }
  - deny: { from: opn, to: internet, ports: tcp/25 }
`;

describe('guests behind a hypervisor: the forward and input chains', () => {
  const ir = build(GUESTS);

  for (const assume of ['configured', 'compromised'] as const) {
    it(`${assume}: a guest gets what its rules name, to guests, the host and the internet`, () => {
      assert.equal(cell(ir, 'a', 'b', assume), 'tcp/80');
      assert.equal(cell(ir, 'a', 'hv', assume), 'tcp/22');
      assert.equal(cell(ir, 'a', 'internet', assume), 'tcp/443 udp/53');
      assert.equal(cell(ir, 'a', 'c', assume), '-');
      assert.equal(cell(ir, 'b', 'a', assume), '-', 'a rule is one-way');
    });

    it(`${assume}: a guest with no rule reaches nothing (default deny on forward and input)`, () => {
      for (const to of ['a', 'b', 'hv', 'internet']) assert.equal(cell(ir, 'c', to, assume), '-', `c → ${to}`);
    });

    it(`${assume}: nothing from the internet gets in`, () => {
      for (const to of ['a', 'b', 'hv', 'iso', 'opn']) assert.equal(cell(ir, 'internet', to, assume), '-', `internet → ${to}`);
    });

    it(`${assume}: an isolated guest never reaches the internet, even where a rule allows it; guests still`, () => {
      assert.equal(cell(ir, 'iso', 'internet', assume), '-');
      assert.equal(cell(ir, 'iso', 'b', assume), 'tcp/80');
    });

    it(`${assume}: an open guest reaches everything but what a deny takes, and not the host's input`, () => {
      assert.equal(cell(ir, 'opn', 'internet', assume), 'tcp/0-24,26-65535 udp/* icmp other');
      assert.equal(cell(ir, 'opn', 'c', assume), 'any');
      assert.equal(cell(ir, 'opn', 'hv', assume), '-');
    });
  }

  it("the trusted hypervisor's own egress is open by default", () => {
    assert.equal(cell(ir, 'hv', 'internet'), 'any');
    assert.equal(cell(ir, 'hv', 'c'), 'any');
  });
});

// A VM whose only way out is a WireGuard tunnel to a VPN server on the internet (seed 004's shape).
const VPN = `
version: 1
networks:
  vz: { cidr: 192.168.64.0/24, gateway: 192.168.64.1, egress: nat }
tunnels:
  wg0: { server: vpn, listen: 51820, cidr: 10.99.0.0/24 }
hosts:
  mac: { kind: hypervisor, uplink: en0, nics: { vz: 192.168.64.1 } }
  vm: { kind: vm, egress: vpn-only, nics: { vz: 192.168.64.2, wg0: 10.99.0.2 } }
  vm2: { kind: vm, nics: { vz: 192.168.64.3 } }
  vpn: { kind: server, forward: true, nics: { internet: 203.0.113.1, wg0: 10.99.0.1 } }
  data: { kind: peer, via: wg0, address: 10.99.0.5, services: { http: tcp/80 } }
policy:
  - allow: { from: vm, to: internet, ports: tcp/443 }
  - allow: { from: vm, to: data.http }
  - allow: { from: vm2, to: internet, ports: tcp/443 }
  - allow: { from: vm, to: vm2, ports: tcp/22 }
  - allow: { from: vm, to: mac, ports: tcp/22 }
`;

describe('vpn-only and the tunnel server', () => {
  const ir = build(VPN);

  for (const assume of ['configured', 'compromised'] as const) {
    it(`${assume}: the vpn-only VM reaches what its rules allow through the tunnel, and nothing beside it`, () => {
      assert.equal(cell(ir, 'vm', 'internet', assume), 'tcp/443');
      assert.equal(cell(ir, 'vm', 'data', assume), 'tcp/80');
      assert.equal(cell(ir, 'vm', 'vm2', assume), '-', 'vm2 is outside the tunnel: a rule cannot open it');
      assert.equal(cell(ir, 'vm2', 'internet', assume), 'tcp/443', 'a filtered neighbour goes out directly');
    });

    it(`${assume}: the tunnel server lets in its WireGuard transport from the internet, and nothing else`, () => {
      assert.equal(cell(ir, 'internet', 'vpn', assume), 'udp/51820');
      assert.equal(cell(ir, 'data', 'vpn', assume), 'udp/51820');
      assert.equal(cell(ir, 'internet', 'vm', assume), '-');
    });
  }

  it("the VM's own kill switch drops what leaves outside the tunnel, even where a rule allows it; a compromised VM ignores it", () => {
    assert.equal(cell(ir, 'vm', 'mac'), '-');
    assert.equal(cell(ir, 'vm', 'mac', 'compromised'), 'tcp/22', "mac's input chain allows it: only the in-guest kill switch stood in the way");
  });

  it("configured: the VM's own kill switch lets only the tunnel's transport reach the server's endpoint", () => {
    assert.equal(cell(ir, 'vm', '203.0.113.1'), '-');
    assert.equal(cell(ir, 'vm', '203.0.113.1', 'compromised'), 'udp/51820');
  });
});

// Hand-written chains replace the compiled ones as written: their interfaces, addresses, ports and
// order are what the matrix shows.
const HAND = `
version: 1
networks:
  front: { cidr: 10.1.0.0/24, gateway: 10.1.0.1, egress: nat, bridge: vmbr-front }
  back: { cidr: 10.2.0.0/24, gateway: 10.2.0.1, egress: nat, bridge: vmbr-back }
hosts:
  hv: { kind: hypervisor, uplink: eth9, nics: { front: 10.1.0.1, back: 10.2.0.1 } }
  x: { kind: vm, id: 101, nics: { front: 10.1.0.10 } }
  y: { kind: vm, id: 102, nics: { back: 10.2.0.10 } }
  z: { kind: vm, id: 103, nics: { back: 10.2.0.11 } }
policy:
  - allow: { from: y, to: x }
firewalls:
  "hv:forward":
    policy: drop
    rules:
      - { action: accept, iif: vmbr-front, to: back, ports: tcp/80 }
      - { action: accept, oif: vmbr-front, ports: tcp/22 }
      - { action: drop, from: 10.2.0.11 }
      - { action: accept, to: internet, ports: udp/53 }
`;

describe('hand-written chains', () => {
  const ir = build(HAND);

  it('an accept bound to an input interface, a destination and a port opens exactly that', () => {
    assert.equal(cell(ir, 'x', 'y'), 'tcp/80');
    assert.equal(cell(ir, 'x', 'z'), 'tcp/80');
  });

  it('an accept bound to an output interface applies to traffic leaving by it only; the policy does not count', () => {
    assert.equal(cell(ir, 'y', 'x'), 'tcp/22');
    assert.equal(cell(ir, 'x', 'internet'), 'udp/53');
  });

  it("rules apply in order, and a drop by source holds for the real source but not for a forger's", () => {
    assert.equal(cell(ir, 'z', 'x'), 'tcp/22', 'the earlier accept wins');
    assert.equal(cell(ir, 'z', 'internet'), '-');
    assert.equal(cell(ir, 'y', 'internet'), 'udp/53');
    assert.equal(cell(ir, 'z', 'internet', 'compromised'), 'udp/53');
  });
});

// A tunnel server on the LAN of one of its members: who may knock on the WireGuard port.
const LOCAL_TUNNEL = (extra: string) => `
version: 1
networks:
  lan0: { cidr: 10.1.0.0/24, gateway: 10.1.0.1, egress: nat }
tunnels:
  wg0: { server: pve, listen: 51820, cidr: 10.8.0.0/24 }
hosts:
  pve: { kind: hypervisor, uplink: enp1s0, nics: { lan0: 10.1.0.1, wg0: 10.8.0.1 } }
  m: { kind: vm, id: 101, nics: { lan0: 10.1.0.10, wg0: 10.8.0.10 } }
  c: { kind: vm, id: 102, nics: { lan0: 10.1.0.11 } }
${extra}
`;

describe("the tunnel server's listen port", () => {
  it('a member on a shared network knocks from its own address; a non-member and the internet cannot', () => {
    const ir = build(LOCAL_TUNNEL(''));
    assert.equal(cell(ir, 'm', 'pve'), 'udp/51820');
    assert.equal(cell(ir, 'c', 'pve'), '-');
    assert.equal(cell(ir, 'internet', 'pve'), '-', 'no member comes from the internet, so the port stays closed to it');
    assert.equal(cell(ir, 'internet', 'pve', 'compromised'), '-');
  });

  it('a roaming peer opens the port to the internet, through the uplink', () => {
    const ir = build(LOCAL_TUNNEL('  r: { kind: peer, via: wg0, address: 10.8.0.20 }'));
    assert.equal(cell(ir, 'internet', 'pve'), 'udp/51820');
    assert.equal(cell(ir, 'm', 'pve'), 'udp/51820');
    assert.equal(cell(ir, 'c', 'pve'), '-');
  });
});

// Guests with a firewall of their own (in-guest chains, which count when the guest is trusted to
// run them: "configured"), and a hand-written chain on a guest that would otherwise have none.
const IN_GUEST = `
version: 1
networks:
  lan0: { cidr: 10.1.0.0/24, gateway: 10.1.0.1, egress: nat }
hosts:
  gw: { kind: router, uplink: eth9, nics: { lan0: 10.1.0.1 } }
  lf: { kind: vm, id: 101, egress: open, firewall: { local: true }, nics: { lan0: 10.1.0.10 } }
  lg: { kind: vm, id: 102, firewall: { local: true }, nics: { lan0: 10.1.0.11 } }
  c: { kind: vm, id: 103, nics: { lan0: 10.1.0.12 } }
policy:
  - allow: { from: lg, to: internet, ports: tcp/443 }
  - allow: { from: c, to: internet, ports: tcp/443 }
firewalls:
  "c:output": { policy: drop, rules: [ { action: accept, ports: udp/53 } ] }
`;

describe('in-guest firewalls', () => {
  const ir = build(IN_GUEST);

  it("a filtered guest's own output chain allows what its rules allow", () => {
    assert.equal(cell(ir, 'lg', 'internet'), 'tcp/443');
    assert.equal(cell(ir, 'lg', 'c'), '-');
  });

  it("an open guest's own output chain lets everything out", () => {
    assert.equal(cell(ir, 'lf', 'internet'), 'any');
    assert.equal(cell(ir, 'lf', 'c'), 'any');
  });

  it('a hand-written chain on a guest without a firewall of its own is placed, and counts as configured', () => {
    assert.equal(cell(ir, 'c', 'internet'), '-', "the router allows tcp/443, c's own chain only udp/53");
    assert.equal(cell(ir, 'c', 'internet', 'compromised'), 'any');
    assert.deepEqual(
      ir.diagnostics.filter((d) => d.code === Code.CHAIN_OFF_PATH).map((d) => d.message),
      [],
      'a placed hand-written chain is not reported as off-path',
    );
  });

  it('a trusted server with egress isolated sends nothing out, whatever a rule says', () => {
    assert.equal(cell(build(SERVER('isolated', 'policy:\n  - allow: { from: srv, to: internet, ports: tcp/443 }')), 'srv', 'internet'), '-');
  });
});
