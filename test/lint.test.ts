/** `cordon lint`: one small inline spec per finding, the box algebra against brute force, the CLI. */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import type { Diagnostic } from '../src/diag/diagnostic.js';
import { compile } from '../src/ir/compile.js';
import { loadModel, loadModelFromText } from '../src/model/load.js';
import { boxContains, boxIntersects, boxSubtract, covered, smallCover, type Box, type NameSet } from '../src/verify/box.js';
import { lint } from '../src/verify/lint.js';
import { assertProperty } from './support/seed.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** gw owns lan0 and filters between its guests; no services, so only the case's own names show up. */
const BASE = `version: 1
networks:
  lan0: { cidr: 10.1.0.0/24, gateway: 10.1.0.1, egress: nat }
hosts:
  gw: { kind: hypervisor, uplink: eth9, nics: { lan0: 10.1.0.1 } }
  agent-1: { kind: vm, id: 101, nics: { lan0: 10.1.0.10 } }
  agent-2: { kind: vm, id: 102, nics: { lan0: 10.1.0.11 } }
  ollama: { kind: vm, id: 103, nics: { lan0: 10.1.0.20 }, services: { api: tcp/11434 } }
`;

function lintText(text: string): Diagnostic[] {
  const r = loadModelFromText(text, 'inline.yaml');
  assert.ok(r.model, r.diagnostics.map((d) => d.message).join('\n'));
  return lint(compile(r.model), { source: r.source });
}

interface Case {
  name: string;
  spec: string;
  /** Every code lint reports, in output order. */
  codes: string[];
  /** For the first finding: its line, words its message must contain, and words it must not. */
  line?: number;
  has?: (string | RegExp)[];
  hasNot?: string[];
  hint?: (string | RegExp)[];
  severity?: string;
}

