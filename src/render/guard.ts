/**
 * The last check between a renderer and the disk, applied to every target in the registry: a value
 * an emitter refused (`UnsafeOutput`, see escape.ts) becomes a CORDON018 diagnostic instead of a
 * crash, and every file path must stay a plain relative path under the output directory (paths
 * are built from spec names). A target that needs keys keeps that ability, guarded the same way.
 */
import { diag } from '../diag/diagnostic.js';
import { Code } from '../diag/codes.js';
import type { Ir } from '../ir/types.js';
import { safeRelativePath, UnsafeOutput } from './escape.js';
import type { Renderer, RenderOptions, RenderResult } from './types.js';

function guardedRender(r: Renderer, ir: Ir, opts: RenderOptions): RenderResult {
  const refuse = (why: string): RenderResult => ({
    files: [],
    diagnostics: [
      diag(
        Code.UNSAFE_TEXT,
        'error',
        `${r.name}: refused to render: ${why}`,
        { file: ir.model.file },
        'the spec holds text this target cannot carry safely; nothing was written',
      ),
    ],
  });
  let result: RenderResult;
  try {
    result = r.render(ir, opts);
  } catch (e) {
    if (e instanceof UnsafeOutput) return refuse(e.what);
    throw e;
  }
  for (const f of result.files) {
    const bad = safeRelativePath(f.path);
    if (bad !== undefined) return refuse(bad);
  }
  return result;
}

export function guarded<R extends Renderer>(r: R): R {
  const withKeys = (r as unknown as { withKeys?: (k: unknown) => Renderer }).withKeys;
  return {
    ...r,
    render: (ir: Ir, opts: RenderOptions) => guardedRender(r, ir, opts),
    ...(typeof withKeys === 'function' ? { withKeys: (k: unknown) => guarded(withKeys.call(r, k)) } : {}),
  };
}
