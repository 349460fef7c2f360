/**
 * libvirt target: goldens for every example, byte-identical re-renders, `virt-xml-validate` on every
 * network, nwfilter and (wrapped in a minimal domain) interface it writes, `sh -n` on define.sh,
 * the seed 001 semantics of the filter, and the diagnostics for what nwfilter cannot say.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { libvirtRenderer } from '../src/render/libvirt/index.js';
import type { RenderResult } from '../src/render/types.js';
import { writeRendered } from '../src/render/write.js';
import { checkGolden, exampleFiles, exampleName, findProgram, irOfFile, irOfText, render, ROOT, run } from './support/golden.js';
import { skipOrFail } from './support/require-env.js';

const tmp = mkdtempSync(join(tmpdir(), 'cordon-libvirt-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function fileOf(r: RenderResult, path: string): string {
  const f = r.files.find((x) => x.path === path);
  assert.ok(f, `no ${path} among ${r.files.map((x) => x.path).join(', ')}`);
  return f.content;
}

/** virt-xml-validate on every XML file; interfaces are validated inside a minimal domain. */
function validate(name: string, r: RenderResult, t: { skip: (m: string) => void }): void {
  const vxv = findProgram('virt-xml-validate');
  if (!vxv || !findProgram('xmllint'))
    return skipOrFail(t, 'virt-xml-validate / xmllint not installed (make setup installs libvirt-clients and libxml2-utils)');
  const dir = join(tmp, name);
  rmSync(dir, { recursive: true, force: true });
  writeRendered(dir, r.files);
  for (const f of r.files) {
    const path = join(dir, f.path);
    if (f.path.endsWith('/define.sh')) {
      assert.equal(statSync(path).mode & 0o777, 0o755, 'define.sh is executable');
      const sh = run('sh', ['-n', path])!;
      assert.equal(sh.code, 0, `sh -n ${f.path}: ${sh.out}`);
      continue;
    }
    const kind = f.path.includes('/networks/') ? 'network' : f.path.includes('/nwfilters/') ? 'nwfilter' : 'domain';
    let target = path;
    if (kind === 'domain') {
      target = `${path}.domain.xml`;
      writeFileSync(
        target,
        `<domain type='kvm'><name>probe</name><memory>1048576</memory><os><type>hvm</type></os><devices>\n${f.content}</devices></domain>\n`,
      );
    }
    const res: { code: number; out: string } = run(vxv, [target, kind])!;
    assert.equal(res.code, 0, `virt-xml-validate ${f.path} ${kind}: ${res.out}`);
  }
}

describe('libvirt target: examples', () => {
  for (const file of exampleFiles()) {
    const name = exampleName(file);
    it(`${name}: matches the golden files and renders identically twice`, (t) => {
      const ir = irOfFile(file);
      if (!ir) return t.skip(`${name} does not resolve`);
      const a = render(libvirtRenderer, ir);
      const b = render(libvirtRenderer, irOfFile(file)!);
      assert.deepEqual(a, b);
      assert.deepEqual(
        a.diagnostics.filter((d) => d.severity === 'error'),
        [],
      );
      for (const f of a.files) assert.equal(f.secret, false);
      checkGolden(name, 'libvirt', a);
    });
    it(`${name}: virt-xml-validate accepts every network, nwfilter and interface`, (t) => {
      const ir = irOfFile(file);
      if (!ir) return t.skip(`${name} does not resolve`);
      const r = render(libvirtRenderer, ir);
      if (r.files.length === 0) return t.skip('no libvirt network');
      validate(`ex-${name}`, r, t);
    });
  }
});