const CASES: Case[] = [
  {
    name: 'an allow after a broader deny is shadowed, naming the deny',
    spec: `${BASE}policy:
  - deny: { from: agent-1, to: lan0 }
  - allow: { from: agent-1, to: ollama.api }
`,
    codes: ['CORDON030'],
    line: 11,
    severity: 'warning',
    has: ["'allow agent-1 → ollama.api' is shadowed", "'deny agent-1 → lan0' (line 10) denies all of its traffic first", 'gw:forward'],
    hint: ["move it above 'deny agent-1 → lan0'"],
  },
  {
    name: 'a rule covered only by two earlier rules together names both, and not a third that is not needed',
    spec: `${BASE}policy:
  - allow: { from: agent-1, to: ollama.api }
  - deny: { from: agent-1, to: [ollama, agent-2], ports: tcp/12000-13000, log: true }
  - deny: { from: agent-1, to: ollama, ports: tcp/11435-11999 }
  - deny: { from: agent-1, to: ollama, ports: tcp/11500-20000 }
  - allow: { from: agent-1, to: ollama, ports: tcp/11435-20000 }
`,
    codes: ['CORDON030'],
    line: 14,
    has: [
      "'allow agent-1 → ollama tcp/11435-20000' is shadowed",
      "'deny agent-1 → ollama tcp/11435-11999' (line 12) and 'deny agent-1 → ollama tcp/11500-20000' (line 13) together deny all of its traffic first",
    ],
    hasNot: ['12000-13000', 'ollama.api'],
  },
  {
    name: 'a duplicate is dead, and the original is not called redundant for it',
    spec: `${BASE}policy:
  - allow: { from: agent-1, to: ollama.api }
  - allow: { from: agent-1, to: ollama.api }
`,
    codes: ['CORDON030'],
    line: 11,
    has: ["'allow agent-1 → ollama.api' is redundant and never matches (dead rule)", '(line 10) allows all of its traffic first'],
    hint: ['remove it'],
  },
  {
    name: 'a narrow allow before a broader allow of the same traffic is redundant',
    spec: `${BASE}policy:
  - allow: { from: agent-1, to: ollama, ports: tcp/22 }
  - allow: { from: agent-1, to: ollama, ports: tcp }
expect:
  - { from: agent-2, to: ollama.api, verdict: deny }
`,
    codes: ['CORDON031'],
    line: 10,
    severity: 'warning',
    has: ["'allow agent-1 → ollama tcp/22' is redundant", "'allow agent-1 → ollama tcp' (line 11) allows all of its traffic anyway"],
  },
  {
    name: 'a deny that only repeats the default deny is redundant; with log: true it is kept',
    spec: `${BASE}policy:
  - allow: { from: agent-1, to: ollama.api }
  - deny: { from: agent-1, to: agent-2 }
  - deny: { from: agent-2, to: agent-1, log: true }
`,
    codes: ['CORDON031'],
    line: 11,
    has: ["'deny agent-1 → agent-2' is redundant", 'chain default', 'denies it as well', 'gw:forward'],
  },
  {
    name: 'an allow and a later deny that overlap in part: info, with the overlapping part',
    spec: `${BASE}policy:
  - allow: { from: agent-1, to: lan0, ports: tcp/22 }
  - deny: { from: lan0, to: ollama, log: true }
expect:
  - { from: agent-2, to: ollama.api, verdict: deny }
`,
    codes: ['CORDON032'],
    line: 11,
    severity: 'info',
    has: [
      "'deny lan0 → ollama' and the earlier 'allow agent-1 → lan0 tcp/22' (line 10) overlap on tcp/22 from agent-1 (10.1.0.10) to ollama (10.1.0.20)",
      'the earlier one allows',
      'gw:forward',
    ],
  },
  {
    name: "an allow that an isolated guest's egress rule takes entirely is shadowed by that plumbing",
    spec: `${BASE.replace('ollama: { kind: vm, id: 103,', 'ollama: { kind: vm, id: 103, egress: isolated,')}policy:
  - allow: { from: agent-1, to: ollama.api }
  - allow: { from: ollama, to: internet, ports: tcp/443 }
`,
    codes: ['CORDON030'],
    line: 11,
    has: ["'allow ollama → internet tcp/443' is shadowed", "'ollama egress: isolated (no internet, no LAN)'", 'denies all of its traffic first'],
  },
  {
    name: 'a rule that earlier rules take only in part is an overlap, not shadowed, and each earlier rule is named once',
    spec: `${BASE}policy:
  - deny: { from: agent-1, to: ollama, ports: tcp/22 }
  - deny: { from: agent-2, to: ollama, ports: tcp/22, log: true }
  - allow: { from: [agent-1, agent-2], to: [ollama, gw], ports: tcp/22 }
expect:
  - { from: agent-2, to: ollama.api, verdict: deny }
`,
    codes: ['CORDON032'],
    line: 12,
    severity: 'info',
    has: [
      "'allow [agent-1, agent-2] → [ollama, gw] tcp/22' overlaps 2 earlier rules of the other verdict, which win where they overlap",
      "'deny agent-1 → ollama tcp/22' (line 10) denies tcp/22 from agent-1 (10.1.0.10) to ollama (10.1.0.20)",
      "'deny agent-2 → ollama tcp/22' (line 11) denies tcp/22 from agent-2 (10.1.0.11) to ollama (10.1.0.20)",
    ],
  },
  {
    name: 'a policy with no managed firewall anywhere never applies',
    spec: `version: 1
networks:
  lan0: { cidr: 10.1.0.0/24 }
hosts:
  agent-1: { kind: vm, nics: { lan0: 10.1.0.10 } }
  agent-2: { kind: vm, nics: { lan0: 10.1.0.11 } }
policy:
  - allow: { from: agent-1, to: agent-2, ports: tcp/443 }
`,
    codes: ['CORDON037'],
    line: 8,
    has: ["'allow agent-1 → agent-2 tcp/443' never applies"],
  },
  {
    name: 'an unused group',
    spec: `${BASE}groups:
  spare: [agent-2]
policy:
  - allow: { from: agent-1, to: ollama.api }
`,
    codes: ['CORDON033'],
    line: 10,
    severity: 'warning',
    has: ["group 'spare' is never used", 'agent-2'],
  },
  {
    name: 'an unused service',
    spec: `${BASE}policy:
  - allow: { from: agent-1, to: ollama, ports: tcp/443 }
`,
    codes: ['CORDON034'],
    line: 8,
    severity: 'warning',
    has: ["service 'ollama.api' (tcp/11434) is never used"],
  },
  {
    name: 'tcp/22 to any also opens SSH to the other VMs and to the host (seed 001)',
    spec: `${BASE}policy:
  - allow: { from: agent-1, to: ollama.api }
  - allow: { from: agent-1, to: any, ports: tcp/22 }
`,
    codes: ['CORDON035'],
    line: 11,
    severity: 'warning',
    has: [
      "'allow agent-1 → any tcp/22' allows tcp/22 to any address, not only to the internet",
      'agent-2 (vm)',
      'gw (hypervisor)',
      'ollama (vm)',
      'VM-to-VM and VM-to-host',
    ],
    hasNot: ['agent-1 (vm)'],
    hint: ['`to: internet`'],
  },
  {
    name: 'a huge prefix counts as any',
    spec: `${BASE}policy:
  - allow: { from: agent-1, to: ollama.api }
  - allow: { from: agent-1, to: 0.0.0.0/0, ports: [tcp/22, tcp/9418] }
`,
    codes: ['CORDON035'],
    line: 11,
    has: ['allows tcp/22,9418 to 0.0.0.0/0'],
  },
  {
    name: 'a hand-written guest filter that accepts tcp/22 with no destination',
    spec: `${BASE}policy:
  - allow: { from: agent-1, to: ollama.api }
firewalls:
  'agent-1:guest-out':
    policy: drop
    rules:
      - { action: accept, ports: [udp/53, tcp/22] }
`,
    codes: ['CORDON035'],
    line: 15,
    has: ['in agent-1:guest-out allows tcp/22 udp/53 to any destination', 'agent-2 (vm)', 'VM-to-VM'],
  },
  {
    name: "hand-written accepts bound to the internet, or to a big prefix holding none of the spec's machines, are fine",
    spec: `${BASE}policy:
  - allow: { from: agent-1, to: ollama.api }
firewalls:
  'agent-1:guest-out':
    policy: drop
    rules:
      - { action: accept, to: internet, ports: [udp/53, tcp/22] }
      - { action: accept, to: 172.16.0.0/12, ports: tcp/443 }
`,
    codes: [],
  },
  {
    name: 'a clean spec has nothing to say',
    spec: `${BASE}policy:
  - allow: { from: agent-1, to: ollama.api }
  - allow: { from: [agent-1, agent-2], to: internet, ports: [tcp/443, udp/53] }
`,
    codes: [],
  },
];

