/** Text form of a live verification: the matrix of probes, the seed's steps, every difference. */
import pc from 'picocolors';
import { explanationToText } from '../report/explain.js';
import { formatFlow } from '../util/flows.js';
import { formatIPv4 } from '../util/ip.js';
import type { VerifyResult } from './verify.js';

export function verifyToText(r: VerifyResult, opts: { color: boolean; verbose: boolean }): string {
  const c = pc.createColors(opts.color);
  const out: string[] = [];
  const delivered = r.probes.filter((p) => p.delivered).length;
  const byProto = (proto: string): number => r.probes.filter((p) => p.flow.proto === proto).length;
  out.push(
    `${c.bold(`lab ${r.prefix}`)}: ${r.file}`,
    `${r.probes.length} probes (tcp ${byProto('tcp')}, udp ${byProto('udp')}, icmp ${byProto('icmp')}) in ${r.ms.probe.toFixed(0)} ms; ${delivered} delivered`,
    c.dim(`flows per address: ${r.flows.join(' ')}`),
  );
  const retried = r.probes.filter((p) => p.retried);
  if (retried.length)
    out.push(
      c.dim(
        `${retried.length} probes the static engine allows were not seen at first and sent again; ${retried.filter((p) => p.delivered).length} arrived then`,
      ),
    );
  out.push('');
  // Matrix: live delivered / probes per cell, ✗ where live and static differ.
  const names = r.endpoints;
  const cell = new Map(r.cells.map((x) => [`${x.from}\0${x.to}`, x]));
  const w = Math.max(8, ...names.map((n) => n.length)) + 1;
  const cw = Math.max(7, ...names.map((n) => Math.min(n.length, 12))) + 2;
  out.push(c.dim('delivered/probed per pair; ✗ marks a pair where the live lab and cordon matrix differ'));
  out.push(`${'from \\ to'.padEnd(w)}${names.map((n) => n.slice(0, cw - 2).padStart(cw)).join('')}`);
  for (const a of names) {
    let line = a.padEnd(w);
    for (const b of names) {
      const x = cell.get(`${a}\0${b}`);
      if (!x) {
        line += c.dim('·'.padStart(cw));
        continue;
      }
      const text = `${x.delivered}/${x.probes}${x.differences ? '✗' : ''}`;
      const padded = text.padStart(cw);
      line += x.differences ? c.red(padded) : x.delivered ? c.green(padded) : c.dim(padded);
    }
    out.push(line);
  }
  out.push('');
  if (r.steps.length) {
    out.push(c.bold("The spec's own expectations, run live:"));
    for (const s of r.steps) {
      const tag = s.ok ? c.green('PASS') : c.red('FAIL');
      out.push(`  ${tag} ${s.text}  ${c.dim(`— ${s.detail}`)}`);
      if (s.comment) out.push(`       ${c.dim(s.comment)}`);
    }
    out.push('');
  }
  const unanswered = r.probes.filter((p) => p.delivered && p.status !== 'ok' && p.status !== 'refused');
  if (unanswered.length && opts.verbose) {
    out.push(c.dim(`${unanswered.length} delivered probes got no answer (the way back is not routed, e.g. egress: none or no NAT on the way):`));
    for (const p of unanswered.slice(0, 20)) out.push(c.dim(`  ${p.from} → ${formatIPv4(p.dst)} ${formatFlow(p.flow)}: ${p.status}`));
    out.push('');
  }
  if (opts.verbose) {
    out.push(c.bold('Every probe:'));
    for (const p of r.probes)
      out.push(
        `  ${p.delivered ? c.green('delivered') : c.dim('dropped  ')} ${p.staticAllowed ? 'static allow' : 'static deny '} ${p.from} → ${p.to} ${formatIPv4(p.dst)} ${formatFlow(p.flow)} ${c.dim(`${p.status} ${p.ms.toFixed(1)} ms`)}`,
      );
    out.push('');
  }
  if (r.differences.length === 0) {
    out.push(c.green(c.bold(`live = static: all ${r.probes.length} probes agree with cordon matrix`)));
  } else {
    out.push(c.red(c.bold(`${r.differences.length} difference${r.differences.length === 1 ? '' : 's'} between the live lab and cordon matrix:`)));
    for (const d of r.differences.slice(0, opts.verbose ? Infinity : 20)) {
      const p = d.probe;
      out.push(
        '',
        `${c.red('✗')} ${p.from} → ${p.to} (${formatIPv4(p.dst)}) ${formatFlow(p.flow)}: static ${p.staticAllowed ? 'ALLOW' : 'DENY'}, live ${p.delivered ? 'DELIVERED' : 'NOT DELIVERED'}`,
      );
      out.push(`  live: ${d.live}`);
      out.push(explanationToText(d.explanation, opts.color, true).replace(/^/gm, '  '));
    }
    if (!opts.verbose && r.differences.length > 20) out.push('', c.dim(`… ${r.differences.length - 20} more (--verbose or --json for all)`));
  }
  const failed = r.steps.filter((s) => !s.ok).length;
  out.push(`${r.steps.length - failed} passed, ${failed} failed`);
  return `${out.join('\n')}\n`;
}
