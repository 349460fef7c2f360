/**
 * The iptables importer.
 * - Round trip (a law on many inputs): every example and random spec, compiled, rendered by
 *   cordon's own iptables target, imported back with the spec as topology, gives the same
 *   reachability matrix in both views. A flattening bug (a RETURN continuing in the wrong chain, a
 *   goto that comes back, a lost bridge port) changes a cell.
 * - Semantics from iptables(8), not from the importer's output: RETURN resumes in the calling
 *   chain, a built-in chain's RETURN or end means its policy, a goto does not come back, the first
 *   matching rule decides, `!` negates.
 * - Nothing skipped silently: every construct not imported exactly is a located warning, a
 *   malformed line a located error, IPv6 a warning.
 */
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Diagnostic } from '../src/diag/diagnostic.js';
import type { ImportResult, SourceTree } from '../src/import/common/contract.js';
import { iptablesImporter } from '../src/import/iptables/index.js';
import { compile } from '../src/ir/compile.js';
import type { Hop } from '../src/ir/paths.js';
import type { Ir } from '../src/ir/types.js';
import { loadModelFromText } from '../src/model/load.js';
import { iptablesRenderer } from '../src/render/iptables/index.js';
import { parseSpecText } from '../src/spec/parse.js';
import type { Spec } from '../src/spec/schema.js';
import { flowEqual, formatFlowSet, type Flow, flowContains } from '../src/util/flows.js';
import { parseIPv4 } from '../src/util/ip.js';
import { acceptedFlows, evalChain } from '../src/verify/chain-eval.js';
import { Engine } from '../src/verify/engine.js';
import { endpoints } from '../src/verify/endpoints.js';
import { draftToYaml, specArb } from './oracle/drafts.js';
import { subsetArb, subsetYaml } from './oracle/specs.js';
import { decide, parseSave, type Packet } from './support/iptables-sim.js';
import { propertySeed, replayHint } from './support/seed.js';

function memTree(files: Record<string, string>): SourceTree {
  return { read: (p) => files[p], list: () => undefined };
}

function specOf(text: string, file: string): Spec {
  const p = parseSpecText(text, file);
  assert.ok(p.ok, `${file} does not parse`);
  return p.value.spec;
}

function irOf(text: string, file: string): Ir {
  const r = loadModelFromText(text, file);
  assert.ok(r.model, `${file}:\n${r.diagnostics.map((d) => `${d.line}: ${d.code} ${d.message}`).join('\n')}\n${text}`);
  return compile(r.model);
}

/** Renders every enforcing host's rules.v4, imports them all back against the spec itself. */
function roundTrip(text: string, file: string): { original: Ir; imported: Ir; result: ImportResult } {
  const original = irOf(text, file);
  const rendered = iptablesRenderer.render(original, { host: undefined, params: new Map() });
  assert.ok(!rendered.diagnostics.some((d) => d.severity === 'error'), `${file}: the renderer refused it`);
  const files: Record<string, string> = {};
  const paths: string[] = [];
  for (const f of rendered.files) {
    if (!f.path.endsWith('/rules.v4')) continue;
    files[f.path] = f.content;
    paths.push(`${f.path.split('/')[0]}=${f.path}`);
  }
  const result = iptablesImporter.import({ paths, tree: memTree(files), topology: { spec: specOf(text, file), file }, host: undefined });
  const errors = result.diagnostics.filter((d) => d.severity === 'error');
  assert.deepEqual(errors, [], `${file}: import errors`);
  return { original, imported: irOf(result.text, `${file} (imported)`), result };
}

/**
 * Cell by cell over the original's endpoints (the imported spec has no policy, so a `lan` that
 * only the policy mentioned is not one of its own endpoints; its reachability is compared all the same).
 */
