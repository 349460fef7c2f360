/**
 * Benchmark: all-pairs reachability on generated specs (`cordon gen`), 1,000 hosts × 10,000
 * rules and 10,000 hosts × 100,000 rules.
 *
 * Per size, the spec is generated first (not timed) into a temporary file; then one child
 * process per size (so its peak memory is its own) measures, in order:
 *   - load: read + parse + resolve the spec (`loadModel`), and compile (`compile`), separately;
 *   - all-pairs: `computeFastMatrix(ir, 'configured')`, the whole matrix held in compact form
 *     (nothing printed); the peak RSS of the process right after it (getrusage maxrss, which is
 *     what `/usr/bin/time -v` reports as "Maximum resident set size");
 *   - query: one `cordon query`-style question (Engine.reach for one pair, then explain one flow)
 *     on a fresh pair each time, after loading: median and max of 50;
 *   - brute force: the brute-force evaluator (sampled ports, see src/verify/brute.ts) on a fixed
 *     sample of 100 pairs, timed per pair, and checked against the fast matrix's cells;
 *     `baselineMs` = brute time per pair × all pairs, `ratio` = baselineMs / all-pairs ms;
 *   - the per-pair engine (what `computeMatrix` calls per cell) on the same sample, the same way.
 * The compromised view is measured too where it finishes in reasonable time (the 1k spec).
 *
 * `node --import tsx bench/verify.ts --child FILE [views]` is the child; the parent passes
 * `--expose-gc` and a larger heap limit so the limit itself does not decide the result.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSpec } from '../src/gen/generate.js';
import { compile } from '../src/ir/compile.js';
import { loadModel } from '../src/model/load.js';
import type { Assume } from '../src/model/types.js';
import { flowEqual, type Flow, type FlowSet } from '../src/util/flows.js';
import { BruteForce } from '../src/verify/brute.js';
import { Engine } from '../src/verify/engine.js';
import { explain } from '../src/verify/explain.js';
import { computeFastMatrix, type FastMatrixStats } from '../src/verify/fast-matrix.js';

export interface BenchResult {
  name: string;
  ms: number;
  baselineMs: number;
  ratio: number;
  notes: string;
  /** The target, in words, and whether this run met it. */
  target?: string;
  ok?: boolean;
}

interface Size {
  readonly label: string;
  readonly hosts: number;
  readonly rules: number;
  readonly targetMs: number;
  readonly views: readonly Assume[];
}

export const SIZES: readonly Size[] = [
  { label: '1k×10k', hosts: 1000, rules: 10_000, targetMs: 1000, views: ['configured', 'compromised'] },
  { label: '10k×100k', hosts: 10_000, rules: 100_000, targetMs: 20_000, views: ['configured'] },
];

const SEED = 1;
const SAMPLE = 100;
const QUERIES = 50;
const MEMORY_TARGET_MIB = 2048;
const QUERY_TARGET_MS = 50;

/** What one child measures for one spec. */
interface ChildReport {
  hosts: number;
  rules: number;
  endpoints: number;
  irRules: number;
  loadMs: number;
  compileMs: number;
  views: {
    assume: Assume;
    ms: number;
    /** CPU time of the process (user + system) over the same span: wall time minus waiting for a core. */
    cpuMs: number;
    /** 1-minute load average right after (the machine is shared). */
    loadavg: number;
    allowed: number;
    flowSets: number;
    compactBytes: number;
    maxRssMiB: number;
    stats: FastMatrixStats;
  }[];
  query: { medianMs: number; maxMs: number; firstMs: number };
  brute: { perPairMs: number; pairs: number; mismatches: number; mode: string };
  engine: { perPairMs: number; pairs: number; mismatches: number };
  maxRssMiB: number;
  heapMiB: number;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : NaN;
}

function maxRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** A fixed, spread-out sample of applicable (source, destination) index pairs. */
function samplePairs(n: number, count: number, applicable: (i: number, j: number) => boolean): [number, number][] {
  const out: [number, number][] = [];
  let a = 0x9e3779b9;
  const next = (): number => {
    a = (Math.imul(a ^ (a >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return a;
  };
  while (out.length < count) {
    const i = next() % n;
    const j = next() % n;
    if (applicable(i, j)) out.push([i, j]);
  }
  return out;
}

function sampleFlow(f: FlowSet): Flow {
  if (f.tcp.length) return { proto: 'tcp', port: f.tcp[0]![0] };
  if (f.udp.length) return { proto: 'udp', port: f.udp[0]![0] };
  if (f.icmp) return { proto: 'icmp' };
  return { proto: 'tcp', port: 22 };
}

/** The child: measures one spec file. */
function child(file: string, views: readonly Assume[]): ChildReport {
  let t = performance.now();
  const lr = loadModel(file);
  if (!lr.model)
    throw new Error(
      `${file} does not load: ${lr.diagnostics
        .filter((d) => d.severity === 'error')
        .map((d) => d.message)
        .slice(0, 3)
        .join('; ')}`,
    );
  const loadMs = performance.now() - t;
  t = performance.now();
  const ir = compile(lr.model);
  const compileMs = performance.now() - t;
  let irRules = 0;
  for (const c of ir.chains.values()) irRules += c.rules.length;
  (globalThis as { gc?: () => void }).gc?.();

  const reports: ChildReport['views'] = [];
  let configured: ReturnType<typeof computeFastMatrix> | undefined;
  for (const assume of views) {
    const stats = { templates: 0, sweeps: 0, sweepRules: 0, visits: 0 } as FastMatrixStats;
    t = performance.now();
    const cpu0 = process.cpuUsage();
    const m = computeFastMatrix(ir, assume, new Engine(ir), { stats });
    const ms = performance.now() - t;
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    let compactBytes = 0;
    for (let i = 0; i < m.endpoints.length; i++) compactBytes += m.row(i).to.byteLength + m.row(i).ids.byteLength;
    reports.push({
      assume,
      ms,
      cpuMs,
      loadavg: loadavg()[0]!,
      allowed: m.allowedCount(),
      flowSets: m.flowSets.length,
      compactBytes,
      maxRssMiB: maxRssMiB(),
      stats,
    });
    if (assume === 'configured') configured = m;
  }
  const m = configured!;
  const eps = m.endpoints;
  const n = eps.length;

  // Query latency: one engine after loading, a fresh pair each time, as `cordon query` asks it.
  const engine = new Engine(ir);
  const qs: number[] = [];
  for (const [i, j] of samplePairs(n, QUERIES + 1, (i, j) => m.applicable(i, j))) {
    const q0 = performance.now();
    const r = engine.reach(eps[i]!.source, eps[j]!.dest, 'configured');
    explain(ir, r, sampleFlow(r.allowed));
    qs.push(performance.now() - q0);
  }
  const firstMs = qs.shift()!;

  // Brute force and the per-pair engine on the same sample, checked against the fast cells.
  const pairs = samplePairs(n, SAMPLE, (i, j) => m.applicable(i, j));
  const bf = new BruteForce(ir, engine.topo, { ports: 'sampled', samples: 16 });
  let bruteMs = 0;
  let bruteBad = 0;
  for (const [i, j] of pairs) {
    const b0 = performance.now();
    const f = bf.reach(eps[i]!.source, eps[j]!.dest, 'configured');
    bruteMs += performance.now() - b0;
    if (!flowEqual(f, m.cell(i, j)!)) bruteBad++;
  }
  const fresh = new Engine(ir);
  let engMs = 0;
  let engBad = 0;
  for (const [i, j] of pairs) {
    const e0 = performance.now();
    const f = fresh.reach(eps[i]!.source, eps[j]!.dest, 'configured').allowed;
    engMs += performance.now() - e0;
    if (!flowEqual(f, m.cell(i, j)!)) engBad++;
  }
  (globalThis as { gc?: () => void }).gc?.();
  return {
    hosts: lr.model.hosts.size,
    rules: lr.model.policy.length,
    endpoints: n,
    irRules,
    loadMs,
    compileMs,
    views: reports,
    query: { medianMs: median(qs), maxMs: Math.max(...qs), firstMs },
    brute: { perPairMs: bruteMs / pairs.length, pairs: pairs.length, mismatches: bruteBad, mode: 'sampled ports (boundaries ±1 + 16 random per protocol)' },
    engine: { perPairMs: engMs / pairs.length, pairs: pairs.length, mismatches: engBad },
    maxRssMiB: maxRssMiB(),
    heapMiB: process.memoryUsage().heapUsed / 2 ** 20,
  };
}

const cpuCount = availableParallelism();

const fmt = (ms: number): string =>
  ms >= 100_000 ? `${(ms / 1000).toFixed(0)} s` : ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;

/** Runs every size, each in its own child process; returns one row per measurement. */
export async function benchVerify(only?: readonly string[]): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-bench-'));
  const self = fileURLToPath(import.meta.url);
  const out: BenchResult[] = [];
  try {
    for (const size of SIZES) {
      if (only && only.length && !only.includes(size.label)) continue;
      const file = join(dir, `gen-${size.hosts}-${size.rules}.yaml`);
      writeFileSync(file, generateSpec({ hosts: size.hosts, rules: size.rules, seed: SEED }));
      const res = spawnSync(process.execPath, ['--expose-gc', '--max-old-space-size=16384', '--import', 'tsx', self, '--child', file, size.views.join(',')], {
        encoding: 'utf8',
        maxBuffer: 64 * 2 ** 20,
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      if (res.status !== 0) {
        out.push({ name: `verify ${size.label}`, ms: NaN, baselineMs: NaN, ratio: NaN, notes: `child failed (status ${res.status}, signal ${res.signal})` });
        continue;
      }
      const r = JSON.parse(res.stdout.trim().split('\n').pop()!) as ChildReport;
      const pairs = r.endpoints * r.endpoints;
      const spec = `${r.hosts} hosts, ${r.rules} rules → ${r.irRules} IR rules; ${r.endpoints} endpoints`;
      out.push({
        name: `verify ${size.label}: load + compile`,
        ms: r.loadMs + r.compileMs,
        baselineMs: NaN,
        ratio: NaN,
        notes: `load (read, parse, resolve) ${fmt(r.loadMs)}, compile ${fmt(r.compileMs)}; ${spec}`,
      });
      for (const v of r.views) {
        const bruteAll = r.brute.perPairMs * pairs;
        const engAll = r.engine.perPairMs * pairs;
        const s = v.stats;
        const configured = v.assume === 'configured';
        out.push({
          name: `verify ${size.label}: all pairs, ${v.assume}`,
          ms: v.ms,
          baselineMs: configured ? bruteAll : NaN,
          ratio: configured ? bruteAll / v.ms : NaN,
          notes:
            `wall ${fmt(v.ms)}, CPU ${fmt(v.cpuMs)} (load average ${v.loadavg.toFixed(1)} on ${cpuCount} CPUs); ` +
            `${v.allowed.toLocaleString('en')} of ${pairs.toLocaleString('en')} ordered pairs allowed, ${v.flowSets} distinct flow sets, compact form ${(v.compactBytes / 2 ** 20).toFixed(1)} MiB; ` +
            `peak RSS after it ${v.maxRssMiB.toFixed(0)} MiB (target < ${MEMORY_TARGET_MIB}); ` +
            `${s.sourceClasses} source × ${s.destClasses} destination classes, ${s.templates} path templates, ${s.sweeps} chain sweeps (${s.sweepRules} candidate rules), ${s.visits} pair visits, ${s.portClasses} port classes` +
            (configured
              ? `; ratio = speedup over brute force; baseline = brute force ${r.brute.perPairMs.toFixed(1)} ms/pair × all pairs (${r.brute.pairs} sampled pairs, ${r.brute.mismatches} disagreeing with the fast cells; ${r.brute.mode}); ` +
                `per-pair engine ${r.engine.perPairMs.toFixed(2)} ms/pair → ${fmt(engAll)} for all pairs (${(engAll / v.ms).toFixed(0)}× slower; ${r.engine.mismatches} disagreeing)`
              : ''),
          ...(configured ? { target: `< ${fmt(size.targetMs)}, < ${MEMORY_TARGET_MIB} MiB`, ok: v.ms < size.targetMs && v.maxRssMiB < MEMORY_TARGET_MIB } : {}),
        });
      }
      out.push({
        name: `verify ${size.label}: one query after loading`,
        ms: r.query.medianMs,
        baselineMs: NaN,
        ratio: NaN,
        notes: `median of ${QUERIES} (max ${fmt(r.query.maxMs)}; the first, which also computes the zone representatives, ${fmt(r.query.firstMs)}): Engine.reach + explain, a different pair each time`,
        target: `< ${QUERY_TARGET_MS} ms`,
        ok: r.query.medianMs < QUERY_TARGET_MS,
      });
      out.push({
        name: `verify ${size.label}: peak memory`,
        ms: NaN,
        baselineMs: NaN,
        ratio: NaN,
        notes: `peak RSS of the measuring process ${r.maxRssMiB.toFixed(0)} MiB over everything it did (load, compile, all pairs, queries, samples); heap in use at the end ${r.heapMiB.toFixed(0)} MiB`,
        target: `< ${MEMORY_TARGET_MIB} MiB`,
        ok: r.maxRssMiB < MEMORY_TARGET_MIB,
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

if (process.argv[2] === '--child') {
  const views = (process.argv[4] ?? 'configured').split(',') as Assume[];
  const report = child(process.argv[3]!, views);
  process.stdout.write(`${JSON.stringify(report)}\n`);
} else if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const r of await benchVerify(process.argv.slice(2))) console.log(JSON.stringify(r));
}
