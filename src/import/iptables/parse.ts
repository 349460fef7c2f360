/**
 * iptables rule sets as text → tables, chains and rules with their line numbers. Two forms are
 * read, also mixed in one file: what `iptables-save` prints (`*filter`, `:INPUT DROP [0:0]`,
 * `-A INPUT …`, `COMMIT`) and shell scripts of `iptables …` commands (`-P`, `-A`, `-I`, `-N`,
 * `-F`, `-t TABLE`), as guides and provisioning scripts write them. Nothing here knows what a
 * match means (match.ts) or how chains combine (flatten.ts).
 */
import { diag, type Diagnostic } from '../../diag/diagnostic.js';
import { Code } from '../../diag/codes.js';

export const BUILTIN_CHAINS: Readonly<Record<string, readonly string[]>> = {
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  raw: ['PREROUTING', 'OUTPUT'],
  security: ['INPUT', 'FORWARD', 'OUTPUT'],
};

export interface IptRule {
  readonly line: number;
  /** The line as written (continuations joined). */
  readonly text: string;
  /** The arguments after the chain name. */
  readonly args: readonly string[];
}

export interface IptChain {
  readonly name: string;
  readonly builtin: boolean;
  policy: 'ACCEPT' | 'DROP' | undefined;
  /** Where the policy was set (0: never, the kernel's ACCEPT). */
  policyLine: number;
  policyText: string;
  rules: IptRule[];
}

export interface IptTable {
  readonly name: string;
  readonly chains: Map<string, IptChain>;
  readonly line: number;
}

export interface IptDoc {
  readonly file: string;
  readonly tables: Map<string, IptTable>;
  /** Lines that are IPv6 rules (ip6tables commands, an ip6tables-save header); not modelled. */
  readonly v6Lines: readonly number[];
  readonly diagnostics: readonly Diagnostic[];
}

