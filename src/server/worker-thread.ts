/**
 * Starts one of the server's worker threads: the compiled `NAME.js` beside this file; or, running
 * from source under tsx (tests, `bin/cordon` in a checkout), a two-line bootstrap that registers
 * tsx's loader in the worker and then imports `NAME.ts` (Node 20 does not apply a parent's
 * `--import tsx` to a worker's entry module).
 */
import { Worker } from 'node:worker_threads';

export function spawnWorker(name: 'job-worker' | 'query-worker', workerData?: unknown): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, import.meta.url), { workerData });
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL(`./${name}.ts`, import.meta.url).href;
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true, workerData, execArgv: [] });
}
