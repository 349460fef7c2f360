/**
 * Spec text → the answers the CLI gives, as JSON values: check, matrix, query/explain, lint, test,
 * render, diff. Pure (no HTTP, no database): routes call these with a stored version's text and
 * send the result. Each function's output is what the matching `cordon … --json` prints for the
 * same spec, so a client can switch between the two without reparsing anything.
 *
 * Failures are values (`Refusal`): invalid specs carry the located diagnostics `cordon check`
 * prints; bad arguments carry a message naming the field and the valid choices.
 */
import { sortDiagnostics, type Diagnostic } from '../diag/diagnostic.js';
import { compile, compileDiagnostics } from '../ir/compile.js';
import type { Ir } from '../ir/types.js';
import { loadModelFromText } from '../model/load.js';
import type { Assume } from '../model/types.js';
import { findRenderer, RENDERERS } from '../render/registry.js';
import type { RenderedFile } from '../render/types.js';
import type { SourceMap } from '../spec/parse.js';
import { isKeyedRenderer } from '../render/wireguard/keys.js';
import { diffToJson, type MatrixDiffJson } from '../report/diff.js';
import { matrixToJson, type MatrixJson } from '../report/matrix.js';
import { unknownNameHint } from '../util/suggest.js';
import { runChecks, type CheckResult } from '../verify/checks.js';
import { diffMatrices, hasChanges } from '../verify/diff.js';
import { Engine } from '../verify/engine.js';
import { explain, type Explanation } from '../verify/explain.js';
import { computeFastMatrix } from '../verify/fast-matrix.js';
import { lint } from '../verify/lint.js';
import { computeMatrix, type Matrix } from '../verify/matrix.js';
import { JSON_QUERY_NAMES, QueryArgError, resolveQuery } from '../verify/query-args.js';

/** Why a request cannot be answered: a message, and for an invalid spec its diagnostics. */
export class Refusal extends Error {
  constructor(
    message: string,
    readonly diagnostics: readonly Diagnostic[] = [],
  ) {
    super(message);
  }
}

export interface CheckJson {
  readonly file: string;
  readonly ok: boolean;
  readonly diagnostics: readonly Diagnostic[];
}

/** What `cordon check --json` prints for one file. */
export function checkText(text: string, file: string): CheckJson {
  return checkSpec(text, file).json;
}

/** `checkText` and the spec's host count (undefined when it does not load): the server decides by size what runs as a job. */
export function checkSpec(text: string, file: string): { json: CheckJson; hosts: number | undefined } {
  const r = loadModelFromText(text, file);
  return {
    json: { file, ok: r.model !== undefined, diagnostics: [...r.diagnostics, ...(r.model ? compileDiagnostics(r.model) : [])] },
    hosts: r.model?.hosts.size,
  };
}

/** A compiled spec and the warnings loading it gave. */
export interface Compiled {
  readonly file: string;
  readonly ir: Ir;
  readonly engine: Engine;
  readonly loadDiagnostics: readonly Diagnostic[];
  readonly source: SourceMap | undefined;
}

/** Compiles a spec, refusing with its diagnostics when it is invalid. */
export function compileText(text: string, file: string): Compiled {
  const r = loadModelFromText(text, file);
  if (!r.model) {
    const errors = r.diagnostics.filter((d) => d.severity === 'error').length;
    throw new Refusal(`${file}: ${errors} error${errors === 1 ? '' : 's'}`, r.diagnostics);
  }
  const ir = compile(r.model);
  return { file, ir, engine: new Engine(ir), loadDiagnostics: r.diagnostics, source: r.source };
}

function matrixOf(c: Compiled, assume: Assume): Matrix {
  // As the CLI does: past a few hundred hosts the per-pair engine is too slow; the fast one gives the same cells.
  return c.ir.model.hosts.size > 200 ? computeFastMatrix(c.ir, assume, c.engine).toMatrix() : computeMatrix(c.ir, assume, c.engine);
}

/** `cordon matrix --json`. */
export function matrixJson(c: Compiled, assume: Assume): { file: string } & MatrixJson {
  return { file: c.file, ...matrixToJson(matrixOf(c, assume)) };
}

export interface QueryArgs {
  readonly from: string;
  readonly to: string;
  readonly proto?: 'tcp' | 'udp' | 'icmp' | 'other' | undefined;
  readonly port?: number | undefined;
  readonly assume: Assume;
}

/** `cordon query --json` (and `explain --json`, which prints the same object). */
export function queryJson(c: Compiled, q: QueryArgs): Explanation {
  let r;
  try {
    r = resolveQuery(c.ir, q, JSON_QUERY_NAMES);
  } catch (e) {
    if (e instanceof QueryArgError) throw new Refusal(e.message);
    throw e;
  }
  const { from, dest, flow } = r;
  return explain(c.ir, c.engine.reach(from, dest, q.assume), flow);
}

/** `cordon lint --json` for a valid spec. */
export function lintJson(c: Compiled): Diagnostic[] {
  return sortDiagnostics([...c.loadDiagnostics, ...c.ir.diagnostics, ...lint(c.ir, c.source ? { source: c.source } : {})]);
}

export interface TestJson {
  readonly files: { readonly file: string; readonly checks: readonly CheckResult[] }[];
  readonly passed: number;
  readonly failed: number;
}

/** `cordon test --json` for one file. */
export function testJson(c: Compiled): TestJson {
  const checks = runChecks(c.ir, c.engine);
  const failed = checks.filter((r) => !r.ok).length;
  return { files: [{ file: c.file, checks }], passed: checks.length - failed, failed };
}

/** The files `cordon render --target T` writes; targets that need WireGuard keys are refused for now (no key store on the server yet). */
export function renderFiles(c: Compiled, target: string, host: string | undefined, params: ReadonlyMap<string, string>): readonly RenderedFile[] {
  const r = findRenderer(target);
  if (!r)
    throw new Refusal(
      `unknown target '${target}' (${unknownNameHint(
        target,
        RENDERERS.map((x) => x.name),
      )})`,
    );
  if (isKeyedRenderer(r)) throw new Refusal(`target ${r.name} needs WireGuard keys, which the server does not hold yet; render it with the CLI`);
  for (const key of params.keys())
    if (!r.params.some((p) => p.name === key))
      throw new Refusal(
        `target ${r.name} has no parameter '${key}' (${unknownNameHint(
          key,
          r.params.map((p) => p.name),
        )})`,
      );
  if (host !== undefined && !c.ir.model.hosts.has(host))
    throw new Refusal(`host: unknown host '${host}' (${unknownNameHint(host, [...c.ir.model.hosts.keys()])})`);
  const result = r.render(c.ir, { host, params });
  if (result.diagnostics.some((d) => d.severity === 'error')) throw new Refusal(`target ${r.name} cannot express this spec`, result.diagnostics);
  return result.files;
}

export interface DiffJson {
  readonly old: string;
  readonly new: string;
  readonly changed: boolean;
  readonly views: MatrixDiffJson[];
}

/** `cordon diff --json OLD NEW`. */
export function diffJson(oldC: Compiled, newC: Compiled, views: readonly Assume[]): DiffJson {
  const diffs = views.map((assume) => diffMatrices(matrixOf(oldC, assume), matrixOf(newC, assume)));
  return { old: oldC.file, new: newC.file, changed: diffs.some(hasChanges), views: diffs.map(diffToJson) };
}
