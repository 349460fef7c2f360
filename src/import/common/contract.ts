/**
 * The contract every importer fulfils: existing configuration files in, a cordon spec out.
 *
 * An importer is pure: it reads only the files it is handed (a `SourceTree`, which the CLI fills
 * from the disk and tests fill from fixtures) and returns the spec as YAML text, whose every
 * imported rule carries a comment naming the file and line it came from, plus a map from the
 * spec's lines back to those places. The spec then goes through the normal pipeline (check →
 * model → IR → verify), so `cordon audit` answers with the same engine as for a written spec, and
 * the line map lets it point each finding back at the original file.
 *
 * Nothing is skipped silently: every construct an importer does not understand, or that cordon
 * cannot express exactly, is a located diagnostic (file:line) saying what was done with it.
 */
import type { Diagnostic } from '../../diag/diagnostic.js';
import type { SourcePos } from '../../diag/diagnostic.js';
import type { Spec } from '../../spec/schema.js';

/** Files an importer may read: paths as the user gave them (or relative to a root directory). */
export interface SourceTree {
  /** The text of a file, or undefined when there is no such file. */
  read(path: string): string | undefined;
  /** Names of the entries of a directory (sorted), or undefined when it is no directory. */
  list(path: string): readonly string[] | undefined;
  /** The path with every symbolic link resolved (undefined: no such path); absent for trees without links. */
  real?(path: string): string | undefined;
}

export interface ImportRequest {
  /** The paths the user named (files, or a root directory for tree-shaped formats). */
  readonly paths: readonly string[];
  readonly tree: SourceTree;
  /**
   * Networks, hosts and tunnels the imported rules are about, from `--topology FILE` (a cordon
   * spec). Its `policy:` is left out of the result (the imported rules are the policy); its
   * `expect:` and `invariants:` are kept, so `cordon audit` checks them. Undefined: the importer
   * builds what topology it can from the files themselves.
   */
  readonly topology: { readonly spec: Spec; readonly file: string } | undefined;
  /** The host the files belong to, where the format does not say (iptables-save); importer default otherwise. */
  readonly host: string | undefined;
}

export interface ImportResult {
  /** The spec as YAML, with a comment naming the source of every imported rule. */
  readonly text: string;
  /** Line of `text` (1-based) → where the construct on that line came from. */
  readonly origins: ReadonlyMap<number, SourcePos>;
  /** Located at the original files; errors mean `text` must not be used. */
  readonly diagnostics: readonly Diagnostic[];
}

export interface Importer {
  /** The `--from` name. */
  readonly name: string;
  /** One line for `cordon import --help`. */
  readonly description: string;
  /** What PATH… means for this format. */
  readonly paths: string;
  import(req: ImportRequest): ImportResult;
}
