/** Text form of explanations: a header verdict, the path as a chain, then hop-by-hop decisions. */
import pc from 'picocolors';
import type { Explanation, PathExplanation } from '../verify/explain.js';
import { describeDecision } from '../verify/explain.js';

export function explanationToText(e: Explanation, color = false, full = false): string {
  const c = pc.createColors(color);
  const verdict = e.verdict === 'allow' ? c.green(c.bold('ALLOW')) : c.red(c.bold('DENY'));
  const lines = [`${verdict}  ${e.from} → ${e.to} ${e.flow}  ${c.dim(`(assume ${e.assume})`)}`, `  ${e.summary}`];
  if (e.path) lines.push(...pathLines(e.path, c, '  ', full));
  for (const l of e.limits) lines.push(`  bandwidth: ${l}`);
  if (full && e.alternatives.length > 1) {
    lines.push('', `  ${e.alternatives.length} paths were considered:`);
    for (const p of e.alternatives) {
      lines.push(`  - ${p.chain}${p.choice ? ` [${p.choice}]` : ''}: ${p.verdict}`);
      if (p !== e.path) lines.push(...pathLines(p, c, '      ', full));
    }
  }
  return lines.join('\n');
}

function pathLines(p: PathExplanation, c: ReturnType<typeof pc.createColors>, indent: string, full: boolean): string[] {
  const lines = [`${indent}path: ${p.chain}${p.choice ? c.dim(`  [${p.choice}]`) : ''}`];
  for (const h of p.hops) {
    const where = [h.iif ? `in ${h.iif}` : '', h.inPort ? `port ${h.inPort}` : '', h.oif ? `out ${h.oif}` : ''].filter(Boolean).join(', ');
    const mark = h.verdict === 'accept' ? c.green('✓') : c.red('✗');
    lines.push(`${indent}  ${mark} ${c.bold(h.point)}${where ? c.dim(` (${where}, src ${h.src})`) : ''}: ${h.verdict}: ${describeDecision(h.decision)}`);
  }
  for (const t of p.tunnels) {
    lines.push(`${indent}  ${t.up ? c.green('✓') : c.red('✗')} tunnel ${t.tunnel}: transport from ${t.peer} ${t.up ? 'open' : 'BLOCKED'}`);
    if (!t.up && t.explanation) lines.push(...pathLines(t.explanation, c, `${indent}      `, full));
  }
  if (p.hops.length === 0 || p.end.startsWith('dropped')) lines.push(`${indent}  ${p.end}`);
  if (full) for (const n of p.notes) lines.push(`${indent}  ${c.dim(`note: ${n}`)}`);
  return lines;
}
