/**
 * ifupdown target: goldens for every example, byte-identical re-renders, and a structural parser
 * of interfaces(5) checking each file against the model, and Debian's own parser on every file:
 * `ifquery -i FILE --list` (the interfaces it would bring up) and `ifquery -i FILE IFACE` (the
 * options it read: address, netmask, gateway), which touch no interface. `make setup` unpacks
 * ifquery into .tools/ifupdown without installing the package (see the Makefile for why);
 * IFQUERY=/path overrides. Without it the checks skip locally and fail in CI.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Ir } from '../src/ir/types.js';
import { bridgePortNames } from '../src/model/bridge-ports.js';
import { ifupdownHosts, ifupdownRenderer } from '../src/render/ifupdown/index.js';
import type { RenderedFile } from '../src/render/types.js';
import { formatIPv4 } from '../src/util/ip.js';
import { checkGolden, exampleFiles, exampleName, findProgram, irOfFile, irOfText, render, run } from './support/golden.js';
import { noteOrFail, skipOrFail } from './support/require-env.js';

/** Ours from .tools first: an `ifquery` on PATH may be ifupdown2's, which has other options. */
const IFQUERY = process.env.IFQUERY ?? findProgram(fileURLToPath(new URL('../.tools/ifupdown/sbin/ifquery', import.meta.url)), 'ifquery');
const NO_IFQUERY = 'ifquery not available (make setup unpacks it into .tools/ifupdown; IFQUERY=/path overrides)';
const tmp = mkdtempSync(join(tmpdir(), 'cordon-ifupdown-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface Stanza {
  name: string;
  family: string;
  method: string;
  options: [string, string][];
}

interface Parsed {
  auto: string[];
  ifaces: Stanza[];
  sources: string[];
}

/**
 * interfaces(5), the parts cordon writes: `auto`, `iface NAME inet METHOD` with indented
 * `option value` lines, `source`, comments and blank lines. Anything else is an error.
 */
function parseInterfaces(text: string): Parsed {
  const out: Parsed = { auto: [], ifaces: [], sources: [] };
  let cur: Stanza | undefined;
  text.split('\n').forEach((raw, i) => {
    const where = `line ${i + 1}: ${JSON.stringify(raw)}`;
    if (raw.trim() === '' || raw.trimStart().startsWith('#')) return;
    assert.doesNotMatch(raw, /\t/, `${where}: no tabs`);
    assert.doesNotMatch(raw, /\s$/, `${where}: no trailing space`);
    if (/^\s/.test(raw)) {
      assert.ok(cur, `${where}: option outside an iface stanza`);
      const m = /^ {4}([a-z][a-z0-9-]*) (\S.*)$/.exec(raw);
      assert.ok(m, `${where}: expected '    option value'`);
      cur.options.push([m[1]!, m[2]!]);
      return;
    }
    const [kw, ...rest] = raw.split(' ');
    cur = undefined;
    switch (kw) {
      case 'auto':
        assert.ok(rest.length >= 1, where);
        out.auto.push(...rest);
        break;
      case 'iface': {
        assert.equal(rest.length, 3, where);
        const [name, family, method] = rest as [string, string, string];
        assert.ok(name.length <= 15, `${where}: interface names have at most 15 characters`);
        assert.equal(family, 'inet', where);
        assert.ok(['static', 'loopback', 'manual', 'dhcp'].includes(method), where);
        cur = { name, family, method, options: [] };
        out.ifaces.push(cur);
        break;
      }
      case 'source':
        out.sources.push(rest.join(' '));
        break;
      default:
        assert.fail(`${where}: unknown keyword '${kw}'`);
    }
  });
  return out;
}

function opt(s: Stanza, key: string): string[] {
  return s.options.filter(([k]) => k === key).map(([, v]) => v);
}

function checkAgainstModel(ir: Ir, f: RenderedFile): Parsed {
  const hostName = f.path.split('/')[1]!;
  const h = ir.model.hosts.get(hostName)!;
  const p = parseInterfaces(f.content);
  const names = p.ifaces.map((s) => s.name);
  assert.deepEqual(names, [...new Set(names)], 'each interface once');
  // A bridge's physical port (networks.ports) gets a `manual` stanza and no auto: its bridge brings it up.
  const physical = new Set(h.kind === 'hypervisor' ? h.nics.flatMap((n) => bridgePortNames(ir.model, h, n.segment)) : []);
  const own = p.ifaces.filter((s) => !physical.has(s.name));
  for (const s of p.ifaces.filter((x) => physical.has(x.name))) {
    assert.equal(s.method, 'manual', `${hostName}: bridge port ${s.name}`);
    assert.deepEqual(s.options, [], `${hostName}: bridge port ${s.name} carries nothing of its own`);
  }
  assert.deepEqual(
    p.auto,
    own.map((s) => s.name),
    'every stanza but a bridge port is brought up at boot, in order',
  );
  assert.equal(p.ifaces[0]?.name, 'lo');
  assert.equal(p.ifaces[0]?.method, 'loopback');
  for (const s of own.slice(1)) {
    const nic = h.nics.find((n) => n.ifname === s.name);
    assert.ok(nic, `${hostName}: ${s.name} is not an interface of the host`);
    const net = ir.model.networks.get(nic.segment)!;
    assert.equal(s.method, 'static');
    assert.deepEqual(opt(s, 'address'), [`${formatIPv4(nic.address)}/${net.cidr.len}`]);
    const gw = h.defaultRoute.kind === 'gateway' && h.defaultRoute.segment === nic.segment ? [formatIPv4(h.defaultRoute.via)] : [];
    assert.deepEqual(opt(s, 'gateway'), gw, `${hostName} ${s.name}: gateway only with a default route through it`);
    const bridge = h.kind === 'hypervisor' && net.owner === h.name;
    if (bridge) {
      const ports = bridgePortNames(ir.model, h, net.name);
      assert.deepEqual(opt(s, 'bridge-ports'), [ports.length > 0 ? ports.join(' ') : 'none'], `${s.name}: bridge-ports`);
      assert.deepEqual(opt(s, 'bridge-stp'), ['off']);
      assert.deepEqual(opt(s, 'bridge-fd'), ['0']);
    } else {
      assert.deepEqual(opt(s, 'bridge-ports'), [], `${s.name} is not a bridge`);
    }
  }
  // Every nic on a network is here, except libvirt's own bridges.
  const expected = h.nics.filter(
    (n) => ir.model.networks.has(n.segment) && !(h.kind === 'hypervisor' && ir.model.networks.get(n.segment)!.owner === h.name && n.ifname.startsWith('virbr')),
  );
  assert.deepEqual(
    own.slice(1).map((s) => s.name),
    expected.map((n) => n.ifname),
  );
  if (IFQUERY)
    checkWithIfquery(
      IFQUERY,
      f,
      own.map((s) => s.name),
      p,
    );
  return p;
}

/**
 * Debian's parser agrees with ours: it lists the same interfaces to bring up, and for each static
 * stanza reads the address, netmask and gateway the file means.
 */
function checkWithIfquery(ifquery: string, f: RenderedFile, names: readonly string[], p: Parsed): void {
  const path = join(tmp, `${f.path.split('/')[1]}-${Math.random().toString(36).slice(2)}`);
  writeFileSync(path, f.content);
  const list = run(ifquery, ['--state-dir', tmp, '-i', path, '--list', '--allow', 'auto'])!;
  assert.equal(list.code, 0, `ifquery --list on ${f.path}: ${list.out}`);
  assert.deepEqual(list.out.trim().split('\n'), names, `ifquery --list on ${f.path}`);
  for (const s of p.ifaces) {
    if (s.method !== 'static') continue;
    const q = run(ifquery, ['--state-dir', tmp, '-i', path, s.name])!;
    assert.equal(q.code, 0, `ifquery ${s.name} on ${f.path}: ${q.out}`);
    const got = new Map(
      q.out
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()] as const),
    );
    const [addr, len] = opt(s, 'address')[0]!.split('/');
    assert.equal(got.get('address'), addr, `ifquery ${s.name} on ${f.path}: address (${q.out})`);
    assert.equal(
      got.get('netmask'),
      formatIPv4(len === undefined ? 0xffffffff : Number(len) === 0 ? 0 : (0xffffffff << (32 - Number(len))) >>> 0),
      `ifquery ${s.name} on ${f.path}: netmask`,
    );
    assert.equal(got.get('gateway'), opt(s, 'gateway')[0], `ifquery ${s.name} on ${f.path}: gateway`);
  }
}

