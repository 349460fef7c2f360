/**
 * dns target: goldens for every example, byte-identical re-renders, and the real tools —
 * `dnsmasq --test`, `named-checkzone`, `named-checkconf -z` — on what it writes. Also the
 * resolution of `dns:` (unknown names, hosts off the server's networks).
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadModelFromText } from '../src/model/load.js';
import { dnsRenderer, zoneSerial } from '../src/render/dns/index.js';
import type { RenderResult } from '../src/render/types.js';
import { formatIPv4 } from '../src/util/ip.js';
import { checkGolden, exampleFiles, exampleName, findProgram, irOfFile, irOfText, render, run } from './support/golden.js';
import { skipOrFail } from './support/require-env.js';

const BASE = `version: 1
networks:
  lan0: { cidr: 10.1.0.0/24, gateway: 10.1.0.1, egress: nat }
  lab: { cidr: 10.2.0.0/24 }
hosts:
  dns_host: { kind: hypervisor, uplink: eth9, nics: { lan0: 10.1.0.1, lab: 10.2.0.1, internet: 203.0.113.7 } }
  gw: { kind: vm, id: 101, nics: { lan0: 10.1.0.53 } }
  labbox: { kind: vm, id: 102, nics: { lab: 10.2.0.9 } }
  faraway: { kind: peer, nics: { internet: 198.51.100.4 } }
`;

const FULL = `${BASE}dns:
  domain: Lab.Example.org.
  server: dns_host
  upstream: [192.0.2.53, 198.51.100.53]
  ttl: 60
  records:
    Nginx: gw
    box: labbox
    printer: 10.1.0.200
`;

const tmp = mkdtempSync(join(tmpdir(), 'cordon-dns-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function fileOf(r: RenderResult, suffix: string): string {
  const f = r.files.find((x) => x.path.endsWith(suffix));
  assert.ok(f, `no ${suffix} among ${r.files.map((x) => x.path).join(', ')}`);
  return f.content;
}

/** Writes the three files under a fresh directory, with named.conf.local pointing into it. */
function writeOut(name: string, text: string): { dir: string; result: RenderResult } {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  const ir = irOfText(text, `${name}.yaml`);
  const result = render(dnsRenderer, ir, { 'zone-dir': dir });
  for (const f of result.files) writeFileSync(join(dir, f.path.split('/').pop()!), f.content);
  return { dir, result };
}

function validate(dir: string, domain: string, t: { skip: (m: string) => void }): void {
  const dnsmasq = findProgram('dnsmasq');
  const checkzone = findProgram('named-checkzone');
  const checkconf = findProgram('named-checkconf');
  if (!dnsmasq || !checkzone || !checkconf) {
    skipOrFail(t, 'dnsmasq / bind9-utils not installed (make setup installs dnsmasq-base and bind9-utils)');
    return;
  }
  const m = run(dnsmasq, ['--test', `--conf-file=${join(dir, 'dnsmasq.conf')}`])!;
  assert.equal(m.code, 0, `dnsmasq --test: ${m.out}`);
  assert.match(m.out, /syntax check OK/);
  const z = run(checkzone, [domain, join(dir, `db.${domain}`)])!;
  assert.equal(z.code, 0, `named-checkzone: ${z.out}`);
  assert.match(z.out, /OK/);
  writeFileSync(join(dir, 'named.conf'), `options { directory "${dir}"; };\ninclude "${join(dir, 'named.conf.local')}";\n`);
  const c = run(checkconf, ['-z', join(dir, 'named.conf')])!;
  assert.equal(c.code, 0, `named-checkconf -z: ${c.out}`);
  assert.match(c.out, new RegExp(`zone ${domain.replace(/\./g, '\\.')}/IN: loaded serial`));
}

describe('dns target: examples', () => {
  for (const file of exampleFiles()) {
    const name = exampleName(file);
    it(`${name}: matches the golden files and renders identically twice`, (t) => {
      const ir = irOfFile(file);
      if (!ir) return t.skip(`${name} does not resolve`);
      const a = render(dnsRenderer, ir);
      const b = render(dnsRenderer, irOfFile(file)!);
      assert.deepEqual(a, b);
      assert.deepEqual(a.diagnostics, []);
      assert.equal(a.files.length, ir.model.dns ? 3 : 0);
      checkGolden(name, 'dns', a);
    });
    it(`${name}: dnsmasq --test, named-checkzone and named-checkconf accept the output`, (t) => {
      const ir = irOfFile(file);
      if (!ir?.model.dns) return t.skip('no dns: section');
      const dir = join(tmp, `ex-${name}`);
      mkdirSync(dir, { recursive: true });
      for (const f of render(dnsRenderer, ir, { 'zone-dir': dir }).files) writeFileSync(join(dir, f.path.split('/').pop()!), f.content);
      validate(dir, ir.model.dns.domain, t);
    });
  }
});

