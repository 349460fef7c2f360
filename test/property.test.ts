/**
 * Property tests: on random small specs, the class-based engine (`Engine.reach`) agrees with the
 * brute-force evaluator for every pair in both views, and the fast all-pairs engine agrees with
 * `computeMatrix` cell for cell.
 *
 * The specs: one hypervisor on 1–3 networks (each nat, routed or isolated, with or without its
 * gateway), 1–5 more hosts (VMs, containers, a managed server, sometimes a WireGuard peer and a
 * vpn-only guest), random egress modes and firewall placement, 0–2 groups, 1–8 policy rules
 * whose targets mix hosts, services, networks, groups, overlapping CIDRs, `internet`, `lan` and
 * `any`, with overlapping port ranges; sometimes hand-written `firewalls:` chains.
 *
 * CORDON_PROPERTY_RUNS overrides the number of runs (default keeps the file under a minute);
 * the seed comes from test/support/seed.ts (CORDON_TEST_SEED replays a failure; CI varies it).
 * The random specs live in test/oracle/drafts.ts.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compile } from '../src/ir/compile.js';
import type { Ir } from '../src/ir/types.js';
import { loadModelFromText } from '../src/model/load.js';
import type { Assume } from '../src/model/types.js';
import { flowEqual, formatFlowSet, type FlowSet } from '../src/util/flows.js';
import { BruteForce } from '../src/verify/brute.js';
import { endpoints } from '../src/verify/endpoints.js';
import { Engine } from '../src/verify/engine.js';
import { computeFastMatrix } from '../src/verify/fast-matrix.js';
import { computeMatrix } from '../src/verify/matrix.js';
import { draftToYaml, specArb } from './oracle/drafts.js';
import { withSeed } from './support/seed.js';

const RUNS = Number(process.env.CORDON_PROPERTY_RUNS ?? '150');
const VIEWS: readonly Assume[] = ['configured', 'compromised'];

function irOf(text: string): Ir {
  const r = loadModelFromText(text, 'property.yaml');
  const errors = r.diagnostics.filter((x) => x.severity === 'error');
  if (!r.model) throw new Error(`generated spec does not load:\n${errors.map((x) => `${x.code} ${x.message}`).join('\n')}\n${text}`);
  return compile(r.model);
}

function show(f: FlowSet | undefined): string {
  return f === undefined ? '·' : formatFlowSet(f);
}

// ---------------------------------------------------------------------------------------------

describe('property: random small specs', () => {
  it('every draft loads', () => {
    withSeed((seed0) =>
      fc.assert(
        fc.property(specArb, (d) => {
          irOf(draftToYaml(d));
        }),
        { numRuns: RUNS * 2, seed: seed0 + 7 },
      ),
    );
  });

  it('Engine.reach agrees with brute force for every pair, both views', () => {
    withSeed((seed0) =>
      fc.assert(
        fc.property(specArb, fc.integer({ min: 1, max: 1000 }), (d, seed) => {
          const text = draftToYaml(d);
          const ir = irOf(text);
          const engine = new Engine(ir);
          const brute = new BruteForce(ir, engine.topo, { ports: 'sampled', samples: 8, seed });
          const eps = endpoints(ir.model);
          for (const assume of VIEWS) {
            for (const a of eps) {
              for (const b of eps) {
                if (a === b || (a.source.kind === 'zone' && b.dest.kind === 'zone')) continue;
                const fast = engine.reach(a.source, b.dest, assume).allowed;
                const slow = brute.reach(a.source, b.dest, assume);
                assert.ok(flowEqual(fast, slow), `${assume}: ${a.name} → ${b.name}: engine ${show(fast)}, brute force ${show(slow)}\n${text}`);
              }
            }
          }
        }),
        { numRuns: RUNS, seed: seed0 + 11 },
      ),
    );
  });

  it("the fast all-pairs engine gives exactly computeMatrix's cells, both views", () => {
    withSeed((seed0) =>
      fc.assert(
        fc.property(specArb, (d) => {
          const text = draftToYaml(d);
          const ir = irOf(text);
          for (const assume of VIEWS) {
            const slow = computeMatrix(ir, assume);
            const fast = computeFastMatrix(ir, assume, new Engine(ir), { verifyTemplates: true });
            slow.cells.forEach((row, i) =>
              row.forEach((c, j) => {
                const f = fast.cell(i, j);
                const same = c === undefined ? f === undefined : f !== undefined && flowEqual(c, f);
                assert.ok(same, `${assume}: ${slow.endpoints[i]!.name} → ${slow.endpoints[j]!.name}: computeMatrix ${show(c)}, fast ${show(f)}\n${text}`);
              }),
            );
          }
        }),
        { numRuns: RUNS * 2, seed: seed0 + 13 },
      ),
    );
  });
});
