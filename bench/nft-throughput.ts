/**
 * Benchmark: forwarding throughput with 10,000 allow rules, cordon's set-based nftables versus a
 * naive one-rule-per-line rule set versus no rules, all measured in one run; and `nft -f` load time.
 * Targets: cordon within 10 % of no rules, and at least 10× the naive rule set.
 *
 * Three network namespaces of our own (client ─veth─ router ─veth─ server, run-unique names,
 * removed in `finally`); the rule sets are loaded into the router's namespace, on the forward
 * path. iperf3 -s runs in the server namespace (started and killed by PID), `iperf3 -c -t 3 -J`
 * in the client namespace. Each configuration is measured ROUNDS times, interleaved, and the
 * median is reported. Nothing leaves these namespaces; the machine's own firewall is not touched.
 *
 * Rule sets (the iperf3 flow 10.201.1.2 → 10.201.2.2 tcp/5201 is allowed by each):
 *   - none:        no tables at all;
 *   - cordon:      a spec with 10,000 allow rules (9,999 /32 → /32 tcp/PORT rules, then
 *                  `cl → sv.iperf`), compiled and rendered by the nftables target for the router
 *                  (one concatenated interval set, conntrack's established shortcut first);
 *   - cordon-noct: the same file without the two `ct state` rules and with one reply rule, so
 *                  every packet does the set lookup (isolates set lookup from conntrack);
 *   - ct-only:     just `ct state established,related accept` and policy accept: what conntrack
 *                  alone costs, the floor for any stateful rule set;
 *   - naive:       the same 10,000 rules as linear `ip saddr X ip daddr Y tcp dport Z accept`
 *                  lines, the iperf3 flow's rule LAST, replies allowed by one rule first, no
 *                  conntrack: every data packet walks all 10,000 rules.
 * `ms` is the time to move 1 GiB at the measured rate (lower is better); `baselineMs` the same
 * with no rules; `ratio` = ms / baselineMs. Load entries: `nft -f` wall time, baseline an empty file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../src/system/exec.js';
import { compile } from '../src/ir/compile.js';
import { loadModelFromText } from '../src/model/load.js';
import { nftablesRenderer } from '../src/render/nftables/index.js';

export interface BenchResult {
  name: string;
  ms: number;
  baselineMs: number;
  ratio: number;
  notes: string;
}

const RULES = 10_000;
/** Rounds per configuration (interleaved); CORDON_BENCH_ROUNDS overrides. */
const ROUNDS = Math.max(1, Number(process.env.CORDON_BENCH_ROUNDS ?? '5') || 5);
const SECONDS = 3;
const CLIENT = '10.201.1.2';
const SERVER = '10.201.2.2';
const PORT = 5201;
const GIB_BITS = 8 * 2 ** 30;

/** The filler rules: distinct /32 pairs and ports, none of them the iperf3 flow. */
function filler(i: number): { src: string; dst: string; port: number } {
  return { src: `10.50.${i >> 8}.${i & 255}`, dst: `10.60.${i >> 8}.${i & 255}`, port: 1024 + (i % 50_000) };
}

export function benchSpec(rules = RULES): string {
  const lines = [
    'version: 1',
    'description: nft throughput benchmark (bench/nft-throughput.ts)',
    'networks:',
    '  netc: { cidr: 10.201.1.0/24, gateway: 10.201.1.1 }',
    '  nets: { cidr: 10.201.2.0/24, gateway: 10.201.2.1 }',
    'hosts:',
    '  rt: { kind: router, nics: { netc: { address: 10.201.1.1, ifname: r0 }, nets: { address: 10.201.2.1, ifname: r1 } } }',
    `  cl: { kind: server, managed: false, nics: { netc: ${CLIENT} } }`,
    `  sv: { kind: server, managed: false, nics: { nets: ${SERVER} }, services: { iperf: tcp/${PORT} } }`,
    'policy:',
  ];
  for (let i = 0; i < rules - 1; i++) {
    const f = filler(i);
    lines.push(`  - allow: { from: ${f.src}, to: ${f.dst}, ports: tcp/${f.port} }`);
  }
  lines.push('  - allow: { from: cl, to: sv.iperf }');
  return `${lines.join('\n')}\n`;
}

