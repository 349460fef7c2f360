/** Invariants judged with guests compromised: each one fails on a spec built to break it. */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { compile } from '../src/ir/compile.js';
import { loadModelFromText } from '../src/model/load.js';
import { runChecks } from '../src/verify/checks.js';

function checks(text: string) {
  const r = loadModelFromText(text, 'inv.yaml');
  assert.ok(r.model, r.diagnostics.map((d) => d.message).join('\n'));
  return runChecks(compile(r.model));
}

const DUAL = (forward: string) => `
version: 1
networks:
  wan: { cidr: 10.0.0.0/24, gateway: 10.0.0.1, egress: nat }
  llm: { cidr: 192.168.100.0/24, egress: none }
hosts:
  hv: { kind: hypervisor, uplink: enp1s0, nics: { wan: 10.0.0.1, llm: 192.168.100.1 } }
  agent: { kind: vm, id: 101, nics: { wan: 10.0.0.10, llm: 192.168.100.10 } }
policy:
  - allow: { from: agent, to: internet, ports: tcp/443 }
${forward}
`;

describe('no-internet through an isolated leg', () => {
  it('holds when cordon compiles the forward path: egress none is enforced per network', () => {
    const r = checks(DUAL(''));
    const c = r.find((x) => x.name === 'no-internet: agent via llm');
    assert.ok(c, 'the check exists for a dual-homed guest');
    assert.equal(c.ok, true, c.message);
  });

  it('fails when the forward path is hand-written to accept everything', () => {
    const r = checks(DUAL('firewalls:\n  "hv:forward": { policy: accept }'));
    const c = r.find((x) => x.name === 'no-internet: agent via llm')!;
    assert.equal(c.ok, false);
    assert.match(c.message, /through its leg on llm \(egress: none\)/);
    assert.ok(c.witness?.path?.chain.startsWith('agent → llm → hv'), c.witness?.path?.chain);
  });
});

describe('vpn-only', () => {
  const SPEC = (killswitch: string) => `
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
  it("holds with cordon's own kill switch and host-side rules", () => {
    const c = checks(SPEC('')).find((x) => x.name === 'vpn-only: vm')!;
    assert.equal(c.ok, true, c.message);
  });
  it('reports a tunnel that cannot come up when the kill switch forgets the transport', () => {
    const c = checks(SPEC('firewalls:\n  "vm:output": { policy: drop, rules: [ { action: accept, oif: lo }, { action: accept, oif: wg0 } ] }')).find(
      (x) => x.name === 'vpn-only: vm',
    )!;
    assert.equal(c.ok, false);
    assert.match(c.message, /cannot come up/);
  });
});
