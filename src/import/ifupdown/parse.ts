/**
 * The reader of ifupdown's /etc/network/interfaces (interfaces(5)), shared by `--from ifupdown`
 * and the Proxmox importer's topology: stanzas with their options, every line located.
 *
 * What interfaces(5) says and this reader follows:
 * - `#` starts a comment only at the start of a line (end-of-line comments are not supported, so
 *   `address 10.0.0.1/24 # lan` is an address with junk after it: a located error here);
 * - a line ending in a backslash continues on the next one;
 * - stanzas: `iface NAME FAMILY METHOD` (options follow, one per line), `auto`, `allow-*`,
 *   `mapping` (its `script`/`map` lines), `rename`, `source PATH` (shell wildcards) and
 *   `source-directory DIR` (the files whose names are run-parts names, [A-Za-z0-9_-]+);
 * - a relative `source` path is relative to the directory of the file it is in. An absolute one
 *   is read under the root the user gave (a copy of the machine's tree), and a path that leaves
 *   that root (`../../..`) is refused: the importer reads only what it was handed.
 * An option line before any `iface` is malformed (ifup refuses it too).
 */
import { posix } from 'node:path';
import { diag, type Diagnostic, type SourcePos } from '../../diag/diagnostic.js';
import { Code } from '../../diag/codes.js';
import type { SourceTree } from '../common/contract.js';

export interface IfOption {
  readonly key: string;
  readonly value: string;
  readonly at: SourcePos;
}

export interface IfaceStanza {
  readonly name: string;
  readonly family: string;
  readonly method: string;
  readonly at: SourcePos;
  readonly options: IfOption[];
}

export interface InterfacesDoc {
  readonly stanzas: readonly IfaceStanza[];
  /** Interfaces named by `auto` or `allow-*` lines. */
  readonly auto: ReadonlySet<string>;
  /** Every file read, the first one first. */
  readonly files: readonly string[];
}

/** Deeper than this, a `source` chain is a loop or a mistake. */
const MAX_DEPTH = 8;
const RUN_PARTS = /^[A-Za-z0-9_-]+$/;

/** Logical lines: comments and blank lines dropped, backslash continuations joined, each at its first physical line. */
function logicalLines(text: string): { text: string; line: number }[] {
  const out: { text: string; line: number }[] = [];
  let pending: { text: string; line: number } | undefined;
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (!pending && /^\s*#/.test(line)) return;
    const cont = line.endsWith('\\');
    const body = cont ? line.slice(0, -1) : line;
    pending = pending ? { text: `${pending.text} ${body}`, line: pending.line } : { text: body, line: i + 1 };
    if (cont) return;
    if (pending.text.trim() !== '') out.push({ text: pending.text.trim(), line: pending.line });
    pending = undefined;
  });
  if (pending && pending.text.trim() !== '') out.push({ text: pending.text.trim(), line: pending.line });
  return out;
}

