/**
 * The kubernetes target against its old algorithm, in one process: `node --import tsx
 * bench/kubernetes-vs-reference.ts [HOSTS…]` (default 200 400 1000; rules = 10 × hosts, seed 1).
 *
 * For each size the spec is generated, loaded and compiled once (not timed), then rendered by the
 * frozen pre-speed-up renderer (test/support/kubernetes-reference.ts, the baseline) and by
 * src/render/kubernetes, one after the other; CPU time (user + system, process.cpuUsage) and wall
 * time of each, and whether the two outputs (files and diagnostics) are identical. The reference
 * grows like hosts² × rules and did not finish 1k × 10k in 10 minutes, so it runs only up to
 * CORDON_BENCH_K8S_REF_MAX hosts (default 400).
 */
import { isDeepStrictEqual } from 'node:util';
import { generateSpec } from '../src/gen/generate.js';
import { compile } from '../src/ir/compile.js';
import { loadModelFromText } from '../src/model/load.js';
import { kubernetesRenderer } from '../src/render/kubernetes/index.js';
import type { Renderer, RenderResult } from '../src/render/types.js';
import { referenceKubernetesRenderer } from '../test/support/kubernetes-reference.js';

const REF_MAX = Number(process.env.CORDON_BENCH_K8S_REF_MAX ?? 400);
const sizes = process.argv.slice(2).map(Number);

function timed(r: Renderer, ir: ReturnType<typeof compile>): { cpuMs: number; wallMs: number; out: RenderResult } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const out = r.render(ir, { host: undefined, params: new Map() });
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { cpuMs: (c.user + c.system) / 1000, wallMs, out };
}

const fmt = (ms: number): string => Math.round(ms).toLocaleString('en-US');

console.log('| spec | old CPU ms (wall) | new CPU ms (wall) | old / new CPU | output |');
console.log('|---|---:|---:|---:|---|');
for (const hosts of sizes.length ? sizes : [200, 400, 1000]) {
  const loaded = loadModelFromText(generateSpec({ hosts, rules: hosts * 10, seed: 1 }), `gen-${hosts}.yaml`);
  if (!loaded.model) throw new Error(`gen --hosts ${hosts} does not load: ${loaded.diagnostics[0]?.message ?? '?'}`);
  const ir = compile(loaded.model);
  const old = hosts <= REF_MAX ? timed(referenceKubernetesRenderer, ir) : undefined;
  const now = timed(kubernetesRenderer, ir);
  const bytes = now.out.files.reduce((n, f) => n + Buffer.byteLength(f.content), 0);
  const same = old ? (isDeepStrictEqual(old.out, now.out) ? 'identical' : 'DIFFERENT') : 'not compared';
  console.log(
    `| ${hosts}×${hosts * 10} | ${old ? `${fmt(old.cpuMs)} (${fmt(old.wallMs)})` : `not run (> ${REF_MAX} hosts)`} | ${fmt(now.cpuMs)} (${fmt(now.wallMs)}) | ${
      old ? `${(old.cpuMs / now.cpuMs).toFixed(1)}×` : '–'
    } | ${same}, ${(bytes / 1024 / 1024).toFixed(1)} MiB, ${now.out.diagnostics.length} diagnostics |`,
  );
  if (same === 'DIFFERENT') process.exitCode = 1;
}
