/**
 * Starts one of the server's worker threads: the compiled `NAME.js` beside this file; or, running
 * from source under tsx (tests, `bin/cordon` in a checkout), a two-line bootstrap that registers
 * tsx's loaders in the worker and then imports `NAME.ts` (Node 20 does not apply a parent's
 * `--import tsx` to a worker's entry module). Both loaders, as `--import tsx` does: the spec parser
 * `require`s its zod schema only when a spec is invalid (src/spec/parse.ts), and without tsx's
 * CommonJS hook that `require('./schema.js')` finds no file beside the sources.
 */
import { Worker } from 'node:worker_threads';

export function spawnWorker(name: 'job-worker' | 'query-worker', workerData?: unknown): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, import.meta.url), { workerData });
  const esm = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const cjs = JSON.stringify(import.meta.resolve('tsx/cjs/api'));
  const entry = JSON.stringify(new URL(`./${name}.ts`, import.meta.url).href);
  const boot = `Promise.all([import(${esm}), import(${cjs})]).then(([e, c]) => { e.register(); c.register(); return import(${entry}); });`;
  return new Worker(boot, { eval: true, workerData, execArgv: [] });
}