/** `*`, `?` and `[…]` of one path component as a regular expression. */
function globRe(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        const body = pattern
          .slice(i + 1, end)
          .replace(/^!/, '^')
          .replace(/\\/g, '\\\\');
        re += `[${body}]`;
        i = end;
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export interface ReadOptions {
  readonly tree: SourceTree;
  /** The directory the user gave as the machine's root; absolute paths are read under it, nothing outside it. */
  readonly root: string;
}

/**
 * Reads `file` and what it sources. Paths in diagnostics are as the tree names them
 * (`ROOT/etc/network/interfaces.d/vlan`).
 */
export function readInterfaces(file: string, opts: ReadOptions, ds: Diagnostic[]): InterfacesDoc {
  const stanzas: IfaceStanza[] = [];
  const auto = new Set<string>();
  const files: string[] = [];
  const root = posix.normalize(opts.root === '' ? '.' : opts.root).replace(/\/+$/, '') || '/';
  const under = (p: string): boolean => (root === '.' ? !p.startsWith('../') && p !== '..' && !p.startsWith('/') : p === root || p.startsWith(`${root}/`));

  /** Where a path written in `from` points, in the tree; undefined (and an error) when it leaves the root. */
  const resolve = (written: string, from: string, at: SourcePos): string | undefined => {
    const joined = written.startsWith('/') ? posix.join(root, written) : posix.join(posix.dirname(from), written);
    const p = posix.normalize(joined);
    if (!under(p)) {
      ds.push(
        diag(
          Code.IMPORT_SYNTAX,
          'error',
          `refused: '${written.slice(0, 60)}' leads outside ${root}, the root this import was given`,
          at,
          'the importer reads only the tree it is handed; copy the included file into it',
        ),
      );
      return undefined;
    }
    return p;
  };

  /** Files a `source` pattern names: wildcards in the last component only. */
  const expand = (path: string, at: SourcePos): string[] => {
    const dir = posix.dirname(path);
    const base = posix.basename(path);
    if (/[*?[]/.test(dir)) {
      ds.push(diag(Code.IMPORT_UNSUPPORTED, 'warning', `wildcards in a directory of '${path.slice(0, 60)}' are not expanded: not read`, at));
      return [];
    }
    if (!/[*?[]/.test(base)) return [path];
    const re = globRe(base);
    return (opts.tree.list(dir) ?? []).filter((n) => re.test(n) && !n.startsWith('.')).map((n) => posix.join(dir, n));
  };

  const read = (f: string, depth: number, at: SourcePos | undefined): void => {
    if (files.includes(f)) {
      if (at) ds.push(diag(Code.IMPORT_UNSUPPORTED, 'warning', `${f} is sourced again: read once`, at));
      return;
    }
    if (depth > MAX_DEPTH) {
      ds.push(diag(Code.IMPORT_SYNTAX, 'error', `source nested deeper than ${MAX_DEPTH} files`, at ?? { file: f }));
      return;
    }
    // A link inside the root may point out of it: the file it leads to must be under the root too.
    const realRoot = opts.tree.real?.(root);
    const realFile = opts.tree.real?.(f);
    if (realRoot !== undefined && realFile !== undefined && realFile !== realRoot && !realFile.startsWith(`${realRoot.replace(/\/+$/, '')}/`)) {
      ds.push(
        diag(
          Code.IMPORT_SYNTAX,
          'error',
          `refused: ${f} is a link to a file outside ${root}, the root this import was given`,
          at ?? { file: f },
          'the importer reads only the tree it is handed; copy the file into it',
        ),
      );
      return;
    }
    const text = opts.tree.read(f);
    if (text === undefined) {
      ds.push(diag(Code.FILE_UNREADABLE, 'error', `cannot read ${f}`, at ?? { file: f }));
      return;
    }
    files.push(f);
    let cur: IfaceStanza | undefined;
    /** Inside a `mapping` stanza: its lines are the mapping's, not options. */
    let inMapping = false;
    for (const l of logicalLines(text)) {
      const at2: SourcePos = { file: f, line: l.line, col: 1 };
      const words = l.text.split(/\s+/);
      const kw = words[0]!;
      const args = words.slice(1);
      if (kw === 'iface') {
        inMapping = false;
        if (args.length < 3 || !/^(inet|inet6|ipx|can)$/.test(args[1]!)) {
          ds.push(diag(Code.IMPORT_SYNTAX, 'error', 'expected iface NAME FAMILY METHOD (FAMILY inet or inet6)', at2));
          cur = undefined;
          continue;
        }
        cur = { name: args[0]!, family: args[1]!, method: args[2]!, at: at2, options: [] };
        stanzas.push(cur);
        if (args.length > 3)
          ds.push(diag(Code.IMPORT_UNSUPPORTED, 'warning', `iface options after the method (${args.slice(3).join(' ').slice(0, 40)}): not read`, at2));
        continue;
      }
      if (kw === 'auto' || kw.startsWith('allow-')) {
        cur = undefined;
        inMapping = false;
        for (const a of args) auto.add(a);
        continue;
      }
      if (kw === 'source' || kw === 'source-directory') {
        cur = undefined;
        inMapping = false;
        if (args.length !== 1) {
          ds.push(diag(Code.IMPORT_SYNTAX, 'error', `expected ${kw} PATH`, at2));
          continue;
        }
        const p = resolve(args[0]!, f, at2);
        if (p === undefined) continue;
        if (kw === 'source') {
          const found = expand(p, at2);
          if (found.length === 0)
            ds.push(diag(Code.IMPORT_NOTE, 'info', `source ${args[0]!.slice(0, 60)}: no file in the tree matches (${p}); nothing read`, at2));
          for (const g of found) read(g, depth + 1, at2);
        } else {
          const names = opts.tree.list(p);
          if (names === undefined)
            ds.push(diag(Code.IMPORT_NOTE, 'info', `source-directory ${args[0]!.slice(0, 60)}: no such directory in the tree (${p}); nothing read`, at2));
          for (const n of (names ?? []).filter((x) => RUN_PARTS.test(x))) read(posix.join(p, n), depth + 1, at2);
        }
        continue;
      }
      if (kw === 'mapping' || kw === 'rename') {
        cur = undefined;
        inMapping = kw === 'mapping';
        ds.push(
          diag(
            Code.IMPORT_UNSUPPORTED,
            'warning',
            kw === 'mapping'
              ? 'mapping: the logical interface a script picks at run time is not known here; not read'
              : 'rename: interface renaming is not read',
            at2,
            'give the interface its final name in an iface stanza',
          ),
        );
        continue;
      }
      if (inMapping) continue;
      if (!cur) {
        ds.push(diag(Code.IMPORT_SYNTAX, 'error', `'${kw.slice(0, 30)}' outside an iface stanza`, at2, 'options follow an `iface NAME inet METHOD` line'));
        continue;
      }
      cur.options.push({ key: kw.replace(/_/g, '-'), value: args.join(' '), at: at2 });
    }
  };
  read(file, 0, undefined);
  return { stanzas, auto, files };
}
