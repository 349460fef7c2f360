/** Matrix output: a compact terminal table, a one-line-per-pair list, and complete JSON. */
import pc from 'picocolors';
import { flowIsEmpty, flowSetToJson, formatFlowSet, type FlowSetJson } from '../util/flows.js';
import type { Matrix } from '../verify/matrix.js';
import type { CompactMatrix } from '../verify/fast-matrix.js';

export interface MatrixJson {
  assume: string;
  endpoints: string[];
  /** Only pairs with something allowed; every other ordered pair is denied. */
  allowed: { from: string; to: string; flows: FlowSetJson; text: string }[];
}

export function matrixToJson(m: Matrix): MatrixJson {
  const allowed: MatrixJson['allowed'] = [];
  m.endpoints.forEach((a, i) =>
    m.endpoints.forEach((b, j) => {
      const c = m.cells[i]![j];
      if (c && !flowIsEmpty(c)) allowed.push({ from: a.name, to: b.name, flows: flowSetToJson(c), text: formatFlowSet(c) });
    }),
  );
  return { assume: m.assume, endpoints: m.endpoints.map((e) => e.name), allowed };
}

export function matrixToList(m: Matrix, color = false): string {
  const c = pc.createColors(color);
  const lines: string[] = [];
  const width = Math.max(...m.endpoints.map((e) => e.name.length));
  m.endpoints.forEach((a, i) =>
    m.endpoints.forEach((b, j) => {
      const cell = m.cells[i]![j];
      if (cell && !flowIsEmpty(cell)) lines.push(`${a.name.padEnd(width)}  →  ${b.name.padEnd(width)}  ${c.green(formatFlowSet(cell))}`);
    }),
  );
  return lines.length ? lines.join('\n') : '(nothing is reachable)';
}

/** A from × to table; cells longer than `cellWidth` are cut with … (the list form is complete). */
export function matrixToTable(m: Matrix, color = false, cellWidth = 18): string {
  const c = pc.createColors(color);
  const names = m.endpoints.map((e) => e.name);
  const rowHead = Math.max(4, ...names.map((n) => n.length));
  const cells = m.cells.map((row) =>
    row.map((cell) => {
      if (cell === undefined) return '·';
      const t = formatFlowSet(cell);
      return t.length > cellWidth ? `${t.slice(0, cellWidth - 1)}…` : t;
    }),
  );
  const colW = names.map((n, j) => Math.max(n.length, ...cells.map((r) => r[j]!.length)));
  const header = `${'from \\ to'.padEnd(rowHead)}  ${names.map((n, j) => c.bold(n.padEnd(colW[j]!))).join('  ')}`;
  const lines = [header];
  cells.forEach((row, i) => {
    const parts = row.map((t, j) => {
      const padded = t.padEnd(colW[j]!);
      if (t === '-' || t === '·') return c.dim(padded);
      return c.green(padded);
    });
    lines.push(`${c.bold(names[i]!.padEnd(rowHead))}  ${parts.join('  ')}`);
  });
  lines.push(
    c.dim(
      `view: ${m.assume}${m.assume === 'compromised' ? ' (guests may forge sources, pick routes and drop their own firewall)' : ''} · '-' nothing allowed · '·' not applicable`,
    ),
  );
  return lines.join('\n');
}

/**
 * Whether matrixToTable's header line (colours aside) is surely wider than `columns`, known from
 * the names alone: every column is at least as wide as its name. Lets a caller that would print
 * the list for a wide table skip building the table (n² cells) at all.
 */
export function tableSurelyWider(m: { readonly endpoints: readonly { readonly name: string }[] }, columns: number): boolean {
  const names = m.endpoints.map((e) => e.name);
  // The header: 'from \\ to' padded to the row-head width, then each column after two spaces.
  let width = Math.max('from \\ to'.length, 4, ...names.map((n) => n.length)) + 2 * names.length;
  for (const n of names) width += n.length;
  return width > columns;
}

/**
 * matrixToList's text, from the compact matrix without its dense form, in chunks of lines (each
 * ending in a newline) so that a matrix of 10,000 endpoints never becomes one string. The flow
 * sets are interned, so each is formatted once.
 */
export function* compactMatrixToList(m: CompactMatrix, color = false, linesPerChunk = 4096): IterableIterator<string> {
  const c = pc.createColors(color);
  const names = m.endpoints.map((e) => e.name);
  const width = Math.max(...names.map((n) => n.length));
  const padded = names.map((n) => n.padEnd(width));
  const text = new Map<number, string | null>();
  const textOf = (id: number): string | null => {
    let t = text.get(id);
    if (t === undefined) {
      const f = m.flowSets[id]!;
      t = flowIsEmpty(f) ? null : c.green(formatFlowSet(f));
      text.set(id, t);
    }
    return t;
  };
  // Each name's two places in a line built once: "from  →  " and "to  ".
  const heads = padded.map((n) => `${n}  →  `);
  const tails = padded.map((n) => `${n}  `);
  let chunk: string[] = [];
  let any = false;
  for (let i = 0; i < names.length; i++) {
    const { to, ids } = m.row(i);
    const head = heads[i]!;
    for (let k = 0; k < to.length; k++) {
      const t = textOf(ids[k]!);
      if (t === null) continue;
      chunk.push(head + tails[to[k]!]! + t + '\n');
      any = true;
      if (chunk.length >= linesPerChunk) {
        yield chunk.join('');
        chunk = [];
      }
    }
  }
  if (!any) chunk.push('(nothing is reachable)\n');
  if (chunk.length > 0) yield chunk.join('');
}
