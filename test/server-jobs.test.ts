/**
 * Long work off the request path, against a real server and SQLite file: matrix, lint and render
 * of a version with more hosts than the job threshold answer 202 with a job; the job reports
 * progress and then the same result the synchronous route gives; while a 1,000-host matrix runs
 * in its worker thread the server keeps answering; bad job ids and someone else's jobs are 404;
 * a restart keeps finished jobs and runs unfinished ones again; large uploads are checked in a
 * worker too.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { generateSpec } from '../src/gen/generate.js';
import { compileText, diffJson, lintJson, matrixJson, queryJson, renderFiles, testJson } from '../src/server/analysis.js';
import { WORKER_CHECK_BYTES } from '../src/server/routes/specs.js';
import { ErrorSchema, ExplanationSchema, JobAccepted, JobSchema, SpecUploaded } from '../src/server/schemas.js';
import { Store } from '../src/server/store.js';
import { testServer, type Client, type TestServer } from './support/server.js';

const EXAMPLE = readFileSync(new URL('../examples/proxmox-dual-bridge.yaml', import.meta.url), 'utf8');

async function finished(c: Client, href: string): Promise<{ job: z.output<typeof JobSchema>; seen: string[] }> {
  const seen: string[] = [];
  for (let i = 0; i < 1200; i++) {
    const job = (await c.req('GET', href)).as(JobSchema);
    seen.push(job.state);
    if (job.state === 'done' || job.state === 'failed') return { job, seen };
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`job ${href} did not finish`);
}

describe('server: background jobs', () => {
  let t: TestServer;
  let admin: Client;
  let small = 0;

  before(async () => {
    // A threshold of 3 hosts makes the 4-host example "big", so its jobs are quick to check.
    t = await testServer({ jobHostThreshold: 3, loginLimit: { max: 100, windowMs: 60_000 } });
    admin = t.client();
    assert.equal((await admin.login('admin', t.adminPassword)).status, 200);
    const up = await admin.req('POST', '/api/specs', { body: { name: 'example', text: EXAMPLE } });
    assert.equal(up.status, 201, up.text);
    small = up.as(SpecUploaded).spec.id;
  });
  after(async () => t?.close());

  it('lint and render of a version past the threshold → 202 and a job whose result is the synchronous answer', async () => {
    const c = compileText(EXAMPLE, 'example');
    const lint = await admin.req('GET', `/api/specs/${small}/versions/latest/lint`);
    assert.equal(lint.status, 202, lint.text);
    const { job } = await finished(admin, lint.as(JobAccepted).href);
    assert.equal(job.state, 'done', job.error);
    assert.deepEqual(job.progress, { step: 2, steps: 2, stage: 'done' });
    assert.equal(job.subject, 'example@v1');
    assert.deepEqual(job.result, JSON.parse(JSON.stringify(lintJson(c))));
    const again = await admin.req('GET', `/api/specs/${small}/versions/1/lint`);
    assert.equal(again.as(JobAccepted).job.id, job.id, 'the same request gets the same (kept) job, not a second computation');

    const render = await admin.req('GET', `/api/specs/${small}/versions/1/render/nftables?host=pve`);
    assert.equal(render.status, 202, render.text);
    const r = (await finished(admin, render.as(JobAccepted).href)).job;
    assert.equal(r.state, 'done', r.error);
    assert.deepEqual(
      r.result,
      renderFiles(c, 'nftables', 'pve', new Map()).map((f) => ({ path: f.path, content: f.content })),
    );
  });

  it('test and diff of versions past the threshold are jobs too, with the synchronous answers as results', async () => {
    const v2text = EXAMPLE.replace('policy:\n', 'policy:\n  - allow: { from: wg-client, to: ollama.api, comment: added in v2 }\n');
    const up = await admin.req('POST', '/api/specs', { body: { name: 'example', text: v2text } });
    assert.equal(up.status, 201, up.text);
    const test = await admin.req('GET', `/api/specs/${small}/versions/1/test`);
    assert.equal(test.status, 202, test.text);
    const tj = (await finished(admin, test.as(JobAccepted).href)).job;
    assert.equal(tj.state, 'done', tj.error);
    const c1 = compileText(EXAMPLE, 'example');
    assert.deepEqual(tj.result, JSON.parse(JSON.stringify(testJson(c1))));

    const diff = await admin.req('GET', `/api/specs/${small}/diff?from=1&to=2&assume=both`);
    assert.equal(diff.status, 202, diff.text);
    const dj = (await finished(admin, diff.as(JobAccepted).href)).job;
    assert.deepEqual([dj.kind, dj.subject, dj.state], ['diff', 'example@v1..v2', 'done'], dj.error);
    const c2 = compileText(v2text, 'example');
    const expected = diffJson({ ...c1, file: 'example@v1' }, { ...c2, file: 'example@v2' }, ['configured', 'compromised']);
    assert.equal(expected.changed, true);
    assert.deepEqual(dj.result, JSON.parse(JSON.stringify(expected)));
  });

  it('query and explain of a version past the threshold are answered by the query thread: the library’s JSON, its refusals as 400', async () => {
    const c = compileText(EXAMPLE, 'example');
    for (const name of ['query', 'explain'] as const) {
      const args = { from: 'agentfarm', to: 'ollama.api', assume: 'configured' as const };
      const r = await admin.req('POST', `/api/specs/${small}/versions/1/${name}`, { body: args });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json, JSON.parse(JSON.stringify(queryJson(c, args))), name);
    }
    const bad = await admin.req('POST', `/api/specs/${small}/versions/1/query`, { body: { from: 'agentfrm', to: 'ollama.api' } });
    assert.equal(bad.status, 400);
    assert.match(bad.as(ErrorSchema).error, /agentfrm.*agentfarm/);
  });

  it('a job that cannot be done fails with the reason (unknown render target: the valid ones are named)', async () => {
    const r = await admin.req('GET', `/api/specs/${small}/versions/1/render/nftabels`);
    assert.equal(r.status, 202);
    const { job } = await finished(admin, r.as(JobAccepted).href);
    assert.equal(job.state, 'failed');
    assert.match(job.error ?? '', /unknown target 'nftabels'.*nftables/);
  });

  it('bad job ids → 400 naming params.id; unknown ones and other accounts’ jobs → 404', async () => {
    const bad = await admin.req('GET', '/api/jobs/xyz');
    assert.equal(bad.status, 400);
    assert.equal(bad.as(ErrorSchema).issues?.[0]?.path, 'params.id');
    assert.equal((await admin.req('GET', '/api/jobs/0123456789abcdef')).status, 404);
    const made = await admin.req('POST', '/api/accounts', { body: { name: 'mallory', tier: 'early-access', password: 'mallory-password' } });
    assert.equal(made.status, 201, made.text);
    const m = t.client();
    assert.equal((await m.login('mallory', 'mallory-password')).status, 200);
    const mine = (await admin.req('GET', `/api/specs/${small}/versions/1/lint`)).as(JobAccepted);
    assert.equal((await m.req('GET', mine.href)).status, 404, 'not hers');
    assert.equal((await admin.req('GET', mine.href)).status, 200);
  });

  it('a restart keeps a finished job for the client still polling it, and runs an unfinished one again under the same id', async () => {
    const c = compileText(EXAMPLE, 'example');
    const lint = (await admin.req('GET', `/api/specs/${small}/versions/1/lint`)).as(JobAccepted);
    const done = (await finished(admin, lint.href)).job;
    assert.equal(done.state, 'done', done.error);
    // Asked for and the server stopped at once: the job is queued or running when it goes down.
    const pending = await admin.req('GET', `/api/specs/${small}/versions/1/render/iptables?host=pve`);
    assert.equal(pending.status, 202, pending.text);
    const href = pending.as(JobAccepted).href;
    const id = pending.as(JobAccepted).job.id;
    await t.restart(() => {
      const store = new Store(join(t.dataDir, 'cordon.db'));
      try {
        const live = new Map(store.liveJobs('1970-01-01T00:00:00.000Z').map((j) => [j.id, j.state]));
        assert.equal(live.get(done.id), 'done');
        assert.ok(live.get(id) === 'queued' || live.get(id) === 'running', `the stopped job is ${live.get(id)}`);
      } finally {
        store.close();
      }
    });
    admin = t.client();
    assert.equal((await admin.login('admin', t.adminPassword)).status, 200);
    const kept = (await admin.req('GET', lint.href)).as(JobSchema);
    assert.deepEqual(kept, done, 'the finished job, result and all, as before the restart');
    const again = (await admin.req('GET', `/api/specs/${small}/versions/1/lint`)).as(JobAccepted);
    assert.equal(again.job.id, done.id, 'the same request after the restart still gets the kept job');
    const resumed = (await finished(admin, href)).job;
    assert.deepEqual([resumed.id, resumed.state], [id, 'done'], resumed.error);
    assert.deepEqual(
      resumed.result,
      renderFiles(c, 'iptables', 'pve', new Map()).map((f) => ({ path: f.path, content: f.content })),
    );
  });

  it('a large upload is checked in a worker: the server answers others meanwhile, and an invalid one gets check’s located diagnostics', async () => {
    const text = generateSpec({ hosts: 1000, rules: 200, seed: 11 });
    assert.ok(Buffer.byteLength(text) > WORKER_CHECK_BYTES);
    const order: string[] = [];
    const upload = admin.req('POST', '/api/specs', { body: { name: 'big-upload', text } }).then((r) => {
      order.push('upload');
      return r;
    });
    // Well after the body has arrived, while the spec is being loaded: on the main thread this would wait for the load.
    await new Promise((r) => setTimeout(r, 150));
    const health = await admin.req('GET', '/api/health');
    order.push('health');
    assert.equal(health.status, 200);
    const up = await upload;
    assert.equal(up.status, 201, up.text.slice(0, 300));
    assert.deepEqual(order, ['health', 'upload'], 'the health check was answered while the upload was being checked');
    // The host count measured in the worker decides that its matrix is a job.
    assert.equal((await admin.req('GET', `/api/specs/${up.as(SpecUploaded).spec.id}/versions/1/matrix`)).status, 202);

    // The first question about it compiles it (seconds) in the query thread: meanwhile the server answers others.
    const [a, b] = [...text.slice(text.indexOf('\nhosts:')).matchAll(/^ {2}([A-Za-z][\w-]*):$/gm)].map((m) => m[1]!);
    const asked: string[] = [];
    const query = admin
      .req('POST', `/api/specs/${up.as(SpecUploaded).spec.id}/versions/1/query`, { body: { from: a, to: b, proto: 'tcp', port: 22 } })
      .then((r) => {
        asked.push('query');
        return r;
      });
    await new Promise((r) => setTimeout(r, 150));
    assert.equal((await admin.req('GET', '/api/health')).status, 200);
    asked.push('health');
    const q = await query;
    assert.equal(q.status, 200, q.text.slice(0, 300));
    assert.deepEqual([q.as(ExplanationSchema).from, asked], [a, ['health', 'query']]);

    const broken = text.replace('egress: none }', 'egress: sometimes }');
    const line = broken.split('\n').findIndex((l) => l.includes('egress: sometimes')) + 1;
    const bad = await admin.req('POST', '/api/specs', { body: { name: 'big-broken', text: broken } });
    assert.equal(bad.status, 400, bad.text.slice(0, 300));
    const d = bad.as(ErrorSchema).diagnostics ?? [];
    assert.ok(
      d.some((x) => x.severity === 'error' && x.line === line),
      `an error at line ${line}: ${JSON.stringify(d).slice(0, 400)}`,
    );
    assert.equal((await admin.req('GET', '/api/specs')).as(z.array(z.object({ name: z.string() }))).filter((s) => s.name === 'big-broken').length, 0);
  });

  it('a 1,000-host matrix runs as a job while the server keeps answering; its result is the library’s', async () => {
    const text = generateSpec({ hosts: 1000, rules: 200, seed: 7 });
    const up = await admin.req('POST', '/api/specs', { body: { name: 'big', text } });
    assert.equal(up.status, 201, up.text.slice(0, 300));
    const id = up.as(SpecUploaded).spec.id;
    const r = await admin.req('GET', `/api/specs/${id}/versions/latest/matrix`);
    assert.equal(r.status, 202, r.text.slice(0, 300));
    // Polling is itself other requests being answered: a 'running' answer is the server serving while the job works.
    const { job, seen } = await finished(admin, r.as(JobAccepted).href);
    assert.ok(seen.includes('running'), `states seen: ${seen.join(',')}`);
    assert.equal((await admin.req('GET', '/api/health')).status, 200);
    assert.equal(job.state, 'done', job.error);
    const views = (job.result as { views: unknown[] }).views;
    assert.equal(views.length, 1);
    assert.deepEqual(views[0], JSON.parse(JSON.stringify(matrixJson(compileText(text, 'big'), 'configured'))));
  });
});
