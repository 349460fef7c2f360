/**
 * Every example spec in every view, in a real browser against a real `cordon serve`: the examples
 * are the hand-made designs of the five seeds (each names its seed in `description`), and the test
 * first checks that all five are among them. Each example is stored twice (v2 = v1 plus a comment,
 * so Diff has two versions to compare), then each view is opened for it and must show its content
 * — as the library computes it where the view draws numbers — with no error box, no console
 * error, no page error and no CSP violation. The server's job threshold is lowered to one host, so
 * every matrix and lint answer here comes the way a big spec's does (202, then the job polled);
 * test/dashboard.test.ts sees the same views answered at once.
 */
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { generateSpec } from '../src/gen/generate.js';
import { compileText, matrixJson, testJson } from '../src/server/analysis.js';
import { SpecUploaded } from '../src/server/schemas.js';
import { topologyJson } from '../src/server/topology.js';
import { AGGREGATE_ABOVE } from '../web/src/limits.js';
import {
  assertAccessible,
  browserMissing,
  buildDashboard,
  goToView,
  logIn,
  openBrowser,
  ROOT,
  selectSpec,
  shot,
  until,
  type Browsing,
} from './support/dashboard.js';
import { requireOrSkip } from './support/require-env.js';
import { testServer, type TestServer } from './support/server.js';

const EXAMPLES = join(ROOT, 'examples');
const text = (f: string) => readFileSync(join(EXAMPLES, f), 'utf8');
const FILES = readdirSync(EXAMPLES)
  .filter((f) => f.endsWith('.yaml'))
  .sort();