function assertSameMatrices(text: string, file: string): void {
  const { original, imported } = roundTrip(text, file);
  const a = new Engine(original);
  const b = new Engine(imported);
  const eps = endpoints(original.model);
  for (const view of ['configured', 'compromised'] as const) {
    const diff: string[] = [];
    for (const x of eps)
      for (const y of eps) {
        if (x === y || (x.source.kind === 'zone' && y.dest.kind === 'zone')) continue;
        const fa = a.reach(x.source, y.dest, view).allowed;
        const fb = b.reach(x.source, y.dest, view).allowed;
        if (!flowEqual(fa, fb)) diff.push(`${x.name} → ${y.name}: spec ${formatFlowSet(fa) || '·'}, imported ${formatFlowSet(fb) || '·'}`);
      }
    assert.deepEqual(diff, [], `${file} (${view}): the imported rule set allows something else`);
  }
}

describe('iptables round trip: cordon renders, cordon imports, the matrix is the same', () => {
  const dirs = ['examples', 'examples/mistakes'];
  for (const dir of dirs) {
    for (const f of readdirSync(dir)
      .filter((x) => x.endsWith('.yaml'))
      .sort()) {
      const text = readFileSync(join(dir, f), 'utf8');
      // A spec cordon refuses (mistakes/agentfarm-wg-overlap.yaml) renders nothing to import.
      if (!loadModelFromText(text, f).model) continue;
      it(join(dir, f), () => assertSameMatrices(text, join(dir, f)));
    }
  }

  it('random specs (both generators)', () => {
    const seed = propertySeed(17);
    const runs = Number(process.env.CORDON_IMPORT_RUNS ?? '12');
    const texts = [...fc.sample(specArb, { numRuns: runs, seed }).map(draftToYaml), ...fc.sample(subsetArb, { numRuns: runs, seed: seed + 1 }).map(subsetYaml)];
    // Every spec, guests with a firewall and a tunnel address too: guest-in is jumped only for the
    // addresses behind a guest's bridge ports, as the verifier's paths run it.
    texts.forEach((t, i) => {
      try {
        assertSameMatrices(t, `random-${i}.yaml`);
      } catch (e) {
        if (e instanceof Error) e.message += `\n${replayHint(seed)}`;
        throw e;
      }
    });
  });
});

// --- semantics, from iptables(8) -----------------------------------------------------------------

const TOPO = `version: 1
networks:
  lan: { cidr: 10.0.0.0/24, gateway: 10.0.0.1, egress: nat }
hosts:
  gw: { kind: router, uplink: eth0, nics: { lan: { address: 10.0.0.1, ifname: br0 } } }
  pc: { kind: server, managed: false, nics: { lan: 10.0.0.10 } }
`;

function importText(rules: string, opts: { file?: string; topology?: string } = {}): ImportResult {
  const file = opts.file ?? 'gw/rules.v4';
  const topo = opts.topology ?? TOPO;
  return iptablesImporter.import({
    paths: [file],
    tree: memTree({ [file]: rules }),
    topology: { spec: specOf(topo, 'topo.yaml'), file: 'topo.yaml' },
    host: 'gw',
  });
}

/** What the imported chain at `point` accepts for one packet. */
function accepts(r: ImportResult, point: string, pkt: { src: string; dst: string; iif?: string; oif?: string; inPort?: string }, flow: Flow): boolean {
  const ir = irOf(r.text, 'imported.yaml');
  const chain = ir.chains.get(point);
  assert.ok(chain, `no chain ${point}`);
  const hop: Hop = { point, host: chain.enforcedOn, hook: chain.hook, iif: pkt.iif, oif: pkt.oif, inPort: pkt.inPort, natSrc: undefined };
  return flowContains(acceptedFlows(evalChain(chain, hop, parseIPv4(pkt.src)!, parseIPv4(pkt.dst)!)), flow);
}

const ssh: Flow = { proto: 'tcp', port: 22 };
const web: Flow = { proto: 'tcp', port: 443 };

