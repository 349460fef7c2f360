/**
 * Benchmark: the CLI end to end on generated specs, as a user runs it: `cordon check`, `matrix`,
 * `lint` and `render --target nftables` of `cordon gen` specs with 1,000 hosts × 10,000 rules and
 * 10,000 hosts × 100,000 rules (seed 1). Targets (issue 10, part 4): each under 1 s on the first,
 * under 15 s on the second.
 *
 * Each command is one `node dist/cli/main.js …` process (the compiled CLI, what bin/cordon runs
 * when dist/ is fresh; `npm run build` first), its wall time measured from spawn to exit, its CPU
 * time and peak RSS by /usr/bin/time. Two baselines in the same run: `node -e 0` (Node's own
 * start-up) and parse-only (a process that loads the spec module and reads the spec with
 * `readSpecFile`: YAML and schema, nothing after). `ratio` = command time / parse-only time.
 *
 * The 1k spec is measured 3 times per command (median); the 10k one once (minutes). Set
 * CORDON_BENCH_PIPELINE=1k to run the small size only.
 *
 * Before and after in one run: CORDON_BENCH_PIPELINE_OLD=DIR (a checkout of an earlier commit
 * with its own `npm run build`) runs that build's CLI too, interleaved with this one run for run,
 * and each command of this build gets a second row with the old build as its baseline. On a
 * shared machine compare the CPU columns: wall time there mostly measures the neighbours.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSpec } from '../src/gen/generate.js';

export interface BenchResult {
  name: string;
  ms: number;
  baselineMs: number;
  ratio: number;
  notes: string;
  target?: string;
  ok?: boolean;
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'dist/cli/main.js');
const PARSE = join(ROOT, 'dist/spec/parse.js');
const TIMEOUT_MS = Number(process.env.CORDON_BENCH_PIPELINE_TIMEOUT_S ?? 600) * 1000;
/** An earlier build to measure against in the same run (see the header), or undefined. */
const OLD = process.env.CORDON_BENCH_PIPELINE_OLD;

const SIZES = [
  { label: '1k×10k', hosts: 1000, rules: 10_000, targetMs: 1000, runs: 3 },
  { label: '10k×100k', hosts: 10_000, rules: 100_000, targetMs: 15_000, runs: 1 },
] as const;

interface Run {
  ms: number;
  cpuMs: number;
  rssMiB: number;
  status: number | null;
  err: string;
}

/** One process, timed: wall clock here, CPU and peak RSS from /usr/bin/time (when there is one). */
function timed(args: readonly string[], out: string): Run {
  const haveTime = existsSync('/usr/bin/time');
  const stats = join(out, 'time.txt');
  const cmd = haveTime ? '/usr/bin/time' : process.execPath;
  // /usr/bin/time does not pass a kill on to its child: `timeout` inside it ends the command
  // itself at the limit, so a run that times out leaves no process behind.
  const limit = existsSync('/usr/bin/timeout') ? ['/usr/bin/timeout', '-s', 'KILL', `${Math.round(TIMEOUT_MS / 1000)}s`] : [];
  const argv = haveTime ? ['-f', '%U %S %M', '-o', stats, ...limit, process.execPath, ...args] : [...args];
  const t0 = performance.now();
  const r = spawnSync(cmd, argv, {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: TIMEOUT_MS + 10_000,
    maxBuffer: 1 << 30,
    env: { ...process.env, NO_COLOR: '1' },
  });
  const ms = performance.now() - t0;
  let cpuMs = NaN;
  let rssMiB = NaN;
  if (haveTime && existsSync(stats)) {
    const last = readFileSync(stats, 'utf8').trim().split('\n').pop() ?? '';
    const [u, s, m] = last.split(' ').map(Number);
    cpuMs = ((u ?? NaN) + (s ?? NaN)) * 1000;
    rssMiB = (m ?? NaN) / 1024;
    rmSync(stats, { force: true });
  }
  return {
    ms,
    cpuMs,
    rssMiB,
    status: r.status,
    err: r.error
      ? r.error.message
      : (r.stderr ?? '')
          .split('\n')
          .filter((l) => /error|internal/.test(l))
          .slice(0, 2)
          .join(' '),
  };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : NaN;
}

function best(runs: readonly Run[]): Run {
  const m = median(runs.map((r) => r.ms));
  return runs.find((r) => r.ms === m) ?? runs[0]!;
}

