/**
 * What `cordon import` and `cordon audit` share: the flags, reading the files the user named
 * (a SourceTree over the disk), the topology spec, --strict, and printing diagnostics with code
 * frames of the original files.
 */
import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import type { Diagnostic } from '../../diag/diagnostic.js';
import { Code, type DiagCode } from '../../diag/codes.js';
import { formatDiagnostics } from '../../diag/format.js';
import type { TopologyLocator } from '../../import/common/audit.js';
import type { ImportResult, SourceTree } from '../../import/common/contract.js';
import { findImporter, IMPORTERS } from '../../import/common/registry.js';
import { readSpecFile } from '../../spec/parse.js';
import { EXIT, ExitError, useColor } from '../io.js';
import { printDiagnostics } from '../load.js';
import { LINT_CODES } from '../../verify/lint.js';

export interface ImportOpts {
  from: string;
  topology?: string;
  host?: string;
  strict?: boolean;
  json?: boolean;
}

/** Files larger than this are refused: configuration files are small, and a huge one is a mistake or an attack. */
const MAX_FILE_BYTES = 32 * 1024 * 1024;

/** The disk as a SourceTree: what the user named, read as UTF-8. */
export const diskTree: SourceTree = {
  read(path: string): string | undefined {
    try {
      const st = statSync(path);
      if (!st.isFile() || st.size > MAX_FILE_BYTES) return undefined;
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  },
  list(path: string): readonly string[] | undefined {
    try {
      return readdirSync(path).sort();
    } catch {
      return undefined;
    }
  },
  real(path: string): string | undefined {
    try {
      return realpathSync(path);
    } catch {
      return undefined;
    }
  },
};

export function addImportOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--from <format>', `the format of the files: ${IMPORTERS.map((i) => i.name).join(', ')}`)
    .option('--topology <file>', 'a cordon spec with the networks, hosts and expectations the imported rules are about (its policy is replaced)')
    .option('--host <name>', 'the host the files come from, where the format does not say')
    .option('--strict', 'every construct that is not imported exactly is an error (exit 2), not a warning')
    .option('--json', 'JSON for scripts');
}

/** Codes whose warnings --strict turns into errors. */
const STRICT_CODES: ReadonlySet<DiagCode> = new Set([Code.IMPORT_UNSUPPORTED, Code.IMPORT_IPV6]);

export function runImport(paths: readonly string[], opts: ImportOpts): { result: ImportResult; topology: TopologyLocator | undefined } {
  const importer = findImporter(opts.from);
  if (!importer) throw new ExitError(EXIT.invalid, `--from: unknown format '${opts.from}'`, `formats: ${IMPORTERS.map((i) => i.name).join(', ')}`);
  let topology: { spec: import('../../spec/schema.js').Spec; file: string } | undefined;
  let locator: TopologyLocator | undefined;
  if (opts.topology !== undefined) {
    const parsed = readSpecFile(opts.topology);
    if (!parsed.ok) {
      printDiagnostics(parsed.diagnostics, parsed.source);
      throw new ExitError(EXIT.invalid, `--topology ${opts.topology}: not a valid spec`);
    }
    topology = { spec: parsed.value.spec, file: opts.topology };
    const source = parsed.value.source;
    locator = { file: opts.topology, pos: (p) => source.pos(p) };
  }
  const r = importer.import({ paths, tree: diskTree, topology, host: opts.host });
  if (!opts.strict) return { result: r, topology: locator };
  const strict = r.diagnostics.map((d): Diagnostic => (d.severity === 'warning' && STRICT_CODES.has(d.code) ? { ...d, severity: 'error' } : d));
  return { result: { ...r, diagnostics: strict }, topology: locator };
}

/** Prints diagnostics to stderr with code frames from the original files (and the imported spec). */
export function printLocated(ds: readonly Diagnostic[], paths: readonly string[], extra: ReadonlyMap<string, string> = new Map()): void {
  if (ds.length === 0) return;
  const sources = new Map<string, string>(extra);
  for (const d of ds) {
    if (sources.has(d.file)) continue;
    const text = diskTree.read(d.file);
    if (text !== undefined && (paths.includes(d.file) || paths.some((p) => d.file.startsWith(p)))) sources.set(d.file, text);
  }
  process.stderr.write(`${formatDiagnostics(ds, { sources, color: useColor(process.stderr) })}\n`);
}

export function exitFor(ds: readonly Diagnostic[], failedChecks = 0): number {
  if (ds.some((d) => d.severity === 'error' && d.code !== Code.AUDIT_CHECK_FAILED && !LINT_CODE_SET.has(d.code))) return EXIT.invalid;
  if (failedChecks > 0 || ds.some((d) => d.severity === 'error' || d.severity === 'warning')) return EXIT.failed;
  return EXIT.ok;
}

/** Findings of lint are findings about the rules, never bad input. */
const LINT_CODE_SET: ReadonlySet<string> = new Set(LINT_CODES);
