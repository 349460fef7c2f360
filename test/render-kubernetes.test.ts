/**
 * kubernetes target: goldens for every example, byte-identical re-renders, and the documented
 * schemas — every NetworkPolicy is validated by the published model (kubernetes-models for
 * networking.k8s.io/v1), and every document by a strict check that it uses only the documented
 * fields, with the documented value types (the published validators accept unknown fields).
 * CiliumNetworkPolicy has no published model for Node 20 (@kubernetes-models/cilium needs Node
 * 22), so its strict check also covers the value types that model checked: ports as strings of
 * digits, endPort an integer, ICMP family and type. A small NetworkPolicy evaluator then checks that
 * the allow-only output admits exactly what cordon's first-match policy admits, and the
 * inexpressible cases come back as CORDON012 diagnostics.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { kubernetesRenderer } from '../src/render/kubernetes/index.js';
import type { RenderResult } from '../src/render/types.js';
import { cidrRange, parseCidr, parseIPv4 } from '../src/util/ip.js';
import { checkGolden, exampleFiles, exampleName, irOfFile, irOfText, render } from './support/golden.js';

type Obj = Record<string, unknown>;

/** Field names per object kind, from the API reference of each resource. */
const SELECTOR = ['matchLabels', 'matchExpressions'];
const NP_FIELDS: Record<string, string[]> = {
  doc: ['apiVersion', 'kind', 'metadata', 'spec'],
  metadata: ['name', 'namespace', 'labels', 'annotations'],
  spec: ['podSelector', 'policyTypes', 'ingress', 'egress'],
  ingress: ['from', 'ports'],
  egress: ['to', 'ports'],
  peer: ['podSelector', 'namespaceSelector', 'ipBlock'],
  ipBlock: ['cidr', 'except'],
  port: ['protocol', 'port', 'endPort'],
  selector: SELECTOR,
  expression: ['key', 'operator', 'values'],
};
const CNP_FIELDS: Record<string, string[]> = {
  doc: ['apiVersion', 'kind', 'metadata', 'spec'],
  metadata: ['name', 'namespace', 'labels', 'annotations'],
  spec: ['endpointSelector', 'enableDefaultDeny', 'ingress', 'ingressDeny', 'egress', 'egressDeny', 'description'],
  enableDefaultDeny: ['ingress', 'egress'],
  egress: ['toEndpoints', 'toEntities', 'toCIDRSet', 'toCIDR', 'toPorts', 'icmps'],
  ingress: ['fromEndpoints', 'fromEntities', 'fromCIDRSet', 'fromCIDR', 'toPorts', 'icmps'],
  cidrSet: ['cidr', 'except'],
  portRule: ['ports'],
  port: ['port', 'endPort', 'protocol'],
  icmp: ['fields'],
  icmpField: ['family', 'type'],
  selector: SELECTOR,
  expression: ['key', 'operator', 'values'],
};

function keysIn(o: unknown, allowed: string[] | undefined, where: string): Obj {
  assert.ok(o !== null && typeof o === 'object' && !Array.isArray(o), `${where}: expected a mapping`);
  for (const k of Object.keys(o)) assert.ok(allowed!.includes(k), `${where}: '${k}' is not a documented field (${allowed!.join(', ')})`);
  return o as Obj;
}

function list(o: unknown, where: string): unknown[] {
  assert.ok(Array.isArray(o), `${where}: expected a list`);
  return o;
}

function checkSelector(s: unknown, where: string, f: Record<string, string[]>): void {
  const sel = keysIn(s, f.selector, where);
  for (const [i, e] of ((sel.matchExpressions as unknown[] | undefined) ?? []).entries()) {
    const x = keysIn(e, f.expression, `${where}.matchExpressions[${i}]`);
    assert.ok(['In', 'NotIn', 'Exists', 'DoesNotExist'].includes(String(x.operator)), where);
  }
  for (const v of Object.values((sel.matchLabels as Obj | undefined) ?? {})) assert.equal(typeof v, 'string', `${where}: label values are strings`);
}

