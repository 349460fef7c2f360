/**
 * Browser tests of the dashboard: Debian's Chromium driven by playwright-core (no downloaded
 * browser), against a real `cordon serve` (test/support/server.ts) serving the bundle built from
 * web/ by web/build.mjs. Collects every Content-Security-Policy violation and page error so a test
 * can assert there were none, runs axe-core in the page, and saves screenshots under
 * reports/dashboard/ (gitignored; CI keeps them as artifacts).
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CHROMIUM = '/usr/bin/chromium';
export const SHOTS = join(ROOT, 'reports', 'dashboard');

/** Why browser tests cannot run here, or undefined. */
export function browserMissing(): string | undefined {
  return existsSync(CHROMIUM) ? undefined : `needs ${CHROMIUM} (apt-get install --no-install-recommends chromium; make setup installs it)`;
}

/** Builds dist/web/ from web/ (esbuild, about a second), so the tests always see the current sources. */
export function buildDashboard(): string {
  execFileSync(process.execPath, [join(ROOT, 'web', 'build.mjs')], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  return join(ROOT, 'dist', 'web');
}

export interface Browsing {
  readonly browser: Browser;
  readonly context: BrowserContext;
  readonly page: Page;
  /** CSP violations, page errors and failed requests seen so far. */
  readonly problems: string[];
  /** Every console message of type error (with where it came from); a test empties it when it starts watching. */
  readonly consoleErrors: string[];
  close(): Promise<void>;
}

export async function openBrowser(): Promise<Browsing> {
  // --no-sandbox: the tests run as root, where Chromium refuses its own sandbox.
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  const context = await browser.newContext({ viewport: { width: 1366, height: 800 }, colorScheme: 'light' });
  const page = await context.newPage();
  const problems: string[] = [];
  const consoleErrors: string[] = [];
  page.on('console', (m) => {
    if (/Content.Security.Policy|Refused to/i.test(m.text())) problems.push(`CSP: ${m.text()}`);
    if (m.type() === 'error') consoleErrors.push(`${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  return {
    browser,
    context,
    page,
    problems,
    consoleErrors,
    close: async () => {
      await context.close();
      await browser.close();
    },
  };
}

export async function shot(page: Page, name: string): Promise<string> {
  mkdirSync(SHOTS, { recursive: true });
  const file = join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[] }[];
}

/**
 * axe-core over the page as it is; fails on any serious or critical violation, naming rule and
 * elements. Evaluated through the DevTools protocol, which the page's CSP does not govern (an
 * injected <script> would be refused, rightly).
 */
export async function assertAccessible(page: Page, what: string): Promise<void> {
  const has = await page.evaluate('typeof window.axe === "object"');
  if (!has) await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate<AxeViolation[]>(
    `window.axe.run(document, { resultTypes: ['violations'] }).then(r => r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map(n => ({ target: n.target })) })))`,
  );
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(
    bad.map((v) => `${v.impact} ${v.id}: ${v.help} at ${JSON.stringify(v.nodes.map((n) => n.target))}`),
    [],
    `${what}: accessibility violations`,
  );
}

/** Opens the dashboard and logs in through the form, as a user does; waits for the views' navigation. */
export async function logIn(page: Page, url: string, password: string, user = 'admin'): Promise<void> {
  await page.goto(`${url}/`);
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('navigation', { name: 'Views' }).waitFor();
}

/** Follows a view's link in the navigation (the page is not reloaded) and waits for its heading. */
export async function goToView(page: Page, view: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Views' }).getByRole('link', { name: view, exact: true }).click();
  await page.locator('#view-heading', { hasText: view }).waitFor();
}

/** Chooses a spec by name in the header's spec picker (the choice persists across views). */
export async function selectSpec(page: Page, name: string): Promise<void> {
  await page.getByLabel('Spec', { exact: true }).selectOption({ label: name });
}

/** Polls `ok` every 100 ms until it holds; fails naming `what` after `ms`. */
export async function until(what: string, ok: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
