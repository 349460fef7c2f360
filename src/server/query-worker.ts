/**
 * The query thread: answers `query`/`explain` for big spec versions, keeping their compiled form
 * (a 1,000-host spec takes about two seconds to compile, which on the main thread would stop every
 * other request). Versions never change, so `spec@version` keys a small cache here, as
 * compile-cache.ts does on the main thread for small ones. Pure computation: no database, no files.
 */
import { parentPort } from 'node:worker_threads';
import { compileText, queryJson, Refusal, type Compiled } from './analysis.js';
import type { QueryReply, QueryRequest } from './query-thread.js';

const MAX = 4;
const cache = new Map<string, Compiled>();

function compiled(m: QueryRequest): Compiled | undefined {
  const hit = cache.get(m.key);
  if (hit) {
    cache.delete(m.key);
    cache.set(m.key, hit);
    return hit;
  }
  if (m.text === undefined) return undefined;
  const c = compileText(m.text, m.name);
  cache.set(m.key, c);
  if (cache.size > MAX) cache.delete(cache.keys().next().value!);
  return c;
}

parentPort!.on('message', (m: QueryRequest) => {
  let reply: QueryReply;
  try {
    const c = compiled(m);
    reply = c ? { id: m.id, type: 'done', json: JSON.stringify(queryJson(c, m.args)) } : { id: m.id, type: 'missing' };
  } catch (e) {
    reply =
      e instanceof Refusal
        ? { id: m.id, type: 'refused', message: e.message, diagnostics: [...e.diagnostics] }
        : { id: m.id, type: 'failed', message: (e as Error).message };
  }
  parentPort!.postMessage(reply);
});