describe('dns target: the phoenix zone (seed 003)', () => {
  it('every service name resolves to the gateway; the server answers only on 10.0.0.13', (t) => {
    const file = exampleFiles().find((f) => exampleName(f) === 'phoenix-gateway');
    if (!file) return t.skip('examples/phoenix-gateway.yaml not present');
    const r = render(dnsRenderer, irOfFile(file)!);
    const conf = fileOf(r, 'dnsmasq.conf');
    for (const n of ['nginx', 'traefik', 'ca', 'portainer', 'portainer-agent', 'granite-embedding', 'granite-3b', 'ollama', 'llamacpp']) {
      assert.ok(conf.includes(`host-record=${n}.internal.thinkheads.ai,10.0.0.153\n`), n);
    }
    assert.match(conf, /^listen-address=10\.0\.0\.13$/m);
    assert.equal(conf.match(/^listen-address=/gm)?.length, 1);
    assert.match(conf, /^no-resolv$/m);
    assert.doesNotMatch(conf, /^server=/m);
    const zone = fileOf(r, 'db.internal.thinkheads.ai');
    assert.match(zone, /^nginx +IN {2}A {2}10\.0\.0\.153$/m);
    assert.match(zone, /^hypervisor +IN {2}A {2}10\.0\.0\.13$/m);
  });
});

