/** All-pairs reachability: every endpoint to every other, as flow sets. */
import type { Ir } from '../ir/types.js';
import type { Assume } from '../model/types.js';
import type { FlowSet } from '../util/flows.js';
import { Engine } from './engine.js';
import { endpoints, type Endpoint } from './endpoints.js';

export interface Matrix {
  readonly assume: Assume;
  readonly endpoints: readonly Endpoint[];
  /** cells[i][j]: flows from endpoints[i] to endpoints[j]; undefined on the diagonal. */
  readonly cells: readonly (readonly (FlowSet | undefined)[])[];
}

export function computeMatrix(ir: Ir, assume: Assume, engine = new Engine(ir)): Matrix {
  const eps = endpoints(ir.model);
  const cells = eps.map((a, i) =>
    eps.map((b, j) => {
      if (i === j) return undefined;
      if (a.source.kind === 'zone' && b.dest.kind === 'zone') return undefined;
      return engine.reach(a.source, b.dest, assume).allowed;
    }),
  );
  return { assume, endpoints: eps, cells };
}