/** Splits a line into words as a shell would for these files: '…' and "…" quoting, backslash escapes, # comments. */
export function tokenize(text: string): { words: string[]; error?: string } {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '"' || ch === "'") {
      const end = findClose(text, i + 1, ch);
      if (end < 0) return { words, error: `unclosed ${ch === '"' ? 'double' : 'single'} quote` };
      const body = text.slice(i + 1, end);
      cur += ch === '"' ? body.replace(/\\(["\\$`])/g, '$1') : body;
      inWord = true;
      i = end;
    } else if (ch === '\\' && i + 1 < text.length) {
      cur += text[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else if (ch === '#' && !inWord) {
      break;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return { words };
}

function findClose(text: string, from: number, q: string): number {
  for (let i = from; i < text.length; i++) {
    if (q === '"' && text[i] === '\\') i++;
    else if (text[i] === q) return i;
  }
  return -1;
}

/** The command word of a script line: `iptables`, `/usr/sbin/iptables-legacy`, `sudo iptables` … */
function commandOf(words: readonly string[]): { cmd: 'v4' | 'v6' | undefined; rest: readonly string[] } {
  let i = 0;
  while (i < words.length && (words[i] === 'sudo' || words[i] === 'exec' || words[i] === 'command')) i++;
  const w = words[i];
  if (w === undefined) return { cmd: undefined, rest: [] };
  const base = w.slice(w.lastIndexOf('/') + 1);
  if (/^iptables(-legacy|-nft)?$/.test(base)) return { cmd: 'v4', rest: words.slice(i + 1) };
  if (/^ip6tables(-legacy|-nft)?$/.test(base)) return { cmd: 'v6', rest: words.slice(i + 1) };
  return { cmd: undefined, rest: words.slice(i) };
}

const CHAIN_NAME = /^[A-Za-z0-9_.:+-]{1,28}$/;

/** Reads one rule-set file; malformed lines are errors at their line, the rest is still read. */
export function parseIptables(file: string, text: string): IptDoc {
  const ds: Diagnostic[] = [];
  const tables = new Map<string, IptTable>();
  const v6Lines: number[] = [];
  const at = (line: number, col = 1) => ({ file, line, col });
  const table = (name: string, line: number): IptTable => {
    let t = tables.get(name);
    if (!t) {
      t = { name, chains: new Map(), line };
      for (const c of BUILTIN_CHAINS[name] ?? []) t.chains.set(c, { name: c, builtin: true, policy: undefined, policyLine: 0, policyText: '', rules: [] });
      tables.set(name, t);
    }
    return t;
  };
  let current: IptTable | undefined;
  const raw = text.split(/\r?\n/);
  for (let n = 0; n < raw.length; n++) {
    const lineNo = n + 1;
    let line = raw[n]!;
    // Shell continuation lines: join, keep the first line's number.
    while (line.endsWith('\\') && n + 1 < raw.length) line = `${line.slice(0, -1)} ${raw[++n]!}`;
    const trimmed = line.trim();
    if (trimmed === '') continue;
    if (trimmed.startsWith('#')) {
      if (/ip6tables-save/.test(trimmed)) v6Lines.push(lineNo);
      continue;
    }
    if (trimmed.startsWith('*')) {
      const name = trimmed.slice(1).trim();
      if (!(name in BUILTIN_CHAINS))
        ds.push(diag(Code.IMPORT_SYNTAX, 'error', `unknown table '*${name}'`, at(lineNo), `tables: ${Object.keys(BUILTIN_CHAINS).join(', ')}`));
      current = table(name, lineNo);
      continue;
    }
    if (trimmed === 'COMMIT') {
      if (!current) ds.push(diag(Code.IMPORT_SYNTAX, 'error', 'COMMIT outside a table', at(lineNo), 'iptables-save starts each table with *filter, *nat …'));
      current = undefined;
      continue;
    }
    if (trimmed.startsWith(':')) {
      const m = /^:(\S+)\s+(\S+)(?:\s+\[\d+:\d+\])?\s*$/.exec(trimmed);
      if (!m || !current) {
        ds.push(
          diag(
            Code.IMPORT_SYNTAX,
            'error',
            current ? `malformed chain line '${trimmed}'` : 'chain line outside a table',
            at(lineNo),
            'expected :CHAIN POLICY [packets:bytes]',
          ),
        );
        continue;
      }
      declareChain(current, m[1]!, m[2]!, lineNo, trimmed, ds, file);
      continue;
    }
    const tok = tokenize(trimmed);
    if (tok.error) {
      ds.push(diag(Code.IMPORT_SYNTAX, 'error', tok.error, at(lineNo)));
      continue;
    }
    if (trimmed.startsWith('-')) {
      if (!current) {
        ds.push(diag(Code.IMPORT_SYNTAX, 'error', 'rule outside a table', at(lineNo), 'iptables-save rules follow a *TABLE line'));
        continue;
      }
      command(current, tok.words, lineNo, trimmed, ds, file, table);
      continue;
    }
    const { cmd, rest } = commandOf(tok.words);
    if (cmd === 'v6') {
      v6Lines.push(lineNo);
      continue;
    }
    if (cmd === undefined) {
      ds.push(
        diag(
          Code.IMPORT_UNSUPPORTED,
          'warning',
          `not an iptables command, not imported: '${rest[0] ?? trimmed}'`,
          at(lineNo),
          'only iptables commands and iptables-save lines are read',
        ),
      );
      continue;
    }
    // `iptables [-t TABLE] COMMAND …`: the table may come anywhere before the command's arguments.
    let tableName = 'filter';
    const words: string[] = [];
    for (let i = 0; i < rest.length; i++) {
      if (rest[i] === '-t' || rest[i] === '--table') tableName = rest[++i] ?? '';
      else if (/^-t\S+$/.test(rest[i]!)) tableName = rest[i]!.slice(2);
      else words.push(rest[i]!);
    }
    if (!(tableName in BUILTIN_CHAINS)) {
      ds.push(diag(Code.IMPORT_SYNTAX, 'error', `unknown table '${tableName}'`, at(lineNo), `tables: ${Object.keys(BUILTIN_CHAINS).join(', ')}`));
      continue;
    }
    command(table(tableName, lineNo), words, lineNo, trimmed, ds, file, table);
  }
  if (current)
    ds.push(
      diag(Code.IMPORT_SYNTAX, 'error', `table '*${current.name}' has no COMMIT`, at(current.line), 'iptables-restore applies a table only at its COMMIT line'),
    );
  return { file, tables, v6Lines, diagnostics: ds };
}

function declareChain(t: IptTable, name: string, policy: string, line: number, text: string, ds: Diagnostic[], file: string): void {
  if (!CHAIN_NAME.test(name)) {
    ds.push(diag(Code.IMPORT_SYNTAX, 'error', `'${name.slice(0, 40)}' is not a chain name`, { file, line, col: 1 }, 'at most 28 letters, digits and _.:+-'));
    return;
  }
  const c = t.chains.get(name);
  const pol = policy === 'ACCEPT' || policy === 'DROP' ? policy : undefined;
  if (c) {
    if (c.builtin && pol) {
      c.policy = pol;
      c.policyLine = line;
      c.policyText = text;
    }
    return;
  }
  if (policy !== '-')
    ds.push(diag(Code.IMPORT_SYNTAX, 'error', `user chain '${name}' with policy '${policy}'`, { file, line, col: 1 }, "a user chain's policy is '-'"));
  t.chains.set(name, { name, builtin: false, policy: undefined, policyLine: line, policyText: text, rules: [] });
}

function command(
  t: IptTable,
  words: readonly string[],
  line: number,
  text: string,
  ds: Diagnostic[],
  file: string,
  table: (name: string, line: number) => IptTable,
): void {
  void table;
  const at = { file, line, col: 1 };
  const [op, chain, ...args] = words;
  const needChain = (): IptChain | undefined => {
    if (chain === undefined) {
      ds.push(diag(Code.IMPORT_SYNTAX, 'error', `${op} needs a chain name`, at));
      return undefined;
    }
    const c = t.chains.get(chain);
    if (!c)
      ds.push(diag(Code.IMPORT_SYNTAX, 'error', `no chain '${chain.slice(0, 40)}' in table ${t.name}`, at, 'declare it first (:CHAIN - or iptables -N CHAIN)'));
    return c;
  };
  switch (op) {
    case '-A':
    case '--append': {
      const c = needChain();
      if (c) c.rules.push({ line, text, args });
      return;
    }
    case '-I':
    case '--insert': {
      const c = needChain();
      if (!c) return;
      let pos = 1;
      let rest = args;
      if (args[0] !== undefined && /^\d+$/.test(args[0])) {
        pos = Number(args[0]);
        rest = args.slice(1);
      }
      c.rules.splice(Math.max(0, Math.min(pos - 1, c.rules.length)), 0, { line, text, args: rest });
      return;
    }
    case '-P':
    case '--policy': {
      const c = needChain();
      if (!c) return;
      const pol = args[0];
      if (!c.builtin || (pol !== 'ACCEPT' && pol !== 'DROP')) {
        ds.push(diag(Code.IMPORT_SYNTAX, 'error', `-P ${chain} ${pol ?? ''}: a policy is ACCEPT or DROP, on a built-in chain`, at));
        return;
      }
      c.policy = pol;
      c.policyLine = line;
      c.policyText = text;
      return;
    }
    case '-N':
    case '--new-chain':
      if (chain !== undefined) declareChain(t, chain, '-', line, text, ds, file);
      else ds.push(diag(Code.IMPORT_SYNTAX, 'error', '-N needs a chain name', at));
      return;
    case '-F':
    case '--flush':
      for (const c of chain === undefined ? [...t.chains.values()] : [t.chains.get(chain)].filter((x) => x !== undefined)) c.rules = [];
      return;
    case '-X':
    case '--delete-chain':
      for (const [name, c] of t.chains) if (!c.builtin && (chain === undefined || chain === name)) t.chains.delete(name);
      return;
    case '-Z':
    case '--zero':
    case '-L':
    case '--list':
    case '-S':
    case '--list-rules':
      return; // counters and listings change nothing
    default:
      ds.push(
        diag(
          Code.IMPORT_UNSUPPORTED,
          'warning',
          `iptables ${op ?? ''}: not imported (only -A, -I, -P, -N, -F and -X change what is read)`,
          at,
          'write the rule set as iptables-save prints it to import it exactly',
        ),
      );
  }
}
