/**
 * What a newcomer reads in the first hour (issue 12, items 7–9): the demo and the CLI print no
 * escape codes into a log or under NO_COLOR, say the same probe count twice, explain no flow on
 * port 0, do not repeat a rule's label inside itself, keep bridge ports on their own bridge; lint
 * fails on errors (warnings only past --max-warnings or with --strict); `-` reads a spec from
 * standard input; the README's spec excerpt is a valid spec.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { summary } from '../src/cli/commands/run.js';
import { attackToText, type AttackResult } from '../src/lab/attack.js';
import { verifyToText } from '../src/lab/text.js';
import { Code } from '../src/diag/codes.js';
import type { VerifyResult } from '../src/lab/verify.js';
import { compile } from '../src/ir/compile.js';
import { loadModel } from '../src/model/load.js';
import { handRuleLabel } from '../src/model/resolve.js';
import type { SandboxResult } from '../src/sandbox/types.js';
import { runChecks, sampleFlow } from '../src/verify/checks.js';
import { explanationToText } from '../src/report/explain.js';
import { lint } from '../src/verify/lint.js';
import { ALL_FLOWS, NO_FLOWS } from '../src/util/flows.js';
import { probeLab } from './support/lab-env.js';
import { skipOrFail } from './support/require-env.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SPEC = 'examples/proxmox-dual-bridge.yaml';
const MISTAKE = 'examples/mistakes/proxmox-dual-bridge-as-written.yaml';
const ESC = '\x1b';
const dir = mkdtempSync(join(tmpdir(), 'cordon-first-hour-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Output to a pipe (never a terminal); `env` on top of the caller's, FORCE_COLOR removed unless given. */
function run(cmd: string, args: string[], env: Record<string, string | undefined> = {}, input?: string) {
  const e: Record<string, string | undefined> = { ...process.env, FORCE_COLOR: undefined, NO_COLOR: undefined, ...env };
  for (const k of Object.keys(e)) if (e[k] === undefined) delete e[k];
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', env: e, input, maxBuffer: 64 << 20 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const cordon = (args: string[], env: Record<string, string | undefined> = {}, input?: string) => run(join(ROOT, 'bin/cordon'), args, env, input);

/** The demo without its live part (that needs root and is checked below on its own). */
const demo = (() => {
  let out: ReturnType<typeof run> | undefined;
  return () => (out ??= run('bash', ['scripts/demo.sh'], { CORDON_DEMO_LIVE: '0' }));
})();

describe('the demo, printed to a log file', () => {
  it('has no escape codes, on stdout or stderr', () => {
    const r = demo();
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes(ESC), `an escape code in the demo's output:\n${r.stdout.split('\n').find((l) => l.includes(ESC))}`);
    assert.ok(!r.stderr.includes(ESC), 'an escape code on stderr');
    assert.match(r.stdout, /^== 1\. What cordon understood/m, 'headings are plain text');
  });

  it('explains no witness flow on port 0 and repeats no label inside itself', () => {
    const r = demo();
    assert.doesNotMatch(r.stdout, /\b(tcp|udp)\/0\b/, 'a witness on port 0');
    // The seed's rules carry comments that restate them: "ACCEPT -i vmbr0 (IN ACCEPT -i vmbr0 (…))".
    assert.doesNotMatch(r.stdout, /ACCEPT[^"\n]*\(IN ACCEPT/);
    assert.match(r.stdout, /"IN ACCEPT -i vmbr0 \(Tillåt inkommande på vmbr0\)"/, "the seed's own words, once");
  });

  it("glosses the seed's Swedish and counts the other examples instead of saying 'four'", () => {
    const r = demo();
    assert.match(r.stdout, /Ska INTE fungera = must NOT work/);
    const others = readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.yaml') && `examples/${f}` !== SPEC).length;
    assert.match(r.stdout, new RegExp(`the other ${others} specs`));
    assert.doesNotMatch(r.stdout, /other four/);
  });

  it('says why section 3 is the same as section 2 instead of printing the table twice', () => {
    const r = demo();
    const s3 = r.stdout.split(/^== /m).find((s) => s.startsWith('3.'))!;
    assert.match(s3, /The same as section 2, cell for cell/);
    assert.doesNotMatch(s3, /^from \\ to/m, 'the identical table is not printed again');
    // And the claim is true: the two views agree on this spec.
    const a = cordon(['matrix', SPEC, '--list']).stdout.replace(/^view:.*$/m, '');
    const b = cordon(['matrix', SPEC, '--list', '--assume', 'compromised']).stdout.replace(/^view:.*$/m, '');
    assert.equal(a, b);
  });
});

describe('the CLI commands the demo uses honour NO_COLOR and a pipe', () => {
  const commands: string[][] = [
    ['describe', SPEC],
    ['matrix', SPEC],
    ['matrix', SPEC, '--list'],
    ['test', SPEC],
    ['test', MISTAKE],
    ['explain', SPEC, '--from', 'wg-client', '--to', 'ollama.api'],
    ['lint', SPEC],
    ['check', 'examples/mistakes/agentfarm-wg-overlap.yaml'],
  ];
  for (const args of commands) {
    it(`cordon ${args.join(' ')}`, () => {
      // NO_COLOR wins even over FORCE_COLOR (a plain pipe is the demo's case above).
      const r = cordon(args, { NO_COLOR: '1', FORCE_COLOR: '1' });
      assert.ok(r.code !== null && r.code <= 2, r.stderr);
      assert.ok(!r.stdout.includes(ESC) && !r.stderr.includes(ESC), 'escape codes under NO_COLOR');
      // The check can fail: with FORCE_COLOR the same command does colour.
      const forced = cordon(args, { FORCE_COLOR: '1' });
      assert.ok(forced.stdout.includes(ESC) || forced.stderr.includes(ESC), 'FORCE_COLOR=1 colours (so the check above can fail)');
    });
  }
});

describe('words of the live lab and attack reports', () => {
  const verifyResult = (differences: number): VerifyResult => ({
    file: SPEC,
    prefix: 'cl0000',
    endpoints: ['a', 'b'],
    probes: [],
    cells: [
      { from: 'a', to: 'b', probes: 3, delivered: 1, staticAllowed: 1, differences, unanswered: 0 },
      { from: 'b', to: 'a', probes: 3, delivered: 0, staticAllowed: 0, differences: 0, unanswered: 0 },
    ],
    differences: [],
    steps: [],
    ms: { prepare: 1, probe: 1, total: 2 },
    flows: ['tcp/22'],
  });

  it('the probe matrix legend explains only marks a cell can carry', () => {
    for (const d of [0, 1]) {
      const text = verifyToText(verifyResult(d), { color: false, verbose: false });
      const legend = text.split('\n').find((l) => l.startsWith('delivered/probed'))!;
      const cells = text.split('\n').filter((l) => /^(a|b) /.test(l));
      for (const mark of ['✓', '✗']) if (legend.includes(mark)) assert.ok(d === 0 || cells.some((l) => l.includes(mark)), `${mark} in the legend`);
      assert.ok(!legend.includes('✓'), 'no cell is ever marked ✓');
      assert.equal(
        cells.some((l) => l.includes('✗')),
        d > 0,
      );
    }
  });

  const attack = (unexpected: number): AttackResult => ({
    host: 'agentfarm',
    prefix: 'cl0000',
    probes: 10,
    pairs: 10,
    reachedConfigured: 3,
    reachedAttack: 3,
    staticCompromised: 3,
    differences: [],
    ms: 1,
    notes: [],
    moves: [
      { move: 'flush its in-guest firewall', commands: [], done: true, gained: [] },
      {
        move: 'get out to the internet over tcp, udp, dns and icmp (every round)',
        commands: [],
        done: true,
        summary: true,
        unexpected,
        gained: ['tcp: 2', 'udp: 1 (dns: 1)'],
      },
    ],
  });

  it('the attack summary says allowed traffic is allowed, and calls a leak a leak', () => {
    const ok = attackToText(attack(0), false);
    assert.doesNotMatch(ok, /\bOUT\b/);
    assert.match(ok, /^ {2}allowed get out to the internet .*: tcp: 2, udp: 1 \(dns: 1\) \(destination, flow\) pairs, all allowed by the spec$/m);
    const leak = attackToText(attack(2), false);
    assert.match(leak, /^ {2}LEAKS {3}get out .*; 2 of them not allowed by the spec$/m);
  });

  it('the live probe count is the same in the progress line, the stage line and the summary', async (t) => {
    const why = probeLab();
    if (why) return skipOrFail(t, why);
    // A copy: `lab verify FILE` reuses a running lab of the same file, and this one must be our own.
    const spec = join(dir, 'proxmox-dual-bridge.yaml');
    copyFileSync(join(ROOT, SPEC), spec);
    const r = cordon(['lab', 'verify', spec]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const progress = [...r.stderr.matchAll(/probing: (\d+)\/(\d+)/g)].map((m) => [Number(m[1]), Number(m[2])] as const);
    const stage = Number(/probe \((\d+)\)/.exec(r.stderr)?.[1]);
    const total = Number(/^(\d+) probes \(/m.exec(r.stdout)?.[1]);
    const agree = Number(/all (\d+) probes agree/.exec(r.stdout)?.[1]);
    assert.ok(total > 0, r.stdout);
    assert.equal(stage, total, 'stage line and summary');
    assert.equal(agree, total, 'the last line');
    for (const [done, of] of progress) {
      assert.equal(of, total, `progress says /${of}, the summary ${total}`);
      assert.ok(done <= of);
    }
    assert.ok(!r.stdout.includes(ESC) && !r.stderr.includes(ESC), 'no escape codes in a log');
  });
});

describe('witnesses, labels and lint explanations', () => {
  it('a witness is on a port a connection can use: familiar ones first, never 0 when another is in the set', () => {
    assert.deepEqual(sampleFlow(ALL_FLOWS), { proto: 'tcp', port: 443 });
    assert.deepEqual(sampleFlow({ ...NO_FLOWS, tcp: [[0, 21]] }), { proto: 'tcp', port: 1 });
    assert.deepEqual(sampleFlow({ ...NO_FLOWS, udp: [[0, 65535]] }), { proto: 'udp', port: 443 });
    assert.deepEqual(sampleFlow({ ...NO_FLOWS, udp: [[5000, 5010]] }), { proto: 'udp', port: 5000 });
    assert.deepEqual(sampleFlow({ ...NO_FLOWS, tcp: [[0, 0]] }), { proto: 'tcp', port: 0 }, 'only port 0 in the set');
    assert.deepEqual(sampleFlow({ ...NO_FLOWS, icmp: true }), { proto: 'icmp' });
  });

  it('no check in any example or mistake explains a flow on port 0', () => {
    const files = [
      ...readdirSync(join(ROOT, 'examples')).map((x) => `examples/${x}`),
      ...readdirSync(join(ROOT, 'examples/mistakes')).map((x) => `examples/mistakes/${x}`),
    ].filter((f) => f.endsWith('.yaml'));
    let witnesses = 0;
    for (const f of files) {
      const r = loadModel(join(ROOT, f));
      if (!r.model) continue;
      for (const c of runChecks(compile(r.model))) {
        if (!c.witness) continue;
        witnesses++;
        assert.doesNotMatch(explanationToText(c.witness, false, true), /\b(tcp|udp)\/0\b/, `${f}: ${c.name}`);
      }
    }
    assert.ok(witnesses >= 10, `only ${witnesses} witnesses: the mistakes should fail checks`);
  });

  it('a hand-written rule whose comment restates it is labelled by its comment alone', () => {
    assert.equal(handRuleLabel('ACCEPT -i vmbr0', 'IN ACCEPT -i vmbr0 (Tillåt inkommande på vmbr0)'), 'IN ACCEPT -i vmbr0 (Tillåt inkommande på vmbr0)');
    assert.equal(handRuleLabel('ACCEPT tcp/22', 'IN ACCEPT -p tcp --dport 22 (Tillåt SSH till host)'), 'IN ACCEPT -p tcp --dport 22 (Tillåt SSH till host)');
    assert.equal(handRuleLabel('ACCEPT state established', 'Proxmox firewall is stateful'), 'ACCEPT state established (Proxmox firewall is stateful)');
    assert.equal(handRuleLabel('DROP -i vmbr0', undefined), 'DROP -i vmbr0');
  });

  it('lint names a bridge port only together with the bridge it is on (every example)', () => {
    for (const f of readdirSync(join(ROOT, 'examples')).filter((x) => x.endsWith('.yaml'))) {
      const r = loadModel(join(ROOT, 'examples', f));
      assert.ok(r.model, f);
      const bridgeOf = new Map<string, string>();
      for (const h of r.model.hosts.values()) for (const n of h.nics) if (n.port) bridgeOf.set(n.port, r.model.networks.get(n.segment)?.bridge ?? n.segment);
      for (const d of lint(compile(r.model), { source: r.source })) {
        for (const m of d.message.matchAll(/through bridge port (\S+) \([^)]*\) in on (\S+?)[;:,]/g)) {
          const bridge = bridgeOf.get(m[1]!);
          if (bridge) assert.equal(m[2], bridge, `${f}: ${m[0]} — ${m[1]} is a port of ${bridge}`);
        }
      }
    }
    const r = cordon(['lint', SPEC]);
    assert.doesNotMatch(r.stderr, /tap101i0 \(agentfarm\) in on vmbr1/);
    assert.match(r.stderr, /tap101i1 \(agentfarm\) in on vmbr1/, 'the real overlap is still reported');
  });
});

describe('lint exit codes and the small mismatches', () => {
  const warnOnly = join(dir, 'unused-service.yaml');
  writeFileSync(
    warnOnly,
    `version: 1
networks:
  lan0: { cidr: 10.0.0.0/24 }
hosts:
  agent: { kind: vm, nics: { lan0: 10.0.0.10 } }
  llm: { kind: server, nics: { lan0: 10.0.0.20 }, services: { api: tcp/11434, metrics: tcp/9100 } }
policy:
  - allow: { from: agent, to: llm.api }
`,
  );

  it('warnings alone exit 0; --strict and --max-warnings decide when they fail', () => {
    const plain = cordon(['lint', warnOnly]);
    assert.match(plain.stderr, /warning CORDON034/, 'the spec has a warning');
    assert.equal(plain.code, 0, 'a first spec with an unused service does not fail');
    assert.equal(cordon(['lint', warnOnly, '--strict']).code, 1);
    assert.equal(cordon(['lint', warnOnly, '--max-warnings', '0']).code, 1);
    const within = cordon(['lint', warnOnly, '--max-warnings', '1']);
    assert.equal(within.code, 0, within.stderr);
    const bad = cordon(['lint', warnOnly, '--max-warnings', 'lots']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--max-warnings takes a whole number/);
  });

  it('lint --help lists every code lint can report, and the exit codes', () => {
    const help = cordon(['lint', '--help']).stdout;
    const src = readFileSync(join(ROOT, 'src/verify/lint.ts'), 'utf8');
    // lint.ts names its codes through the code table (Code.SHADOWED_RULE…): every one it uses is listed.
    const names = [...new Set([...src.matchAll(/\bCode\.([A-Z0-9_]+)/g)].map((m) => m[1]!))];
    const codes = names.map((n) => Code[n as keyof typeof Code] as string);
    assert.ok(codes.length >= 8, `codes found in lint.ts: ${codes.join(', ')}`);
    assert.ok(codes.includes('CORDON036'));
    for (const c of codes) assert.match(help, new RegExp(`${c} (warning|info|error)`), `${c} missing from lint --help`);
    assert.match(help, /Exit codes: 0 no errors/);
    assert.match(help, /--max-warnings <n>/);
    assert.match(help, /--strict/);
  });

  it('`-` reads the spec from standard input (check, lint, matrix)', () => {
    const text = readFileSync(join(ROOT, SPEC), 'utf8');
    const ok = cordon(['check', '-'], {}, text);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^<stdin>: ok \(4 hosts/);
    const broken = cordon(['check', '-'], {}, 'version: 1\nhosts: { a: { kind: vmm } }\n');
    assert.equal(broken.code, 2);
    assert.match(broken.stderr, /^<stdin>:2:21: error CORDON003/m);
    assert.match(broken.stderr, /> 2 \| hosts: \{ a: \{ kind: vmm \} \}/, 'a code frame from the text read');
    assert.equal(cordon(['lint', '-'], {}, text).code, 0);
    assert.equal(cordon(['matrix', '-', '--list'], {}, text).stdout, cordon(['matrix', SPEC, '--list']).stdout);
  });

  it('run --mode open says its traffic is not counted instead of printing zeros', () => {
    const r = {
      exitCode: 0,
      reason: 'exited',
      message: 'exit 0',
      denied: [],
      counters: { packetsOut: 0, bytesOut: 0, packetsIn: 0, bytesIn: 0, deniedPackets: 0, deniedBytes: 0 },
      id: 'x',
      ms: 1,
      env: { passed: 3, withheld: 0 },
      hidden: 0,
    } as SandboxResult;
    assert.match(summary(r, 'open'), /exit 0 · traffic not counted in open mode/);
    assert.doesNotMatch(summary(r, 'open'), /pkt/);
    assert.match(summary(r, 'isolated'), /out 0 pkt\/0 B · in 0 pkt\/0 B/);
  });

  it("the README's spec excerpt is a valid spec (version: 1 included) and the intro agrees with Status", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const excerpt = /## A worked example[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(excerpt, 'the excerpt');
    assert.match(excerpt, /^version: 1$/m);
    const r = cordon(['check', '-'], {}, excerpt);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(readme, /being built next/);
    assert.match(readme, /`cordon describe FILE`/, 'describe is documented');
    assert.match(readme, /^- \*\*dns\*\* — /m, 'the dns: section is documented');
  });
});
