/**
 * One built-in chain with its jumps, gotos and RETURNs → one ordered list of rules, first match
 * wins, as cordon's hand-written chains are. Each emitted rule's box is the intersection of the
 * matches on the way to it, so it is always expressible (no negation).
 *
 * A chain is inlined at its jump with the jump's match. A RETURN (or a goto, which skips the rest
 * of its chain) is exact in two ways:
 *  - when the packets it takes out differ from the current ones in one dimension that has a
 *    complement (addresses, ports without port 0, state), the rest of the chain continues with
 *    that complement, and the returned packets reach the caller's later rules as before;
 *  - otherwise the returned packets' whole continuation (the caller's later rules, up to the
 *    built-in policy) is emitted right there for them alone, ending in an explicit policy rule.
 *    That copies rules, so the count is bounded (MAX_RULES) and an overflow is an error.
 */
import { diag, type Diagnostic } from '../../diag/diagnostic.js';
import { Code } from '../../diag/codes.js';
import { flowSubtract, flowIsEmpty } from '../../util/flows.js';
import { ADDR_MAX } from '../../util/ip.js';
import * as R from '../../util/rangeset.js';
import { ANY_BOX, intersectBox, type Box } from '../common/box.js';
import type { ParsedRule } from './match.js';
import type { IptChain, IptRule, IptTable } from './parse.js';

/** Rules one built-in chain may become after flattening; past it the import fails with an error. */
export const MAX_RULES = 20000;
const MAX_DEPTH = 40;

export interface FlatRule {
  readonly box: Box;
  readonly action: 'accept' | 'drop' | 'reject';
  /** The deciding rule; undefined for a built-in policy reached by a RETURN. */
  readonly rule: IptRule | undefined;
  /** Lines of the jumps on the way to it, outermost first. */
  readonly via: readonly number[];
}

/** What the importer made of a rule: its parse, or why it takes no part (left out, with a diagnostic already said). */
export type Effective = ParsedRule | undefined;

interface Frame {
  readonly chain: IptChain;
  index: number;
  cond: Box;
  readonly via: readonly number[];
}

/**
 * The frames packets `m` of the top frame return to, each narrowed to them. A frame that has none
 * of them left (a chain narrowed when it sent them away by goto) is skipped: they never go on there.
 */
function returnTo(frames: readonly Frame[], m: Box): Frame[] {
  const out: Frame[] = [];
  for (const fr of frames.slice(0, -1)) {
    const cond = intersectBox(fr.cond, m);
    if (cond) out.push({ ...fr, cond });
  }
  return out;
}

class TooMany extends Error {}

function same(a: Box, b: Box): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** `cond` without `m` (m ⊆ cond) as one box, when it is one; null when it is empty; undefined when it is not one box. */
export function boxMinus(cond: Box, m: Box): Box | null | undefined {
  const differs: string[] = [];
  if (JSON.stringify(cond.src) !== JSON.stringify(m.src)) differs.push('src');
  if (JSON.stringify(cond.dst) !== JSON.stringify(m.dst)) differs.push('dst');
  if (JSON.stringify(cond.flows) !== JSON.stringify(m.flows)) differs.push('flows');
  if (cond.iif !== m.iif) differs.push('iif');
  if (cond.oif !== m.oif) differs.push('oif');
  if (cond.inPort !== m.inPort) differs.push('inPort');
  if (cond.state !== m.state) differs.push('state');
  if (differs.length === 0) return null;
  if (differs.length > 1) return undefined;
  const dim = differs[0]!;
  if (dim === 'src' || dim === 'dst') {
    const rest = R.subtract(cond[dim] ?? [[0, ADDR_MAX]], m[dim]!);
    return R.isEmpty(rest) ? null : { ...cond, [dim]: rest };
  }
  if (dim === 'flows') {
    const rest = flowSubtract(cond.flows, m.flows);
    if (flowIsEmpty(rest)) return null;
    // Port 0 cannot be written as a port item: keep such a set exact by the slow way.
    const partialZero = (s: R.RangeSet): boolean => R.contains(s, 0) && !R.covers(s, [[0, 65535]]);
    if (partialZero(rest.tcp) || partialZero(rest.udp)) return undefined;
    return { ...cond, flows: rest };
  }
  if (dim === 'state' && cond.state === undefined) return { ...cond, state: m.state === 'new' ? 'established' : 'new' };
  return undefined;
}

