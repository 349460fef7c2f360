/** Matrix output: a compact terminal table, a one-line-per-pair list, and complete JSON. */
import pc from 'picocolors';
import { flowIsEmpty, flowSetToJson, formatFlowSet, type FlowSetJson } from '../util/flows.js';
import type { Matrix } from '../verify/matrix.js';

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
  lines.push(c.dim(`view: ${m.assume}${m.assume === 'compromised' ? ' (guests may forge sources, pick routes and drop their own firewall)' : ''} · '-' nothing allowed · '·' not applicable`));
  return lines.join('\n');
}