describe('iptables semantics (iptables(8))', () => {
  it('RETURN resumes at the next rule of the calling chain', () => {
    const r = importText(`*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:SUB - [0:0]
-A INPUT -j SUB
-A INPUT -p tcp --dport 22 -j ACCEPT
-A SUB -s 10.0.0.10/32 -j RETURN
-A SUB -j ACCEPT
COMMIT
`);
    // 10.0.0.10 returns from SUB and meets "tcp/22 ACCEPT", then the DROP policy.
    assert.equal(accepts(r, 'gw:input', { src: '10.0.0.10', dst: '10.0.0.1' }, ssh), true);
    assert.equal(accepts(r, 'gw:input', { src: '10.0.0.10', dst: '10.0.0.1' }, web), false);
    // Everyone else is accepted by SUB's last rule.
    assert.equal(accepts(r, 'gw:input', { src: '10.0.0.11', dst: '10.0.0.1' }, web), true);
  });

  it("a RETURN in a built-in chain, or its end, means the chain's policy", () => {
    const r = importText(`*filter
:INPUT DROP [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -s 10.0.0.10/32 -j RETURN
-A INPUT -j ACCEPT
-A FORWARD -s 10.0.0.10/32 -p tcp --dport 22 -j RETURN
-A FORWARD -s 10.0.0.10/32 -j DROP
COMMIT
`);
    assert.equal(accepts(r, 'gw:input', { src: '10.0.0.10', dst: '10.0.0.1' }, ssh), false);
    assert.equal(accepts(r, 'gw:input', { src: '10.0.0.11', dst: '10.0.0.1' }, ssh), true);
    // A RETURN on two fields (source and port): the FORWARD policy ACCEPT for tcp/22, the DROP after it for the rest.
    assert.equal(accepts(r, 'gw:forward', { src: '10.0.0.10', dst: '8.8.8.8' }, ssh), true);
    assert.equal(accepts(r, 'gw:forward', { src: '10.0.0.10', dst: '8.8.8.8' }, web), false);
  });

  it('a goto does not come back: the goto target returns to the chain that jumped to the chain with the goto', () => {
    const r = importText(`*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:A - [0:0]
:B - [0:0]
-A INPUT -j A
-A INPUT -p tcp --dport 443 -j ACCEPT
-A A -s 10.0.0.10/32 -g B
-A A -j ACCEPT
-A B -p tcp --dport 22 -j RETURN
-A B -j DROP
COMMIT
`);
    // 10.0.0.10 tcp/22: B returns to INPUT (not to A, whose ACCEPT it would meet), INPUT does not accept tcp/22: policy DROP.
    assert.equal(accepts(r, 'gw:input', { src: '10.0.0.10', dst: '10.0.0.1' }, ssh), false);
    // 10.0.0.10 tcp/443: B drops it before it could return.
    assert.equal(accepts(r, 'gw:input', { src: '10.0.0.10', dst: '10.0.0.1' }, web), false);
    assert.equal(accepts(r, 'gw:input', { src: '10.0.0.11', dst: '10.0.0.1' }, ssh), true);
  });

  it('a user chain that ends without a verdict returns to its caller', () => {
    const r = importText(`*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:LOGGING - [0:0]
-A INPUT -j LOGGING
-A INPUT -i br0 -p tcp -m multiport --dports 22,443 -j ACCEPT
-A LOGGING -j LOG --log-prefix "in: "
COMMIT
`);
    assert.equal(accepts(r, 'gw:input', { src: '10.0.0.10', dst: '10.0.0.1', iif: 'br0' }, web), true);
    assert.equal(accepts(r, 'gw:input', { src: '10.0.0.10', dst: '10.0.0.1', iif: 'eth0' }, web), false);
  });

  it('! negates an address; iprange and ipset sets match address ranges', () => {
    const file = 'gw/rules.v4';
    const r = iptablesImporter.import({
      paths: [file, 'sets.ipset'],
      tree: memTree({
        [file]: `*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT ! -s 10.0.0.0/24 -p tcp --dport 443 -j ACCEPT
-A INPUT -m iprange --src-range 10.0.0.10-10.0.0.12 -p tcp --dport 22 -j ACCEPT
-A INPUT -m set --match-set admins src -j ACCEPT
COMMIT
`,
        'sets.ipset': 'create admins hash:ip family inet\nadd admins 10.0.0.50\n',
      }),
      topology: { spec: specOf(TOPO, 'topo.yaml'), file: 'topo.yaml' },
      host: 'gw',
    });
    assert.deepEqual(r.diagnostics, []);
    assert.equal(accepts(r, 'gw:input', { src: '8.8.8.8', dst: '10.0.0.1' }, web), true);
    assert.equal(accepts(r, 'gw:input', { src: '10.0.0.10', dst: '10.0.0.1' }, web), false);
    assert.equal(accepts(r, 'gw:input', { src: '10.0.0.12', dst: '10.0.0.1' }, ssh), true);
    assert.equal(accepts(r, 'gw:input', { src: '10.0.0.13', dst: '10.0.0.1' }, ssh), false);
    assert.equal(accepts(r, 'gw:input', { src: '10.0.0.50', dst: '10.0.0.1' }, web), true);
  });

  it('a script of iptables commands: -P, -A, -I (inserted first), -N and -t', () => {
    const r = importText(
      `#!/bin/sh
iptables -P INPUT DROP
iptables -A INPUT -p tcp --dport 22 -j DROP
sudo iptables -I INPUT -s 10.0.0.10 -j ACCEPT
iptables -t nat -A POSTROUTING -o eth0 -j MASQUERADE
`,
      { file: 'gw/firewall.sh' },
    );
    // -I puts the accept for 10.0.0.10 before the tcp/22 drop.
    assert.equal(accepts(r, 'gw:input', { src: '10.0.0.10', dst: '10.0.0.1' }, ssh), true);
    assert.equal(accepts(r, 'gw:input', { src: '10.0.0.11', dst: '10.0.0.1' }, ssh), false);
    const note = r.diagnostics.find((d) => d.code === 'CORDON047');
    assert.ok(note && note.line === 5, 'the MASQUERADE is a note at its line');
  });
});

