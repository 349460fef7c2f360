/**
 * The libvirt importer (network, nwfilter and domain XML), with expectations written from
 * libvirt's formatnwfilter documentation and its ebiptables driver (nwfilter_ebiptables_driver.c),
 * never from the importer's own output:
 * - a rule without `state` is stateful: an accept `out` opens connections from the guest and its
 *   reverse lets only replies in; a drop has a reverse too, in any state (so `drop out <all/>`
 *   also drops everything to the guest); `state` given (NONE included) keeps a rule to its own
 *   direction; `inout` is both directions without state, the out half reversed;
 * - rules run by priority (lower first), not file order; equal priorities have no defined order;
 * - filter references carry parameters (lists allowed); cycles and unknown filters are errors;
 * - clean-traffic / no-ip-spoofing pin the guest to its IP; layer-2 (`ip`) rules run before the
 *   connection layer, and a layer-2 accept ends layer 2 only;
 * - libvirt's network rules: a NAT network takes only replies in and lets out only its prefix, an
 *   isolated one nothing in or out.
 * Plus: malformed files give located errors, the seed's files import to a golden spec, and a spec
 * rendered to libvirt and imported back has the same matrix.
 */
import { strict as assert } from 'node:assert';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { diskTree } from '../src/cli/commands/import-common.js';
import type { ImportResult, SourceTree } from '../src/import/common/contract.js';
import { libvirtImporter } from '../src/import/libvirt/index.js';
import { compile } from '../src/ir/compile.js';
import type { Hop } from '../src/ir/paths.js';
import { loadModel, loadModelFromText } from '../src/model/load.js';
import { findRenderer } from '../src/render/registry.js';
import { matrixToJson } from '../src/report/matrix.js';
import { parseSpecText } from '../src/spec/parse.js';
import { flowContains, type Flow } from '../src/util/flows.js';
import { parseIPv4 } from '../src/util/ip.js';
import { acceptedFlows, evalChain } from '../src/verify/chain-eval.js';
import { computeMatrix } from '../src/verify/matrix.js';

/** An in-memory tree: file path → text; directories are the paths' prefixes. */
function memTree(files: Readonly<Record<string, string>>): SourceTree {
  return {
    read: (p) => files[p],
    list: (p) => {
      const pre = `${p.replace(/\/+$/, '')}/`;
      const names = new Set(
        Object.keys(files)
          .filter((f) => f.startsWith(pre))
          .map((f) => f.slice(pre.length).split('/')[0]!),
      );
      return names.size > 0 ? [...names].sort() : undefined;
    },
  };
}

const NET = `<network>
  <name>lab</name>
  <forward mode='nat'/>
  <bridge name='virbr7'/>
  <ip address='10.7.0.1' netmask='255.255.255.0'>
    <dhcp><host mac='52:54:00:00:00:05' ip='10.7.0.5'/></dhcp>
  </ip>
</network>
`;

function domain(name: string, filter: string | undefined, ip = '10.7.0.5', extra = ''): string {
  const ref = filter === undefined ? '' : `<filterref filter='${filter}'><parameter name='IP' value='${ip}'/>${extra}</filterref>`;
  return `<domain type='kvm'>
  <name>${name}</name>
  <devices>
    <interface type='network'>
      <mac address='52:54:00:00:00:05'/>
      <source network='lab'/>
      ${ref}
    </interface>
  </devices>
</domain>
`;
}

function run(filters: Record<string, string>, dom = domain('vm1', 'f'), net = NET): ImportResult {
  const files: Record<string, string> = { 'root/networks/lab.xml': net, 'root/qemu/vm1.xml': dom };
  for (const [k, v] of Object.entries(filters)) files[`root/nwfilter/${k}.xml`] = v;
  return libvirtImporter.import({ paths: ['root'], tree: memTree(files), topology: undefined, host: 'kvm' });
}

