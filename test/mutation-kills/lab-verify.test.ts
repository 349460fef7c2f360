/**
 * The pure parts of `cordon lab verify` (src/lab/verify.ts) without a live lab: which flows are
 * probed and which lab addresses stand for a destination. The live comparison is tested by
 * test/lab.test.ts (root, namespaces); these tests exist so that mutation testing can reach the
 * probe choice, which no fast test exercised (a wrong probe list makes live = static vacuous).
 */
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { compile } from '../../src/ir/compile.js';
import { placeholderKeys } from '../../src/lab/keys.js';
import { planLab } from '../../src/lab/plan.js';
import { destAddresses, probeFlows, verifyToJson, type VerifyResult } from '../../src/lab/verify.js';
import { loadModel, loadModelFromText } from '../../src/model/load.js';
import { formatFlow } from '../../src/util/flows.js';
import { formatIPv4, parseIPv4 } from '../../src/util/ip.js';
import { Engine } from '../../src/verify/engine.js';

function model(text: string) {
  const r = loadModelFromText(text, 'lab-verify.yaml');
  assert.ok(r.model, r.diagnostics.map((d) => d.message).join('\n'));
  return r.model;
}

const BASE = `version: 1
networks:
  lan: { cidr: 10.0.0.0/24, gateway: 10.0.0.1, egress: nat }
hosts:
  gw: { kind: router, nics: { lan: 10.0.0.1 } }
  web: { kind: server, nics: { lan: 10.0.0.10 }, services: { http: tcp/8080-8090 } }
  vm: { kind: vm, nics: { lan: 10.0.0.20 } }
`;

describe('probeFlows: the ports a live verify probes', () => {
  it('both ends of every named range, services and expectations included, one closed port, icmp last', () => {
    const m = model(`${BASE}policy:
  - allow: { from: vm, to: web, ports: [tcp/22, udp/5000-5002] }
expect:
  - { from: vm, to: web, ports: tcp/9, verdict: deny }
`);
    assert.deepEqual(probeFlows(m).map(formatFlow), [
      // tcp/9 is named, so the closed port moves on to 10; 8080-8090 gives both ends.
      'tcp/9',
      'tcp/10',
      'tcp/22',
      'tcp/8080',
      'tcp/8090',
      'udp/9',
      'udp/5000',
      'udp/5002',
      'icmp',
    ]);
  });

  it('a range of every port adds no probe of its own; a range from 1 gives both ends', () => {
    const m = model(`${BASE}policy:
  - allow: { from: vm, to: web, ports: [tcp/1-65535, udp/1-10] }
`);
    const flows = probeFlows(m).map(formatFlow);
    assert.ok(!flows.includes('tcp/65535') && !flows.includes('tcp/1'), flows.join(' '));
    assert.ok(flows.includes('udp/1') && flows.includes('udp/10'), flows.join(' '));
    // tcp: only the service's ends and the closed port.
    assert.deepEqual(
      flows.filter((f) => f.startsWith('tcp/')),
      ['tcp/9', 'tcp/8080', 'tcp/8090'],
    );
  });

  it('a range up to 65535 that does not start at 1 gives both ends', () => {
    const m = model(`${BASE}policy:
  - allow: { from: vm, to: web, ports: [tcp/1000-65535] }
`);
    const flows = probeFlows(m).map(formatFlow);
    assert.ok(flows.includes('tcp/1000') && flows.includes('tcp/65535'), flows.join(' '));
  });

  it('a spec with dns: probes udp/53 and tcp/53 even when no rule names port 53', () => {
    const without = probeFlows(model(BASE)).map(formatFlow);
    assert.ok(!without.includes('udp/53') && !without.includes('tcp/53'), without.join(' '));
    const m = model(`${BASE}dns:
  domain: lab.test
  server: gw
  records: { www: web }
`);
    const flows = probeFlows(m).map(formatFlow);
    assert.ok(flows.includes('udp/53') && flows.includes('tcp/53'), flows.join(' '));
  });

  it("a tunnel's listen port and DNS (udp and tcp 53) are probed", () => {
    const ir = compile(loadOk('vpn-only-vm.yaml'));
    const flows = probeFlows(ir.model).map(formatFlow);
    assert.ok(flows.includes('udp/51820'), flows.join(' '));
    const dns = compile(loadOk('phoenix-gateway.yaml'));
    const withDns = probeFlows(dns.model).map(formatFlow);
    assert.ok(withDns.includes('udp/53') && withDns.includes('tcp/53'), withDns.join(' '));
    // Sorted numerically within each protocol (not as strings: 9 before 10 before 100).
    for (const proto of ['tcp', 'udp']) {
      const ports = withDns.filter((f) => f.startsWith(`${proto}/`)).map((f) => Number(f.split('/')[1]));
      assert.deepEqual(
        ports,
        [...ports].sort((a, b) => a - b),
      );
      assert.equal(new Set(ports).size, ports.length, `${proto} ports are probed once each`);
    }
  });
});

function loadOk(file: string) {
  const r = loadModel(join(import.meta.dirname, '..', '..', 'examples', file));
  assert.ok(r.model, r.diagnostics.map((d) => d.message).join('\n'));
  return r.model;
}

