/**
 * A lab guard's events in the browser, live: `cordon lab up --guard` on a copy of the vpn-only
 * example (seed 004) writes real guard events (from the kernel's NFLOG and nft) to its events file;
 * a shipper — what a site runs beside each guard: read the file, POST new lines to `/api/events`
 * with an events:write token — sends them to a real `cordon serve`; the Live view, open in Chromium
 * the whole time, shows each host's guard start, then a forbidden attempt from the workload as a
 * blocked event with the rule that dropped it, then a flushed firewall as drift, then the guard
 * stopping when the lab goes down — without a reload. The lab's namespaces are its own (unique
 * prefix) and `lab down` removes them, also when the test fails.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { parseEventLine, type GuardEvent } from '../src/guard/events.js';
import { teardownLab } from '../src/lab/exec.js';
import { labsOf } from '../src/lab/lab.js';
import { TokenCreated } from '../src/server/schemas.js';
import { browserMissing, buildDashboard, goToView, logIn, openBrowser, ROOT, shot, type Browsing } from './support/dashboard.js';
import { guardSkip } from './support/guard-bed.js';
import { probeLab } from './support/lab-env.js';
import { requireOrSkip } from './support/require-env.js';
import { testServer, type Client, type TestServer } from './support/server.js';

const SUITE = 'dashboard: a lab guard’s events live in the browser';
const CORDON = join(ROOT, 'bin', 'cordon');
const HOSTS = ['mac-host', 'vpn-server', 'workload-vm'];

function cordon(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(CORDON, args, { encoding: 'utf8', timeout: 180_000 });
}

/** Ships new complete lines of a guard's events file to the server, as a site's shipper would. */
class Shipper {
  private offset = 0;
  shipped = 0;
  constructor(
    private readonly file: string,
    private readonly client: Client,
    private readonly token: string,
  ) {}

  async once(): Promise<void> {
    if (!existsSync(this.file)) return;
    const buf = readFileSync(this.file);
    const end = buf.lastIndexOf(0x0a) + 1;
    if (end <= this.offset) return;
    const events = buf
      .subarray(this.offset, end)
      .toString('utf8')
      .split('\n')
      .flatMap((l): GuardEvent[] => (l ? [parseEventLine(l) ?? assert.fail(`not a guard event: ${l}`)] : []));
    this.offset = end;
    if (events.length === 0) return;
    const r = await this.client.req('POST', '/api/events', { token: this.token, cookie: false, body: events });
    assert.equal(r.status, 201, r.text);
    this.shipped += events.length;
  }
}

describe(SUITE, { skip: requireOrSkip(SUITE, browserMissing()) ?? guardSkip ?? requireOrSkip(SUITE, probeLab()) }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-d2-guard-'));
  const spec = join(dir, 'vpn-only-vm.yaml');
  copyFileSync(join(ROOT, 'examples', 'vpn-only-vm.yaml'), spec);
  const eventsFile = join(dir, 'guard.jsonl');
  let t: TestServer;
  let b: Browsing;
  let page: Page;
  let shipper: Shipper;
  let timer: NodeJS.Timeout | undefined;
  let shipError: unknown;

  before(async () => {
    buildDashboard();
    t = await testServer();
    const admin = t.client();
    assert.equal((await admin.login('admin', t.adminPassword)).status, 200);
    const tok = await admin.req('POST', '/api/tokens', { body: { name: 'lab guard shipper', scopes: ['events:write'] } });
    assert.equal(tok.status, 201, tok.text);
    shipper = new Shipper(eventsFile, t.client(), tok.as(TokenCreated).token);
    const tick = () => {
      shipper.once().then(
        () => (timer = setTimeout(tick, 100)),
        (e: unknown) => (shipError = e),
      );
    };
    tick();
    b = await openBrowser();
    page = b.page;
    page.setDefaultTimeout(20_000);
    await logIn(page, t.server.url, t.adminPassword);
    await goToView(page, 'Live');
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor();
  });

  after(async () => {
    for (const s of labsOf(spec)) await teardownLab(s.prefix);
    clearTimeout(timer);
    await b?.close();
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const row = (host: string) => page.locator(`.host-summary tr[data-host="${host}"]`);

  it('guard start, a blocked attempt, drift and the guard stopping appear as they happen', async () => {
    const up = cordon('lab', 'up', spec, '--guard', '--events', eventsFile, '--json');
    assert.equal(up.status, 0, up.stderr);
    const prefix = (JSON.parse(up.stdout) as { prefix: string }).prefix;
    try {
      // Every enforcing host's guard started, its tables as loaded.
      for (const h of HOSTS) {
        await row(h).locator('.guard', { hasText: 'running' }).waitFor();
        await row(h).locator('[data-drift="in-sync"]').waitFor();
      }

      // A forbidden attempt: the workload to the Mac's own ssh (seed 004: only the tunnel is allowed).
      cordon('lab', 'exec', '--lab', prefix, 'workload-vm', '--', 'timeout', '1', 'bash', '-c', 'exec 3<>/dev/tcp/192.168.64.1/22');
      const blocked = page.getByRole('log').locator('li', { hasText: /blocked workload-vm .*dst=192\.168\.64\.1 .*port=22 / });
      await blocked.first().waitFor();
      // The line names the rule that dropped it with file:line, as the guard wrote it.
      const sent = readFileSync(eventsFile, 'utf8')
        .split('\n')
        .flatMap((l) => parseEventLine(l) ?? [])
        .find((e) => e.type === 'blocked' && e.host === 'workload-vm' && e.dst === '192.168.64.1' && e.port === 22);
      assert.ok(sent?.type === 'blocked');
      assert.ok(sent.origin.file.endsWith('vpn-only-vm.yaml') && sent.origin.line > 0, JSON.stringify(sent.origin));
      assert.ok((await blocked.first().innerText()).includes(`by “${sent.origin.text}” ${sent.origin.file}:${sent.origin.line}`));
      assert.ok(Number(await row('workload-vm').locator('.blocked').innerText()) >= 1);

      // The workload's owner (or an attacker in it) flushes its firewall: drift, reported (a lab guard alerts).
      const flush = cordon('lab', 'exec', '--lab', prefix, 'workload-vm', '--', 'nft', 'flush', 'ruleset');
      assert.equal(flush.status, 0, flush.stderr);
      await row('workload-vm').locator('[data-drift="drifted"]', { hasText: 'drifted (alert)' }).waitFor();
      await shot(page, 'live-lab-guard');
    } finally {
      const down = cordon('lab', 'down', '--lab', prefix);
      assert.equal(down.status, 0, down.stderr);
    }
    for (const h of HOSTS) await row(h).locator('.guard', { hasText: 'stopped' }).waitFor();
    assert.equal(shipError, undefined);
    assert.ok(shipper.shipped >= 2 * HOSTS.length + 2, `shipped ${shipper.shipped} events`);
    assert.deepEqual(b.problems, []);
  });
});