/** The seed an example is the design of, from its `description: … (seed NNN…)`. */
const seedOf = (f: string) => /^description:.*\(seed (\d{3})/m.exec(text(f))?.[1];

const SUITE = 'dashboard: every seed example in every view';

describe(SUITE, { skip: requireOrSkip(SUITE, browserMissing()) }, () => {
  let t: TestServer;
  let b: Browsing;
  let page: Page;

  before(async () => {
    buildDashboard();
    t = await testServer({ jobHostThreshold: 1 });
    const admin = t.client();
    assert.equal((await admin.login('admin', t.adminPassword)).status, 200);
    for (const f of FILES)
      for (const body of [text(f), `${text(f)}\n# v2: the same design, so Diff has two versions\n`]) {
        const r = await admin.req('POST', '/api/specs', { body: { name: f, text: body } });
        assert.equal(r.status, 201, `${f}: ${r.text}`);
        r.as(SpecUploaded);
      }
    b = await openBrowser();
    page = b.page;
    page.setDefaultTimeout(15_000);
    await logIn(page, t.server.url, t.adminPassword);
    // From here on nothing may log an error (before login, the session probe's 401 is expected).
    b.consoleErrors.length = 0;
  });
  after(async () => {
    await b?.close();
    await t?.close();
  });

  it('the examples cover all five seeds', () => {
    assert.deepEqual([...new Set(FILES.map(seedOf).filter((s) => s !== undefined))].sort(), ['000', '001', '002', '003', '004']);
  });

  it('the server answers their matrices and lint findings as jobs here (so the views below follow jobs)', async () => {
    const admin = t.client();
    assert.equal((await admin.login('admin', t.adminPassword)).status, 200);
    const specs = (await admin.req('GET', '/api/specs')).json as { id: number }[];
    for (const what of ['matrix', 'lint']) assert.equal((await admin.req('GET', `/api/specs/${specs[0]!.id}/versions/latest/${what}`)).status, 202, what);
  });

  /** The view shows no error box; failing that, its message. */
  const noErrorBox = async (what: string) => {
    const alerts = await page.locator('main [role=alert]').allInnerTexts();
    assert.deepEqual(alerts, [], `${what}: error shown`);
  };

  for (const f of FILES) {
    it(`${f} (seed ${seedOf(f) ?? '?'}): Topology, Matrix, Checks, Diff, Peers, Live, Audit and Upload`, async () => {
      const c = compileText(text(f), f);
      await selectSpec(page, f);
      await page.locator('#version-pick').selectOption('2');

      await goToView(page, 'Topology');
      const topo = topologyJson(f, c.ir);
      await page.locator('.cy canvas').first().waitFor();
      assert.equal(await page.locator('.hostlist button').count(), Math.min(500, topo.hosts.length), `${f}: one button per host`);
      await page.locator('.hostlist button').first().click();
      await page.locator('.host-details h2', { hasText: topo.hosts[0]!.name }).waitFor();
      await noErrorBox(`${f} Topology`);

      await goToView(page, 'Matrix');
      const m = matrixJson(c, 'configured');
      const grid = page.locator('[role=grid][data-render-ms]');
      await grid.waitFor();
      assert.equal(Number(await grid.getAttribute('aria-rowcount')), m.endpoints.length, `${f}: every endpoint a row`);
      assert.ok(m.allowed.length > 0, `${f}: something is allowed`);
      // One denied and one allowed cell in view, each explained with its own verdict.
      for (const [verdict, want] of [
        ['deny', 'deny'],
        ['allow', 'allow'],
      ] as const) {
        const cell = page.locator(`[role=gridcell][data-verdict="${verdict}"]`).first();
        if ((await cell.count()) === 0) continue;
        await cell.click();
        await page.locator(`.explanation[data-verdict="${want}"]`).waitFor();
      }
      await noErrorBox(`${f} Matrix`);

      await goToView(page, 'Checks');
      const tj = testJson(c);
      await page
        .getByRole('status')
        .filter({ hasText: `${tj.passed} passed, ${tj.failed} failed` })
        .waitFor();
      assert.equal(await page.locator('.checks table:not(.lint) tbody tr').count(), tj.passed + tj.failed);
      await page.getByRole('heading', { name: 'Lint' }).waitFor();
      await noErrorBox(`${f} Checks`);

      await goToView(page, 'Diff');
      await page.getByRole('status').filter({ hasText: 'v1 → v2: no flow changed' }).waitFor();
      await noErrorBox(`${f} Diff`);

      await goToView(page, 'Peers');
      if (topo.tunnels.length === 0) await page.getByText('This spec declares no WireGuard tunnel').waitFor();
      else await page.locator('[data-wireguard]').waitFor();
      await noErrorBox(`${f} Peers`);

      await goToView(page, 'Live');
      await page.getByRole('status').filter({ hasText: 'Live' }).waitFor();
      await noErrorBox(`${f} Live`);

      await goToView(page, 'Audit');
      await page.locator('.audit tbody tr').first().waitFor();
      await noErrorBox(`${f} Audit`);

      await goToView(page, 'Upload');
      await page.getByRole('button', { name: `Edit ${f} v2` }).click();
      const v2 = `${text(f)}\n# v2: the same design, so Diff has two versions\n`;
      await until(`${f}: the stored v2 in the editor`, async () => (await page.getByLabel('Spec (YAML)').inputValue()) === v2);
      await noErrorBox(`${f} Upload`);

      await goToView(page, 'Matrix');
      await grid.waitFor();
      await shot(page, `example-${f.replace(/\.yaml$/, '')}`);
      assert.deepEqual(b.consoleErrors, [], `${f}: console errors`);
      assert.deepEqual(b.problems, [], `${f}: page errors or CSP violations`);
    });
  }
});

describe('dashboard: a big spec (300 generated hosts)', { skip: requireOrSkip('dashboard big spec', browserMissing()) }, () => {
  const NAME = 'gen-300.yaml';
  const TEXT = generateSpec({ hosts: 300, rules: 600, seed: 7 });
  let t: TestServer;
  let b: Browsing;

  before(async () => {
    buildDashboard();
    t = await testServer();
    const admin = t.client();
    assert.equal((await admin.login('admin', t.adminPassword)).status, 200);
    const up = await admin.req('POST', '/api/specs', { body: { name: NAME, text: TEXT } });
    assert.equal(up.status, 201, up.text);
    b = await openBrowser();
    b.page.setDefaultTimeout(60_000);
    await logIn(b.page, t.server.url, t.adminPassword);
    b.consoleErrors.length = 0;
  });
  after(async () => {
    await b?.close();
    await t?.close();
  });

  it('Topology is drawn by network, its host list filters by network; Matrix stays per host (through the server’s job)', async () => {
    const page = b.page;
    const topo = topologyJson(NAME, compileText(TEXT, NAME).ir);
    assert.ok(topo.hosts.length > AGGREGATE_ABOVE);
    await goToView(page, 'Topology');
    await page.locator('[data-aggregated="true"]').waitFor();
    const zones = new Set(topo.hosts.flatMap((h) => h.nics.map((n) => n.segment)));
    for (const s of [...topo.networks, ...topo.tunnels]) zones.delete(s.name);
    const nodes = topo.networks.length + topo.tunnels.length + zones.size + topo.hosts.filter((h) => h.trusted).length;
    assert.equal(Number(await page.locator('.cy[data-nodes]').getAttribute('data-nodes')), nodes, 'networks, tunnels, zones and trusted hosts');
    assert.ok(nodes < topo.hosts.length / 2, `${nodes} nodes for ${topo.hosts.length} hosts`);
    const net = topo.networks[0]!.name;
    await page.getByLabel('On network').selectOption(net);
    const on = topo.hosts.filter((h) => h.nics.some((n) => n.segment === net)).map((h) => h.name);
    await until(`the host list of ${net}`, async () => (await page.locator('.hostlist button').count()) === Math.min(500, on.length));
    assert.deepEqual(await page.locator('.hostlist button').allInnerTexts(), on.slice(0, 500));
    await page.locator('.hostlist button').first().click();
    await page.locator('.host-details h2', { hasText: on[0]! }).waitFor();
    await assertAccessible(page, 'Topology aggregated by network');
    await shot(page, 'topology-aggregated');

    await goToView(page, 'Matrix');
    const grid = page.locator('[role=grid][data-render-ms]');
    await grid.waitFor();
    assert.equal(Number(await grid.getAttribute('aria-rowcount')), matrixJson(compileText(TEXT, NAME), 'configured').endpoints.length);
    assert.deepEqual(await page.locator('main [role=alert]').allInnerTexts(), []);
    assert.deepEqual(b.consoleErrors, []);
    assert.deepEqual(b.problems, []);
  });
});
