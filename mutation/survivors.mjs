// Lists a Stryker JSON report's surviving (and, with --all, timed-out) mutants as one line each:
// file:line:col mutator  original → replacement. `node mutation/survivors.mjs reports/mutation/X.json`
import { readFileSync } from 'node:fs';

const [file, flag] = process.argv.slice(2);
if (!file) {
  console.error('usage: node mutation/survivors.mjs reports/mutation/TARGET.json [--all]');
  process.exit(2);
}
const report = JSON.parse(readFileSync(file, 'utf8'));
const want = new Set(flag === '--all' ? ['Survived', 'Timeout'] : ['Survived']);
const counts = {};
for (const [path, f] of Object.entries(report.files)) {
  const lines = f.source.split('\n');
  for (const m of f.mutants) {
    counts[m.status] = (counts[m.status] ?? 0) + 1;
    if (!want.has(m.status)) continue;
    const { start, end } = m.location;
    const orig = start.line === end.line ? lines[start.line - 1].slice(start.column - 1, end.column - 1) : `${lines[start.line - 1].slice(start.column - 1)}…`;
    const repl = (m.replacement ?? '').replace(/\s+/g, ' ');
    console.log(`${m.status} ${path}:${start.line}:${start.column} ${m.mutatorName}  ${orig.trim().slice(0, 90)}  →  ${repl.slice(0, 90)}`);
  }
}
const killed = (counts.Killed ?? 0) + (counts.Timeout ?? 0);
const covered = killed + (counts.Survived ?? 0);
const total = covered + (counts.NoCoverage ?? 0);
console.log(JSON.stringify(counts));
console.log(`score ${((100 * killed) / total).toFixed(1)} % of ${total}; covered ${((100 * killed) / covered).toFixed(1)} % of ${covered}`);
