/**
 * `lab verify` must be able to see a difference. Every other lab test asserts that live = static;
 * with the comparison in src/lab/verify.ts made always-equal they would all still pass. Here a
 * lab of examples/proxmox-dual-bridge.yaml (a hypervisor enforcing for two VMs, a WireGuard
 * tunnel to a roaming peer, an explicit `deny`) is tampered with behind cordon's back, one lab per
 * tamper, and `verifyLab` must report exactly the flows the tamper changed, each with both
 * accounts: the static engine's (verdict, deciding rule, path) and the lab's (what was seen where).
 *
 *  - an accept inserted at the top of pve's forward chain  → static deny,  live delivered
 *  - the drop implementing "deny wg0 → vmbr1" deleted      → static deny,  live delivered
 *  - pve's default route deleted                           → static allow, live not delivered
 *  - the roaming peer's tunnel interface set down          → static allow, live not delivered
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { compile } from '../src/ir/compile.js';
import type { Ir } from '../src/ir/types.js';
import { teardownLab } from '../src/lab/exec.js';
import { freshPrefix, upLab } from '../src/lab/lab.js';
import { hostNamespace, internetNamespace } from '../src/model/names.js';
import { verifyToText } from '../src/lab/text.js';
import { verifyLab, verifyToJson, type Difference, type VerifyResult } from '../src/lab/verify.js';
import { loadModel } from '../src/model/load.js';
import { formatFlow } from '../src/util/flows.js';
import { formatIPv4 } from '../src/util/ip.js';
import { probeLab } from './support/lab-env.js';
import { requireOrSkip } from './support/require-env.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SPEC = join(ROOT, 'examples', 'proxmox-dual-bridge.yaml');
const CORDON = join(ROOT, 'bin', 'cordon');

const SKIP = requireOrSkip('lab tamper (live)', probeLab());

function load(): Ir {
  const r = loadModel(SPEC);
  assert.ok(r.model, r.diagnostics.map((d) => d.message).join('; '));
  return compile(r.model);
}

/** Runs a command inside a lab namespace; a failure fails the test (the tamper must really happen). */
function inNs(ns: string, argv: readonly string[]): string {
  const r = spawnSync('ip', ['netns', 'exec', ns, ...argv], { encoding: 'utf8' });
  assert.equal(r.status, 0, `ip netns exec ${ns} ${argv.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** The table and chain of cordon's filter chain on the forward hook in `ns` (not the lab's NAT mark chain). */
function forwardChain(ns: string): { table: string; chain: string } {
  const chains = (
    JSON.parse(inNs(ns, ['nft', '-j', 'list', 'chains'])) as {
      nftables: { chain?: { family: string; table: string; name: string; hook?: string; type?: string } }[];
    }
  ).nftables
    .flatMap((x) => (x.chain ? [x.chain] : []))
    .filter((c) => c.family === 'inet' && c.hook === 'forward' && c.type === 'filter' && c.table.startsWith('cordon_'));
  assert.equal(chains.length, 1, `one cordon forward chain in ${ns}, found: ${JSON.stringify(chains)}`);
  return { table: chains[0]!.table, chain: chains[0]!.name };
}

/** The rules of an inet table as [chain, rule text, handle], from `nft -a list table`. */
function rulesOf(ns: string, table: string): { chain: string; text: string; handle: number }[] {
  const out: { chain: string; text: string; handle: number }[] = [];
  let chain = '';
  for (const line of inNs(ns, ['nft', '-a', 'list', 'table', 'inet', table]).split('\n')) {
    const c = /^\s*chain (\S+) \{/.exec(line);
    if (c) chain = c[1]!;
    const r = /^\s*(.*\S) # handle (\d+)$/.exec(line);
    if (r && chain && !/^(chain|set|table|type) /.test(r[1]!)) out.push({ chain, text: r[1]!, handle: Number(r[2]) });
  }
  return out;
}

/** The labs this file built, so they come down even when an assertion fails. */
const built = new Set<string>();
after(async () => {
  for (const p of built) await teardownLab(p).catch(() => undefined);
});

/** Builds a fresh lab, tampers with it, verifies it; always removes it (by its own prefix). */
async function tampered(ir: Ir, tamper: (prefix: string) => void): Promise<VerifyResult> {
  const prefix = await freshPrefix();
  built.add(prefix);
  try {
    await upLab(ir, { prefix, say: () => undefined, ephemeral: true });
    tamper(prefix);
    return await verifyLab(ir, prefix, { timeoutMs: 500 });
  } finally {
    await teardownLab(prefix);
    built.delete(prefix);
  }
}

function show(d: Difference): string {
  const p = d.probe;
  return `${p.from} → ${p.to} ${formatIPv4(p.dst)} ${formatFlow(p.flow)}: static ${p.staticAllowed ? 'allow' : 'deny'}, live ${p.delivered ? 'delivered' : 'not delivered'}`;
}

/**
 * Every difference carries both accounts, consistent with its probe: the static explanation has
 * the probe's verdict, endpoints and flow and the path it decided on; the live words say where the
 * probe was sent from and what happened to it.
 */
function assertBothAccounts(r: VerifyResult): void {
  for (const d of r.differences) {
    const p = d.probe;
    const e = d.explanation;
    assert.equal(e.verdict, p.staticAllowed ? 'allow' : 'deny', `${show(d)}: the explanation's verdict`);
    assert.equal(e.flow, formatFlow(p.flow), `${show(d)}: the explanation's flow`);
    assert.ok(e.from.includes(p.from), `${show(d)}: explanation from '${e.from}'`);
    assert.ok(e.path && e.path.hops.length > 0, `${show(d)}: the explanation names the path it decided on`);
    assert.ok(e.summary.length > 0, `${show(d)}: an explanation summary`);
    assert.match(d.live, p.delivered ? /^delivered to \S+/ : /^not delivered within the timeout/, `${show(d)}: live words`);
    assert.ok(d.live.includes(p.srcNs), `${show(d)}: the live words name where the probe was sent from (${d.live})`);
  }
  // The same, as the CLI prints it and as --json gives it.
  const text = verifyToText(r, { color: false, verbose: true });
  for (const d of r.differences) {
    const p = d.probe;
    const head = `✗ ${p.from} → ${p.to} (${formatIPv4(p.dst)}) ${formatFlow(p.flow)}: static ${p.staticAllowed ? 'ALLOW' : 'DENY'}, live ${p.delivered ? 'DELIVERED' : 'NOT DELIVERED'}`;
    const at = text.indexOf(`${head}\n`);
    assert.ok(at >= 0, `the text report lists '${head}'`);
    const next = text.indexOf('\n✗', at + 1);
    const block = text.slice(at, next < 0 ? undefined : next);
    assert.ok(block.includes(`live: ${d.live}`), `the text report gives the live account of '${head}'`);
    assert.ok(block.includes(d.explanation.summary), `the text report gives the static explanation of '${head}'`);
  }
  const json = verifyToJson(r) as { ok: boolean; differences: { liveDetail: string; explanation: unknown }[] };
  assert.equal(json.ok, false);
  assert.equal(json.differences.length, r.differences.length);
  for (const d of json.differences) assert.ok(d.liveDetail && d.explanation, 'json differences carry both accounts');
}

