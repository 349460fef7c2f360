/**
 * Spec names inside PromQL: label values in double-quoted strings and in a regex alternation
 * (`host=~"a|b"`). Spec names are restricted at the boundary to letters, digits, `_` and `-`
 * (src/spec/identifiers.ts), none of which means anything in a PromQL string or a RE2 pattern
 * outside a bracket; a name that is not one is refused here (UnsafeOutput, a CORDON018 from the
 * registry), never quoted into something else.
 */
import { nameProblem } from '../../spec/identifiers.js';
import { UnsafeOutput } from '../escape.js';

/** A spec name as a PromQL label value inside "…", or refused. */
export function labelValue(name: string): string {
  const problem = nameProblem(name);
  if (problem !== undefined) throw new UnsafeOutput(`${problem}: it cannot be written into PromQL as it is`);
  return name;
}

/** `host="a"` for one name, `host=~"a|b"` for several (sorted, so the text is stable). */
export function hostMatcher(hosts: readonly string[]): string {
  const names = [...new Set(hosts.map(labelValue))].sort();
  return names.length === 1 ? `host="${names[0]}"` : `host=~"${names.join('|')}"`;
}
