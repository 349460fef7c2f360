/**
 * Benchmark: every render target on the generated 1k spec (`cordon gen --hosts 1000 --rules
 * 10000 --seed 1`), in one process, after loading and compiling it once (not timed).
 *
 * Each target renders every host it applies to (`host: undefined`, what `cordon render -t T`
 * without --host does), through the registry (guarded, as the CLI runs it); the wireguard target
 * without a key store, so it reports missing keys instead of generating them (key generation is
 * not rendering). Each target runs RUNS times (CORDON_BENCH_RENDER_RUNS, default 1), interleaved
 * (round-robin over the targets, so a noisy neighbour on a shared machine hits all of them alike);
 * the median counts. Baseline: the
 * nftables target in the same run, the one the render-speed target of issue 18 is about;
 * `ratio` = target ms / nftables ms. Notes: files and bytes written, diagnostics.
 */
import { generateSpec } from '../src/gen/generate.js';
import { compile } from '../src/ir/compile.js';
import { loadModelFromText } from '../src/model/load.js';
import { RENDERERS } from '../src/render/registry.js';
import type { Row } from './row.js';

/** Runs per target (CORDON_BENCH_RENDER_RUNS); 1 by default: one round of every target takes minutes on a loaded 2-core machine. */
const RUNS = Math.max(1, Number(process.env.CORDON_BENCH_RENDER_RUNS ?? 1) || 1);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export function benchRender(): Promise<Row[]> {
  const text = generateSpec({ hosts: 1000, rules: 10_000, seed: 1 });
  const loaded = loadModelFromText(text, 'gen-1k.yaml');
  if (!loaded.model) throw new Error(`the generated spec does not load: ${loaded.diagnostics[0]?.message ?? '?'}`);
  const ir = compile(loaded.model);
  // CORDON_BENCH_RENDER_TARGETS=a,b: only those (nftables, the baseline, always runs).
  const only = process.env.CORDON_BENCH_RENDER_TARGETS?.split(',').map((x) => x.trim());
  const targets = RENDERERS.filter((r) => r.name === 'nftables' || !only || only.includes(r.name));
  const times = new Map<string, number[]>(targets.map((r) => [r.name, []]));
  const sizes = new Map<string, { files: number; bytes: number; diags: number }>();
  for (let i = 0; i < RUNS; i++) {
    for (const r of targets) {
      const t0 = performance.now();
      const out = r.render(ir, { host: undefined, params: new Map() });
      const ms = performance.now() - t0;
      times.get(r.name)!.push(ms);
      process.stderr.write(`bench: render ${r.name}: ${ms.toFixed(0)} ms\n`);
      sizes.set(r.name, { files: out.files.length, bytes: out.files.reduce((n, f) => n + Buffer.byteLength(f.content), 0), diags: out.diagnostics.length });
    }
  }
  const base = median(times.get('nftables')!);
  return Promise.resolve(
    targets.map((r) => {
      const ms = median(times.get(r.name)!);
      const s = sizes.get(r.name)!;
      return {
        name: `render ${r.name} (1k×10k, every host)`,
        ms,
        baselineMs: base,
        ratio: ms / base,
        notes: `${s.files} file(s), ${(s.bytes / 1024).toFixed(0)} KiB, ${s.diags} diagnostic(s); median of ${RUNS}, interleaved; baseline: render nftables in the same run`,
      };
    }),
  );
}
