/**
 * The web dashboard in a real browser (Debian's Chromium through playwright-core) against a real
 * `cordon serve`: the strict CSP is sent and never violated, login, every seed example uploaded
 * through the Upload view, the matrix equal cell for cell to the library's, a denied cell explained
 * with the same deciding rule and file:line as `cordon explain`, errors shown at their line, and
 * every view free of serious accessibility violations (axe-core) in light and dark.
 * Screenshots of every view go to reports/dashboard/.
 */
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import type { Origin } from '../src/model/types.js';
import type { Explanation } from '../src/verify/explain.js';
import { checkText, compileText, diffJson, lintJson, matrixJson, queryJson, testJson } from '../src/server/analysis.js';
import { topologyJson } from '../src/server/topology.js';
import { DASHBOARD_CSP } from '../src/server/static.js';
import { GuardEventSchema } from '../src/guard/events.js';
import { assertAccessible, browserMissing, buildDashboard, openBrowser, ROOT, shot, type Browsing } from './support/dashboard.js';
import { requireOrSkip } from './support/require-env.js';
import { testServer, type TestServer } from './support/server.js';

const EXAMPLES = join(ROOT, 'examples');
const SEEDS = readdirSync(EXAMPLES)
  .filter((f) => f.endsWith('.yaml'))
  .sort();
const MAIN = 'proxmox-dual-bridge.yaml';
const text = (f: string) => readFileSync(join(EXAMPLES, f), 'utf8');

const SUITE = 'dashboard (browser)';

