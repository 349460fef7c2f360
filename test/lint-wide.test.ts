/**
 * lint finds a rule's neighbours (the rules sharing a packet with it) through an interval index,
 * except for "wide" rules, whose every index scan is long: theirs come from the narrow rules'
 * lists (meeting is symmetric) plus a one-by-one test of the plumbing and the other wide rules.
 * Which rules are wide must not change any finding: random chains linted with every subject rule
 * wide, with none, and with the default choice give the same shadowed, redundant and overlapping
 * rules.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Action, Chain, IrMatch, IrRule, RuleRole } from '../src/ir/types.js';
import type { Origin } from '../src/model/types.js';
import type { RangeSet } from '../src/util/rangeset.js';
import { lintChain, type ChainLint } from '../src/verify/lint-chain.js';
import { assertProperty } from './support/seed.js';

const ORIGIN: Origin = { file: 'x.yaml', path: 'policy[0]', line: 1, col: 1, text: 'r' };

/** One range in a small space, or everything (undefined): small so rules meet often. */
const addrs: fc.Arbitrary<RangeSet | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 8 })).map(([lo, w]): RangeSet => [[lo, lo + w]]),
  fc.tuple(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 21, max: 40 })).map(([a, b]): RangeSet => [
    [a, a + 1],
    [b, b + 3],
  ]),
  // Many ranges with gaps (the internet's dozens): indexed by groups of ranges, not one by one.
  fc.uniqueArray(fc.integer({ min: 0, max: 48 }), { minLength: 6, maxLength: 14 }).map((xs): RangeSet => {
    const out: [number, number][] = [];
    for (const x of [...xs].sort((a, b) => a - b)) if (out.length === 0 || x > out[out.length - 1]![1] + 1) out.push([x, x]);
    return out;
  }),
);
const ports: fc.Arbitrary<RangeSet> = fc.oneof(
  fc.constant([[0, 65535]] as RangeSet),
  fc.integer({ min: 20, max: 30 }).map((p): RangeSet => [[p, p]]),
  fc.constant([] as RangeSet),
);
const names = (pool: string[]): fc.Arbitrary<readonly string[] | undefined> =>
  fc.oneof(fc.constant(undefined), fc.uniqueArray(fc.constantFrom(...pool), { minLength: 1, maxLength: 2 }));

const match: fc.Arbitrary<IrMatch> = fc.record({
  src: addrs,
  dst: addrs,
  flows: fc.record({ tcp: ports, udp: ports, icmp: fc.boolean(), other: fc.boolean() }),
  iif: names(['vmbr0', 'vmbr1', 'wg0']),
  oif: names(['vmbr0', 'vmbr1']),
  inPort: names(['tap1i0', 'tap2i0', 'tap3i0']),
  state: fc.constantFrom(undefined, 'new' as const, 'established' as const),
});

const rule = fc.record({
  match,
  action: fc.constantFrom<Action>('accept', 'drop', 'reject'),
  role: fc.constantFrom<RuleRole>('policy', 'policy', 'policy', 'egress', 'antispoof', 'stateful'),
  rate: fc.constantFrom(undefined, undefined, undefined, '10/second'),
});

function chainOf(rs: { match: IrMatch; action: Action; role: RuleRole; rate: string | undefined }[], policy: 'accept' | 'drop'): Chain {
  const rules: IrRule[] = rs.map((r, index) => ({
    id: `h:forward#${index}`,
    index,
    match: r.match,
    action: r.action,
    log: false,
    rate: r.rate,
    role: r.role,
    origin: ORIGIN,
    policyIndex: undefined,
  }));
  return { point: 'h:forward', host: 'h', hook: 'forward', enforcedOn: 'h', inGuest: false, policy, policyOrigin: ORIGIN, rules, handwritten: false };
}

/** What lint found, by rule index, in a form deepEqual compares. */
function findings(l: ChainLint): unknown {
  const idx = (rs: readonly IrRule[]): number[] => rs.map((r) => r.index);
  const pairs: [number, number][] = [];
  for (let k = 0; k < l.overlapList.length; k++) pairs.push([l.overlapList.j(k), l.overlapList.i(k)]);
  return {
    shadowed: [...l.shadowed].map(([i, s]) => [i, idx(s.by)]),
    redundant: [...l.redundant].map(([i, s]) => [i, idx(s.by), s.byDefault]),
    overlaps: pairs,
    empty: [...l.empty],
    undecided: l.undecided,
  };
}

describe('lint: wide rules', () => {
  it('finds the same whichever rules get their neighbours without the index', () => {
    let wideMet = 0;
    assertProperty(
      fc.property(fc.array(rule, { minLength: 2, maxLength: 70 }), fc.constantFrom<'accept' | 'drop'>('accept', 'drop'), (rs, policy) => {
        const chain = chainOf(rs, policy);
        const none = findings(lintChain(chain, { wideFactor: Infinity }));
        const all = findings(lintChain(chain, { wideFactor: 0 }));
        assert.deepEqual(all, none);
        assert.deepEqual(findings(lintChain(chain, { wideFactor: 1 })), none);
        assert.deepEqual(findings(lintChain(chain)), none);
        if ((none as { overlaps: unknown[]; shadowed: unknown[] }).overlaps.length + (none as { shadowed: unknown[] }).shadowed.length > 0) wideMet++;
      }),
      { numRuns: 300 },
      907,
    );
    // The chains must give lint something to find, or the comparison says nothing.
    assert.ok(wideMet > 100, `only ${wideMet} chains had findings`);
  });
});