describe('lint findings', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const ds = lintText(c.spec);
      assert.deepEqual(
        ds.map((d) => d.code),
        c.codes,
        ds.map((d) => `${d.code} ${d.line}: ${d.message}`).join('\n'),
      );
      const d = ds[0];
      if (!d) return;
      if (c.line !== undefined) assert.equal(d.line, c.line, d.message);
      if (c.severity) assert.equal(d.severity, c.severity);
      for (const w of c.has ?? []) assert.ok(typeof w === 'string' ? d.message.includes(w) : w.test(d.message), `missing ${w} in: ${d.message}`);
      for (const w of c.hasNot ?? []) assert.ok(!d.message.includes(w), `unexpected ${w} in: ${d.message}`);
      for (const w of c.hint ?? []) assert.ok(typeof w === 'string' ? (d.hint ?? '').includes(w) : w.test(d.hint ?? ''), `missing ${w} in hint: ${d.hint}`);
    });
  }

  it('reports a policy rule once, listing every chain it is shadowed in', () => {
    const ds = lintText(`${BASE}policy:
  - deny: { from: agent-1, to: any, ports: tcp/22 }
  - allow: { from: agent-1, to: [gw, ollama], ports: tcp/22 }
`);
    const shadowed = ds.filter((d) => d.code === 'CORDON030');
    assert.equal(shadowed.length, 1, ds.map((d) => d.message).join('\n'));
    assert.match(shadowed[0]!.message, /\(gw:forward, gw:input\)|\(gw:input, gw:forward\)/);
  });

  it('finds nothing at warning level in the Proxmox dual-bridge example', () => {
    const r = loadModel(join(ROOT, 'examples/proxmox-dual-bridge.yaml'));
    assert.ok(r.model);
    const ds = lint(compile(r.model), { source: r.source });
    assert.deepEqual(
      ds.filter((d) => d.severity !== 'info').map((d) => d.message),
      [],
    );
  });
});

// ---- the box algebra against brute force on a small universe ---------------------------------

const NAMES = ['a', 'b'];
/** Every name a small box can tell apart: the two listed ones and "any other". */
const NAME_UNIVERSE = ['a', 'b', 'zz'];

const arbRange = (max: number) =>
  fc.array(fc.tuple(fc.integer({ min: 0, max }), fc.integer({ min: 0, max })), { minLength: 1, maxLength: 2 }).map((spans) => {
    const sorted = spans.map(([x, y]) => [Math.min(x, y), Math.max(x, y)] as [number, number]).sort((p, q) => p[0] - q[0]);
    const out: [number, number][] = [];
    for (const s of sorted) {
      const last = out[out.length - 1];
      if (last && s[0] <= last[1] + 1) last[1] = Math.max(last[1], s[1]);
      else out.push([...s]);
    }
    return out;
  });
