/**
 * Bandwidth limits without a lab (spec `bandwidth:`, src/render/tc, the libvirt <bandwidth>):
 * - the spec's numbers reach the model as written, burst filled in where absent;
 * - the tc target: goldens for every example, byte-identical re-renders, `sh -n` on the script,
 *   `nft -c` on the policing fallback, and the commands themselves (TBF at the port root for
 *   inbound, the IFB redirect and TBF for outbound, libvirt's kbps/kb units);
 * - the libvirt interface carries seed 001's numbers;
 * - the lab plan shapes in the port owner's namespace, never in the machine's own;
 * - `cordon explain` says the limit where a user looks for a host.
 * The broken inputs are in test/bad/8*-bandwidth-*.yaml; the live measurement in bandwidth-lab.test.ts.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { dryRunPlan } from '../src/lab/lab.js';
import { ifbName } from '../src/model/names.js';
import { libvirtRenderer } from '../src/render/libvirt/index.js';
import { portLimits, shapingCommands, tcRenderer } from '../src/render/tc/index.js';
import { explanationToText } from '../src/report/explain.js';
import { writeRendered } from '../src/render/write.js';
import { Engine } from '../src/verify/engine.js';
import { explain } from '../src/verify/explain.js';
import { resolveQuery } from '../src/verify/query-args.js';
import { checkGolden, exampleFiles, exampleName, findProgram, irOfFile, irOfText, render, ROOT, run } from './support/golden.js';
import { noteOrFail } from './support/require-env.js';

const SEED001 = join(ROOT, 'examples/libvirt-nat-filtered.yaml');
const tmp = mkdtempSync(join(tmpdir(), 'cordon-tc-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const SMALL = (bandwidth: string): string => `version: 1
networks:
  br0: { cidr: 10.0.0.0/24, gateway: 10.0.0.1 }
hosts:
  hv: { kind: hypervisor, nics: { br0: 10.0.0.1 } }
  agent: { kind: vm, id: 101, nics: { br0: 10.0.0.10 }, bandwidth: ${bandwidth} }
`;

describe('bandwidth: spec → model', () => {
  it("seed 001's numbers arrive as written; peak stays absent when not given; burst defaults to a tenth of a second", () => {
    const ir = irOfFile(SEED001)!;
    const bw = ir.model.hosts.get('agent-1')!.bandwidth!;
    assert.deepEqual(bw.inbound, { average: 10240, peak: 20480, burst: 1000 });
    assert.deepEqual(bw.outbound, { average: 10240, peak: 20480, burst: 1000 });
    assert.equal(ir.model.hosts.get('kvm-host')!.bandwidth, undefined);
    const only = irOfText(SMALL('{ outbound: { average: 50, burst: 64 } }')).model.hosts.get('agent')!.bandwidth!;
    assert.equal(only.inbound, undefined);
    assert.deepEqual(only.outbound, { average: 50, peak: undefined, burst: 64 });
    // 1 kB/s for a tenth of a second is under one frame: the default never goes below 2 KiB.
    assert.equal(irOfText(SMALL('{ inbound: { average: 1 } }')).model.hosts.get('agent')!.bandwidth!.inbound!.burst, 2);
  });
});

describe('tc target', () => {
  for (const file of exampleFiles()) {
    const name = exampleName(file);
    it(`${name}: matches the golden files and renders identically twice`, (t) => {
      const ir = irOfFile(file);
      if (!ir) return t.skip(`${name} does not resolve`);
      const a = render(tcRenderer, ir);
      assert.deepEqual(a, render(tcRenderer, irOfFile(file)!));
      assert.deepEqual(a.diagnostics, []);
      checkGolden(name, 'tc', a);
    });
  }

  it("seed 001: TBF at each agent port's root (inbound) and on an IFB device fed from the port's ingress (outbound), in libvirt's units", () => {
    const ir = irOfFile(SEED001)!;
    const limits = portLimits(ir.model);
    assert.deepEqual(
      limits.map((l) => [l.owner, l.host, l.port]),
      [
        ['kvm-host', 'agent-1', ir.model.hosts.get('agent-1')!.nics[0]!.port],
        ['kvm-host', 'agent-2', ir.model.hosts.get('agent-2')!.nics[0]!.port],
      ],
    );
    const l = limits[0]!;
    const ifb = ifbName(l.port);
    const tbf = 'tbf rate 10240kbps burst 1000kb peakrate 20480kbps mtu 1514 latency 50ms';
    assert.deepEqual(
      shapingCommands(l).map((c) => c.join(' ')),
      [
        `tc qdisc replace dev ${l.port} root handle 1: ${tbf}`,
        `ip link add ${ifb} type ifb`,
        `ip link set ${ifb} up`,
        `tc qdisc add dev ${l.port} handle ffff: ingress`,
        `tc filter add dev ${l.port} parent ffff: protocol all u32 match u32 0 0 action mirred egress redirect dev ${ifb}`,
        `tc qdisc replace dev ${ifb} root handle 1: ${tbf}`,
      ],
    );
    // Without a peak there is no peakrate; only the direction that is limited gets commands.
    const small = portLimits(irOfText(SMALL('{ inbound: { average: 500 } }')).model);
    assert.deepEqual(
      shapingCommands(small[0]!).map((c) => c.join(' ')),
      ['tc qdisc replace dev tap101i0 root handle 1: tbf rate 500kbps burst 49kb latency 50ms'],
    );
  });

  it('the script passes sh -n and is executable; the policing fallback passes nft -c', (t) => {
    const r = render(tcRenderer, irOfFile(SEED001)!);
    assert.deepEqual(
      r.files.map((f) => f.path),
      ['tc/kvm-host/bandwidth.sh', 'tc/kvm-host/bandwidth-police.nft'],
    );
    const dir = join(tmp, 'seed001');
    writeRendered(dir, r.files);
    const sh = join(dir, 'tc/kvm-host/bandwidth.sh');
    assert.equal(statSync(sh).mode & 0o777, 0o755);
    const syntax = run('sh', ['-n', sh])!;
    assert.equal(syntax.code, 0, syntax.out);
    const police = r.files[1]!.content;
    assert.match(police, /limit rate over 10240000 bytes\/second burst 1024000 bytes drop/);
    const nft = findProgram('nft');
    if (!nft || process.getuid?.() !== 0) return noteOrFail(t, 'nft -c needs nft and root (make setup installs nftables)');
    const check = run(nft, ['-c', '-f', join(dir, 'tc/kvm-host/bandwidth-police.nft')])!;
    assert.equal(check.code, 0, `nft -c: ${check.out}`);
  });

  it('--host: the hypervisor or the guest gets its hypervisor script; a host without a limit is an error', () => {
    const ir = irOfFile(SEED001)!;
    assert.equal(render(tcRenderer, ir, {}, 'agent-2').files[0]!.content.includes('agent-1'), false);
    assert.equal(render(tcRenderer, ir, {}, 'kvm-host').files.length, 2);
    const none = render(tcRenderer, ir, {}, 'nobody');
    assert.equal(none.files.length, 0);
    assert.deepEqual(
      none.diagnostics.map((d) => d.severity),
      ['error'],
    );
  });
});

describe('libvirt <bandwidth>', () => {
  it("seed 001's agent interfaces carry inbound and outbound average 10240, peak 20480", () => {
    const r = render(libvirtRenderer, irOfFile(SEED001)!);
    for (const g of ['agent-1', 'agent-2']) {
      const f = r.files.find((x) => x.path === `libvirt/kvm-host/domains/${g}-interface.xml`)!;
      assert.match(
        f.content,
        /<bandwidth>\n\s+<!--[^\n]*-->\n\s+<inbound average='10240' peak='20480' burst='1000'\/>\n\s+<!--[^\n]*-->\n\s+<outbound average='10240' peak='20480' burst='1000'\/>\n\s+<\/bandwidth>/,
      );
      assert.match(f.content, /81\.92 Mbit\/s/);
    }
  });
  it('a guest without a limit has no <bandwidth>', () => {
    const r = render(libvirtRenderer, irOfText(SMALL('{ inbound: { average: 500 } }').replace(/, bandwidth: .*/, ' }')));
    assert.ok(r.files.every((f) => !f.content.includes('<bandwidth>')));
  });
});

