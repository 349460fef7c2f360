/**
 * The spec schema and its resolution, table-driven: small inline documents, each either accepted
 * or refused with exactly the listed error codes at the listed JSON paths.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { loadModelFromText } from '../src/model/load.js';
import { parseSpecText } from '../src/spec/parse.js';

/** A valid base: one hypervisor bridging one network with two guests. */
const BASE = `version: 1
networks:
  n1: { cidr: 192.168.10.0/24, gateway: 192.168.10.1, egress: nat }
hosts:
  hv: { kind: hypervisor, uplink: eth0, nics: { n1: 192.168.10.1 } }
  a: { kind: vm, id: 101, nics: { n1: 192.168.10.11 }, services: { api: tcp/8080 } }
  b: { kind: vm, id: 102, nics: { n1: 192.168.10.12 } }
`;

type Want = 'ok' | readonly (readonly [code: string, path: string])[];

const TABLE: readonly (readonly [name: string, doc: string, want: Want])[] = [
  // accepted
  ['the smallest spec', 'version: 1\n', 'ok'],
  ['the base spec', BASE, 'ok'],
  [
    'a policy with every port form',
    `${BASE}policy:\n  - allow: { from: a, to: b, ports: [22, tcp/80,443, udp/5000-5010, icmp] }\n  - allow: { from: b, to: a.api }\n  - deny: { from: n1, to: any, ports: any, log: true, rate: 10/minute, comment: rest }\n`,
    'ok',
  ],
  [
    'a nic spelled out with ifname and port',
    `version: 1\nnetworks:\n  n1: { cidr: 10.1.0.0/24 }\nhosts:\n  hv: { kind: hypervisor, nics: { n1: 10.1.0.1 } }\n  g: { kind: vm, nics: { n1: { address: 10.1.0.5, ifname: ens18, port: tapg0 } } }\n`,
    'ok',
  ],
  [
    'nested groups and a CIDR literal',
    `${BASE}groups:\n  guests: [a, b]\n  all: [guests, hv]\npolicy:\n  - allow: { from: all, to: [internet, 198.51.100.0/24] }\n`,
    'ok',
  ],
  [
    'expectations and invariants',
    `${BASE.replace('nics: { n1: 192.168.10.12 } }', 'nics: { n1: 192.168.10.12 }, services: { ssh: tcp/22 } }')}policy:\n  - allow: { from: a, to: b.ssh }\nexpect:\n  - { from: a, to: b, ports: tcp/22, verdict: allow }\n  - { from: b, to: internet, verdict: deny, assume: both }\ninvariants: { no-vm-to-vm: false }\n`,
    'ok',
  ],
  [
    'a WireGuard peer with via and address',
    `${BASE.replace('nics: { n1: 192.168.10.1 }', 'nics: { n1: 192.168.10.1, wg0: 10.8.0.1 }')}  peer1: { kind: peer, via: wg0, address: 10.8.0.2 }\ntunnels:\n  wg0: { server: hv, listen: 51820, cidr: 10.8.0.0/24 }\n`,
    'ok',
  ],
  [
    'a host with no default route and a static route',
    `${BASE}`.replace(
      'b: { kind: vm, id: 102, nics: { n1: 192.168.10.12 } }',
      'b: { kind: vm, id: 102, gateway: false, routes: [{ to: 10.99.0.0/16, via: 192.168.10.1 }], nics: { n1: 192.168.10.12 } }',
    ),
    'ok',
  ],
  ['a hand-written chain', `${BASE}firewalls:\n  hv:input: { policy: drop, rules: [ { action: accept, ports: tcp/22, iif: eth0, state: new } ] }\n`, 'ok'],
  ['a network named lan (the one built-in that may be declared)', 'version: 1\nnetworks:\n  lan: { cidr: 192.168.1.0/24 }\n', 'ok'],
  ['a server on the internet at a TEST-NET address', 'version: 1\nhosts:\n  web: { kind: server, nics: { internet: 203.0.113.10 } }\n', 'ok'],

  // refused by the schema
  ['an unsupported version', 'version: 2\n', [['CORDON013', 'version']]],
  ['the version quoted', 'version: "1"\n', [['CORDON013', 'version']]],
  ['no version', 'networks: {}\n', [['CORDON003', 'version']]],
  ['a list at the top', '- version: 1\n', [['CORDON003', '']]],
  ['an unknown top-level field', 'version: 1\nhostss: {}\n', [['CORDON003', 'hostss']]],
  [
    'two unknown fields in one mapping',
    'version: 1\nnetworks:\n  n1: { cidr: 10.0.0.0/24, gw: 10.0.0.1, egres: nat }\n',
    [
      ['CORDON003', 'networks.n1.gw'],
      ['CORDON003', 'networks.n1.egres'],
    ],
  ],
  ['a host without kind', 'version: 1\nhosts:\n  a: { nics: {} }\n', [['CORDON003', 'hosts.a.kind']]],
  ['an unknown host kind', 'version: 1\nhosts:\n  a: { kind: vps }\n', [['CORDON003', 'hosts.a.kind']]],
  ['egress: nat on a host', 'version: 1\nhosts:\n  a: { kind: vm, egress: nat }\n', [['CORDON003', 'hosts.a.egress']]],
  ['an id that is not a whole number', 'version: 1\nhosts:\n  a: { kind: vm, id: 1.5 }\n', [['CORDON003', 'hosts.a.id']]],
  ['a service name that is not a name', 'version: 1\nhosts:\n  a: { kind: vm, services: { 1api: tcp/80 } }\n', [['CORDON003', 'hosts.a.services.1api']]],
  ['a rule without from', `${BASE}policy:\n  - allow: { to: a }\n`, [['CORDON003', 'policy[0].allow.from']]],
  ['a rule with an unknown action', `${BASE}policy:\n  - permit: { from: a, to: b }\n`, [['CORDON003', 'policy[0].permit']]],
  ['a rule with both actions', `${BASE}policy:\n  - { allow: { from: a, to: b }, deny: { from: b, to: a } }\n`, [['CORDON003', 'policy[0]']]],
  ['an empty from list', `${BASE}policy:\n  - allow: { from: [], to: a }\n`, [['CORDON003', 'policy[0].allow.from']]],
  ['a malformed rate', `${BASE}policy:\n  - allow: { from: a, to: b, rate: fast }\n`, [['CORDON003', 'policy[0].allow.rate']]],
  [
    'a port item that is a mapping',
    `${BASE}policy:\n  - allow: { from: a, to: b, ports: [tcp/80, { tcp: 81 }] }\n`,
    [['CORDON003', 'policy[0].allow.ports[1]']],
  ],
  ['a listen port out of range', 'version: 1\ntunnels:\n  wg0: { server: hv, cidr: 10.8.0.0/24, listen: 70000 }\n', [['CORDON003', 'tunnels.wg0.listen']]],
  ['a bad verdict', `${BASE}expect:\n  - { from: a, to: b, verdict: allowed }\n`, [['CORDON003', 'expect[0].verdict']]],

  // refused when names and addresses are resolved
  ['an unknown host in a rule', `${BASE}policy:\n  - allow: { from: a, to: c }\n`, [['CORDON004', 'policy[0].allow.to']]],
  ['an unknown service', `${BASE}policy:\n  - allow: { from: b, to: a.web }\n`, [['CORDON004', 'policy[0].allow.to']]],
  ['a nic on an unknown network', 'version: 1\nhosts:\n  a: { kind: vm, nics: { n9: 10.0.0.5 } }\n', [['CORDON004', 'hosts.a.nics.n9']]],
  ['an unknown tunnel server', 'version: 1\ntunnels:\n  wg0: { server: nobody, cidr: 10.8.0.0/24 }\n', [['CORDON004', 'tunnels.wg0.server']]],
  ['an address outside its network', BASE.replace('192.168.10.12', '192.168.11.12'), [['CORDON005', 'hosts.b.nics.n1']]],
  ['the network address itself', BASE.replace('192.168.10.12', '192.168.10.0'), [['CORDON005', 'hosts.b.nics.n1']]],
  ['a gateway outside its network', BASE.replace('gateway: 192.168.10.1', 'gateway: 192.168.20.1'), [['CORDON005', 'networks.n1.gateway']]],
  [
    'a private address on the internet',
    'version: 1\nhosts:\n  web: { kind: server, nics: { internet: 10.0.0.1 } }\n',
    [['CORDON005', 'hosts.web.nics.internet']],
  ],
  ['a duplicate address', BASE.replace('192.168.10.12', '192.168.10.11'), [['CORDON006', 'hosts.b.nics.n1']]],
  ['overlapping networks', 'version: 1\nnetworks:\n  n1: { cidr: 10.0.0.0/16 }\n  n2: { cidr: 10.0.5.0/24 }\n', [['CORDON007', 'networks.n2.cidr']]],
  [
    'a tunnel overlapping a network',
    'version: 1\nnetworks:\n  n1: { cidr: 10.0.0.0/24 }\ntunnels:\n  wg0: { server: hv, cidr: 10.0.0.0/24 }\nhosts:\n  hv: { kind: hypervisor, nics: { n1: 10.0.0.1 } }\n',
    [
      ['CORDON007', 'tunnels.wg0.cidr'],
      ['CORDON014', 'tunnels.wg0.server'],
    ],
  ],
  ['a port out of range', `${BASE}policy:\n  - allow: { from: a, to: b, ports: tcp/70000 }\n`, [['CORDON008', 'policy[0].allow.ports']]],
  ['a reversed port range', `${BASE}policy:\n  - allow: { from: a, to: b, ports: [udp/10-5] }\n`, [['CORDON008', 'policy[0].allow.ports[0]']]],
  ['a group cycle', `${BASE}groups:\n  g1: [a, g2]\n  g2: [g1]\n`, [['CORDON009', 'groups.g1']]],
  ['a CIDR with host bits', 'version: 1\nnetworks:\n  n1: { cidr: 10.0.0.1/24 }\n', [['CORDON010', 'networks.n1.cidr']]],
  ['a CIDR literal with host bits in a rule', `${BASE}policy:\n  - allow: { from: a, to: 198.51.100.7/24 }\n`, [['CORDON010', 'policy[0].allow.to']]],
  ['a built-in declared as a host', 'version: 1\nhosts:\n  internet: { kind: server }\n', [['CORDON011', 'hosts.internet']]],
  ['one name for a network and a host', 'version: 1\nnetworks:\n  x: { cidr: 10.0.0.0/24 }\nhosts:\n  x: { kind: server }\n', [['CORDON011', 'hosts.x']]],
  ['an IPv6 address', BASE.replace('192.168.10.12', '"fd00::12"'), [['CORDON038', 'hosts.b.nics.n1']]],
  [
    'a peer with via and no address',
    `${BASE}tunnels:\n  wg0: { server: hv, cidr: 10.8.0.0/24 }\n`
      .replace('nics: { n1: 192.168.10.1 }', 'nics: { n1: 192.168.10.1, wg0: 10.8.0.1 }')
      .replace('  b: {', '  p: { kind: peer, via: wg0 }\n  b: {'),
    [['CORDON014', 'hosts.p.via']],
  ],
  ['vpn-only on no tunnel', BASE.replace('b: { kind: vm, id: 102,', 'b: { kind: vm, id: 102, egress: vpn-only,'), [['CORDON014', 'hosts.b.egress']]],
  ['an expectation about a group', `${BASE}groups:\n  g: [a, b]\nexpect:\n  - { from: g, to: internet, verdict: deny }\n`, [['CORDON015', 'expect[0]']]],
  [
    'a per-guest firewall where no hypervisor bridges the guest',
    'version: 1\nnetworks:\n  n1: { cidr: 10.0.0.0/24 }\nhosts:\n  a: { kind: vm, nics: { n1: 10.0.0.5 }, firewall: { guest: true } }\n',
    [['CORDON016', 'hosts.a.firewall.guest']],
  ],
  [
    'a bridge name over 15 characters',
    'version: 1\nnetworks:\n  a-very-long-network: { cidr: 10.0.0.0/24 }\n',
    [['CORDON017', 'networks.a-very-long-network']],
  ],
  ['an unknown enforcement point', `${BASE}firewalls:\n  hv:forwrd: { policy: drop }\n`, [['CORDON003', 'firewalls.hv:forwrd']]],
];