function strictNetworkPolicy(doc: unknown, where: string): void {
  const f = NP_FIELDS;
  const d = keysIn(doc, f.doc, where);
  assert.equal(d.apiVersion, 'networking.k8s.io/v1');
  assert.equal(d.kind, 'NetworkPolicy');
  keysIn(d.metadata, f.metadata, `${where}.metadata`);
  assert.match(String((d.metadata as Obj).name), /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
  const spec = keysIn(d.spec, f.spec, `${where}.spec`);
  checkSelector(spec.podSelector, `${where}.spec.podSelector`, f);
  assert.deepEqual(spec.policyTypes, ['Ingress', 'Egress'], 'default deny both ways');
  for (const dir of ['ingress', 'egress'] as const) {
    for (const [i, r] of list(spec[dir] ?? [], `${where}.${dir}`).entries()) {
      const rule = keysIn(r, f[dir], `${where}.${dir}[${i}]`);
      for (const [j, p] of list(rule[dir === 'ingress' ? 'from' : 'to'] ?? [], where).entries()) {
        const peer = keysIn(p, f.peer, `${where}.${dir}[${i}].peer[${j}]`);
        if (peer.ipBlock) {
          assert.equal(peer.podSelector ?? peer.namespaceSelector, undefined, 'ipBlock stands alone');
          const b = keysIn(peer.ipBlock, f.ipBlock, where);
          const c = parseCidr(String(b.cidr));
          assert.ok(c, `${where}: cidr ${String(b.cidr)}`);
          for (const x of (b.except as string[] | undefined) ?? []) {
            const e = parseCidr(x);
            assert.ok(
              e && cidrRange(e).lo >= cidrRange(c).lo && cidrRange(e).hi <= cidrRange(c).hi && e.len > c.len,
              `${where}: except ${x} must lie strictly inside ${String(b.cidr)}`,
            );
          }
        }
        if (peer.podSelector) checkSelector(peer.podSelector, where, f);
        if (peer.namespaceSelector) checkSelector(peer.namespaceSelector, where, f);
      }
      for (const p of list(rule.ports ?? [], where)) {
        const port = keysIn(p, f.port, where);
        assert.ok(['TCP', 'UDP', 'SCTP'].includes(String(port.protocol)), where);
        if (port.port !== undefined) assert.ok(Number.isInteger(port.port) && (port.port as number) >= 1 && (port.port as number) <= 65535, where);
        if (port.endPort !== undefined)
          assert.ok(port.port !== undefined && (port.endPort as number) > (port.port as number) && (port.endPort as number) <= 65535, where);
      }
    }
  }
}

function strictCiliumPolicy(doc: unknown, where: string): void {
  const f = CNP_FIELDS;
  const d = keysIn(doc, f.doc, where);
  assert.equal(d.apiVersion, 'cilium.io/v2');
  assert.equal(d.kind, 'CiliumNetworkPolicy');
  keysIn(d.metadata, f.metadata, `${where}.metadata`);
  const spec = keysIn(d.spec, f.spec, `${where}.spec`);
  checkSelector(spec.endpointSelector, where, f);
  assert.deepEqual(keysIn(spec.enableDefaultDeny, f.enableDefaultDeny, where), { ingress: true, egress: true });
  for (const sect of ['ingress', 'ingressDeny', 'egress', 'egressDeny'] as const) {
    const fields = sect.startsWith('ingress') ? f.ingress : f.egress;
    for (const [i, r] of list(spec[sect] ?? [], where).entries()) {
      const w = `${where}.${sect}[${i}]`;
      const rule = keysIn(r, fields, w);
      const l3 = Object.keys(rule).filter((k) => !['toPorts', 'icmps'].includes(k));
      assert.equal(l3.length, 1, `${w}: one kind of peer selector per rule (${l3.join(', ')})`);
      for (const k of l3) {
        const v = list(rule[k], w);
        if (k.endsWith('Endpoints')) v.forEach((s) => checkSelector(s, w, f));
        if (k.endsWith('Entities')) v.forEach((s) => assert.ok(['all', 'cluster', 'world', 'host'].includes(String(s)), w));
        if (k.endsWith('CIDRSet')) v.forEach((s) => assert.ok(parseCidr(String(keysIn(s, f.cidrSet, w).cidr)), w));
      }
      for (const pr of list(rule.toPorts ?? [], w)) {
        const ports = list(keysIn(pr, f.portRule, w).ports, w);
        assert.ok(ports.length >= 1 && ports.length <= 40, `${w}: 1–40 ports per port rule`);
        for (const p of ports) {
          const port = keysIn(p, f.port, w);
          assert.ok(['TCP', 'UDP'].includes(String(port.protocol)), w);
          if (port.port !== undefined) {
            assert.equal(typeof port.port, 'string', `${w}: Cilium ports are strings`);
            assert.match(port.port as string, /^\d{1,5}$/, `${w}: a port number`);
            assert.ok(Number(port.port) >= 0 && Number(port.port) <= 65535, `${w}: port in range`);
          }
          if (port.endPort !== undefined)
            assert.ok(Number.isInteger(port.endPort) && (port.endPort as number) > Number(port.port) && (port.endPort as number) <= 65535, `${w}: endPort`);
        }
      }
      for (const ic of list(rule.icmps ?? [], w)) {
        const fields = list(keysIn(ic, f.icmp, w).fields, w);
        assert.ok(fields.length >= 1 && fields.length <= 40, w);
        for (const x of fields) {
          const field = keysIn(x, f.icmpField, w);
          if (field.family !== undefined) assert.ok(field.family === 'IPv4' || field.family === 'IPv6', `${w}: ICMP family`);
          const t = field.type;
          assert.ok((Number.isInteger(t) && (t as number) >= 0 && (t as number) <= 255) || (typeof t === 'string' && /^[A-Za-z]+$/.test(t)), `${w}: ICMP type`);
        }
      }
    }
  }
}

function docs(r: RenderResult, file: string): Obj[] {
  const f = r.files.find((x) => x.path === `kubernetes/${file}`);
  assert.ok(f, `no kubernetes/${file}`);
  const all = parseAllDocuments(f.content);
  for (const d of all) assert.deepEqual(d.errors, []);
  return all.map((d) => d.toJS() as Obj).filter((d) => d !== null);
}

function validateAll(r: RenderResult): void {
  for (const [i, d] of docs(r, 'networkpolicies.yaml').entries()) {
    new NetworkPolicy(d).validate();
    strictNetworkPolicy(d, `networkpolicies.yaml#${i}`);
  }
  for (const [i, d] of docs(r, 'ciliumnetworkpolicies.yaml').entries()) {
    strictCiliumPolicy(d, `ciliumnetworkpolicies.yaml#${i}`);
  }
}

describe('kubernetes target: examples', () => {
  for (const file of exampleFiles()) {
    const name = exampleName(file);
    it(`${name}: matches the golden files, renders identically twice, fits the published schemas`, (t) => {
      const ir = irOfFile(file);
      if (!ir) return t.skip(`${name} does not resolve`);
      const a = render(kubernetesRenderer, ir);
      assert.deepEqual(a, render(kubernetesRenderer, irOfFile(file)!));
      assert.ok(!a.diagnostics.some((d) => d.severity === 'error'), a.diagnostics.map((d) => d.message).join('\n'));
      assert.equal(docs(a, 'networkpolicies.yaml').length, ir.model.hosts.size);
      assert.equal(docs(a, 'ciliumnetworkpolicies.yaml').length, ir.model.hosts.size);
      validateAll(a);
      checkGolden(name, 'kubernetes', a);
    });
  }
});

// ---- a NetworkPolicy evaluator, enough for the policies cordon writes ----

interface Pod {
  name: string;
  labels: Record<string, string>;
}

function selects(sel: Obj | undefined, labels: Record<string, string>): boolean {
  if (!sel) return true;
  for (const [k, v] of Object.entries((sel.matchLabels as Record<string, string> | undefined) ?? {})) if (labels[k] !== v) return false;
  for (const e of (sel.matchExpressions as { key: string; operator: string; values: string[] }[] | undefined) ?? []) {
    const has = e.key in labels;
    if (e.operator === 'In' && !(has && e.values.includes(labels[e.key]!))) return false;
    if (e.operator === 'NotIn' && has && e.values.includes(labels[e.key]!)) return false;
  }
  return true;
}

/** A peer: a pod (by labels) or an address outside the cluster. */
type Peer = { pod: Pod } | { ip: number };

function peerMatches(peers: Obj[] | undefined, p: Peer): boolean {
  if (!peers) return true;
  return peers.some((x) => {
    if (x.ipBlock) {
      if (!('ip' in p)) return false;
      const b = x.ipBlock as { cidr: string; except?: string[] };
      const inside = (c: string): boolean => {
        const r = cidrRange(parseCidr(c)!);
        return p.ip >= r.lo && p.ip <= r.hi;
      };
      return inside(b.cidr) && !(b.except ?? []).some(inside);
    }
    if (!('pod' in p)) return false;
    return selects(x.podSelector as Obj | undefined, p.pod.labels);
  });
}

function portMatches(ports: Obj[] | undefined, proto: string, port: number | undefined): boolean {
  if (!ports) return true;
  if (port === undefined) return false;
  return ports.some(
    (x) =>
      x.protocol === proto.toUpperCase() &&
      (x.port === undefined || (port >= (x.port as number) && port <= ((x.endPort as number | undefined) ?? (x.port as number)))),
  );
}

function allowedBy(policies: Obj[], subject: Pod, dir: 'ingress' | 'egress', other: Peer, proto: string, port: number | undefined): boolean {
  const mine = policies.filter((p) => selects((p.spec as Obj).podSelector as Obj, subject.labels));
  assert.ok(mine.length > 0);
  return mine.some((p) =>
    (((p.spec as Obj)[dir] as Obj[] | undefined) ?? []).some(
      (r) => peerMatches(r[dir === 'ingress' ? 'from' : 'to'] as Obj[] | undefined, other) && portMatches(r.ports as Obj[] | undefined, proto, port),
    ),
  );
}

describe('kubernetes target: first-match semantics in allow-only NetworkPolicy', () => {
  const SPEC = `version: 1
networks:
  lan0: { cidr: 10.1.0.0/24, gateway: 10.1.0.1, egress: nat }
hosts:
  gw: { kind: hypervisor, uplink: eth9, egress: filtered, nics: { lan0: 10.1.0.1 } }
  agent-1: { kind: vm, nics: { lan0: 10.1.0.10 } }
  agent-2: { kind: vm, nics: { lan0: 10.1.0.11 } }
  ollama: { kind: vm, nics: { lan0: 10.1.0.20 }, services: { api: tcp/11434 } }
  vault: { kind: vm, nics: { lan0: 10.1.0.30 }, services: { api: tcp/8200 } }
groups:
  agents: [agent-1, agent-2]
policy:
  - deny: { from: agents, to: 203.0.113.0/24, comment: a hostile range }
  - deny: { from: agent-2, to: ollama, ports: tcp/11434 }
  - deny: { from: agents, to: internet, ports: tcp/25 }
  - allow: { from: agents, to: [ollama, vault.api], ports: [tcp/11434, tcp/8200] }
  - allow: { from: agents, to: internet, ports: [tcp/1-1024] }
  - allow: { from: ollama, to: agents, ports: tcp/8080 }
`;

  it('admits exactly what the spec admits, for every pod pair and a set of outside addresses', () => {
    const ir = irOfText(SPEC);
    const r = render(kubernetesRenderer, ir);
    validateAll(r);
    assert.deepEqual(
      r.diagnostics.filter((d) => d.severity !== 'info'),
      [],
    );
    const nps = docs(r, 'networkpolicies.yaml');
    const pods: Pod[] = [...ir.model.hosts.keys()].map((h) => ({
      name: h,
      labels: { 'cordon.dev/host': h, ...(h.startsWith('agent') ? { 'cordon.dev/group-agents': 'true' } : {}) },
    }));
    const podOf = (n: string): Pod => pods.find((p) => p.name === n)!;
    const flows: [string, number][] = [
      ['tcp', 25],
      ['tcp', 80],
      ['tcp', 443],
      ['tcp', 8080],
      ['tcp', 8200],
      ['tcp', 11434],
      ['udp', 53],
    ];
    // What cordon means, written out from the policy above (first match wins, default deny).
    const want = (src: string, dst: string | number, proto: string, port: number): boolean => {
      const agent = src === 'agent-1' || src === 'agent-2';
      if (typeof dst === 'number') {
        if (!agent || proto !== 'tcp') return false;
        if (dst >= parseIPv4('203.0.113.0')! && dst <= parseIPv4('203.0.113.255')!) return false;
        if (port === 25) return false;
        return port <= 1024;
      }
      if (agent && dst === 'ollama' && src === 'agent-2' && port === 11434) return false;
      if (agent && dst === 'ollama') return proto === 'tcp' && (port === 11434 || port === 8200);
      if (agent && dst === 'vault') return proto === 'tcp' && port === 8200;
      if (src === 'ollama' && (dst === 'agent-1' || dst === 'agent-2')) return proto === 'tcp' && port === 8080;
      return false;
    };
    for (const a of pods) {
      for (const b of pods) {
        if (a === b) continue;
        for (const [proto, port] of flows) {
          const got = allowedBy(nps, a, 'egress', { pod: b }, proto, port) && allowedBy(nps, b, 'ingress', { pod: a }, proto, port);
          assert.equal(got, want(a.name, b.name, proto, port), `${a.name} → ${b.name} ${proto}/${port}`);
        }
      }
      for (const ip of ['203.0.113.9', '198.51.100.7', '8.8.8.8', '192.168.1.5']) {
        for (const [proto, port] of flows) {
          const got = allowedBy(nps, a, 'egress', { ip: parseIPv4(ip)! }, proto, port);
          const expected = ip === '192.168.1.5' ? false : want(a.name, parseIPv4(ip)!, proto, port);
          assert.equal(got, expected, `${a.name} → ${ip} ${proto}/${port}`);
        }
      }
    }
    // The hostile range is cut out of the agents' internet allow with ipBlock except.
    void podOf;
    const agent2 = nps.find((d) => (d.metadata as Obj).name === 'cordon-agent-2')!;
    assert.match(JSON.stringify(agent2), /"except":\[[^\]]*"203\.0\.113\.0\/24"/);
  });

  it('uses group labels where a whole group is meant, and lists the labels pods need', () => {
    const r = render(kubernetesRenderer, irOfText(SPEC));
    const text = r.files[0]!.content;
    assert.match(text, /^# {3}agent-1: cordon\.dev\/host=agent-1, cordon\.dev\/group-agents=true$/m);
    const vault = docs(r, 'networkpolicies.yaml').find((d) => (d.metadata as Obj).name === 'cordon-vault')!;
    assert.deepEqual((vault.spec as Obj).ingress, [
      { from: [{ podSelector: { matchLabels: { 'cordon.dev/group-agents': 'true' } } }], ports: [{ protocol: 'TCP', port: 8200 }] },
    ]);
    // Where the deny of agent-2 → ollama splits the group, each agent is named on its own.
    const ollama = docs(r, 'networkpolicies.yaml').find((d) => (d.metadata as Obj).name === 'cordon-ollama')!;
    assert.deepEqual(
      ((ollama.spec as Obj).ingress as Obj[]).map((x) => x.from),
      [[{ podSelector: { matchLabels: { 'cordon.dev/host': 'agent-1' } } }], [{ podSelector: { matchLabels: { 'cordon.dev/host': 'agent-2' } } }]],
    );
  });
});

describe('kubernetes target: what NetworkPolicy cannot say', () => {
  const SPEC = `version: 1
networks:
  lan0: { cidr: 10.1.0.0/24, gateway: 10.1.0.1, egress: nat }
hosts:
  gw: { kind: hypervisor, uplink: eth9, nics: { lan0: 10.1.0.1 } }
  agent: { kind: vm, nics: { lan0: 10.1.0.10 } }
  llm: { kind: vm, nics: { lan0: 10.1.0.20 } }
policy:
  - deny: { from: agent, to: llm, ports: tcp/22, comment: no SSH into the model server }
  - allow: { from: agent, to: llm }
  - allow: { from: agent, to: internet, ports: [tcp/443, icmp], rate: 10/minute }
`;

  it('an earlier deny that leaves ICMP in the remainder → CORDON012 naming the deny and the Cilium output', () => {
    const r = render(kubernetesRenderer, irOfText(SPEC));
    validateAll(r);
    const d = r.diagnostics.find((x) => x.code === 'CORDON012' && /deny agent → llm tcp\/22" cannot be expressed in NetworkPolicy/.test(x.message));
    assert.ok(d, r.diagnostics.map((x) => x.message).join('\n'));
    assert.equal(d.severity, 'warning');
    assert.match(d.hint ?? '', /ciliumnetworkpolicies\.yaml.*egressDeny\/ingressDeny/);
    assert.ok(d.line > 0, 'points at the deny in the spec');
    // NetworkPolicy keeps every TCP and UDP port but 22, and drops ICMP/other (stricter than the spec).
    const agent = docs(r, 'networkpolicies.yaml').find((x) => (x.metadata as Obj).name === 'cordon-agent')!;
    const toLlm = ((agent.spec as Obj).egress as Obj[])[0]!;
    assert.deepEqual(toLlm.ports, [{ protocol: 'TCP', port: 1, endPort: 21 }, { protocol: 'TCP', port: 23, endPort: 65535 }, { protocol: 'UDP' }]);
    // Cilium says it exactly: the allow as written plus a deny on tcp/22.
    const cagent = docs(r, 'ciliumnetworkpolicies.yaml').find((x) => (x.metadata as Obj).name === 'cordon-agent')!;
    assert.deepEqual((cagent.spec as Obj).egressDeny, [
      { toEndpoints: [{ matchLabels: { 'cordon.dev/host': 'llm' } }], toPorts: [{ ports: [{ port: '22', protocol: 'TCP' }] }] },
    ]);
    assert.deepEqual(((cagent.spec as Obj).egress as Obj[])[0], { toEndpoints: [{ matchLabels: { 'cordon.dev/host': 'llm' } }] });
  });

  it('ICMP in an allow and a rate limit → CORDON012 warnings; Cilium keeps the ICMP as icmps', () => {
    const r = render(kubernetesRenderer, irOfText(SPEC));
    assert.ok(r.diagnostics.some((x) => x.code === 'CORDON012' && /allows ICMP, which NetworkPolicy cannot express/.test(x.message)));
    assert.ok(r.diagnostics.some((x) => x.code === 'CORDON012' && /no rate limits/.test(x.message)));
    const cagent = docs(r, 'ciliumnetworkpolicies.yaml').find((x) => (x.metadata as Obj).name === 'cordon-agent')!;
    assert.match(JSON.stringify((cagent.spec as Obj).egress), /"icmps":\[\{"fields":\[\{"family":"IPv4","type":8\}\]\}\]/);
  });

  it('vpn-only hosts get no egress at all, with a warning', () => {
    const spec = `version: 1
networks:
  nat: { cidr: 192.168.64.0/24, gateway: 192.168.64.1, egress: nat }
tunnels:
  wg0: { server: vpn, cidr: 10.99.0.0/24 }
hosts:
  vpn: { kind: server, nics: { internet: 203.0.113.1, wg0: 10.99.0.1 } }
  mac: { kind: hypervisor, uplink: en0, nics: { nat: 192.168.64.1 } }
  vm: { kind: vm, egress: vpn-only, nics: { nat: 192.168.64.2, wg0: 10.99.0.2 } }
policy:
  - allow: { from: vm, to: internet, ports: tcp/443 }
`;
    const r = render(kubernetesRenderer, irOfText(spec));
    validateAll(r);
    assert.ok(r.diagnostics.some((x) => x.code === 'CORDON012' && /vpn-only/.test(x.message)));
    const vm = docs(r, 'networkpolicies.yaml').find((x) => (x.metadata as Obj).name === 'cordon-vm')!;
    assert.equal((vm.spec as Obj).egress, undefined);
  });

  it("--host renders one host's policies, and an unknown host is an error", () => {
    const ir = irOfText(SPEC);
    const one = render(kubernetesRenderer, ir, {}, 'agent');
    assert.equal(docs(one, 'networkpolicies.yaml').length, 1);
    const bad = render(kubernetesRenderer, ir, {}, 'nope');
    assert.equal(bad.files.length, 0);
    assert.ok(bad.diagnostics.some((d) => d.severity === 'error' && d.code === 'CORDON004'));
  });
});
