/**
 * `cordon lint` (src/verify/lint.ts): findings that mutation testing showed no test pinned. Each
 * case asserts what the user reads (the codes, the line they point at, the words that matter), on
 * a spec built so that the weakened analysis says something else. See TESTING.md.
 *
 * The describe names start with "lint": the verify-lint mutation target runs test files with
 * --test-name-pattern=^lint (stryker.config.mjs).
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { Diagnostic } from '../../src/diag/diagnostic.js';
import { compile } from '../../src/ir/compile.js';
import { loadModelFromText } from '../../src/model/load.js';
import { lint } from '../../src/verify/lint.js';

function lintText(text: string, budget?: number): Diagnostic[] {
  const r = loadModelFromText(text, 'kills.yaml');
  assert.ok(r.model, r.diagnostics.map((d) => d.message).join('\n'));
  return lint(compile(r.model), { source: r.source, budget });
}

/** `CODE line` per finding, in output order: the shape of what lint says. */
function summary(ds: readonly Diagnostic[]): string[] {
  return ds.map((d) => `${d.code} ${d.line}`);
}

function show(ds: readonly Diagnostic[]): string {
  return ds.map((d) => `${d.code} ${d.line}: ${d.message}`).join('\n');
}

const BASE = `version: 1
networks:
  lan0: { cidr: 10.1.0.0/24, gateway: 10.1.0.1, egress: nat }
hosts:
  gw: { kind: hypervisor, uplink: eth9, nics: { lan0: 10.1.0.1 } }
  agent-1: { kind: vm, id: 101, nics: { lan0: 10.1.0.10 } }
  agent-2: { kind: vm, id: 102, nics: { lan0: 10.1.0.11 } }
  ollama: { kind: vm, id: 103, nics: { lan0: 10.1.0.20 }, services: { api: tcp/11434 } }
`;

describe('lint kills: rate limits', () => {
  // Line 10 is rate-limited: packets over the limit fall through to line 11, so line 11 is not
  // shadowed, and line 10 is not redundant (it limits). Line 13 repeats line 12 with a limit: dead.
  const ds = lintText(`${BASE}policy:
  - allow: { from: agent-1, to: ollama.api, rate: 10/second }
  - allow: { from: agent-1, to: ollama.api }
  - allow: { from: agent-2, to: ollama.api }
  - allow: { from: agent-2, to: ollama.api, rate: 5/second }
`);

  it('a rate-limited rule shadows nothing and is not redundant; a limit after an unlimited twin is dead', () => {
    assert.deepEqual(summary(ds), ['CORDON030 13'], show(ds));
    assert.match(ds[0]!.message, /^'allow agent-2 → ollama\.api' is redundant and never matches \(dead rule\): 'allow agent-2 → ollama\.api' \(line 12\)/);
  });
});

describe('lint kills: the work limit', () => {
  const spec = `${BASE}policy:
  - allow: { from: agent-1, to: ollama.api }
  - allow: { from: agent-1, to: ollama.api }
`;

  it('with room to work the duplicate is found dead', () => {
    assert.deepEqual(summary(lintText(spec)), ['CORDON030 11']);
  });

  it('past the limit lint says it could not decide, instead of calling the duplicate dead', () => {
    const ds = lintText(spec, 1);
    const undecided = ds.filter((d) => d.code === 'CORDON043');
    assert.ok(
      undecided.some((d) => d.line === 11 && d.severity === 'info' && d.message.includes("whether 'allow agent-1 → ollama.api' is shadowed in gw:forward")),
      show(ds),
    );
    assert.ok(!summary(ds).includes('CORDON030 11'), show(ds));
  });
});