describe('ifupdown target: examples', () => {
  for (const file of exampleFiles()) {
    const name = exampleName(file);
    it(`${name}: matches the golden files and renders identically twice`, (t) => {
      const ir = irOfFile(file);
      if (!ir) return t.skip(`${name} does not resolve`);
      const a = render(ifupdownRenderer, ir);
      assert.deepEqual(a, render(ifupdownRenderer, irOfFile(file)!));
      assert.deepEqual(a.diagnostics, []);
      assert.deepEqual(
        a.files.map((f) => f.path),
        ifupdownHosts(ir.model).map((h) => `ifupdown/${h.name}/interfaces`),
      );
      checkGolden(name, 'ifupdown', a);
    });
    it(`${name}: every file parses as interfaces(5) and says what the model says${IFQUERY ? ' (and ifquery agrees)' : ''}`, (t) => {
      const ir = irOfFile(file);
      if (!ir) return t.skip(`${name} does not resolve`);
      const files = render(ifupdownRenderer, ir).files;
      if (files.length === 0) return t.skip('no VM or hypervisor on a network');
      if (!IFQUERY) noteOrFail(t, `${NO_IFQUERY}: checked by the structural parser only`);
      for (const f of files) checkAgainstModel(ir, f);
    });
  }
});

describe('ifupdown target: seed 000', () => {
  const SPEC = `version: 1
networks:
  vmbr0: { cidr: 10.0.0.0/24, gateway: 10.0.0.254, egress: nat }
  vmbr1: { cidr: 192.168.100.0/24 }
hosts:
  pve: { kind: hypervisor, uplink: enp1s0, gateway: 10.0.0.254, nics: { vmbr0: 10.0.0.1, vmbr1: 192.168.100.1 } }
  agentfarm: { kind: vm, id: 101, nics: { vmbr0: { address: 10.0.0.10, ifname: ens18 }, vmbr1: { address: 192.168.100.10, ifname: ens19 } }, routes: [{ to: 172.16.0.0/16, via: 192.168.100.254 }] }
  ollama: { kind: vm, id: 102, nics: { vmbr1: { address: 192.168.100.20, ifname: ens18 } } }
dns: { domain: lab.internal, server: pve }
`;

  it("writes the seed's bridges: vmbr0 with the physical port (its router is outside the spec), vmbr1 with none", () => {
    const ir = irOfText(SPEC);
    const r = render(ifupdownRenderer, ir);
    assert.deepEqual(
      r.files.map((f) => f.path),
      ['ifupdown/agentfarm/interfaces', 'ifupdown/ollama/interfaces', 'ifupdown/pve/interfaces'],
    );
    const pve = checkAgainstModel(ir, r.files[2]!);
    const [, vmbr0, vmbr1] = pve.ifaces;
    assert.deepEqual(vmbr0, {
      name: 'vmbr0',
      family: 'inet',
      method: 'static',
      options: [
        ['address', '10.0.0.1/24'],
        ['gateway', '10.0.0.254'],
        ['bridge-ports', 'enp1s0'],
        ['bridge-stp', 'off'],
        ['bridge-fd', '0'],
      ],
    });
    assert.deepEqual(vmbr1?.options, [
      ['address', '192.168.100.1/24'],
      ['bridge-ports', 'none'],
      ['bridge-stp', 'off'],
      ['bridge-fd', '0'],
    ]);
    assert.deepEqual(pve.sources, ['/etc/network/interfaces.d/*']);
  });

  it('gives guests a gateway only where they have a default route, static routes and the resolver', () => {
    const ir = irOfText(SPEC);
    const r = render(ifupdownRenderer, ir);
    const agent = checkAgainstModel(ir, r.files[0]!);
    assert.deepEqual(agent.ifaces[1]?.options, [
      ['address', '10.0.0.10/24'],
      ['gateway', '10.0.0.254'],
      ['dns-nameservers', '10.0.0.1'],
      ['dns-search', 'lab.internal'],
    ]);
    assert.deepEqual(agent.ifaces[2]?.options, [
      ['address', '192.168.100.10/24'],
      ['up', 'ip route add 172.16.0.0/16 via 192.168.100.254 dev ens19'],
      ['down', 'ip route del 172.16.0.0/16 via 192.168.100.254 dev ens19'],
    ]);
    const ollama = checkAgainstModel(ir, r.files[1]!);
    assert.deepEqual(opt(ollama.ifaces[1]!, 'gateway'), []);
    assert.match(r.files[1]!.content, /^# {3}no default route: this host reaches only the networks it is on$/m);
  });

  it('the parser is strict (it rejects what interfaces(5) would not take)', () => {
    assert.throws(() => parseInterfaces('iface eth0 inet6 static\n'));
    assert.throws(() => parseInterfaces('auto eth0\n  address 10.0.0.1/24\n'));
    assert.throws(() => parseInterfaces('iface averyveryverylongname inet static\n'));
    assert.throws(() => parseInterfaces('bogus eth0\n'));
  });

  it('ifquery rejects a broken file when it is installed (the check is real)', (t) => {
    if (!IFQUERY) return skipOrFail(t, NO_IFQUERY);
    const path = join(tmp, 'broken');
    writeFileSync(path, 'auto eth0\niface eth0 inet bogus-method\n');
    assert.notEqual(run(IFQUERY, ['--state-dir', tmp, '-i', path, '--list'])!.code, 0);
  });
});