function errorsOf(doc: string): [string, string][] {
  const r = loadModelFromText(doc, 'inline.yaml');
  return r.diagnostics.filter((d) => d.severity === 'error').map((d) => [d.code, d.path]);
}

describe('spec accept/reject table', () => {
  it('has at least 20 cases of each kind', () => {
    assert.ok(TABLE.filter(([, , w]) => w === 'ok').length >= 10);
    assert.ok(TABLE.filter(([, , w]) => w !== 'ok').length >= 20);
  });

  for (const [name, doc, want] of TABLE) {
    it(`${want === 'ok' ? 'accepts' : 'refuses'} ${name}`, () => {
      const got = errorsOf(doc);
      if (want === 'ok') {
        assert.deepEqual(got, []);
        assert.ok(loadModelFromText(doc, 'inline.yaml').model);
      } else {
        assert.deepEqual(
          got,
          want.map(([c, p]) => [c, p]),
        );
      }
    });
  }

  it('every refusal carries a position in the document', () => {
    for (const [name, doc, want] of TABLE) {
      if (want === 'ok') continue;
      for (const d of loadModelFromText(doc, 'inline.yaml').diagnostics) {
        assert.ok(d.line >= 1 && d.col >= 1, `${name}: ${d.code} ${d.message} has no position`);
        assert.equal(d.file, 'inline.yaml');
      }
    }
  });

  it('YAML syntax errors are CORDON002 with a position, and stop before the schema', () => {
    const r = parseSpecText('version: 1\nhosts: { a: [1, 2 }\n', 'inline.yaml');
    assert.equal(r.ok, false);
    assert.ok(r.diagnostics.length >= 1);
    for (const d of r.diagnostics) assert.equal(d.code, 'CORDON002');
    assert.ok(r.diagnostics[0]!.line >= 1);
  });
});
