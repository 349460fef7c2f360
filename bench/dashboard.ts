/**
 * Benchmark: the dashboard's Matrix and Topology views of a 1,000-host spec (`cordon gen --hosts
 * 1000 --rules 10000 --seed 1`; target for the matrix: drawn in under 2 s). Debian's Chromium (headless, playwright-core)
 * opens `#/matrix` on a real `cordon serve`; the view records in `data-render-ms` the time from the
 * matrix's JSON arriving to the second animation frame after the cells were drawn (indexing ~1M
 * pairs, the virtualised grid, the first paint), and in `data-total-ms` the time from asking the
 * server (so the server's own computation of the matrix and the transfer too).
 *
 * Baseline, measured in the same run against the same server: the same matrix request made from
 * Node with fetch (server computation + transfer + JSON.parse, nothing drawn), after one warm-up
 * request so the spec's compilation is cached. `ratio` = render time / baseline time: what drawing
 * adds on top of asking the API.
 *
 * Topology: the same page at `#/topology` writes `data-render-ms` on the graph's container, from
 * the topology's JSON arriving to the second animation frame after Cytoscape laid out and drew the
 * graph (above 150 hosts aggregated by network: networks, tunnels and trusted hosts as nodes). Baseline: the same GET …/topology from Node.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { chromium } from 'playwright-core';
import { generateSpec } from '../src/gen/generate.js';
import { initAdmin, startServer } from '../src/server/index.js';
import { buildDashboard, CHROMIUM } from '../test/support/dashboard.js';
import type { Row } from './row.js';

const HOSTS = 1000;
const RULES = 10_000;
const SEED = 1;
const RUNS = 3;

/**
 * GET with the session cookie; a 202 (a big spec's matrix is computed as a background job) is
 * followed by polling the job every 20 ms, as the dashboard does (less often), until its result.
 */
