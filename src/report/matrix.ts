/** Matrix output: a compact terminal table, a one-line-per-pair list, and complete JSON. */
import pc from 'picocolors';
import { flowIsEmpty, flowSetToJson, formatFlowSet, type FlowSetJson } from '../util/flows.js';
import type { Matrix } from '../verify/matrix.js';
import type { CompactMatrix } from '../verify/fast-matrix.js';
import { ByteSink, utf8 } from './byte-sink.js';

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
 * matrixToList's text and a final newline, as UTF-8, from the compact matrix without its dense
 * form, in chunks of about `chunkBytes` that end on a line: a matrix of 10,000 endpoints never
 * becomes one string. Each name and each (interned) flow set is formatted and encoded once.
 */
export function* compactMatrixToList(m: CompactMatrix, color = false, chunkBytes = 1 << 20): IterableIterator<Uint8Array> {
  const c = pc.createColors(color);
  const names = m.endpoints.map((e) => e.name);
  const width = Math.max(...names.map((n) => n.length));
  const text: (Uint8Array | null | undefined)[] = new Array<Uint8Array | null | undefined>(m.flowSets.length);
  // Each name's two places in a line encoded once: "from  →  " and "to  ".
  const heads = names.map((n) => utf8(`${n.padEnd(width)}  →  `));
  const tails = names.map((n) => utf8(`${n.padEnd(width)}  `));
  const out = new ByteSink(chunkBytes);
  let any = false;
  for (let i = 0; i < names.length; i++) {
    const { to, ids } = m.row(i);
    const head = heads[i]!;
    for (let k = 0; k < to.length; k++) {
      const id = ids[k]!;
      let t = text[id];
      if (t === undefined) {
        const f = m.flowSets[id]!;
        // With the line's newline: one piece less per line.
        text[id] = t = flowIsEmpty(f) ? null : utf8(`${c.green(formatFlowSet(f))}\n`);
      }
      if (t === null) continue;
      out.put(head);
      out.put(tails[to[k]!]!);
      out.put(t);
      any = true;
      if (out.ready) yield out.take();
    }
  }
  if (!any) out.put(utf8('(nothing is reachable)\n'));
  if (out.length > 0) yield out.take();
}

/**
 * `JSON.stringify({ file, ...matrixToJson(m.toMatrix()) }, null, 2)` and a newline, byte for
 * byte, as UTF-8 chunks of about `chunkBytes`, from the compact matrix: no dense form, no object
 * per allowed pair. Each endpoint's name and each interned flow set's JSON is rendered once by
 * JSON.stringify itself, at the depth it sits at, and pasted for every pair.
 */
export function* compactMatrixToJson(m: CompactMatrix, file: string, chunkBytes = 1 << 20): IterableIterator<Uint8Array> {
  const out = new ByteSink(chunkBytes);
  const names = m.endpoints.map((e) => JSON.stringify(e.name));
  out.put(utf8(`{\n  "file": ${JSON.stringify(file)},\n  "assume": ${JSON.stringify(m.assume)},\n  "endpoints": `));
  out.put(utf8(names.length ? `[\n    ${names.join(',\n    ')}\n  ]` : '[]'));
  out.put(utf8(',\n  "allowed": '));
  // An entry sits at depth 2 (array items at 4 spaces, their keys at 6): "from" and "to" lines
  // per name, then the flows and text lines of the flow set, which depend on nothing else.
  // With the separator before the entry: ",\n" for every entry but the first ("[\n").
  const froms = names.map((n) => utf8(`,\n    {\n      "from": ${n},\n`));
  const tos = names.map((n) => utf8(`      "to": ${n},\n`));
  const tails: (Uint8Array | null | undefined)[] = new Array<Uint8Array | null | undefined>(m.flowSets.length);
  const tailOf = (id: number): Uint8Array | null => {
    let t = tails[id];
    if (t === undefined) {
      const f = m.flowSets[id]!;
      if (flowIsEmpty(f)) t = null;
      else {
        // The object's own lines without its braces, moved from depth 0 to the entry's depth 2.
        const lines = JSON.stringify({ flows: flowSetToJson(f), text: formatFlowSet(f) }, null, 2).split('\n');
        t = utf8(
          `${lines
            .slice(1, -1)
            .map((l) => `    ${l}`)
            .join('\n')}\n    }`,
        );
      }
      tails[id] = t;
    }
    return t;
  };
  let n = 0;
  for (let i = 0; i < names.length; i++) {
    const { to, ids } = m.row(i);
    for (let k = 0; k < to.length; k++) {
      const t = tailOf(ids[k]!);
      if (t === null) continue;
      if (n++ === 0) out.put(utf8(`[\n    {\n      "from": ${names[i]!},\n`));
      else out.put(froms[i]!);
      out.put(tos[to[k]!]!);
      out.put(t);
      if (out.ready) yield out.take();
    }
  }
  out.put(utf8(n ? '\n  ]\n}\n' : '[]\n}\n'));
  yield out.take();
}