/** The differences are exactly the probes `changed` selects: none missed, none unexplained by the tamper. */
function assertExactly(r: VerifyResult, changed: (p: VerifyResult['probes'][number]) => boolean, what: string): Difference[] {
  const want = r.probes.filter(changed).filter((p) => !p.detail?.startsWith('not probed'));
  assert.ok(want.length > 0, `${what}: the tamper should change some probe`);
  const got = new Set(r.differences.map((d) => d.probe.id));
  const missed = want.filter((p) => !got.has(p.id));
  const extra = r.differences.filter((d) => !changed(d.probe));
  assert.deepEqual(
    missed.map((p) => `${p.from} → ${p.to} ${formatIPv4(p.dst)} ${formatFlow(p.flow)}: static ${p.staticAllowed}, delivered ${p.delivered}`),
    [],
    `${what}: probes the tamper changed but verify did not report`,
  );
  assert.deepEqual(extra.map(show), [], `${what}: differences the tamper does not explain`);
  return [...r.differences];
}

describe('lab verify reports a tampered lab, with both accounts', { skip: SKIP }, () => {
  const ir = load();

  it('an accept inserted at the top of pve:forward: agentfarm tcp/22 out is static deny, live delivered', async () => {
    const r = await tampered(ir, (prefix) => {
      const ns = hostNamespace(prefix, 'pve');
      const { table, chain } = forwardChain(ns);
      inNs(ns, ['nft', 'insert', 'rule', 'inet', table, chain, 'ip', 'saddr', '10.0.0.10', 'tcp', 'dport', '22', 'accept']);
    });
    const diffs = assertExactly(
      r,
      // The LAN beyond vmbr0's port (enp1s0) too: agentfarm's packets to it are bridged through
      // pve:forward (br_netfilter), where the inserted accept now sits first.
      (p) => p.from === 'agentfarm' && formatFlow(p.flow) === 'tcp/22' && !p.staticAllowed && (p.to === 'internet' || p.to === 'wg-client' || p.to === 'lan'),
      'accept inserted',
    );
    // The static side says why it should have been dropped: pve:forward's default drop.
    const out = diffs.find((d) => d.probe.to === 'internet');
    assert.ok(out, `agentfarm → internet tcp/22 is among the differences: ${diffs.map(show).join('; ')}`);
    assert.ok(out.probe.delivered && !out.probe.staticAllowed);
    assert.ok(
      out.explanation.path!.hops.some((h) => /pve:forward/.test(JSON.stringify(h)) && /default|drop/.test(JSON.stringify(h))),
      `the explanation names pve:forward's drop: ${out.explanation.summary}`,
    );
    assertBothAccounts(r);
  });

  it('the drop of "deny wg0 → vmbr1" deleted by handle: wg-client → agentfarm\'s vmbr1 leg tcp/8080 is static deny, live delivered', async () => {
    let cli: { status: number | null; stdout: string } | undefined;
    const prefix = await freshPrefix();
    built.add(prefix);
    let r: VerifyResult;
    try {
      await upLab(ir, { prefix, say: () => undefined });
      const ns = hostNamespace(prefix, 'pve');
      const { table } = forwardChain(ns);
      const drops = rulesOf(ns, table).filter((x) => /iifname "wg0"/.test(x.text) && /\bdrop$/.test(x.text) && !/\blog\b/.test(x.text));
      assert.equal(drops.length, 1, `one drop for traffic in from wg0: ${JSON.stringify(drops)}`);
      inNs(ns, ['nft', 'delete', 'rule', 'inet', table, drops[0]!.chain, 'handle', String(drops[0]!.handle)]);
      r = await verifyLab(ir, prefix, { timeoutMs: 500 });
      // The CLI on the same tampered lab: a difference is an error (exit 1), printed with both accounts.
      const c = spawnSync(CORDON, ['lab', 'verify', SPEC, '--lab', prefix], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
      cli = { status: c.status, stdout: c.stdout };
    } finally {
      await teardownLab(prefix);
      built.delete(prefix);
    }
    const diffs = assertExactly(
      r,
      (p) => p.from === 'wg-client' && formatIPv4(p.dst) === '192.168.100.10' && formatFlow(p.flow) === 'tcp/8080',
      'deny rule removed',
    );
    assert.equal(diffs.length, 1);
    const d = diffs[0]!;
    assert.ok(d.probe.delivered && !d.probe.staticAllowed);
    assert.match(d.explanation.summary, /deny wg0 → vmbr1/, 'the static account names the deny rule that should have dropped it');
    assert.match(d.live, /^delivered to \S+-agentfarm /);
    // The seed's own step about this flow fails live.
    const step = r.steps.find((s) => s.text === 'wg-client → 192.168.100.10 tcp/8080: deny');
    assert.ok(step, `the step is there: ${r.steps.map((s) => s.text).join(' | ')}`);
    assert.equal(step.ok, false);
    assertBothAccounts(r);
    assert.equal(cli.status, 1, `cordon lab verify exits 1 on a difference:\n${cli.stdout}`);
    assert.match(cli.stdout, /✗ wg-client → agentfarm \(192\.168\.100\.10\) tcp\/8080: static DENY, live DELIVERED\n {2}live: delivered to \S+-agentfarm/);
    assert.ok(cli.stdout.includes(d.explanation.summary), `the CLI prints the static explanation:\n${cli.stdout}`);
  });

  it("pve's default route deleted: what the static engine lets out to the internet through pve is static allow, live not delivered", async () => {
    let internetNs = '';
    const r = await tampered(ir, (prefix) => {
      internetNs = internetNamespace(prefix);
      const ns = hostNamespace(prefix, 'pve');
      const route = inNs(ns, ['ip', 'route', 'show', 'default']).trim();
      assert.match(route, /^default via /);
      inNs(ns, ['ip', 'route', 'del', 'default']);
    });
    // Through pve: agentfarm (routed by pve to the home router) and pve itself; wg-client and the zones reach the internet on
    // their own. And pve → wg-client: the roaming peer's tunnel transport leaves pve by that route.
    const diffs = assertExactly(
      r,
      // And pve's own packets to the LAN's addresses beyond the home router (off vmbr0's
      // 10.0.0.0/24): that router is pve's default route; on-link LAN addresses are still reached.
      (p) =>
        p.staticAllowed &&
        ((p.from === 'agentfarm' && p.dstNs === internetNs) ||
          (p.from === 'pve' && (p.dstNs === internetNs || p.to === 'wg-client' || (p.to === 'lan' && !formatIPv4(p.dst).startsWith('10.0.0.'))))),
      'default route deleted',
    );
    assert.ok(
      diffs.some((d) => d.probe.from === 'agentfarm' && formatFlow(d.probe.flow) === 'tcp/443'),
      `agentfarm → internet tcp/443 among them: ${diffs.map(show).join('; ')}`,
    );
    for (const d of diffs) {
      assert.ok(!d.probe.delivered);
      assert.equal(d.explanation.verdict, 'allow');
      assert.match(d.live, /^not delivered within the timeout/);
    }
    assertBothAccounts(r);
  });

  it("the roaming peer's tunnel set down: wg-client → agentfarm tcp/8080 and → pve tcp/22 are static allow, live not delivered", async () => {
    const r = await tampered(ir, (prefix) => {
      inNs(hostNamespace(prefix, 'wg-client'), ['ip', 'link', 'set', 'wg0', 'down']);
    });
    // Both directions through the tunnel stop. And one flow starts: with wg0 down its routes are
    // gone, so wg-client's udp/51820 to pve's tunnel address 10.0.0.1 (which is also the tunnel's
    // endpoint) goes straight over the internet to pve's open WireGuard port, where the static
    // engine (tunnel up) sends it into the tunnel and pve's input drops it.
    const endpoint = (p: VerifyResult['probes'][number]): boolean =>
      p.from === 'wg-client' && formatIPv4(p.dst) === '10.0.0.1' && formatFlow(p.flow) === 'udp/51820' && !p.staticAllowed;
    const diffs = assertExactly(
      r,
      (p) =>
        (p.staticAllowed && ((p.from === 'wg-client' && (p.to === 'agentfarm' || p.to === 'pve')) || (p.from === 'pve' && p.to === 'wg-client'))) ||
        endpoint(p),
      'tunnel down',
    );
    const names = diffs.filter((d) => d.probe.from === 'wg-client' && d.probe.staticAllowed).map((d) => `${d.probe.to} ${formatFlow(d.probe.flow)}`);
    assert.ok(names.includes('agentfarm tcp/8080') && names.includes('pve tcp/22'), `both allowed services are reported: ${names.join(', ')}`);
    for (const d of diffs) {
      assert.equal(d.probe.delivered, !d.probe.staticAllowed);
      assert.ok(/wg0/.test(JSON.stringify(d.explanation.path)), `the static path goes through wg0: ${d.explanation.summary}`);
    }
    const step = r.steps.find((s) => s.text === 'wg-client → agentfarm tcp/8080: allow');
    assert.ok(step && !step.ok, 'the seed step "curl http://10.0.0.10:8080 — Ska fungera" fails live');
    assertBothAccounts(r);
  });
});
