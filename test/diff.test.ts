/** `diffMatrices` on two small inline specs, the text and JSON reports, and the CLI's exit codes. */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { compile } from '../src/ir/compile.js';
import { loadModelFromText } from '../src/model/load.js';
import type { Assume } from '../src/model/types.js';
import { diffToJson, diffToText } from '../src/report/diff.js';
import { formatFlowSet } from '../src/util/flows.js';
import { diffMatrices, hasChanges } from '../src/verify/diff.js';
import { computeMatrix } from '../src/verify/matrix.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

const OLD = `version: 1
networks:
  lan0: { cidr: 10.1.0.0/24, gateway: 10.1.0.1, egress: nat }
hosts:
  gw: { kind: hypervisor, uplink: eth9, nics: { lan0: 10.1.0.1 } }
  agent-1: { kind: vm, id: 101, nics: { lan0: 10.1.0.10 } }
  ollama: { kind: vm, id: 102, egress: isolated, nics: { lan0: 10.1.0.20 }, services: { api: tcp/11434 } }
policy:
  - allow: { from: agent-1, to: ollama.api }
  - allow: { from: agent-1, to: internet, ports: [tcp/443, udp/53] }
`;

/** agent-1 gains tcp/8080 to the internet and loses udp/53; ollama is replaced by llm; agent-2 is new. */
const NEW = `version: 1
networks:
  lan0: { cidr: 10.1.0.0/24, gateway: 10.1.0.1, egress: nat }
hosts:
  gw: { kind: hypervisor, uplink: eth9, nics: { lan0: 10.1.0.1 } }
  agent-1: { kind: vm, id: 101, nics: { lan0: 10.1.0.10 } }
  agent-2: { kind: vm, id: 103, nics: { lan0: 10.1.0.11 } }
  llm: { kind: vm, id: 102, egress: isolated, nics: { lan0: 10.1.0.20 }, services: { api: tcp/11434 } }
policy:
  - allow: { from: [agent-1, agent-2], to: llm.api }
  - allow: { from: agent-1, to: internet, ports: [tcp/443, tcp/8080] }
`;

function matrixOf(text: string, assume: Assume) {
  const r = loadModelFromText(text, 'inline.yaml');
  assert.ok(r.model, r.diagnostics.map((d) => d.message).join('\n'));
  return computeMatrix(compile(r.model), assume);
}

function diffOf(a: string, b: string, assume: Assume = 'configured') {
  return diffMatrices(matrixOf(a, assume), matrixOf(b, assume));
}

describe('diffMatrices', () => {
  it('finds nothing between a spec and itself, in both views', () => {
    for (const assume of ['configured', 'compromised'] as const) {
      const d = diffOf(OLD, OLD, assume);
      assert.equal(hasChanges(d), false);
      assert.deepEqual(d.changes, []);
      assert.deepEqual(d.endpointsAdded, []);
      assert.deepEqual(d.endpointsRemoved, []);
    }
  });

  it('reports added and removed ports on a pair that exists in both', () => {
    const d = diffOf(OLD, NEW);
    const c = d.changes.find((x) => x.from === 'agent-1' && x.to === 'internet');
    assert.ok(c, 'agent-1 → internet changed');
    assert.equal(formatFlowSet(c.added), 'tcp/8080');
    assert.equal(formatFlowSet(c.removed), 'udp/53');
  });

  it('matches endpoints by name and reports hosts added and removed as such', () => {
    const d = diffOf(OLD, NEW);
    assert.deepEqual(d.endpointsAdded, [
      { name: 'agent-2', kind: 'host' },
      { name: 'llm', kind: 'host' },
    ]);
    assert.deepEqual(d.endpointsRemoved, [{ name: 'ollama', kind: 'host' }]);
    const gone = d.changes.find((x) => x.from === 'agent-1' && x.to === 'ollama');
    assert.ok(gone);
    assert.equal(formatFlowSet(gone.removed), 'tcp/11434');
    assert.equal(formatFlowSet(gone.added), '-');
    const fresh = d.changes.find((x) => x.from === 'agent-2' && x.to === 'llm');
    assert.ok(fresh);
    assert.equal(formatFlowSet(fresh.added), 'tcp/11434');
    assert.equal(formatFlowSet(fresh.removed), '-');
  });

  it('is antisymmetric: swapping old and new swaps added and removed', () => {
    const ab = diffOf(OLD, NEW);
    const ba = diffOf(NEW, OLD);
    assert.deepEqual(ba.endpointsAdded, ab.endpointsRemoved);
    assert.deepEqual(ba.endpointsRemoved, ab.endpointsAdded);
    assert.deepEqual(
      ba.changes.map((c) => ({ from: c.from, to: c.to, added: c.removed, removed: c.added })),
      ab.changes.map((c) => ({ from: c.from, to: c.to, added: c.added, removed: c.removed })),
    );
  });

  it('lists changes sorted by source, then destination, hosts before zones', () => {
    const d = diffOf(OLD, NEW);
    const keys = d.changes.map((c) => [c.from, c.to] as const);
    const rank = (n: string): string => (n === 'internet' ? `1${n}` : n === 'lan' ? `2${n}` : `0${n}`);
    const sorted = [...keys].sort((a, b) => rank(a[0]).localeCompare(rank(b[0])) || rank(a[1]).localeCompare(rank(b[1])));
    assert.deepEqual(keys, sorted);
  });

  it('refuses to compare matrices of different views', () => {
    assert.throws(() => diffMatrices(matrixOf(OLD, 'configured'), matrixOf(OLD, 'compromised')), /cannot compare/);
  });
});