// --- nothing skipped silently ----------------------------------------------------------------------

function at(ds: readonly Diagnostic[], code: string): string[] {
  return ds.filter((d) => d.code === code).map((d) => `${d.file}:${d.line} ${d.severity}`);
}

describe('iptables: located warnings and errors', () => {
  it('an ACCEPT with a match cordon cannot express is widened, a DROP with one left out; both say so at their line', () => {
    const r = importText(`*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p tcp --sport 1024:65535 --dport 22 -j ACCEPT
-A INPUT -m owner --uid-owner 0 -j DROP
-A INPUT -p icmp --icmp-type echo-request -j ACCEPT
COMMIT
`);
    assert.deepEqual(at(r.diagnostics, 'CORDON044'), ['gw/rules.v4:5 warning', 'gw/rules.v4:6 warning', 'gw/rules.v4:7 warning']);
    assert.match(r.diagnostics[0]!.message, /--sport.*ACCEPT widened/);
    assert.match(r.diagnostics[1]!.message, /-m owner.*left out/);
    // Widened: tcp/22 from any source port is accepted.
    assert.equal(accepts(r, 'gw:input', { src: '10.0.0.10', dst: '10.0.0.1' }, ssh), true);
  });

  it('malformed lines are errors at their line', () => {
    const r = importText(`*filter
:INPUT DROP [0:0]
-A INPUT -s 10.0.0.300 -j ACCEPT
-A NOPE -j ACCEPT
-A INPUT -p tcp --dport 70000 -j ACCEPT
-A INPUT -m comment --comment "unclosed -j ACCEPT
-A INPUT -j NO_SUCH_chain
`);
    assert.deepEqual(at(r.diagnostics, 'CORDON045'), [
      'gw/rules.v4:1 error',
      'gw/rules.v4:3 error',
      'gw/rules.v4:4 error',
      'gw/rules.v4:5 error',
      'gw/rules.v4:6 error',
      'gw/rules.v4:7 error',
    ]);
    assert.match(r.diagnostics.find((d) => d.line === 1)!.message, /no COMMIT/);
  });

  it('IPv6 is a warning: a whole rules.v6, or ip6tables lines of a script', () => {
    const v6 = importText('*filter\n:INPUT DROP [0:0]\n-A INPUT -s 2001:db8::/32 -j ACCEPT\nCOMMIT\n', { file: 'gw/rules.v6' });
    assert.deepEqual(at(v6.diagnostics, 'CORDON046'), ['gw/rules.v6:1 warning']);
    const script = importText('iptables -P INPUT DROP\nip6tables -P INPUT DROP\nip6tables -A INPUT -j ACCEPT\n', { file: 'gw/fw.sh' });
    assert.deepEqual(at(script.diagnostics, 'CORDON046'), ['gw/fw.sh:2 warning']);
    assert.match(script.diagnostics[0]!.message, /2 ip6tables lines/);
  });

  it('a port forward (DNAT) is a warning; what is not an iptables command in a script is a warning', () => {
    const r = importText('iptables -t nat -A PREROUTING -i eth0 -p tcp --dport 80 -j DNAT --to-destination 10.0.0.10:8080\necho done\n', { file: 'gw/fw.sh' });
    assert.deepEqual(at(r.diagnostics, 'CORDON044'), ['gw/fw.sh:1 warning', 'gw/fw.sh:2 warning']);
    assert.match(r.diagnostics[0]!.message, /port forward/);
  });

  it('every imported rule carries its source file and line, in a comment and in the line map', () => {
    const r = importText('*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -i lo -j ACCEPT\nCOMMIT\n');
    const lines = r.text.split('\n');
    const ruleLine = lines.findIndex((l) => l.includes('"iif":"lo"')) + 1;
    assert.ok(ruleLine > 0);
    assert.deepEqual(r.origins.get(ruleLine), { file: 'gw/rules.v4', line: 5, col: 1 });
    assert.match(lines[ruleLine - 2]!, /# gw\/rules\.v4:5: -A INPUT -i lo -j ACCEPT/);
  });
});

// --- against an independent evaluator of the same file ---------------------------------------------

/** Boundary values of a rendered file: every prefix's edges, interface names, bridge ports, ports. */
function boundaries(text: string): { addrs: number[]; ifs: (string | undefined)[]; ports: (string | undefined)[]; dports: number[] } {
  const addrs = new Set<number>([0x08080808]);
  for (const m of text.matchAll(/(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?/g)) {
    const base = parseIPv4(m[1]!);
    if (base === undefined) continue;
    const len = m[2] === undefined ? 32 : Number(m[2]);
    const size = 2 ** (32 - len);
    for (const x of [base - 1, base, base + size - 1, base + size]) if (x >= 0 && x <= 0xffffffff) addrs.add(x);
  }
  const ifs = new Set<string | undefined>([undefined, 'lo']);
  for (const m of text.matchAll(/ -[io] (\S+)/g)) ifs.add(m[1]);
  const ports = new Set<string | undefined>([undefined]);
  for (const m of text.matchAll(/--physdev-in (\S+)/g)) ports.add(m[1]);
  const dports = new Set<number>([22, 443]);
  for (const m of text.matchAll(/--dports? ([\d,:]+)/g))
    for (const p of m[1]!.split(/[,:]/)) for (const d of [-1, 0, 1]) dports.add(Math.max(1, Number(p) + d));
  return { addrs: [...addrs], ifs: [...ifs], ports: [...ports], dports: [...dports] };
}

describe('iptables import agrees packet by packet with an independent evaluator of the same file', () => {
  it('random specs rendered by cordon: every built-in chain decides sampled new connections alike', () => {
    const seed = propertySeed(18);
    const runs = Number(process.env.CORDON_IMPORT_RUNS ?? '12');
    const texts = [...fc.sample(specArb, { numRuns: runs, seed }).map(draftToYaml), ...fc.sample(subsetArb, { numRuns: runs, seed: seed + 1 }).map(subsetYaml)];
    let compared = 0;
    texts.forEach((text, i) => {
      const original = irOf(text, `random-${i}.yaml`);
      for (const f of iptablesRenderer.render(original, { host: undefined, params: new Map() }).files) {
        if (!f.path.endsWith('/rules.v4')) continue;
        const host = f.path.split('/')[0]!;
        const r = iptablesImporter.import({
          paths: [f.path],
          tree: memTree({ [f.path]: f.content }),
          topology: { spec: specOf(text, 'x.yaml'), file: 'x.yaml' },
          host,
        });
        const imported = irOf(r.text, `random-${i} ${host} (imported)`);
        const save = parseSave(f.content);
        const b = boundaries(f.content);
        const pkt = fc.record({
          src: fc.constantFrom(...b.addrs),
          dst: fc.constantFrom(...b.addrs),
          iif: fc.constantFrom(...b.ifs),
          oif: fc.constantFrom(...b.ifs),
          physIn: fc.constantFrom(...b.ports),
          proto: fc.constantFrom(6, 17, 1, 47),
          dport: fc.constantFrom(...b.dports),
        });
        for (const [builtin, hook] of [
          ['INPUT', 'input'],
          ['FORWARD', 'forward'],
          ['OUTPUT', 'output'],
        ] as const) {
          const point = `${host}:${hook}`;
          const chain = imported.chains.get(point);
          for (const p0 of fc.sample(pkt, { numRuns: 150, seed: seed + i })) {
            const p: Packet = { ...p0, dport: p0.proto === 6 || p0.proto === 17 ? p0.dport : undefined, physIn: builtin === 'OUTPUT' ? undefined : p0.physIn };
            const flow: Flow =
              p.proto === 6
                ? { proto: 'tcp', port: p.dport! }
                : p.proto === 17
                  ? { proto: 'udp', port: p.dport! }
                  : p.proto === 1
                    ? { proto: 'icmp' }
                    : { proto: 'other' };
            let got: 'ACCEPT' | 'DROP' = 'ACCEPT';
            if (chain) {
              const hop: Hop = {
                point,
                host,
                hook,
                iif: builtin === 'OUTPUT' ? undefined : p.iif,
                oif: builtin === 'INPUT' ? undefined : p.oif,
                inPort: p.physIn,
                natSrc: undefined,
              };
              got = flowContains(acceptedFlows(evalChain(chain, hop, p.src, p.dst)), flow) ? 'ACCEPT' : 'DROP';
            }
            const q: Packet = { ...p, iif: hop(builtin, 'in', p.iif), oif: hop(builtin, 'out', p.oif) };
            assert.equal(got, decide(save, builtin, q), `random-${i} ${point}: ${JSON.stringify(q)}\n${replayHint(seed)}`);
            compared++;
          }
        }
      }
    });
    assert.ok(compared > 1000, `only ${compared} packets compared`);
  });
});

/** INPUT has no output interface and OUTPUT no input interface. */
function hop(builtin: 'INPUT' | 'FORWARD' | 'OUTPUT', side: 'in' | 'out', name: string | undefined): string | undefined {
  if (builtin === 'INPUT' && side === 'out') return undefined;
  if (builtin === 'OUTPUT' && side === 'in') return undefined;
  return name;
}

describe('hostile source file names', () => {
  it('a file name with newlines and YAML stays inside its comment: the spec parses and means what the rules say', () => {
    const rules = '*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n';
    for (const name of ['x\nflush ruleset\n#', 'x\n      - {"action":"accept"}\n#', 'x\r\n  gw:input:\n    policy: accept # pwned\n#', 'x\u2028y\u202e#']) {
      const r = importText(rules, { file: `gw/${name}.v4` });
      const payloadLines = name
        .split(/[\r\n\u2028]/)
        .slice(1)
        .filter((l) => l.trim() !== '' && !l.trim().startsWith('#'));
      for (const l of r.text.split('\n'))
        assert.ok(
          !payloadLines.includes(l) || l.trimStart().startsWith('#'),
          `a payload line of the file name became a line of the spec: ${JSON.stringify(l)}`,
        );
      specOf(r.text, 'imported.yaml');
      assert.equal(accepts(r, 'gw:input', { src: '10.0.0.10', dst: '10.0.0.1', iif: 'br0' }, ssh), true, JSON.stringify(name));
      assert.equal(accepts(r, 'gw:input', { src: '10.0.0.10', dst: '10.0.0.1', iif: 'br0' }, web), false, JSON.stringify(name));
    }
  });
});