/** cordon's rendered rule set for the router. */
export function cordonRuleset(rules = RULES): string {
  const r = loadModelFromText(benchSpec(rules), 'nft-throughput-bench.yaml');
  if (!r.model) throw new Error(`bench spec does not load: ${r.diagnostics.map((d) => d.message).join('; ')}`);
  const out = nftablesRenderer.render(compile(r.model), { host: 'rt', params: new Map() });
  const errors = out.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length || !out.files[0]) throw new Error(`bench spec does not render: ${errors.map((d) => d.message).join('; ')}`);
  return out.files[0].content;
}

const REPLY_RULE = `ip saddr ${SERVER} ip daddr ${CLIENT} tcp sport ${PORT} counter accept`;

/** cordon's file with conntrack's shortcut replaced by one reply rule: every packet hits the set. */
export function withoutConntrack(cordon: string): string {
  const ct = '\t\tct state established,related counter accept\n\t\tct state invalid counter drop\n';
  if (!cordon.includes(ct)) throw new Error('the rendered rule set no longer starts its chains with the ct state rules this benchmark replaces');
  return cordon.replaceAll(ct, `\t\t${REPLY_RULE}\n`);
}

export function naiveRuleset(rules = RULES): string {
  const lines = ['table inet naive_bench {', '\tchain forward {', '\t\ttype filter hook forward priority 0; policy drop;', `\t\t${REPLY_RULE}`];
  for (let i = 0; i < rules - 1; i++) {
    const f = filler(i);
    lines.push(`\t\tip saddr ${f.src} ip daddr ${f.dst} tcp dport ${f.port} accept`);
  }
  lines.push(`\t\tip saddr ${CLIENT} ip daddr ${SERVER} tcp dport ${PORT} counter accept`, '\t}', '}');
  return `${lines.join('\n')}\n`;
}