async function getFollowingJob(url: string, base: string, cookie: string): Promise<unknown> {
  const r = await fetch(url, { headers: { cookie } });
  const body = (await r.json()) as { href?: string };
  if (r.status === 200) return body;
  if (r.status !== 202 || !body.href) throw new Error(`GET ${url}: ${r.status}`);
  for (;;) {
    const job = (await (await fetch(base + body.href, { headers: { cookie } })).json()) as { state: string; result?: unknown; error?: string };
    if (job.state === 'done') return job.result;
    if (job.state === 'failed') throw new Error(`job for ${url} failed: ${job.error}`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchDashboard(): Promise<Row[]> {
  buildDashboard();
  const root = mkdtempSync(join(tmpdir(), 'cordon-bench-dashboard-'));
  const dataDir = join(root, 'data');
  const { password } = await initAdmin(dataDir);
  const quiet = new Writable({ write: (_c, _e, done) => done() });
  const server = await startServer({ dataDir, host: '127.0.0.1', port: 0, bodyLimit: 16 * 1024 * 1024 }, { log: quiet });
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const login = await fetch(`${server.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password }),
    });
    // By name: the server sets a device_id cookie too.
    const cookie = login.headers
      .getSetCookie()
      .find((c) => c.startsWith('cordon_session='))
      ?.split(';')[0];
    if (!cookie) throw new Error(`login: ${login.status}, no cordon_session cookie`);
    const { csrfToken } = (await login.json()) as { csrfToken: string };
    const text = generateSpec({ hosts: HOSTS, rules: RULES, seed: SEED });
    const up = await fetch(`${server.url}/api/specs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie, 'x-csrf-token': csrfToken },
      body: JSON.stringify({ name: 'gen-1000.yaml', text }),
    });
    if (up.status !== 201) throw new Error(`upload: ${up.status} ${await up.text()}`);
    const { spec } = (await up.json()) as { spec: { id: number } };
    const matrixUrl = `${server.url}/api/specs/${spec.id}/versions/latest/matrix?assume=configured`;

    const apiOnce = async () => {
      const t0 = performance.now();
      const m = (await getFollowingJob(matrixUrl, server.url, cookie)) as { views: { endpoints: string[]; allowed: unknown[] }[] };
      return { ms: performance.now() - t0, endpoints: m.views[0]!.endpoints.length, allowed: m.views[0]!.allowed.length };
    };
    const warm = await apiOnce();
    const api: number[] = [];
    for (let i = 0; i < RUNS; i++) api.push((await apiOnce()).ms);

    const context = await browser.newContext({ viewport: { width: 1366, height: 800 } });
    const [name, value] = [cookie.slice(0, cookie.indexOf('=')), cookie.slice(cookie.indexOf('=') + 1)];
    await context.addCookies([{ name, value, url: server.url }]);
    const page = await context.newPage();
    const view: number[] = [];
    const total: number[] = [];
    let cellsInDom = 0;
    for (let i = 0; i < RUNS; i++) {
      // From a blank page: a goto to the same URL with a fragment would not load the page again.
      await page.goto('about:blank');
      await page.goto(`${server.url}/#/matrix`);
      const grid = page.locator('[role=grid][data-render-ms]');
      await grid.waitFor({ timeout: 120_000 });
      view.push(Number(await grid.getAttribute('data-render-ms')));
      total.push(Number(await grid.getAttribute('data-total-ms')));
      cellsInDom = await page.locator('[role=gridcell]').count();
    }

    const topoUrl = `${server.url}/api/specs/${spec.id}/versions/latest/topology`;
    const topoApiOnce = async () => {
      const t0 = performance.now();
      const r = await fetch(topoUrl, { headers: { cookie } });
      const t = (await r.json()) as { hosts: unknown[]; networks: unknown[]; tunnels: unknown[] };
      return { ms: performance.now() - t0, hosts: t.hosts.length, segments: t.networks.length + t.tunnels.length };
    };
    const topoWarm = await topoApiOnce();
    const topoApi: number[] = [];
    for (let i = 0; i < RUNS; i++) topoApi.push((await topoApiOnce()).ms);
    const topoView: number[] = [];
    const topoInit: number[] = [];
    const topoWall: number[] = [];
    let nodes = 0;
    let graphNodes = 0;
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      await page.goto('about:blank');
      await page.goto(`${server.url}/#/topology`);
      const cy = page.locator('.cy[data-render-ms]');
      await cy.waitFor({ timeout: 120_000 });
      topoWall.push(performance.now() - t0);
      topoView.push(Number(await cy.getAttribute('data-render-ms')));
      topoInit.push(Number(await cy.getAttribute('data-init-ms')));
      graphNodes = Number(await cy.getAttribute('data-nodes'));
      nodes = await page.locator('.hostlist button').count();
    }

    const ms = median(view);
    const baselineMs = median(api);
    const topoMs = median(topoView);
    const topoBase = median(topoApi);
    const matrixRow: Row = {
      name: `dashboard matrix, ${HOSTS} hosts`,
      ms,
      baselineMs,
      ratio: ms / baselineMs,
      target: '< 2,000 ms',
      ok: ms < 2000,
      notes: `${warm.endpoints} endpoints, ${warm.allowed.toLocaleString('en')} allowed pairs; median of ${RUNS} page loads: JSON in → 2nd frame after the first paint; with the server's answer ${Math.round(median(total)).toLocaleString('en')} ms in all; ${cellsInDom} cells in the DOM (virtualised); baseline: the same GET …/matrix from Node`,
    };
    const topoRow: Row = {
      name: `dashboard topology, ${HOSTS} hosts`,
      ms: topoMs,
      baselineMs: topoBase,
      ratio: topoMs / topoBase,
      target: '< 2,000 ms',
      ok: topoMs < 2000,
      notes: `${topoWarm.hosts} hosts, ${topoWarm.segments} networks and tunnels aggregated by network into ${graphNodes} graph nodes (Cytoscape, force layout); median of ${RUNS} page loads: JSON in → 2nd frame after layout and draw (of which Cytoscape's set-up, style and layout ${Math.round(median(topoInit)).toLocaleString('en')} ms); page load to drawn ${Math.round(median(topoWall)).toLocaleString('en')} ms; ${nodes} hosts in the side list; baseline: the same GET …/topology from Node`,
    };
    return [matrixRow, topoRow];
  } finally {
    await browser.close();
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
}