const arbNames: fc.Arbitrary<NameSet> = fc.oneof(
  fc.constant({ neg: true, names: [] }),
  fc.subarray(NAMES, { minLength: 1 }).map((names) => ({ neg: false, names })),
  fc.subarray(NAMES, { minLength: 1 }).map((names) => ({ neg: true, names })),
);
const arbBox: fc.Arbitrary<Box> = fc.record({
  src: arbRange(7),
  dst: arbRange(7),
  flow: arbRange(3),
  iif: arbNames,
  oif: fc.constant({ neg: true, names: [] }),
  port: arbNames,
  state: fc.integer({ min: 1, max: 3 }),
});

function points(b: Box): string[] {
  const out: string[] = [];
  const vals = (rs: readonly (readonly [number, number])[]) => rs.flatMap(([lo, hi]) => Array.from({ length: hi - lo + 1 }, (_, k) => lo + k));
  const nm = (s: NameSet) => NAME_UNIVERSE.filter((x) => s.neg !== s.names.includes(x));
  for (const s of vals(b.src))
    for (const d of vals(b.dst))
      for (const f of vals(b.flow))
        for (const i of nm(b.iif)) for (const p of nm(b.port)) for (const st of [1, 2]) if (b.state & st) out.push(`${s},${d},${f},${i},${p},${st}`);
  return out;
}

describe('box algebra', () => {
  it('subtract, intersects, contains and covered agree with enumeration', () => {
    assertProperty(
      fc.property(arbBox, fc.array(arbBox, { maxLength: 5 }), (q, cands) => {
        const qp = points(q);
        const union = new Set(cands.flatMap(points));
        for (const c of cands) {
          const cp = new Set(points(c));
          assert.equal(
            boxIntersects(q, c),
            qp.some((x) => cp.has(x)),
          );
          assert.equal(
            boxContains(c, q),
            qp.every((x) => cp.has(x)),
          );
          const pieces = boxSubtract(q, c).map(points);
          const flat = pieces.flat();
          assert.equal(flat.length, new Set(flat).size, 'pieces are disjoint');
          assert.deepEqual(flat.sort(), qp.filter((x) => !cp.has(x)).sort());
        }
        const want = qp.every((x) => union.has(x));
        assert.equal(covered(q, cands, { left: 1e6 }), want ? 'covered' : 'uncovered');
        const pick = smallCover(q, cands, { left: 1e6 });
        if (!want) assert.equal(pick, undefined);
        else {
          assert.ok(pick);
          const mine = pick.map((i) => cands[i]!);
          assert.equal(covered(q, mine, { left: 1e6 }), 'covered');
          for (let k = 0; k < mine.length && mine.length > 1; k++)
            assert.equal(
              covered(
                q,
                mine.filter((_, j) => j !== k),
                { left: 1e6 },
              ),
              'uncovered',
              'irredundant',
            );
        }
      }),
      { numRuns: 400 },
    );
  });
});

// ---- the command -------------------------------------------------------------------------------

function cordon(...args: string[]) {
  return spawnSync(join(ROOT, 'bin/cordon'), ['lint', ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
}

describe('cordon lint', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-lint-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const bad = join(dir, 'ssh-to-any.yaml');
  writeFileSync(bad, `${BASE}policy:\n  - allow: { from: agent-1, to: ollama.api }\n  - allow: { from: agent-1, to: any, ports: tcp/22 }\n`);

  it('exits 0 on the Proxmox example, with notes only (intended overlaps)', () => {
    const r = cordon('examples/proxmox-dual-bridge.yaml');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /0 warnings, [1-9]\d* notes?/);
    assert.match(r.stderr, /info CORDON032/);
  });

  it('exits 1 with a code frame when it finds a warning under --strict', () => {
    const r = cordon(bad, '--strict');
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /warning CORDON035/);
    assert.match(r.stderr, /> 11 \| {3}- allow: \{ from: agent-1, to: any, ports: tcp\/22 \}/);
  });

  it('--json prints the diagnostic array', () => {
    const r = cordon(bad, '--json', '--strict');
    assert.equal(r.status, 1, r.stderr);
    const ds = JSON.parse(r.stdout) as Diagnostic[];
    assert.deepEqual(
      ds.map((d) => [d.code, d.severity, d.line]),
      [['CORDON035', 'warning', 11]],
    );
  });

  it('exits 2 on an invalid spec', () => {
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, `${BASE}policy:\n  - allow: { from: agent-9, to: ollama.api }\n`);
    const r = cordon(broken);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown name 'agent-9'/);
  });
});