export async function benchPipeline(): Promise<BenchResult[]> {
  if (!existsSync(CLI) || !existsSync(PARSE)) throw new Error('no dist/: run `npm run build` first');
  const oldCli = OLD ? join(OLD, 'dist/cli/main.js') : undefined;
  if (oldCli && !existsSync(oldCli)) throw new Error(`${oldCli} is missing: build the old checkout first`);
  const only = process.env.CORDON_BENCH_PIPELINE;
  const dir = mkdtempSync(join(tmpdir(), 'cordon-bench-pipeline-'));
  const rows: BenchResult[] = [];
  try {
    const startup = best([0, 1, 2].map(() => timed(['-e', '0'], dir)));
    rows.push({
      name: 'pipeline: node -e 0 (start-up baseline)',
      ms: startup.ms,
      baselineMs: startup.ms,
      ratio: 1,
      notes: `median of 3; load average ${loadavg()[0]!.toFixed(1)}`,
    });
    for (const size of SIZES) {
      if (only && only !== size.label && !(only === '1k' && size.hosts === 1000)) continue;
      const spec = join(dir, `gen-${size.hosts}-${size.rules}.yaml`);
      writeFileSync(spec, generateSpec({ hosts: size.hosts, rules: size.rules, seed: 1 }));
      const n = size.runs;
      const parseScript = `const m = await import(${JSON.stringify(`file://${PARSE}`)}); const r = m.readSpecFile(${JSON.stringify(spec)}); if (!r.ok) process.exit(2);`;
      const parse = best(Array.from({ length: n }, () => timed(['--input-type=module', '-e', parseScript], dir)));
      rows.push({
        name: `pipeline ${size.label}: parse only (baseline)`,
        ms: parse.ms,
        baselineMs: parse.ms,
        ratio: 1,
        notes: `readSpecFile (YAML with positions + schema) in its own process; ${n > 1 ? `median of ${n}; ` : ''}CPU ${Math.round(parse.cpuMs)} ms, peak RSS ${Math.round(parse.rssMiB)} MiB${parse.status === 0 ? '' : `; exit ${parse.status}: ${parse.err}`}`,
      });
      const out = join(dir, 'out');
      const commands: [string, string[], number[]][] = [
        ['check', ['check', spec], [0]],
        ['render --target nftables', ['render', '--target', 'nftables', '-o', out, spec], [0]],
        ['matrix', ['matrix', spec], [0]],
        ['lint', ['lint', spec], [0, 1]],
      ];
      for (const [name, args, okStatus] of commands) {
        const runs: Run[] = [];
        const oldRuns: Run[] = [];
        for (let k = 0; k < n; k++) {
          if (oldCli) {
            rmSync(out, { recursive: true, force: true });
            process.stderr.write(`bench: pipeline ${size.label} ${name}, old build (${k + 1}/${n})…\n`);
            oldRuns.push(timed([oldCli, ...args], dir));
          }
          rmSync(out, { recursive: true, force: true });
          process.stderr.write(`bench: pipeline ${size.label} ${name} (${k + 1}/${n})…\n`);
          runs.push(timed([CLI, ...args], dir));
        }
        const r = best(runs);
        if (oldCli) {
          const o = best(oldRuns);
          const oldDone = okStatus.includes(o.status ?? -1);
          const newDone = okStatus.includes(r.status ?? -1);
          rows.push({
            name: `pipeline ${size.label}: cordon ${name}, old build → this one (CPU)`,
            ms: newDone ? r.cpuMs : NaN,
            baselineMs: oldDone ? o.cpuMs : NaN,
            ratio: newDone && oldDone ? r.cpuMs / o.cpuMs : NaN,
            target: `< ${size.targetMs.toLocaleString('en')} ms`,
            ok: newDone && r.cpuMs < size.targetMs,
            notes: `CPU ms (user + sys), ${n > 1 ? `median-wall run of ${n} each` : 'one run each'}, interleaved; ratio = this build / old build; wall ${oldDone ? Math.round(o.ms) : `– (exit ${o.status})`} → ${newDone ? Math.round(r.ms) : `– (exit ${r.status})`} ms; peak RSS ${Math.round(o.rssMiB)} → ${Math.round(r.rssMiB)} MiB; load average ${loadavg()[0]!.toFixed(1)} after`,
          });
        }
        const finished = okStatus.includes(r.status ?? -1);
        rows.push({
          name: `pipeline ${size.label}: cordon ${name}`,
          ms: finished ? r.ms : NaN,
          baselineMs: parse.ms,
          ratio: finished ? r.ms / parse.ms : NaN,
          target: `< ${size.targetMs.toLocaleString('en')} ms`,
          ok: finished && r.ms < size.targetMs,
          notes: `${finished ? '' : `did not finish: exit ${r.status} ${r.err}; `}${n > 1 ? `median of ${n} (${runs.map((x) => Math.round(x.ms)).join(', ')} ms); ` : ''}${finished && Number.isFinite(r.cpuMs) ? `CPU ${Math.round(r.cpuMs)} ms, peak RSS ${Math.round(r.rssMiB)} MiB; ` : ''}ratio = time / parse only; load average ${loadavg()[0]!.toFixed(1)} after`,
        });
      }
      rmSync(spec, { force: true });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const r of await benchPipeline()) process.stdout.write(`${JSON.stringify(r)}\n`);
}