describe('diff reports', () => {
  it('renders + and - lines grouped by source, without colour', () => {
    const text = diffToText(diffOf(OLD, NEW));
    const lines = text.split('\n');
    assert.match(lines[0]!, /^view: configured · \d+ pairs changed, 2 endpoints added, 1 endpoint removed$/);
    assert.ok(lines.includes('- host ollama'));
    assert.ok(lines.includes('+ host agent-2'));
    assert.ok(
      lines.some((l) => /^\+ agent-1 +→ internet +tcp\/8080$/.test(l)),
      text,
    );
    assert.ok(
      lines.some((l) => /^- agent-1 +→ internet +udp\/53$/.test(l)),
      text,
    );
    assert.ok(!text.includes('\x1b['), 'no colour codes');
  });

  it('says so when nothing changed', () => {
    assert.equal(diffToText(diffOf(OLD, OLD)), 'view: configured · no change in reachability');
  });

  it('JSON is complete: port ranges as pairs and the compact text', () => {
    const j = diffToJson(diffOf(OLD, NEW));
    assert.equal(j.changed, true);
    const c = j.changes.find((x) => x.from === 'agent-1' && x.to === 'internet');
    assert.ok(c);
    assert.deepEqual(c.added, { tcp: [[8080, 8080]], udp: [], icmp: false, other: false });
    assert.deepEqual(c.removed, { tcp: [], udp: [[53, 53]], icmp: false, other: false });
    assert.equal(c.addedText, 'tcp/8080');
    assert.equal(c.removedText, 'udp/53');
    assert.deepEqual(JSON.parse(JSON.stringify(j)), j);
  });
});

describe('cordon diff (CLI)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-diff-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const oldFile = join(dir, 'old.yaml');
  const newFile = join(dir, 'new.yaml');
  writeFileSync(oldFile, OLD);
  writeFileSync(newFile, NEW);
  const run = (...args: string[]) =>
    spawnSync(join(ROOT, 'bin/cordon'), ['diff', ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });

  it('exits 0 with changes, and prints them', () => {
    const r = run(oldFile, newFile);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.stdout.startsWith(`--- ${oldFile}\n+++ ${newFile}\n`));
    assert.match(r.stdout, /^\+ agent-1 +→ internet +tcp\/8080$/m);
  });

  it('--exit-code: 1 when something changed, 0 when nothing did', () => {
    assert.equal(run(oldFile, newFile, '--exit-code').status, 1);
    assert.equal(run(oldFile, oldFile, '--exit-code').status, 0);
  });

  it('--json prints one object with a view per --assume', () => {
    const r = run(oldFile, newFile, '--json', '--assume', 'both');
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { changed: boolean; views: { assume: string }[] };
    assert.equal(j.changed, true);
    assert.deepEqual(
      j.views.map((v) => v.assume),
      ['configured', 'compromised'],
    );
  });

  it('exits 2 on a bad --assume or an unreadable file, naming both broken files', () => {
    assert.equal(run(oldFile, newFile, '--assume', 'sometimes').status, 2);
    const r = run(join(dir, 'missing-a.yaml'), join(dir, 'missing-b.yaml'));
    assert.equal(r.status, 2);
    assert.match(r.stderr, /missing-a\.yaml: error CORDON001/);
    assert.match(r.stderr, /missing-b\.yaml: error CORDON001/);
    assert.doesNotMatch(r.stderr, /internal error|^\s+at .+:\d+:\d+\)?$/m);
  });
});