describe('lint kills: tunnels that cannot come up', () => {
  // vm's hand-written kill switch forgets the tunnel's own transport; vm2 is a filtered guest whose
  // transport no rule allows through mac's forward chain. Both tunnels stay down.
  const TUNNEL = (firewall: string, policy = '') => `version: 1
networks:
  vmnet: { cidr: 192.168.64.0/24, gateway: 192.168.64.1, egress: nat }
tunnels:
  wg0: { server: vpn, cidr: 10.99.0.0/24 }
hosts:
  mac: { kind: hypervisor, uplink: en0, nics: { vmnet: 192.168.64.1 } }
  vm: { kind: vm, egress: vpn-only, nics: { vmnet: 192.168.64.2, wg0: 10.99.0.2 } }
  vm2: { kind: vm, nics: { vmnet: 192.168.64.3, wg0: 10.99.0.3 } }
  vpn: { kind: server, forward: true, nics: { internet: 203.0.113.1, wg0: 10.99.0.1 } }
policy:
  - allow: { from: vm, to: internet, ports: tcp/443 }
${policy}
${firewall}
`;

  it('names the tunnel, the member, the endpoint and where the transport is dropped', () => {
    const ds = lintText(TUNNEL('firewalls:\n  "vm:output": { policy: drop, rules: [ { action: accept, oif: lo }, { action: accept, oif: wg0 } ] }')).filter(
      (d) => d.code === 'CORDON036',
    );
    assert.deepEqual(
      ds.map((d) => [d.severity, d.line, d.message.replace(/ by .*/, '')]),
      [
        ['warning', 5, "tunnel 'wg0' cannot come up for vm: its UDP transport to 203.0.113.1:51820 is dropped at vm:output"],
        ['warning', 5, "tunnel 'wg0' cannot come up for vm2: its UDP transport to 203.0.113.1:51820 is dropped at mac:forward"],
      ],
    );
    assert.match(ds[0]!.hint ?? '', /allow udp\/51820 to 203\.0\.113\.1 out of vm's underlay interface/);
  });

  it("says nothing once cordon's own kill switch runs and vm2's transport is allowed", () => {
    const ds = lintText(TUNNEL('', '  - allow: { from: vm2, to: vpn, ports: udp/51820 }'));
    assert.deepEqual(
      ds.filter((d) => d.code === 'CORDON036').map((d) => d.message),
      [],
    );
  });
});

describe('lint kills: overlaps', () => {
  it('more than three earlier rules: three are named, the rest counted, and the hint says how to make it win', () => {
    const ds = lintText(`${BASE}policy:
  - deny: { from: agent-1, to: ollama, ports: tcp/1, log: true }
  - deny: { from: agent-1, to: ollama, ports: tcp/2, log: true }
  - deny: { from: agent-1, to: ollama, ports: tcp/3, log: true }
  - deny: { from: agent-1, to: ollama, ports: tcp/4, log: true }
  - allow: { from: agent-1, to: ollama, ports: tcp/1-10 }
  - allow: { from: agent-1, to: ollama.api }
`);
    assert.deepEqual(summary(ds), ['CORDON032 14'], show(ds));
    const m = ds[0]!.message;
    assert.match(m, /^'allow agent-1 → ollama tcp\/1-10' overlaps 4 earlier rules of the other verdict, which win where they overlap: /);
    assert.ok(m.includes("'deny agent-1 → ollama tcp/3' (line 12) denies tcp/3"), m);
    assert.ok(!m.includes('(line 13)'), `the fourth is counted, not named: ${m}`);
    assert.ok(m.endsWith('; and 1 more rules (gw:forward)'), m);
    assert.match(ds[0]!.hint ?? '', /move it above the earlier rules/);
  });

  it('a hand-written accept of replies (ct state established) is no overlap partner; a hand-written drop is', () => {
    const ds = lintText(`${BASE}policy:
  - allow: { from: agent-1, to: ollama.api }
firewalls:
  "gw:output":
    policy: drop
    rules:
      - { action: accept, state: established }
      - { action: drop, to: 10.1.0.10, ports: tcp/22 }
      - { action: accept, to: lan0 }
`);
    assert.deepEqual(summary(ds), ['CORDON032 17'], show(ds));
    assert.match(ds[0]!.message, /^'ACCEPT to lan0' and the earlier 'DROP to 10\.1\.0\.10 tcp\/22' \(line 16\) overlap on tcp\/22 to agent-1/);
  });

  it("an overlap with cordon's own plumbing only (an egress rule) carries no hint to move the rule", () => {
    const ds = lintText(`version: 1
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
`).filter((d) => d.code === 'CORDON032');
    assert.equal(ds.length, 1, show(ds));
    assert.ok(ds[0]!.message.includes("the earlier 'vm egress: vpn-only — everything else outside wg0 is dropped'"), ds[0]!.message);
    assert.equal(ds[0]!.hint, undefined);
  });
});

describe('lint kills: a rule that never applies', () => {
  it('is a warning with a hint saying why', () => {
    const ds = lintText(`version: 1
networks:
  lan0: { cidr: 10.1.0.0/24 }
hosts:
  agent-1: { kind: vm, nics: { lan0: 10.1.0.10 } }
  agent-2: { kind: vm, nics: { lan0: 10.1.0.11 } }
policy:
  - allow: { from: agent-1, to: agent-2, ports: tcp/443 }
`);
    assert.deepEqual(summary(ds), ['CORDON037 8'], show(ds));
    assert.equal(ds[0]!.severity, 'warning');
    assert.match(ds[0]!.hint ?? '', /compiles to nothing/);
  });
});