describe('dns target: a spec with upstreams, address records and several networks', () => {
  it('passes the real validators', (t) => {
    const { dir } = writeOut('full', FULL);
    validate(dir, 'lab.example.org', t);
  });

  it('lists the server on its networks only, forwards only to the declared upstreams', () => {
    const { result } = writeOut('full2', FULL);
    const conf = fileOf(result, 'dnsmasq.conf');
    assert.deepEqual(conf.match(/^listen-address=.*$/gm), ['listen-address=10.1.0.1', 'listen-address=10.2.0.1']);
    assert.doesNotMatch(conf, /203\.0\.113\.7/, 'never listens on the internet-facing address');
    assert.deepEqual(conf.match(/^server=.*$/gm), ['server=192.0.2.53', 'server=198.51.100.53']);
    assert.match(conf, /^no-resolv$/m, 'even with upstreams: /etc/resolv.conf is never read');
    assert.match(conf, /^local-ttl=60$/m);
    // Names are lower-cased, the trailing dot of the domain dropped, hosts become their address on a shared network.
    assert.match(conf, /^host-record=nginx\.lab\.example\.org,10\.1\.0\.53$/m);
    assert.match(conf, /^host-record=box\.lab\.example\.org,10\.2\.0\.9$/m);
    assert.match(conf, /^host-record=printer\.lab\.example\.org,10\.1\.0\.200$/m);
    // The server's own name is a valid hostname (no underscore) with one A record per listen address.
    assert.match(conf, /^host-record=dns-host\.lab\.example\.org,10\.1\.0\.1$/m);
    const zone = fileOf(result, 'db.lab.example.org');
    assert.match(zone, /^@\tIN\tSOA\tdns-host\.lab\.example\.org\. hostmaster\.lab\.example\.org\. \($/m);
    assert.match(zone, /^\$TTL 60$/m);
    const named = fileOf(result, 'named.conf.local');
    assert.match(named, /allow-query \{ localhost; 10\.1\.0\.0\/24; 10\.2\.0\.0\/24; \};/);
    assert.match(named, /allow-transfer \{ none; \};/);
  });

  it('derives the SOA serial from the spec hash: same spec, same serial; changed spec, new serial', () => {
    const a = irOfText(FULL);
    const b = irOfText(`${FULL}# a comment changes the spec\n`);
    assert.equal(zoneSerial(a.model), zoneSerial(irOfText(FULL).model));
    assert.notEqual(zoneSerial(a.model), zoneSerial(b.model));
    assert.ok(zoneSerial(a.model) > 0 && zoneSerial(a.model) <= 0xffffffff);
    assert.match(fileOf(render(dnsRenderer, a), 'db.lab.example.org'), new RegExp(`^\\t${zoneSerial(a.model)}\\t; serial`, 'm'));
  });

  it('renders only for the DNS server with --host, and says why otherwise', () => {
    const ir = irOfText(FULL);
    assert.equal(render(dnsRenderer, ir, {}, 'dns_host').files.length, 3);
    const other = render(dnsRenderer, ir, {}, 'gw');
    assert.equal(other.files.length, 0);
    assert.equal(other.diagnostics[0]?.code, 'CORDON004');
    assert.match(other.diagnostics[0].hint ?? '', /dns_host/);
  });
});

describe('dns: resolution', () => {
  const cases: { name: string; dns: string; code: string; message: RegExp; hint?: RegExp }[] = [
    {
      name: 'unknown record host',
      dns: 'records: { nginx: gwx }',
      code: 'CORDON004',
      message: /record 'nginx' points at unknown host 'gwx'/,
      hint: /did you mean 'gw'\?/,
    },
    { name: 'unknown server', dns: 'records: {}', code: 'CORDON004', message: /unknown server host 'dnshost'/, hint: /did you mean 'dns_host'\?/ },
    { name: 'host on no network of the server', dns: 'records: { far: faraway }', code: 'CORDON016', message: /shares no network with DNS server/ },
    { name: 'malformed address', dns: 'records: { x: 10.1.0.300 }', code: 'CORDON010', message: /not an IPv4 address/ },
    { name: 'malformed upstream', dns: 'upstream: [10.1.0.0/24]', code: 'CORDON010', message: /is a prefix/ },
    { name: 'names differing only in case', dns: 'records: { Www: gw, www: gw }', code: 'CORDON011', message: /same name/ },
  ];
  for (const c of cases) {
    it(`${c.name} → ${c.code}`, () => {
      const server = c.name === 'unknown server' ? 'dnshost' : 'dns_host';
      const text = `${BASE}dns:\n  domain: lab.example.org\n  server: ${server}\n  ${c.dns}\n`;
      const r = loadModelFromText(text, 'bad.yaml');
      assert.equal(r.model, undefined);
      const d = r.diagnostics.find((x) => x.code === c.code);
      assert.ok(d, `expected ${c.code}, got ${r.diagnostics.map((x) => `${x.code} ${x.message}`).join('; ')}`);
      assert.match(d.message, c.message);
      if (c.hint) assert.match(d.hint ?? '', c.hint);
      assert.ok(d.line > 0, 'points at a line of the spec');
    });
  }

  it('rejects a record name that is not a DNS name, and a one-label domain (schema)', () => {
    const bad1 = loadModelFromText(`${BASE}dns: { domain: lab.example.org, server: dns_host, records: { "a_b": gw } }\n`);
    assert.ok(bad1.diagnostics.some((d) => d.code === 'CORDON003'));
    const bad2 = loadModelFromText(`${BASE}dns: { domain: localdomain, server: dns_host }\n`);
    assert.ok(bad2.diagnostics.some((d) => d.code === 'CORDON003'));
  });

  it('suggests the field meant for a misspelt one inside dns:', () => {
    const r = loadModelFromText(`${BASE}dns: { domian: lab.example.org, server: dns_host }\n`);
    const d = r.diagnostics.find((x) => x.code === 'CORDON003' && /domian/.test(x.message));
    assert.ok(d, r.diagnostics.map((x) => x.message).join('\n'));
    assert.match(d.hint ?? '', /did you mean 'domain'\?/);
  });

  it('resolves records to addresses in the model, sorted by name', () => {
    const m = loadModelFromText(FULL).model!;
    assert.equal(m.dns?.domain, 'lab.example.org');
    assert.deepEqual(
      m.dns?.records.map((r) => [r.name, formatIPv4(r.address), r.host ?? null]),
      [
        ['box', '10.2.0.9', 'labbox'],
        ['nginx', '10.1.0.53', 'gw'],
        ['printer', '10.1.0.200', null],
      ],
    );
    assert.equal(loadModelFromText(BASE).model?.dns, undefined);
  });
});
