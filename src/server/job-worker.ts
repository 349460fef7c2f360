/**
 * One background job in a worker thread: compile a spec version and compute its matrix, lint or
 * rendered files (or check an upload), reporting each stage to the parent. Off the main thread, so the seconds a
 * 1,000-host spec takes never hold up other requests. Pure computation: no database, no files.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { checkSpec, compileText, diffJson, lintJson, matrixJson, Refusal, renderFiles, testJson } from './analysis.js';
import type { JobMessage, JobRequest } from './jobs.js';

const req = workerData as JobRequest;
const post = (m: JobMessage) => parentPort!.postMessage(m);

function run(): unknown {
  if (req.kind === 'check') {
    post({ type: 'progress', step: 0, steps: 1, stage: `checking ${req.file}` });
    return checkSpec(req.text, req.file);
  }
  const steps = 1 + (req.kind === 'matrix' ? req.views.length : req.kind === 'diff' ? 1 + req.views.length : 1);
  if (req.kind === 'diff') {
    post({ type: 'progress', step: 0, steps, stage: `compiling ${req.oldFile}` });
    const old = compileText(req.oldText, req.name);
    post({ type: 'progress', step: 1, steps, stage: `compiling ${req.file}` });
    const neu = compileText(req.text, req.name);
    post({ type: 'progress', step: 2, steps, stage: `matrices and diff, ${req.views.join(' and ')}` });
    return diffJson({ ...old, file: req.oldFile }, { ...neu, file: req.file }, req.views);
  }
  post({ type: 'progress', step: 0, steps, stage: `compiling ${req.file}` });
  const c = compileText(req.text, req.name);
  switch (req.kind) {
    case 'matrix':
      return {
        views: req.views.map((a, i) => {
          post({ type: 'progress', step: 1 + i, steps, stage: `matrix, ${a} view` });
          return matrixJson(c, a);
        }),
      };
    case 'lint':
      post({ type: 'progress', step: 1, steps, stage: 'lint' });
      return lintJson(c);
    case 'test':
      post({ type: 'progress', step: 1, steps, stage: 'expectations and invariants' });
      return testJson(c);
    case 'render':
      post({ type: 'progress', step: 1, steps, stage: `render ${req.target}` });
      return renderFiles(c, req.target, req.host, new Map(req.params)).map((f) => ({ path: f.path, content: f.content }));
  }
}

try {
  // Serialized here, off the main thread: the parent stores and answers this text as it is.
  post({ type: 'done', resultJson: JSON.stringify(run()) });
} catch (e) {
  if (e instanceof Refusal) post({ type: 'refused', message: e.message, diagnostics: [...e.diagnostics] });
  else post({ type: 'failed', message: (e as Error).message });
}
