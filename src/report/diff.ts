/** Diff output: `+`/`-` lines grouped by source for people, complete JSON for tools. */
import pc from 'picocolors';
import { flowIsEmpty, flowSetToJson, formatFlowSet, type FlowSetJson } from '../util/flows.js';
import { hasChanges, type MatrixDiff } from '../verify/diff.js';

export interface MatrixDiffJson {
  assume: string;
  changed: boolean;
  endpointsAdded: { name: string; kind: string }[];
  endpointsRemoved: { name: string; kind: string }[];
  /** Every pair whose flows differ; `added`/`removed` are complete, `*Text` are the compact forms ('-' for none). */
  changes: { from: string; to: string; added: FlowSetJson; removed: FlowSetJson; addedText: string; removedText: string }[];
}

export function diffToJson(d: MatrixDiff): MatrixDiffJson {
  return {
    assume: d.assume,
    changed: hasChanges(d),
    endpointsAdded: d.endpointsAdded.map((e) => ({ name: e.name, kind: e.kind })),
    endpointsRemoved: d.endpointsRemoved.map((e) => ({ name: e.name, kind: e.kind })),
    changes: d.changes.map((c) => ({
      from: c.from,
      to: c.to,
      added: flowSetToJson(c.added),
      removed: flowSetToJson(c.removed),
      addedText: formatFlowSet(c.added),
      removedText: formatFlowSet(c.removed),
    })),
  };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * One view's changes: a summary line, endpoints added/removed, then per source a block of
 * `- from → to flows` (what the old version allowed and the new one no longer does) and
 * `+ from → to flows` (what is newly allowed), blocks separated by blank lines.
 */
export function diffToText(d: MatrixDiff, color = false): string {
  const c = pc.createColors(color);
  const summary: string[] = [];
  if (d.changes.length) summary.push(`${plural(d.changes.length, 'pair')} changed`);
  if (d.endpointsAdded.length) summary.push(`${plural(d.endpointsAdded.length, 'endpoint')} added`);
  if (d.endpointsRemoved.length) summary.push(`${plural(d.endpointsRemoved.length, 'endpoint')} removed`);
  const lines = [c.bold(`view: ${d.assume} · ${summary.length ? summary.join(', ') : 'no change in reachability'}`)];
  if (d.endpointsAdded.length || d.endpointsRemoved.length) lines.push('');
  for (const e of d.endpointsRemoved) lines.push(c.red(`- ${e.kind} ${e.name}`));
  for (const e of d.endpointsAdded) lines.push(c.green(`+ ${e.kind} ${e.name}`));
  const wFrom = Math.max(0, ...d.changes.map((x) => x.from.length));
  const wTo = Math.max(0, ...d.changes.map((x) => x.to.length));
  let prevFrom: string | undefined;
  for (const x of d.changes) {
    if (x.from !== prevFrom) lines.push('');
    prevFrom = x.from;
    const pair = `${x.from.padEnd(wFrom)} → ${x.to.padEnd(wTo)}`;
    if (!flowIsEmpty(x.removed)) lines.push(c.red(`- ${pair}  ${formatFlowSet(x.removed)}`));
    if (!flowIsEmpty(x.added)) lines.push(c.green(`+ ${pair}  ${formatFlowSet(x.added)}`));
  }
  return lines.join('\n');
}