function filter(body: string, name = 'f', chain = 'root'): string {
  return `<filter name='${name}' chain='${chain}'>\n${body}\n</filter>\n`;
}

function accepts(r: ImportResult, point: string, src: string, dst: string, flow: Flow): boolean {
  assert.ok(!r.diagnostics.some((d) => d.severity === 'error'), JSON.stringify(r.diagnostics, null, 1));
  const m = loadModelFromText(r.text, 'imported.yaml');
  assert.ok(m.model, m.diagnostics.map((d) => `${d.line} ${d.message}`).join('\n') + r.text);
  const chain = compile(m.model).chains.get(point);
  assert.ok(chain, `no chain ${point}`);
  const hop: Hop = { point, host: chain.enforcedOn, hook: chain.hook, iif: undefined, oif: undefined, inPort: undefined, natSrc: undefined };
  return flowContains(acceptedFlows(evalChain(chain, hop, parseIPv4(src)!, parseIPv4(dst)!)), flow);
}

const VM = '10.7.0.5';
const NETADDR = '198.51.100.7';
const ssh: Flow = { proto: 'tcp', port: 22 };
const http: Flow = { proto: 'tcp', port: 80 };

describe('libvirt nwfilter: what the documentation and the driver say', () => {
  it("a rule without state is stateful, and a drop's reverse drops the other direction too", () => {
    const r = run({
      f: filter(`<rule action='accept' direction='out'><tcp dstportstart='22'/></rule>
<rule action='drop' direction='out' priority='1000'><all/></rule>`),
    });
    assert.equal(accepts(r, 'vm1:guest-out', VM, NETADDR, ssh), true);
    assert.equal(accepts(r, 'vm1:guest-out', VM, NETADDR, http), false);
    // `drop out <all/>` without state has a reverse in every state: nothing new reaches the guest.
    assert.equal(accepts(r, 'vm1:guest-in', NETADDR, VM, ssh), false);
  });

  it('with state given (NONE too) a rule stays in its own direction', () => {
    const r = run({
      f: filter(`<rule action='drop' direction='out'><all state='NEW'/></rule>
<rule action='drop' direction='out' priority='900'><udp state='NONE'/></rule>`),
    });
    assert.equal(accepts(r, 'vm1:guest-out', VM, NETADDR, http), false);
    assert.equal(accepts(r, 'vm1:guest-in', NETADDR, VM, http), true);
    assert.equal(accepts(r, 'vm1:guest-in', NETADDR, VM, { proto: 'udp', port: 53 }), true);
  });

  it('priority decides the order, not the file', () => {
    const r = run({
      f: filter(`<rule action='accept' direction='out' priority='600'><tcp dstportstart='22'/></rule>
<rule action='drop' direction='out' priority='100'><tcp/></rule>`),
    });
    assert.equal(accepts(r, 'vm1:guest-out', VM, NETADDR, ssh), false);
    assert.equal(accepts(r, 'vm1:guest-out', VM, NETADDR, { proto: 'udp', port: 53 }), true);
  });

  it('inout: both directions without state; the outgoing half is the reverse (a source port: a located warning)', () => {
    const r = run({
      f: filter(`<rule action='accept' direction='inout'><tcp dstportstart='22'/></rule>
<rule action='drop' direction='in' priority='900'><all state='NONE'/></rule>`),
    });
    assert.equal(accepts(r, 'vm1:guest-in', NETADDR, VM, ssh), true);
    assert.equal(accepts(r, 'vm1:guest-in', NETADDR, VM, http), false);
    const w = r.diagnostics.find((d) => d.code === 'CORDON044' && /source port 22/.test(d.message));
    assert.ok(w && w.line === 2 && w.file === 'root/nwfilter/f.xml', JSON.stringify(r.diagnostics));
  });

  it('a reference passes its parameters; a list parameter stands for each of its values', () => {
    const r = run({
      f: filter(`<filterref filter='ssh-from'>
  <parameter name='SRC' value='192.0.2.1'/>
  <parameter name='SRC' value='192.0.2.2'/>
</filterref>
<rule action='drop' direction='in' priority='1000'><all state='NONE'/></rule>`),
      'ssh-from': filter(`<rule action='accept' direction='in'><tcp srcipaddr='$SRC' dstportstart='22'/></rule>`, 'ssh-from'),
    });
    assert.equal(accepts(r, 'vm1:guest-in', '192.0.2.1', VM, ssh), true);
    assert.equal(accepts(r, 'vm1:guest-in', '192.0.2.2', VM, ssh), true);
    assert.equal(accepts(r, 'vm1:guest-in', '192.0.2.3', VM, ssh), false);
  });

  it('clean-traffic pins the guest to its IP parameter; without it the spec says the guest can forge', () => {
    const clean = run({ f: filter(`<filterref filter='clean-traffic'/>`) });
    assert.equal(accepts(clean, 'vm1:guest-out', VM, NETADDR, http), true);
    assert.equal(accepts(clean, 'vm1:guest-out', '10.7.0.99', NETADDR, http), false);
    assert.match(clean.text, /antiSpoof: true/);
    const open = run({ f: filter(`<rule action='accept' direction='out'><tcp/></rule>`) });
    assert.equal(accepts(open, 'vm1:guest-out', '10.7.0.99', NETADDR, http), true);
    assert.match(open.text, /antiSpoof: false/);
    const gw = run({ f: filter(`<filterref filter='clean-traffic-gateway'/>`) });
    assert.ok(gw.diagnostics.some((d) => d.code === 'CORDON044' && /GATEWAY_MAC/.test(d.message) && d.line === 2));
  });

  it('layer 2 runs first: an <ip> drop beats a connection-layer accept of lower priority; after a layer-2 accept it is left out', () => {
    const r = run({
      f: filter(`<rule action='accept' direction='out' priority='-500'><all/></rule>
<rule action='drop' direction='out'><ip dstipaddr='203.0.113.5'/></rule>
<filterref filter='allow-incoming-ipv4'/>
<rule action='drop' direction='in'><ip srcipaddr='192.0.2.9'/></rule>`),
    });
    assert.equal(accepts(r, 'vm1:guest-out', VM, '203.0.113.5', http), false);
    assert.equal(accepts(r, 'vm1:guest-out', VM, '203.0.113.6', http), true);
    const w = r.diagnostics.find((d) => d.code === 'CORDON044' && /after a layer-2 accept/.test(d.message));
    assert.ok(w && w.line === 5, JSON.stringify(r.diagnostics));
    assert.equal(accepts(r, 'vm1:guest-in', '192.0.2.9', VM, http), true);
  });

  it('match="no" negates the attributes it carries', () => {
    const r = run({ f: filter(`<rule action='drop' direction='out'><tcp match='no' dstipaddr='192.0.2.0' dstipmask='24'/></rule>`) });
    assert.equal(accepts(r, 'vm1:guest-out', VM, '192.0.2.7', http), true);
    assert.equal(accepts(r, 'vm1:guest-out', VM, NETADDR, http), false);
  });

  it('equal priorities with different verdicts on the same traffic: libvirt defines no order (warning at the later rule)', () => {
    const r = run({
      f: filter(`<rule action='accept' direction='out'><tcp dstportstart='22'/></rule>
<rule action='drop' direction='out'><tcp/></rule>`),
    });
    const w = r.diagnostics.find((d) => d.code === 'CORDON044' && /same priority/.test(d.message));
    assert.ok(w && w.line === 3, JSON.stringify(r.diagnostics));
  });

  it('what cordon cannot express is a located warning: an accept is widened, a drop left out; IPv6 is CORDON046', () => {
    const r = run({
      f: filter(`<rule action='accept' direction='out'><tcp srcmacaddr='52:54:00:00:00:05' dstportstart='22'/></rule>
<rule action='drop' direction='out'><udp connlimit-above='4'/></rule>
<rule action='drop' direction='out'><tcp-ipv6/></rule>`),
    });
    const at = (code: string): number[] => r.diagnostics.filter((d) => d.code === code).map((d) => d.line);
    assert.deepEqual(at('CORDON044'), [2, 2, 3, 3]);
    assert.deepEqual(at('CORDON046'), [4]);
    assert.equal(accepts(r, 'vm1:guest-out', VM, NETADDR, { proto: 'udp', port: 53 }), true);
  });

  it('malformed input is an error at its file and line', () => {
    const cases: [Record<string, string>, string, number, RegExp][] = [
      [{ f: filter(`<rule action='accept' direction='out'><tcp></rule>`) }, 'root/nwfilter/f.xml', 2, /<\/rule> closes <tcp>/],
      [{ f: `<!DOCTYPE x [<!ENTITY a "b">]>\n${filter('')}` }, 'root/nwfilter/f.xml', 1, /DOCTYPE/],
      [{ f: filter(`<rule action='allow' direction='out'><tcp/></rule>`) }, 'root/nwfilter/f.xml', 2, /action 'allow' is none of/],
      [{ f: filter(`<filterref filter='g'/>`), g: filter(`<filterref filter='f'/>`, 'g') }, 'root/nwfilter/g.xml', 2, /refers to itself: f → g → f/],
      [{ f: filter(`<filterref filter='nope'/>`) }, 'root/nwfilter/f.xml', 2, /no filter 'nope'/],
      [{ f: filter(`<rule action='accept' direction='out' priority='5000'><tcp/></rule>`) }, 'root/nwfilter/f.xml', 2, /priority '5000'/],
    ];
    for (const [files, file, line, re] of cases) {
      const r = run(files);
      const e = r.diagnostics.find((d) => d.severity === 'error');
      assert.ok(e, `no error for ${JSON.stringify(files)}`);
      assert.equal(`${e.file}:${e.line}`, `${file}:${line}`, e.message);
      assert.match(e.message, re);
      assert.equal(r.text, '', 'nothing is written on bad input');
    }
  });
});