describe('lab plan', () => {
  it("shapes each limited port in its owner's namespace, with the tc target's commands", () => {
    const ir = irOfFile(SEED001)!;
    const plan = dryRunPlan(ir);
    const shape = plan.steps.filter((s) => s.kind === 'shape');
    const hvNs = plan.layout.hostNs.get('kvm-host')!;
    assert.equal(shape.length, 12);
    for (const s of shape) assert.equal(s.ns, hvNs);
    const want = portLimits(ir.model).flatMap(shapingCommands);
    assert.deepEqual(
      shape.map((s) => (s.kind === 'shape' ? s.argv : [])),
      want,
    );
  });
});

describe('cordon explain', () => {
  it('an allowed flow from a limited guest names its outbound limit in Mbit/s with file and line; a denied one does not', () => {
    const ir = irOfFile(SEED001)!;
    const engine = new Engine(ir);
    const ask = (to: string, port: number) => {
      const q = resolveQuery(ir, { from: 'agent-1', to, proto: 'tcp', port });
      return explain(ir, engine.reach(q.from, q.dest, 'configured'), q.flow);
    };
    const allowed = ask('internet', 443);
    assert.equal(allowed.verdict, 'allow');
    const line = ir.model.hosts.get('agent-1')!.bandwidth!.origin.line;
    assert.deepEqual(allowed.limits, [
      `agent-1 outbound average 10240 kB/s (81.92 Mbit/s), peak 20480 kB/s (163.84 Mbit/s), burst 1000 KiB (${ir.model.file}:${line})`,
    ]);
    assert.match(explanationToText(allowed), /\n {2}bandwidth: agent-1 outbound average 10240 kB\/s \(81\.92 Mbit\/s\)/);
    const denied = ask('agent-2', 443);
    assert.equal(denied.verdict, 'deny');
    assert.deepEqual(denied.limits, []);
  });
});
