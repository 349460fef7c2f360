/**
 * `npm run bench [-- [NAME…] [--write]]`: runs every benchmark module and prints one table.
 *
 * Modules are listed below; one whose file is missing is skipped (they are written by different
 * people at different times). NAME filters modules by name (verify, lint, nft-throughput, pipeline, render, guard, server, dashboard). With
 * `--write`, each module's block in the results section of BENCHMARKS.md (between the
 * `results:start` and `results:end` markers) is rewritten with this run's rows and the machine it
 * ran on; blocks of modules not run stay as they were. Nothing else is written.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';
import type { Row } from './row.js';

interface Module {
  readonly name: string;
  readonly file: string;
  readonly fn: string;
}

const MODULES: readonly Module[] = [
  { name: 'verify', file: 'verify.ts', fn: 'benchVerify' },
  { name: 'lint', file: 'lint.ts', fn: 'benchLint' },
  { name: 'nft-throughput', file: 'nft-throughput.ts', fn: 'benchNftThroughput' },
  { name: 'lab', file: 'lab.ts', fn: 'benchLab' },
  { name: 'sandbox', file: 'sandbox.ts', fn: 'benchSandbox' },
  { name: 'sandbox-rootless', file: 'sandbox-rootless.ts', fn: 'benchSandboxRootless' },
  { name: 'pipeline', file: 'pipeline.ts', fn: 'benchPipeline' },
  { name: 'render', file: 'render.ts', fn: 'benchRender' },
  { name: 'guard', file: 'guard.ts', fn: 'benchGuard' },
  { name: 'server', file: 'server.ts', fn: 'benchServer' },
  { name: 'dashboard', file: 'dashboard.ts', fn: 'benchDashboard' },
];

const HERE = fileURLToPath(new URL('.', import.meta.url));
const ROOT = join(HERE, '..');

function machine(): string {
  let model = cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) model = m[1]!.trim();
  } catch {
    // not Linux: os.cpus() it is
  }
  let nproc = String(cpus().length);
  try {
    nproc = execFileSync('nproc', { encoding: 'utf8' }).trim();
  } catch {
    // keep os.cpus()
  }
  const gib = (b: number): string => `${(b / 2 ** 30).toFixed(1)} GiB`;
  return `${nproc} CPUs (nproc), ${model}; ${gib(totalmem())} RAM (${gib(freemem())} free at start); Node ${process.version}; load average at start ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`;
}

const num = (x: number, digits = 0): string =>
  Number.isFinite(x) ? x.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '–';

function table(rows: readonly Row[]): string {
  const lines = ['| benchmark | ms | baseline ms | ratio | target | met | notes |', '|---|---:|---:|---:|---|---|---|'];
  for (const r of rows) {
    const ratio = Number.isFinite(r.ratio) ? (r.ratio >= 100 ? num(r.ratio) : num(r.ratio, 2)) : '–';
    const met = r.ok === undefined ? '' : r.ok ? 'yes' : '**no**';
    lines.push(
      `| ${r.name} | ${num(r.ms, r.ms < 1 ? 2 : r.ms < 100 ? 1 : 0)} | ${num(r.baselineMs)} | ${ratio} | ${r.target ?? ''} | ${met} | ${r.notes.replace(/\|/g, '\\|')} |`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const write = args.includes('--write');
  const names = args.filter((a) => !a.startsWith('--'));
  const started = new Date();
  const where = machine();
  process.stderr.write(`bench: ${where}\n`);
  const byModule = new Map<string, Row[]>();
  for (const m of MODULES) {
    if (names.length && !names.includes(m.name)) continue;
    const path = join(HERE, m.file);
    if (!existsSync(path)) {
      process.stderr.write(`bench: ${m.name}: ${m.file} not there yet, skipped\n`);
      continue;
    }
    process.stderr.write(`bench: ${m.name}…\n`);
    const t0 = performance.now();
    let rows: Row[];
    try {
      const mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
      const fn = mod[m.fn];
      if (typeof fn !== 'function') throw new Error(`${m.file} does not export ${m.fn}()`);
      const r = await (fn as () => Promise<Row | Row[]>)();
      rows = Array.isArray(r) ? r : [r];
    } catch (e) {
      rows = [{ name: m.name, ms: NaN, baselineMs: NaN, ratio: NaN, notes: `failed: ${(e as Error).message}` }];
    }
    process.stderr.write(`bench: ${m.name} took ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
    byModule.set(m.name, rows);
  }
  process.stdout.write(`${table([...byModule.values()].flat())}\n`);
  if (write) {
    const file = join(ROOT, 'BENCHMARKS.md');
    let doc = readFileSync(file, 'utf8');
    const start = '<!-- results:start -->';
    const end = '<!-- results:end -->';
    if (doc.indexOf(start) < 0 || doc.indexOf(end) < doc.indexOf(start)) throw new Error(`BENCHMARKS.md has no ${start} … ${end} section`);
    // One block per module, so a run of some modules keeps the others' last results.
    const when = `${started.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
    for (const [name, rows] of byModule) {
      const open = `<!-- bench:${name} -->`;
      const close = `<!-- /bench:${name} -->`;
      const block = `${open}\n#### ${name}\n\nRun of ${when} on ${where}.\n\n${table(rows)}\n${close}`;
      const a = doc.indexOf(open);
      const b = doc.indexOf(close);
      if (a >= 0 && b > a) doc = doc.slice(0, a) + block + doc.slice(b + close.length);
      else {
        const e = doc.indexOf(end);
        doc = `${doc.slice(0, e)}${block}\n${doc.slice(e)}`;
      }
    }
    writeFileSync(file, doc);
    process.stderr.write(`bench: results written to ${file}\n`);
  }
}

await main();