describe('libvirt: the XML reader refuses what libvirt XML never has', () => {
  it('deep nesting, entity declarations, unknown entities and a second root are errors at their line', () => {
    const cases: [string, number, RegExp][] = [
      [`${'<a>'.repeat(100)}${'</a>'.repeat(100)}`, 1, /nested deeper than 64/],
      [`<!DOCTYPE filter [\n<!ENTITY x "${'y'.repeat(10)}">]>\n<filter/>`, 1, /DOCTYPE/],
      [`<filter name='f'>\n<rule action='accept' direction='out' comment='&bogus;'/>\n</filter>`, 2, /unknown entity &bogus;/],
      [`<filter name='f'/>\n<filter name='g'/>`, 2, /a second root element/],
      [`<filter name='f' name='g'/>`, 1, /attribute name twice/],
    ];
    for (const [text, line, re] of cases) {
      const r = run({ f: text });
      const e = r.diagnostics.find((d) => d.severity === 'error');
      assert.ok(e, `no error for ${text.slice(0, 40)}`);
      assert.equal(`${e.file}:${e.line}`, `root/nwfilter/f.xml:${line}`, e.message);
      assert.match(e.message, re);
    }
  });
});

describe('libvirt networks and domains', () => {
  it('without --topology: the network from its XML, the guest from its domain, its address from the DHCP host entry', () => {
    const r = run({}, domain('vm1', undefined));
    const m = loadModelFromText(r.text, 'imported.yaml');
    assert.ok(m.model, r.text);
    assert.equal(m.model.hosts.get('vm1')?.nics[0]?.address, parseIPv4(VM));
    assert.equal(m.model.networks.get('lab')?.egress, 'nat');
  });

  it('a NAT network lets out only its own prefix and in only replies; an isolated one nothing either way', () => {
    const iso = NET.replace("<forward mode='nat'/>", "<forward mode='none'/>");
    const mat = (net: string): Map<string, string> => {
      const r = run({}, domain('vm1', undefined), net);
      const m = loadModelFromText(r.text, 'imported.yaml');
      assert.ok(m.model, r.text);
      const j = matrixToJson(computeMatrix(compile(m.model), 'configured'));
      return new Map(j.allowed.map((p) => [`${p.from} → ${p.to}`, p.text]));
    };
    const nat = mat(NET);
    assert.ok(nat.has('vm1 → internet'), [...nat.keys()].join(', '));
    assert.ok(!nat.has('internet → vm1'));
    const isolated = mat(iso);
    assert.ok(!isolated.has('vm1 → internet') && !isolated.has('internet → vm1'), [...isolated.keys()].join(', '));
  });
});