/**
 * Flattens built-in chain `start` of `table`. `effective` gives each rule's parse (undefined: left
 * out); `policy` is the built-in chain's. Returns the rules, or an error diagnostic.
 */
export function flattenChain(
  table: IptTable,
  start: IptChain,
  effective: (r: IptRule) => Effective,
  policy: 'accept' | 'drop',
  file: string,
): { rules: FlatRule[]; diagnostics: Diagnostic[] } {
  const out: FlatRule[] = [];
  const ds: Diagnostic[] = [];
  const emit = (r: FlatRule): void => {
    out.push(r);
    if (out.length > MAX_RULES) throw new TooMany();
  };
  const run = (init: Frame[], root: boolean): void => {
    const frames = init.map((f) => ({ ...f }));
    for (;;) {
      const f = frames[frames.length - 1];
      if (!f) return;
      if (f.index >= f.chain.rules.length) {
        frames.pop();
        if (frames.length === 0 && !root) emit({ box: f.cond, action: policy, rule: undefined, via: f.via });
        continue;
      }
      const r = f.chain.rules[f.index++]!;
      const p = effective(r);
      if (!p) continue;
      const m = intersectBox(f.cond, p.box);
      if (!m) continue;
      const t = p.target;
      if (t.kind === 'verdict') {
        emit({ box: m, action: t.verdict, rule: r, via: f.via });
        if (same(m, f.cond)) {
          // Everything this frame still sees is decided: its later rules are unreachable.
          frames.pop();
          if (frames.length === 0) return;
        }
        continue;
      }
      if (t.kind === 'return' || (t.kind === 'jump' && t.goto && table.chains.has(t.chain))) {
        const callee = t.kind === 'jump' ? table.chains.get(t.chain)! : undefined;
        if (frames.length + 1 > MAX_DEPTH) {
          ds.push(diag(Code.IMPORT_SYNTAX, 'error', `jumps nest deeper than ${MAX_DEPTH} chains (a loop?)`, { file, line: r.line, col: 1 }));
          return;
        }
        // Narrowing works when the taken-out packets land in an enclosing frame; at the bottom of
        // the root run they land in the built-in policy, which ends the chain anyway.
        const rest = frames.length === 1 && !root ? undefined : boxMinus(f.cond, m);
        if (rest !== undefined) {
          // Exact without copying: this frame goes on without the packets taken out.
          if (rest === null) frames.pop();
          else f.cond = rest;
          if (callee) frames.push({ chain: callee, index: 0, cond: m, via: [...f.via, r.line] });
          continue;
        }
        // The taken-out packets' own continuation, ended by the built-in policy.
        const outer = returnTo(frames, m);
        run(callee ? [...outer, { chain: callee, index: 0, cond: m, via: [...f.via, r.line] }] : outer, false);
        if (outer.length === 0 && !callee) emit({ box: m, action: policy, rule: undefined, via: f.via });
        continue;
      }
      if (t.kind === 'jump' && table.chains.has(t.chain)) {
        const callee = table.chains.get(t.chain)!;
        if (callee.builtin || frames.length + 1 > MAX_DEPTH) {
          ds.push(
            diag(Code.IMPORT_SYNTAX, 'error', callee.builtin ? `jump to built-in chain ${t.chain}` : `jumps nest deeper than ${MAX_DEPTH} chains (a loop?)`, {
              file,
              line: r.line,
              col: 1,
            }),
          );
          return;
        }
        frames.push({ chain: callee, index: 0, cond: m, via: [...f.via, r.line] });
        continue;
      }
      // Target extensions (LOG …) and counting rules: the packet goes on to the next rule.
    }
  };
  try {
    run([{ chain: start, index: 0, cond: ANY_BOX, via: [] }], true);
  } catch (e) {
    if (!(e instanceof TooMany)) throw e;
    ds.push(
      diag(
        Code.IMPORT_UNSUPPORTED,
        'error',
        `chain ${start.name} flattens to more than ${MAX_RULES} rules (RETURNs under multi-field matches copy the rules after them)`,
        { file, line: start.policyLine, col: 1 },
        'split the rule set, or match RETURNs on one field each',
      ),
    );
    return { rules: [], diagnostics: ds };
  }
  return { rules: out, diagnostics: ds };
}