const CT_ONLY =
  'table inet ct_only_bench {\n\tchain forward {\n\t\ttype filter hook forward priority 0; policy accept;\n\t\tct state established,related counter accept\n\t}\n}\n';

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function must(argv: readonly string[], input?: string): Promise<string> {
  const r = await run(argv, { input, timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`${argv.join(' ')}: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

async function skipReason(): Promise<string | undefined> {
  if (process.platform !== 'linux') return 'needs Linux network namespaces';
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  for (const [cmd, flag, pkg] of [
    ['nft', '--version', 'nftables'],
    ['iperf3', '--version', 'iperf3'],
    ['ip', '-V', 'iproute2'],
  ] as const) {
    if ((await run([cmd, flag])).code !== 0) return `needs ${cmd} (apt-get install ${pkg}; make setup does)`;
  }
  return undefined;
}

/** Packets counted by the accept rule that lets the iperf3 flow through (proves the rules were in the path). */
async function flowCounter(router: string): Promise<number> {
  const j = JSON.parse(await must(['ip', 'netns', 'exec', router, 'nft', '-j', 'list', 'ruleset'])) as { nftables: { rule?: { expr: unknown[] } }[] };
  let best = 0;
  for (const o of j.nftables) {
    if (!o.rule) continue;
    const text = JSON.stringify(o.rule.expr);
    const isFlowRule =
      (text.includes('"@run') && text.includes('"accept"')) || (text.includes(`"${CLIENT}"`) && text.includes(`${PORT}`) && text.includes('"dport"'));
    if (!isFlowRule) continue;
    for (const e of o.rule.expr as { counter?: { packets: number } }[]) if (e.counter) best = Math.max(best, e.counter.packets);
  }
  return best;
}

async function waitListening(ns: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const r = await run(['ip', 'netns', 'exec', ns, 'ss', '-Hltn', `sport = :${PORT}`]);
    if (r.code === 0 && r.stdout.trim() !== '') return;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error('iperf3 -s did not start listening');
}

interface Config {
  readonly name: string;
  readonly file: string;
  readonly rules: string;
}

export async function benchNftThroughput(): Promise<BenchResult[]> {
  const skip = await skipReason();
  if (skip) return [{ name: 'nft-throughput (skipped)', ms: 0, baselineMs: 0, ratio: 0, notes: `skipped: ${skip}` }];

  const tag = `cordon-b-${process.pid}-${randomBytes(2).toString('hex')}`;
  const [C, R, S] = [`${tag}-c`, `${tag}-r`, `${tag}-s`];
  const made: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'cordon-bench-nft-'));
  let server: ChildProcess | undefined;
  try {
    const t0 = performance.now();
    const cordon = cordonRuleset();
    const pipelineMs = performance.now() - t0;
    const configs: Config[] = [
      { name: 'none', file: join(dir, 'none.nft'), rules: 'no rules' },
      { name: 'cordon', file: join(dir, 'cordon.nft'), rules: 'cordon sets' },
      { name: 'cordon-noct', file: join(dir, 'cordon-noct.nft'), rules: 'cordon sets, no conntrack shortcut' },
      { name: 'ct-only', file: join(dir, 'ct-only.nft'), rules: 'conntrack only' },
      { name: 'naive', file: join(dir, 'naive.nft'), rules: 'naive linear' },
    ];
    writeFileSync(configs[0]!.file, '');
    writeFileSync(configs[1]!.file, cordon);
    writeFileSync(configs[2]!.file, withoutConntrack(cordon));
    writeFileSync(configs[3]!.file, CT_ONLY);
    writeFileSync(configs[4]!.file, naiveRuleset());

    for (const ns of [C, R, S]) {
      await must(['ip', 'netns', 'add', ns]);
      made.push(ns);
    }
    await must(['ip', '-n', R, 'link', 'add', 'r0', 'type', 'veth', 'peer', 'name', 'c0', 'netns', C]);
    await must(['ip', '-n', R, 'link', 'add', 'r1', 'type', 'veth', 'peer', 'name', 's0', 'netns', S]);
    await must(['ip', '-n', C, '-batch', '-'], `addr add ${CLIENT}/24 dev c0\nlink set lo up\nlink set c0 up\nroute add default via 10.201.1.1\n`);
    await must(['ip', '-n', S, '-batch', '-'], `addr add ${SERVER}/24 dev s0\nlink set lo up\nlink set s0 up\nroute add default via 10.201.2.1\n`);
    await must(
      ['ip', '-n', R, '-batch', '-'],
      'addr add 10.201.1.1/24 dev r0\naddr add 10.201.2.1/24 dev r1\nlink set lo up\nlink set r0 up\nlink set r1 up\n',
    );
    await must(['ip', 'netns', 'exec', R, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);

    server = spawn('ip', ['netns', 'exec', S, 'iperf3', '-s', '-B', SERVER, '-p', String(PORT)], { stdio: 'ignore' });
    await waitListening(S);

    const gbps = new Map<string, number[]>();
    const loadMs = new Map<string, number[]>();
    const counted = new Map<string, number>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const c of configs) {
        await must(['ip', 'netns', 'exec', R, 'nft', 'flush', 'ruleset']);
        const load = await run(['ip', 'netns', 'exec', R, 'nft', '-f', c.file], { timeoutMs: 120_000 });
        if (load.code !== 0) throw new Error(`nft -f ${c.name}: ${load.stderr.trim()}`);
        loadMs.set(c.name, [...(loadMs.get(c.name) ?? []), load.ms]);
        const out = await run(['ip', 'netns', 'exec', C, 'iperf3', '-c', SERVER, '-p', String(PORT), '-t', String(SECONDS), '-J'], {
          timeoutMs: (SECONDS + 30) * 1000,
        });
        const j = JSON.parse(out.stdout || '{}') as { end?: { sum_received?: { bits_per_second?: number } }; error?: string };
        const bps = j.end?.sum_received?.bits_per_second;
        if (out.code !== 0 || bps === undefined) throw new Error(`iperf3 through '${c.name}' failed: ${j.error ?? out.stderr.trim()}`);
        gbps.set(c.name, [...(gbps.get(c.name) ?? []), bps / 1e9]);
        if (c.name !== 'none' && c.name !== 'ct-only') counted.set(c.name, Math.max(counted.get(c.name) ?? 0, await flowCounter(R)));
      }
    }

    const g = (n: string): number => median(gbps.get(n)!);
    const perGiB = (n: string): number => (GIB_BITS / (g(n) * 1e9)) * 1000;
    const base = perGiB('none');
    const cpu = cpus();
    const nftV = (await must(['nft', '--version'])).trim();
    const iperfV = (await must(['iperf3', '--version'])).split('\n')[0]!.trim();
    const machine = `${cpu.length}× ${cpu[0]?.model.trim() ?? '?'}, Linux ${release()}, ${nftV}, ${iperfV}; load average ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')} at the end`;
    const rounds = (n: string): string =>
      gbps
        .get(n)!
        .map((x) => x.toFixed(1))
        .join('/');
    const tp = (name: string, label: string, extra: string): BenchResult => ({
      name: `nft-throughput: ${label}`,
      ms: perGiB(name),
      baselineMs: base,
      ratio: perGiB(name) / base,
      notes: `${g(name).toFixed(2)} Gbit/s (median of ${rounds(name)}) vs ${g('none').toFixed(2)} without rules; ${extra}`,
    });
    const cordonVsNone = g('cordon') / g('none');
    const cordonVsNaive = g('cordon') / g('naive');
    const lm = (n: string): number => median(loadMs.get(n)!);
    return [
      tp('none', 'no rules (baseline)', `iperf3 -t ${SECONDS}, ${ROUNDS} rounds interleaved; ${machine}`),
      tp(
        'cordon',
        `cordon sets, ${RULES.toLocaleString('en')} allow rules`,
        `${(cordonVsNone * 100).toFixed(1)}% of no rules (target ≥ 90%: ${cordonVsNone >= 0.9 ? 'met' : 'MISSED'}); ${cordonVsNaive.toFixed(1)}× naive (target ≥ 10×: ${cordonVsNaive >= 10 ? 'met' : 'MISSED'}); flow's set rule counted ${counted.get('cordon') ?? 0} packets (conntrack passes the rest)`,
      ),
      tp(
        'cordon-noct',
        `cordon sets without conntrack shortcut, ${RULES} rules`,
        `every packet does the set lookup; ${((g('cordon-noct') / g('none')) * 100).toFixed(1)}% of no rules, ${(g('cordon-noct') / g('naive')).toFixed(1)}× naive; flow's set rule counted ${counted.get('cordon-noct') ?? 0} packets`,
      ),
      tp(
        'ct-only',
        'conntrack only (ct state established accept)',
        `${((g('ct-only') / g('none')) * 100).toFixed(1)}% of no rules: the cost of being stateful at all; cordon is ${((g('cordon') / g('ct-only')) * 100).toFixed(1)}% of this`,
      ),
      tp(
        'naive',
        `naive linear, ${RULES} rules, flow's rule last`,
        `every data packet walks ${RULES} rules; last rule counted ${counted.get('naive') ?? 0} packets`,
      ),
      {
        name: 'nft-load: cordon sets, 10,000 rules',
        ms: lm('cordon'),
        baselineMs: lm('none'),
        ratio: lm('cordon') / lm('none'),
        notes: `nft -f wall time, median of ${loadMs
          .get('cordon')!
          .map((x) => x.toFixed(0))
          .join('/')} ms; baseline: an empty file; naive: ${lm('naive').toFixed(0)} ms; spec → IR → nft text took ${pipelineMs.toFixed(0)} ms`,
      },
      {
        name: 'nft-load: naive linear, 10,000 rules',
        ms: lm('naive'),
        baselineMs: lm('none'),
        ratio: lm('naive') / lm('none'),
        notes: `nft -f wall time, median of ${loadMs
          .get('naive')!
          .map((x) => x.toFixed(0))
          .join('/')} ms; baseline: an empty file`,
      },
    ];
  } finally {
    if (server && server.exitCode === null && server.pid !== undefined) {
      const exited = new Promise((res) => server!.once('exit', res));
      server.kill('SIGTERM');
      await Promise.race([exited, new Promise((res) => setTimeout(res, 2000))]);
      if (server.exitCode === null) server.kill('SIGKILL');
    }
    for (const ns of made.reverse()) await run(['ip', 'netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  }
}