describe('libvirt target: seed 001 (NAT-filtered)', () => {
  const file = exampleFiles().find((f) => exampleName(f) === 'libvirt-nat-filtered');

  it('a NAT network with the seed port range, static addresses, the filter bound to the port', (t) => {
    if (!file) return t.skip('examples/libvirt-nat-filtered.yaml not present');
    const r = render(libvirtRenderer, irOfFile(file)!);
    const net = fileOf(r, 'libvirt/kvm-host/networks/agent-nat-filtered.xml');
    assert.match(net, /<forward mode='nat' dev='eth0'>\n\s+<nat>\n\s+<port start='1024' end='65535'\/>/);
    // The seed's <dhcp><range>, started above the two static agents (networks.agent-nat-filtered.dhcp).
    assert.match(
      net,
      /<ip address='192\.168\.101\.1' netmask='255\.255\.255\.0'>\n\s+<dhcp>\n\s+<range start='192\.168\.101\.100' end='192\.168\.101\.254'\/>\n\s+<\/dhcp>\n\s+<\/ip>/,
    );
    const iface = fileOf(r, 'libvirt/kvm-host/domains/agent-1-interface.xml');
    assert.match(iface, /<source network='agent-nat-filtered'\/>/);
    assert.match(iface, /<filterref filter='cordon-agent-1'>\n\s+<!--.*-->\n\s+<parameter name='IP' value='192\.168\.101\.10'\/>/);
    const sh = fileOf(r, 'libvirt/kvm-host/define.sh');
    for (const l of [
      'virsh nwfilter-define nwfilters/cordon-agent-1.xml',
      'virsh net-define networks/agent-nat-filtered.xml',
      'virsh net-autostart agent-nat-filtered',
    ])
      assert.ok(sh.includes(`\n${l}\n`), l);
    assert.match(sh, /virsh net-start agent-nat-filtered/);
    assert.equal(r.files.find((f) => f.path.endsWith('define.sh'))?.executable, true);
  });

  it('the filter: clean-traffic, replies both ways, whitelist bound to the internet, default drop at 1000, every rule one-directional', (t) => {
    if (!file) return t.skip('examples/libvirt-nat-filtered.yaml not present');
    const r = render(libvirtRenderer, irOfFile(file)!);
    const f = fileOf(r, 'libvirt/kvm-host/nwfilters/cordon-agent-1.xml');
    assert.match(f, /^<filter name='cordon-agent-1' chain='root'>$/m);
    assert.match(f, /<filterref filter='clean-traffic'\/>/);
    for (const dir of ['out', 'in']) {
      assert.match(f, new RegExp(`<rule action='accept' direction='${dir}' priority='1'>\\n\\s+<all state='ESTABLISHED,RELATED'`));
      assert.match(f, new RegExp(`<rule action='drop' direction='${dir}' priority='1000'>\\n\\s+<all state='NONE'`));
    }
    // Without a state, libvirt would also instantiate each rule reversed in the other direction.
    const elements = [...f.matchAll(/^\s+<(all|tcp|udp|icmp) [^>]*>$/gm)].map((m) => m[0]);
    assert.ok(elements.length > 0);
    for (const el of elements) assert.match(el, / state='/, el);
    // The seed accepts tcp/22 to ANY address (so VM-to-VM and VM-to-host SSH): here never to a private one.
    assert.doesNotMatch(f, /<tcp srcipaddr='192\.168\.101\.10' dstportstart='22'/);
    assert.match(f, /<tcp srcipaddr='192\.168\.101\.10' dstipfrom='1\.0\.0\.0' dstipto='9\.255\.255\.255' dstportstart='22' dstportend='22' state='NONE'/);
    assert.doesNotMatch(f, /dstipfrom='192\.168\.101\.\d+'/);
    assert.match(f, /<udp srcipaddr='192\.168\.101\.10' dstipaddr='192\.168\.101\.1' dstportstart='53' dstportend='53'/);
    assert.ok(
      r.diagnostics.some((d) => d.severity === 'info' && /logging, which nwfilter cannot do/.test(d.message)),
      'the lost log flag is reported',
    );
  });
});

const TWO_GUESTS = `version: 1
networks:
  net0: { cidr: 10.1.0.0/24, gateway: 10.1.0.1, egress: nat }
  back: { cidr: 10.2.0.0/24, egress: none }
  wan: { cidr: 10.3.0.0/24, gateway: 10.3.0.1, egress: routed }
  home: { cidr: 192.168.1.0/24, gateway: 192.168.1.1, egress: nat }
hosts:
  kvm: { kind: hypervisor, nics: { net0: 10.1.0.1, back: 10.2.0.1, wan: 10.3.0.1, home: 192.168.1.10 } }
  router: { kind: router, managed: false, nics: { home: 192.168.1.1 } }
  app: { kind: vm, id: 101, nics: { net0: 10.1.0.10, back: 10.2.0.10 }, firewall: { guest: true }, services: { web: tcp/8080 } }
  db: { kind: vm, id: 102, nics: { back: 10.2.0.20 }, firewall: { guest: true }, services: { sql: tcp/5432 } }
  loose: { kind: vm, id: 103, nics: { back: 10.2.0.30 } }
  lanvm: { kind: vm, id: 104, egress: open, nics: { home: 192.168.1.60 } }
policy:
  - allow: { from: app, to: db.sql, rate: 100/minute }
  - allow: { from: loose, to: db.sql }
  - allow: { from: app, to: internet, ports: [tcp/443, icmp] }
`;

describe('libvirt target: modes, several nics, and what nwfilter cannot say', () => {
  const ir = irOfText(TWO_GUESTS, 'two.yaml');
  const r = render(libvirtRenderer, ir);

  it('nat, isolated, routed and bridge networks', (t) => {
    assert.match(fileOf(r, 'libvirt/kvm/networks/net0.xml'), /<forward mode='nat'>/);
    const back = fileOf(r, 'libvirt/kvm/networks/back.xml');
    assert.doesNotMatch(back, /^\s*<forward/m);
    assert.match(back, /<ip address='10\.2\.0\.1' netmask='255\.255\.255\.0'\/>/);
    assert.match(fileOf(r, 'libvirt/kvm/networks/wan.xml'), /<forward mode='route'\/>/);
    const home = fileOf(r, 'libvirt/kvm/networks/home.xml');
    assert.match(home, /<forward mode='bridge'\/>\n.*\n\s+<bridge name='home'\/>/);
    assert.doesNotMatch(home, /<ip /, "the bridge is the host's own: libvirt gives it no address");
    validate('modes', r, t);
  });

  it("a hypervisor's bridge with a physical port: bridge mode on the existing bridge, no <ip>, no <dhcp>, what it cannot do said", (t) => {
    const spec = `version: 1
networks:
  lan0: { cidr: 192.168.50.0/24, gateway: 192.168.50.1, egress: routed, ports: [enp1s0, enp2s0] }
  lan1: { cidr: 192.168.60.0/24, gateway: 192.168.60.1, egress: nat, ports: [enp3s0], dhcp: { start: 192.168.60.100, end: 192.168.60.150 } }
hosts:
  kvm: { kind: hypervisor, gateway: 192.168.50.254, nics: { lan0: 192.168.50.1, lan1: 192.168.60.1 } }
  vm1: { kind: vm, id: 101, nics: { lan0: 192.168.50.10, lan1: 192.168.60.10 } }
`;
    const pr = render(libvirtRenderer, irOfText(spec, 'ports.yaml'));
    for (const [net, ports] of [
      ['lan0', 'ports enp1s0, enp2s0'],
      ['lan1', 'port enp3s0'],
    ] as const) {
      const x = fileOf(pr, `libvirt/kvm/networks/${net}.xml`);
      assert.match(x, new RegExp(`<forward mode='bridge'/>\\n.*its ${ports} .*\\n\\s+<bridge name='${net}'/>`));
      assert.doesNotMatch(x, /<ip |<dhcp>|<nat>|stp=/, x);
    }
    assert.match(fileOf(pr, 'libvirt/kvm/define.sh'), /# Network lan0 \(forward mode bridge\)\./);
    const said = pr.diagnostics.filter((d) => d.severity === 'warning').map((d) => d.message);
    assert.equal(said.length, 2, said.join('\n'));
    assert.ok(said.some((m) => /lan1 has a physical port \(enp3s0\).*does not NAT/.test(m)));
    assert.ok(said.some((m) => /lan1 .* serves no DHCP/.test(m)));
    validate('ports', pr, t);
  });

  it('one interface file per nic of a guest with several; the filter only where the guest firewall runs', () => {
    const paths = r.files
      .map((f) => f.path)
      .filter((p) => p.includes('/domains/'))
      .sort();
    assert.deepEqual(paths, [
      'libvirt/kvm/domains/app-interface-back.xml',
      'libvirt/kvm/domains/app-interface-net0.xml',
      'libvirt/kvm/domains/db-interface.xml',
      'libvirt/kvm/domains/lanvm-interface.xml',
      'libvirt/kvm/domains/loose-interface.xml',
    ]);
    assert.match(fileOf(r, 'libvirt/kvm/domains/app-interface-back.xml'), /<target dev='tap101i1'\/>[\s\S]*<parameter name='IP' value='10\.2\.0\.10'\/>/);
    assert.match(fileOf(r, 'libvirt/kvm/domains/loose-interface.xml'), /no per-guest firewall: firewall\.guest is off for loose/);
    assert.doesNotMatch(fileOf(r, 'libvirt/kvm/domains/loose-interface.xml'), /<filterref/);
    assert.deepEqual(
      r.files
        .filter((f) => f.path.includes('/nwfilters/'))
        .map((f) => f.path)
        .sort(),
      ['libvirt/kvm/nwfilters/cordon-app.xml', 'libvirt/kvm/nwfilters/cordon-db.xml'],
    );
  });

  it("a source behind another guest's port: exact by address when that guest is anti-spoofed, a warning when one is not", () => {
    const db = fileOf(r, 'libvirt/kvm/nwfilters/cordon-db.xml');
    assert.match(db, /<tcp srcipaddr='10\.2\.0\.10' dstipaddr='10\.2\.0\.20' dstportstart='5432' dstportend='5432' state='NONE' comment='db:guest-in#2'\/>/);
    assert.match(db, /<tcp srcipaddr='10\.1\.0\.10' dstipaddr='10\.2\.0\.20' dstportstart='5432' dstportend='5432' state='NONE' comment='db:guest-in#1'\/>/);
    // `loose` has no per-guest firewall, so it could forge app's (or anyone's) address.
    const warns = r.diagnostics.filter((d) => d.severity === 'warning').map((d) => d.message);
    assert.ok(
      warns.some((m) => /db:guest-in#2.*tap101i1.*loose can forge/.test(m)),
      warns.join('\n'),
    );
    assert.ok(
      warns.some((m) => /db:guest-in#3.*tap103i0.*loose can forge/.test(m)),
      warns.join('\n'),
    );
    assert.ok(
      warns.some((m) => /rate 100\/minute, which nwfilter cannot express/.test(m)),
      warns.join('\n'),
    );
    // With every guest on kvm's bridges anti-spoofed, the source address is as good as the port.
    const pinned = render(
      libvirtRenderer,
      irOfText(
        TWO_GUESTS.replace(
          'loose: { kind: vm, id: 103, nics: { back: 10.2.0.30 } }',
          'loose: { kind: vm, id: 103, nics: { back: 10.2.0.30 }, firewall: { guest: true } }',
        ),
      ),
    );
    assert.deepEqual(
      pinned.diagnostics.filter((d) => /bridge port/.test(d.message)),
      [],
    );
    assert.match(
      fileOf(pinned, 'libvirt/kvm/nwfilters/cordon-db.xml'),
      /db:guest-in#3: allow loose → db\.sql .*\[bridge port\(s\) tap103i0 matched by the source address behind them: exact for guests/,
    );
  });

  it('a rule for one of several ports is told apart by source address; ports of other hosts never match', () => {
    const app = fileOf(r, 'libvirt/kvm/nwfilters/cordon-app.xml');
    // app → db.sql leaves through app's back port only: its source there is 10.2.0.10.
    assert.match(app, /<tcp srcipaddr='10\.2\.0\.10' dstipaddr='10\.2\.0\.20' dstportstart='5432' dstportend='5432' state='NONE'/);
    assert.match(app, /<icmp srcipaddr='10\.1\.0\.10' dstipfrom='1\.0\.0\.0'/);
    // priorities only grow along the chain, per direction
    for (const dir of ['out', 'in']) {
      const ps = [...app.matchAll(new RegExp(`direction='${dir}' priority='(\\d+)'`, 'g'))].map((m) => Number(m[1]));
      assert.deepEqual(
        ps,
        [...ps].sort((a, b) => a - b),
        dir,
      );
    }
  });

  it('"every other protocol" short of every flow is an error, not a silent drop', () => {
    const bad = irOfText(TWO_GUESTS.replace('  - allow: { from: loose, to: db.sql }\n', '  - deny: { from: app, to: db, ports: other }\n'));
    const res = render(libvirtRenderer, bad);
    assert.ok(res.diagnostics.some((d) => d.severity === 'error' && /every other IP protocol/.test(d.message)));
  });

  it('--host: a hypervisor gets everything, a guest its filter and interfaces, others an error', () => {
    assert.deepEqual(render(libvirtRenderer, ir, {}, 'kvm').files.length, r.files.length);
    assert.deepEqual(
      render(libvirtRenderer, ir, {}, 'db').files.map((f) => f.path),
      ['libvirt/kvm/nwfilters/cordon-db.xml', 'libvirt/kvm/domains/db-interface.xml'],
    );
    const none = render(libvirtRenderer, ir, {}, 'router');
    assert.equal(none.files.length, 0);
    assert.ok(none.diagnostics.some((d) => d.severity === 'error'));
  });

  it('cordon render -t libvirt prints the XML and exits 0', () => {
    const spec = join(tmp, 'two.yaml');
    writeFileSync(spec, TWO_GUESTS);
    const p = spawnSync(join(ROOT, 'bin', 'cordon'), ['render', spec, '-t', 'libvirt'], { encoding: 'utf8' });
    assert.equal(p.status, 0, p.stderr);
    assert.match(p.stdout, /^# ==> libvirt\/kvm\/networks\/net0\.xml$/m);
    assert.match(p.stderr, /warning CORDON012/);
  });
});