describe('destAddresses: the lab addresses standing for a destination', () => {
  const ir = compile(loadOk('proxmox-dual-bridge.yaml'));
  const plan = planLab(ir, { prefix: 'cm0001', keys: placeholderKeys() });
  const L = plan.layout;
  const engine = new Engine(ir);

  it('a host: every nic address that has a namespace in the lab, in nic order', () => {
    for (const h of ir.model.hosts.values()) {
      const want = h.nics.map((n) => n.address).filter((a) => L.addrNs.has(a));
      assert.deepEqual(destAddresses({ kind: 'host', host: h.name }, ir.model, L, engine), want, h.name);
    }
    const multi = [...ir.model.hosts.values()].find((h) => h.nics.length > 1);
    assert.ok(multi, 'the example has a host with two nics');
    assert.equal(destAddresses({ kind: 'host', host: multi.name }, ir.model, L, engine).length, multi.nics.length);
    assert.deepEqual(destAddresses({ kind: 'host', host: 'no-such-host' }, ir.model, L, engine), []);
  });

  it('an address: itself when the lab answers on it, else nothing', () => {
    const some = [...L.addrNs.keys()][0]!;
    assert.deepEqual(destAddresses({ kind: 'addr', addr: some }, ir.model, L, engine), [some]);
    assert.deepEqual(destAddresses({ kind: 'addr', addr: parseIPv4('240.1.2.3')! }, ir.model, L, engine), []);
  });

  it('a zone: one lab address per class the rules distinguish, sorted, each answered by the zone', () => {
    const inet = destAddresses({ kind: 'zone', zone: 'internet' }, ir.model, L, engine);
    assert.ok(inet.length >= 1);
    assert.deepEqual(
      inet,
      [...inet].sort((a, b) => a - b),
    );
    assert.equal(new Set(inet).size, inet.length);
    for (const a of inet) assert.equal(L.addrNs.get(a), L.internetNs, formatIPv4(a));
    // One per class, and the classes' first addresses: not more than the classes there are.
    assert.ok(inet.length <= L.internetClasses.length);
    for (const a of inet)
      assert.ok(
        L.internetClasses.some((c) => c.addrs[0] === a),
        formatIPv4(a),
      );
  });
});

describe('destAddresses: the LAN zone', () => {
  it("the lan's addresses come from the lan's classes and are answered upstream, not on the internet", () => {
    const ir = compile(loadOk('proxmox-dual-bridge.yaml'));
    const L = planLab(ir, { prefix: 'cm0001', keys: placeholderKeys() }).layout;
    const lan = destAddresses({ kind: 'zone', zone: 'lan' }, ir.model, L, new Engine(ir));
    assert.ok(lan.length >= 2, 'the example distinguishes several LAN classes');
    for (const a of lan) {
      assert.equal(L.addrNs.get(a), L.upstreamNs, formatIPv4(a));
      assert.ok(
        L.lanClasses.some((c) => c.addrs[0] === a),
        formatIPv4(a),
      );
    }
  });
});

describe('verifyToJson', () => {
  const probe = (id: number, delivered: boolean, staticAllowed: boolean, retried?: boolean) => ({
    id,
    from: 'vm',
    to: 'web',
    dst: parseIPv4('10.0.0.10')!,
    flow: { proto: 'tcp' as const, port: 22 },
    srcNs: 'ns',
    srcAddr: undefined,
    dstNs: 'ns2',
    staticAllowed,
    delivered,
    status: 'ok' as const,
    ms: 1,
    detail: undefined,
    ...(retried === undefined ? {} : { retried }),
  });
  const base = (over: Partial<VerifyResult>): VerifyResult => ({
    file: 'x.yaml',
    prefix: 'cm',
    endpoints: [],
    probes: [],
    cells: [],
    differences: [],
    steps: [],
    flows: [],
    ms: { prepare: 1.4, probe: 2.6, total: 4.5 },
    ...over,
  });

  it('ok only without differences and with every step passing; counts and rounding', () => {
    const probes = [probe(1, true, true), probe(2, false, false, true), probe(3, true, true, true)];
    const j = verifyToJson(base({ probes })) as Record<string, unknown>;
    assert.equal(j.ok, true);
    assert.equal(j.probes, 3);
    assert.equal(j.delivered, 2);
    assert.equal(j.retried, 2);
    assert.equal(j.deliveredOnRetry, 1);
    assert.deepEqual(j.ms, { prepare: 1, probe: 3, total: 5 });
    const failing = { text: 't', comment: undefined, verdict: 'deny' as const, ok: false, probes: 1, delivered: 1, answered: 1, detail: 'd' };
    assert.equal((verifyToJson(base({ steps: [failing] })) as { ok: boolean }).ok, false);
    assert.equal((verifyToJson(base({ steps: [{ ...failing, ok: true }] })) as { ok: boolean }).ok, true);
    const diff = { probe: probe(4, true, false), explanation: { summary: 's' } as never, live: 'delivered' };
    const jd = verifyToJson(base({ differences: [diff] })) as { ok: boolean; differences: Record<string, unknown>[] };
    assert.equal(jd.ok, false);
    assert.deepEqual(
      { ...jd.differences[0], explanation: undefined },
      { from: 'vm', to: 'web', dst: '10.0.0.10', flow: 'tcp/22', static: 'deny', live: 'delivered', liveDetail: 'delivered', explanation: undefined },
    );
    const jd2 = verifyToJson(base({ differences: [{ ...diff, probe: probe(5, false, true) }] })) as { differences: Record<string, unknown>[] };
    assert.equal(jd2.differences[0]!.static, 'allow');
    assert.equal(jd2.differences[0]!.live, 'not delivered');
  });
});