describe('libvirt: the seed and round trips', () => {
  it('seed 001: golden import (UPDATE_GOLDEN=1 rewrites it; review the diff)', () => {
    const dir = 'examples/seed-configs/001';
    const p = parseSpecText(readFileSync(`${dir}/topology.yaml`, 'utf8'), `${dir}/topology.yaml`);
    assert.ok(p.ok);
    const r = libvirtImporter.import({
      paths: [`${dir}/root`],
      tree: diskTree,
      topology: { spec: p.value.spec, file: `${dir}/topology.yaml` },
      host: undefined,
    });
    assert.ok(!r.diagnostics.some((d) => d.severity !== 'info'), JSON.stringify(r.diagnostics, null, 1));
    const golden = 'test/import-golden/libvirt/seed-001.yaml';
    if (process.env.UPDATE_GOLDEN === '1') {
      mkdirSync('test/import-golden/libvirt', { recursive: true });
      writeFileSync(golden, r.text);
    }
    assert.equal(r.text, readFileSync(golden, 'utf8'));
  });

  for (const example of ['libvirt-nat-filtered', 'libvirt-isolated']) {
    it(`${example}: rendered to libvirt and imported back, the same matrix (configured and compromised)`, () => {
      const file = `examples/${example}.yaml`;
      const loaded = loadModel(file);
      assert.ok(loaded.model);
      const ir = compile(loaded.model);
      const out = findRenderer('libvirt')!.render(ir, { host: undefined, params: new Map() });
      const files: Record<string, string> = {};
      for (const f of out.files) files[`r/${f.path}`] = f.content;
      const hv = Object.keys(files)[0]!.split('/')[2]!;
      const ifaces = Object.keys(files)
        .filter((f) => f.endsWith('-interface.xml'))
        .map(
          (f) =>
            `${f
              .split('/')
              .pop()!
              .replace(/-interface\.xml$/, '')}=${f}`,
        );
      assert.ok(ifaces.length > 0);
      const p = parseSpecText(readFileSync(file, 'utf8'), file);
      assert.ok(p.ok);
      const r = libvirtImporter.import({
        paths: [`r/libvirt/${hv}/networks`, `r/libvirt/${hv}/nwfilters`, ...ifaces],
        tree: memTree(files),
        topology: { spec: p.value.spec, file },
        host: hv,
      });
      assert.ok(!r.diagnostics.some((d) => d.severity === 'error'), JSON.stringify(r.diagnostics, null, 1));
      const back = loadModelFromText(r.text, 'imported.yaml');
      assert.ok(back.model, back.diagnostics.map((d) => d.message).join('\n'));
      const ir2 = compile(back.model);
      for (const assume of ['configured', 'compromised'] as const)
        assert.deepEqual(matrixToJson(computeMatrix(ir2, assume)), matrixToJson(computeMatrix(ir, assume)), `${assume} matrix differs`);
    });
  }
});