describe(SUITE, { skip: requireOrSkip(SUITE, browserMissing()) }, () => {
  let t: TestServer;
  let b: Browsing;
  let page: Page;

  before(async () => {
    buildDashboard();
    t = await testServer();
    b = await openBrowser();
    page = b.page;
    page.setDefaultTimeout(10_000);
  });
  after(async () => {
    await b?.close();
    await t?.close();
  });

  /** Follows the view's link in the navigation, as a user would (the page is not reloaded). */
  const go = async (view: string) => {
    await page.getByRole('navigation', { name: 'Views' }).getByRole('link', { name: view, exact: true }).click();
    await page.locator('#view-heading', { hasText: view }).waitFor();
  };

  it('serves the bundle at / with a strict Content-Security-Policy and no inline script or style', async () => {
    const r = await fetch(`${t.server.url}/`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-security-policy'), DASHBOARD_CSP);
    assert.match(DASHBOARD_CSP, /script-src 'self'(;|$)/);
    assert.doesNotMatch(DASHBOARD_CSP, /unsafe-inline|unsafe-eval|\*/);
    assert.equal(r.headers.get('x-frame-options'), 'DENY');
    const html = await r.text();
    assert.doesNotMatch(html, /<script>|<style|style=/, 'no inline script or style in index.html');
    for (const [path, type] of [
      ['/assets/app.js', 'text/javascript'],
      ['/assets/app.css', 'text/css'],
    ] as const) {
      const a = await fetch(t.server.url + path);
      assert.equal(a.status, 200, path);
      assert.ok(a.headers.get('content-type')?.startsWith(type), path);
      const etag = a.headers.get('etag')!;
      assert.equal((await fetch(t.server.url + path, { headers: { 'if-none-match': etag } })).status, 304, `${path} revalidates`);
    }
    for (const bad of ['/assets/index.html', '/assets/..%2Fpackage.json', '/assets/app.js.map', '/assets/nope.js'])
      assert.equal((await fetch(t.server.url + bad)).status, 404, bad);
  });

  it('logs in through the form (a wrong password is refused with a message)', async () => {
    await page.goto(`${t.server.url}/`);
    await page.getByLabel('User name').fill('admin');
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').filter({ hasText: 'wrong user name or password' }).waitFor();
    await assertAccessible(page, 'login');
    await shot(page, 'login');
    await page.getByLabel('Password').fill(t.adminPassword);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('navigation', { name: 'Views' }).waitFor();
  });

  it('uploads every seed example through the Upload view', async () => {
    for (const f of SEEDS) {
      await go('Upload');
      await page.getByLabel('Name').fill(f);
      await page.getByLabel('Spec (YAML)').fill(text(f));
      await page.getByRole('button', { name: 'Check and store' }).click();
      // After a successful upload the dashboard shows that spec's matrix.
      await page.waitForURL(/#\/matrix$/);
      await page.locator('h1', { hasText: `${f} v1` }).waitFor();
    }
    const list = (await (await fetch(`${t.server.url}/api/specs`, { headers: { cookie: await cookieHeader(page) } })).json()) as { name: string }[];
    assert.deepEqual(list.map((s) => s.name).sort(), SEEDS);
  });

  it('shows an invalid spec’s errors at their line, and stores nothing', async () => {
    await go('Upload');
    const broken = text(MAIN).replace('kind: vm\n    id: 102', 'kind: vmm\n    id: 102');
    assert.notEqual(broken, text(MAIN), 'the fixture edit applied');
    const want = checkText(broken, 'broken.yaml').diagnostics.filter((d) => d.severity === 'error');
    assert.ok(want.length > 0);
    await page.getByLabel('Name').fill('broken.yaml');
    await page.getByLabel('Spec (YAML)').fill(broken);
    await page.getByRole('button', { name: 'Check and store' }).click();
    await page.locator('.annotated').waitFor();
    for (const d of want) {
      const line = page.locator(`.annotated [data-line="${d.line}"]`);
      assert.match(await line.innerText(), new RegExp(d.code), `diagnostic ${d.code} under line ${d.line}`);
      assert.ok((await line.innerText()).includes(broken.split('\n')[d.line - 1]!.trim()), 'the line itself is shown');
    }
    // The problems list moves the cursor to the line.
    await page.getByRole('button', { name: `line ${want[0]!.line}:${want[0]!.col}` }).click();
    const caretLine = await page
      .getByLabel('Spec (YAML)')
      .evaluate((el: { value: string; selectionStart: number }) => el.value.slice(0, el.selectionStart).split('\n').length);
    assert.equal(caretLine, want[0]!.line);
    await assertAccessible(page, 'upload with errors');
    await shot(page, 'upload-errors');
    const r = await fetch(`${t.server.url}/api/specs`, { headers: { cookie: await cookieHeader(page) } });
    assert.ok(!((await r.json()) as { name: string }[]).some((s) => s.name === 'broken.yaml'), 'nothing stored');
  });

  it('draws the matrix cell for cell as the library computes it, as configured and compromised', async () => {
    await selectSpec(page, MAIN);
    await go('Matrix');
    const c = compileText(text(MAIN), MAIN);
    for (const assume of ['configured', 'compromised'] as const) {
      if (assume === 'compromised') await page.getByLabel('compromised').check();
      // The grid can be in the page before all its cells (drawn when its job's answer is in): wait
      // until this grid holds as many cells as there are pairs, and read only this grid's cells.
      const grid = page.locator(`[role=grid][aria-label*="${assume}"]`);
      const m = matrixJson(c, assume);
      const pairs = m.endpoints.length ** 2;
      for (const until = Date.now() + 15_000; (await grid.locator('[role=gridcell]').count()) < pairs && Date.now() < until;) await page.waitForTimeout(50);
      const allowed = new Map(m.allowed.map((a) => [`${a.from} → ${a.to}`, a.text]));
      const cells = await grid
        .locator('[role=gridcell]')
        .evaluateAll((els: { getAttribute(n: string): string | null }[]) => els.map((e) => e.getAttribute('aria-label') ?? ''));
      assert.equal(cells.length, m.endpoints.length ** 2, 'every pair drawn (a small matrix fits)');
      for (const label of cells) {
        const [pair, what] = label.split(': ') as [string, string];
        const [from, to] = pair.split(' → ');
        if (from === to) continue;
        assert.equal(what, allowed.get(pair) ?? 'denied', `${assume}: ${pair}`);
      }
      await shot(page, `matrix-${assume}`);
    }
    await page.getByLabel('as configured').check();
  });

  it('explains a denied cell hop by hop with the deciding rule and file:line of cordon explain', async () => {
    await selectSpec(page, MAIN);
    await go('Matrix');
    await page.getByRole('gridcell', { name: 'wg-client → ollama: denied' }).click();
    const panel = page.locator('.explanation');
    await panel.waitFor();
    const want = queryJson(compileText(text(MAIN), MAIN), { from: 'wg-client', to: 'ollama.api', assume: 'configured' });
    assert.equal(want.verdict, 'deny');
    const o = decidingHopOrigin(want);
    assert.equal(await panel.getAttribute('data-verdict'), 'deny');
    assert.equal(await panel.locator('.decided .origin').innerText(), `${o.file}:${o.line}`);
    assert.ok((await panel.locator('.decided').innerText()).includes(o.text));
    assert.equal(await panel.locator('.hop').count(), want.path!.hops.length, 'one line per hop');
    await assertAccessible(page, 'matrix with explanation');
    await shot(page, 'matrix-explain');
  });

  it('is keyboard-navigable: arrows move the active cell, Enter explains it', async () => {
    await selectSpec(page, MAIN);
    await go('Matrix');
    const start = page.locator('[role=gridcell][tabindex="0"]');
    await start.focus();
    const [i, j] = (await start.getAttribute('data-cell'))!.split(':').map(Number) as [number, number];
    const n = Number(await page.getByRole('grid').getAttribute('aria-rowcount'));
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    const want = page.locator(`[data-cell="${Math.min(i + 1, n - 1)}:${Math.min(j + 2, n - 1)}"]:focus`);
    await want.waitFor();
    const [from, to] = (await want.getAttribute('aria-label'))!.split(': ')[0]!.split(' → ');
    await page.keyboard.press('Enter');
    await page.locator('#explain-title', { hasText: new RegExp(`^${from} → ${to}(\\.|$)`) }).waitFor();
    await page.keyboard.press('Home');
    await page.locator(`[data-cell="${Math.min(i + 1, n - 1)}:0"]:focus`).waitFor();
  });

  it('Topology: the graph, and a host’s addresses, services and the rules naming it with file:line', async () => {
    await selectSpec(page, MAIN);
    await go('Topology');
    await page.locator('.cy canvas').first().waitFor();
    const want = topologyJson(MAIN, compileText(text(MAIN), MAIN).ir).hosts.find((h) => h.name === 'ollama')!;
    await page.getByRole('button', { name: 'ollama', exact: true }).click();
    const details = page.locator('.host-details');
    await details.locator('h2', { hasText: 'ollama' }).waitFor();
    const shown = await details.innerText();
    for (const n of want.nics) assert.ok(shown.includes(n.address), `address ${n.address}`);
    for (const sv of want.services) assert.ok(shown.includes(`${sv.name}: ${sv.ports}`), `service ${sv.name}`);
    assert.ok(want.rules.length > 0);
    const origins = await details.locator('.rules .origin').allInnerTexts();
    assert.deepEqual(
      origins,
      want.rules.map((r) => `${r.origin.file}:${r.origin.line}`),
    );
    assert.match(shown, /untrusted/);
    assert.equal(await page.getByRole('button', { name: 'ollama', exact: true }).getAttribute('aria-pressed'), 'true');
    await shot(page, 'topology');
  });

  it('Checks: every expectation and invariant with PASS/FAIL, and lint findings at their location', async () => {
    const mistake = 'proxmox-dual-bridge-as-written.yaml';
    const mtext = readFileSync(join(EXAMPLES, 'mistakes', mistake), 'utf8');
    await uploadViaUi(page, mistake, mtext);
    await selectSpec(page, mistake);
    await go('Checks');
    await page.locator('.checks table tbody tr').first().waitFor();
    const c = compileText(mtext, mistake);
    const want = testJson(c);
    assert.ok(want.failed > 0, 'the seed as written fails a check');
    const rows = page.locator('.checks table:not(.lint) tbody tr');
    assert.equal(await rows.count(), want.passed + want.failed);
    assert.equal(await page.locator('tr[data-ok="false"]').count(), want.failed);
    const lint = lintJson(c);
    const where = await page.locator('table.lint tbody tr td:last-child').allInnerTexts();
    assert.deepEqual(
      where,
      lint.map((d) => `${d.file}:${d.line}:${d.col}`),
    );
    await shot(page, 'checks');
  });

  it('Diff: a second version’s added and removed flows, as cordon diff computes them', async () => {
    const v2 = text(MAIN).replace(/^ {2}- allow: \{ from: wg-client, to: pve\.ssh.*\n/m, '');
    assert.notEqual(v2, text(MAIN));
    await uploadViaUi(page, MAIN, v2);
    await selectSpec(page, MAIN);
    await go('Diff');
    const want = diffJson(compileText(text(MAIN), MAIN), compileText(v2, MAIN), ['configured']).views[0]!;
    assert.ok(want.changes.length > 0);
    await page.getByRole('status').filter({ hasText: 'v1 → v2' }).waitFor();
    const rows = await page
      .locator('.diff tbody tr')
      .evaluateAll((trs: { innerText: string }[]) => trs.map((r) => r.innerText.split('\t').map((x) => x.trim())));
    assert.deepEqual(
      rows,
      want.changes.map((ch) => [ch.from, ch.to, ch.addedText === '-' ? '' : `+ ${ch.addedText}`, ch.removedText === '-' ? '' : `− ${ch.removedText}`]),
    );
    await shot(page, 'diff');
  });

  it('Peers: create a WireGuard peer, see its QR code and config once, then revoke it', async () => {
    await selectSpec(page, MAIN);
    await go('Peers');
    await page.getByLabel('New peer name').fill('laptop');
    await page.getByRole('button', { name: 'Create peer' }).click();
    const qr = page.getByRole('img', { name: /QR code of the WireGuard config for laptop/ });
    await qr.waitFor();
    // The PNG decoded: a real image, not a broken one.
    assert.ok((await qr.evaluate((img: { naturalWidth: number }) => img.naturalWidth)) > 100);
    const conf = await page.getByLabel('Client config').innerText();
    assert.match(conf, /\[Interface\][\s\S]*PrivateKey = \S+[\s\S]*\[Peer\]/);
    await page.getByRole('cell', { name: 'laptop', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Done, hide it' }).click();
    assert.equal(await page.getByLabel('Client config').count(), 0, 'the config is gone once hidden');
    // Taken after hiding: a screenshot kept as a CI artifact must not hold a private key, even a throwaway one.
    await shot(page, 'peers');
    await page.getByRole('button', { name: 'Revoke laptop' }).click();
    await page.getByRole('button', { name: 'Confirm revoke laptop' }).click();
    await page.getByText('No active peers on wg0.').waitFor();
  });

  it('Live: events POSTed with a token appear without a reload, and each host’s guard, tables and VPN state follow them', async () => {
    const admin = t.client();
    assert.equal((await admin.login('admin', t.adminPassword)).status, 200);
    const tok = await admin.req('POST', '/api/tokens', { body: { name: 'guard test', scopes: ['events:write'] } });
    assert.equal(tok.status, 201, tok.text);
    const token = (tok.json as { token: string }).token;
    await go('Live');
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor();
    // Events in the guard's own schema (src/guard/events.ts), as a guard on pve would send them.
    const send = async (e: Record<string, unknown>) => {
      const event = GuardEventSchema.parse({ v: 1, time: new Date().toISOString(), host: 'pve', netns: null, ...e });
      const r = await admin.req('POST', '/api/events', { token, cookie: false, body: event });
      assert.equal(r.status, 201, r.text);
    };
    const row = page.locator('.host-summary tr[data-host="pve"]');
    await send({ type: 'guard-started', message: 'watching' });
    await row.locator('[data-drift="in-sync"]').waitFor();
    assert.equal(await row.locator('.guard').innerText(), 'running');

    const marker = `rule-${process.pid}-${Date.now()}`;
    const origin = { point: 'pve:forward', kind: 'rule', text: marker, file: MAIN, line: 1, path: 'policy[0]' };
    const blocked = { type: 'blocked', src: '192.168.100.20', dst: '198.51.100.7', proto: 'tcp', port: 443, sport: 40000 };
    await send({ ...blocked, iif: 'vmbr1', oif: 'vmbr0', class: 'internet', origin });
    const item = page.getByRole('log').locator('li', { hasText: marker });
    await item.waitFor();
    assert.match(await item.innerText(), /blocked pve/);
    await send({ ...blocked, iif: 'vmbr1', oif: 'vmbr0', class: 'internet', origin });
    await row.locator('.blocked', { hasText: /^2$/ }).waitFor();

    await send({ type: 'drift', tables: ['inet cordon'], differences: ['- rule'], action: 'alert' });
    await row.locator('[data-drift="drifted"]', { hasText: 'drifted (alert)' }).waitFor();
    await send({ type: 'reapplied', ok: true, message: 'loaded again', ms: 12 });
    await row.locator('[data-drift="reapplied"]', { hasText: 're-loaded' }).waitFor();

    await send({ type: 'vpn-down', tunnel: 'wg0', peer: 'wg-client', ageSeconds: null, message: 'no handshake' });
    await row.locator('[data-vpn="down"]', { hasText: 'wg0 → wg-client: down (never a handshake)' }).waitFor();
    await send({ type: 'vpn-up', tunnel: 'wg0', peer: 'wg-client', ageSeconds: 3, message: 'handshake' });
    await row.locator('[data-vpn="up"]', { hasText: 'wg0 → wg-client: up' }).waitFor();
    assert.equal(await row.locator('[data-vpn]').count(), 1, 'one line per tunnel and peer, its latest state');
    assert.equal(await row.locator('.counts').innerText(), 'blocked 2 · drift 1 · guard-started 1 · reapplied 1 · vpn-down 1 · vpn-up 1');
    await assertAccessible(page, 'Live with events');
    await shot(page, 'live');
  });

  it('Audit: the uploads and the peer changes, newest first', async () => {
    await go('Audit');
    await page.locator('.audit tbody tr').first().waitFor();
    const actions = await page.locator('.audit tbody tr td:nth-child(3)').allInnerTexts();
    assert.ok(actions.filter((a) => a === 'spec.upload').length >= SEEDS.length + 2, actions.join(','));
    assert.ok(
      actions.some((a) => a.startsWith('peer.')),
      actions.join(','),
    );
    await shot(page, 'audit');
  });

  it('every view passes axe in light and dark, and nothing broke the CSP', async () => {
    await selectSpec(page, MAIN);
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      for (const v of ['Topology', 'Matrix', 'Checks', 'Diff', 'Peers', 'Live', 'Audit', 'Upload']) {
        await go(v);
        await page.waitForLoadState('networkidle');
        await assertAccessible(page, `${v} (${scheme})`);
        await shot(page, `${v}-${scheme}`);
      }
    }
    await page.emulateMedia({ colorScheme: 'light' });
    assert.deepEqual(b.problems, []);
  });
});

/** The origin of the rule that decided a denied flow: its first dropping hop, as the panel shows it. */
function decidingHopOrigin(x: Explanation): Origin {
  const hop = x.path?.hops.find((h) => h.verdict === 'drop');
  assert.ok(hop && (hop.decision.kind === 'rule' || hop.decision.kind === 'default'), 'a denied flow has a deciding rule');
  return hop.decision.origin;
}

/** The browser's session cookie, picked by name (the server also sets device_id, and may set more). */
async function cookieHeader(page: Page): Promise<string> {
  const session = (await page.context().cookies()).find((c) => c.name === 'cordon_session');
  assert.ok(session, 'the browser holds a cordon_session cookie');
  return `${session.name}=${session.value}`;
}

/** Stores `body` under `name` through the Upload view, as a user would; waits for the answer. */
async function uploadViaUi(page: Page, name: string, body: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Views' }).getByRole('link', { name: 'Upload', exact: true }).click();
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Spec (YAML)').fill(body);
  await page.getByRole('button', { name: 'Check and store' }).click();
  await page.waitForURL(/#\/matrix$/);
}

/** Chooses a spec by name in the header's spec picker (the choice persists across views). */
async function selectSpec(page: Page, name: string): Promise<void> {
  await page.getByLabel('Spec', { exact: true }).selectOption({ label: name });
}
