/**
 * The guards that keep CI honest, each tested by running the real thing in a child process:
 *  - with CI=true a live suite whose environment probe fails is a FAILURE naming the reason (here
 *    the probe fails for real: the suites run as user nobody, so "needs root"); without CI it is a
 *    skip, as before;
 *  - property tests take their seed from CORDON_TEST_SEED, draw a fresh one in CI and print it,
 *    and a failing property names the seed to replay with;
 *  - UPDATE_GOLDEN=1 never makes a golden comparison pass by itself: it writes, then fails
 *    "updated …, review the diff"; it passes only when nothing changed.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { assertProperty } from './support/seed.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'cordon-ci-guards-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const isRoot = process.getuid?.() === 0;
/** As root, children run as nobody (so every live probe really fails); otherwise as ourselves. */
const SETPRIV = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
const asNobody = isRoot && spawnSync('setpriv', ['--version']).status === 0 ? SETPRIV : [];
/** Why the live-suite guard cannot be shown here (root, but nobody cannot read the checkout); undefined = it can. */
function guardSkip(): string | undefined {
  if (!isRoot) return undefined; // not root: the probes fail for us already
  if (asNobody.length === 0) return 'root without setpriv (util-linux): cannot drop to nobody';
  const readable = spawnSync(SETPRIV[0]!, [...SETPRIV.slice(1), 'test', '-r', join(ROOT, 'node_modules', 'tsx', 'package.json')]).status === 0;
  return readable ? undefined : `user nobody cannot read ${ROOT} (checkout in a private directory)`;
}
const GUARD_SKIP = guardSkip();

function node(args: readonly string[], env: Record<string, string | undefined>, opts: { nobody?: boolean } = {}): { code: number; out: string } {
  const base = { ...process.env, NODE_TEST_CONTEXT: undefined, CI: undefined, CORDON_TEST_SEED: undefined, UPDATE_GOLDEN: undefined, HOME: tmp, ...env };
  const argv = [...(opts.nobody ? asNobody : []), process.execPath, '--import', 'tsx', ...args];
  const r = spawnSync(argv[0]!, argv.slice(1), { cwd: ROOT, encoding: 'utf8', env: base, timeout: 300_000 });
  return { code: r.status ?? -1, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

describe('CI=true: a live suite whose environment probe fails is a failure, not a skip', () => {
  const suites: [string, string][] = [
    ['test/lab.test.ts', 'lab (live)'],
    ['test/lab-tamper.test.ts', 'lab tamper (live)'],
    ['test/sandbox.test.ts', 'cordon run (live)'],
    ['test/roundtrip.test.ts', 'round trip (live)'],
    ['test/apply.test.ts', 'network namespace tests'],
  ];

  it('every live suite fails in CI without root, naming why', { skip: GUARD_SKIP }, () => {
    const r = node(['--test', '--test-reporter=spec', ...suites.map(([f]) => f)], { CI: 'true' }, { nobody: true });
    assert.notEqual(r.code, 0, `the suites passed in CI without their environment:\n${r.out.slice(-3000)}`);
    for (const [file, suite] of suites) {
      assert.match(r.out, new RegExp(`✖ ${suite.replace(/[()]/g, '\\$&')}: environment`), `${file}: no failing environment test:\n${r.out.slice(-3000)}`);
    }
    assert.match(r.out, /needs root.*CI=true: in CI everything make setup provides .* is a failure, not a skip/);
  });

  it('without CI the same suite skips with the reason and passes', { skip: GUARD_SKIP }, () => {
    const r = node(['--test', '--test-reporter=spec', 'test/roundtrip.test.ts'], {}, { nobody: true });
    assert.equal(r.code, 0, r.out.slice(-3000));
    assert.match(r.out, /round trip: spec → nftables → kernel → nft -j → IR .*# needs root/);
    assert.doesNotMatch(r.out, /: environment/);
  });
});

/** The one JSON line the child printed on stdout (stderr is mixed in). */
function jsonLine(out: string): unknown {
  const line = out.split('\n').find((l) => l.startsWith('['));
  assert.ok(line, out);
  return JSON.parse(line);
}

describe('property seeds', () => {
  const script =
    "import { propertySeed, replayHint } from './test/support/seed.ts'; console.log(JSON.stringify([propertySeed(), propertySeed(), propertySeed(1), replayHint()]));";

  it('CORDON_TEST_SEED is used as given (replay)', () => {
    const r = node(['--input-type=module', '-e', script], { CORDON_TEST_SEED: '424242', CI: 'true' });
    assert.equal(r.code, 0, r.out);
    const [a, b, salted, hint] = jsonLine(r.out) as [number, number, number, string];
    assert.equal(a, 424242);
    assert.equal(b, 424242);
    assert.notEqual(salted, 424242, 'a salt gives a property its own stream');
    assert.equal(hint, 'property seed: 424242 (replay with CORDON_TEST_SEED=424242)');
  });

  it('in CI a fresh seed is drawn per run and printed once; locally a fixed one', () => {
    const seeds = new Set<number>();
    for (let i = 0; i < 3; i++) {
      const r = node(['--input-type=module', '-e', script], { CI: 'true' });
      assert.equal(r.code, 0, r.out);
      const [a] = jsonLine(r.out) as [number];
      assert.equal(
        r.out.match(/property seed: (-?\d+) \(replay with CORDON_TEST_SEED=\1\)/g)?.length,
        2,
        `printed once on stderr (plus the hint we asked for): ${r.out}`,
      );
      seeds.add(a);
    }
    assert.ok(seeds.size >= 2, `CI runs draw different seeds: ${[...seeds].join(', ')}`);
    const l1 = node(['--input-type=module', '-e', script], {});
    const l2 = node(['--input-type=module', '-e', script], {});
    assert.equal(l1.out, l2.out, 'a local run is repeatable');
    assert.doesNotMatch(
      l1.out
        .split('\n')
        .filter((l) => !l.startsWith('['))
        .join('\n'),
      /property seed/,
      'and quiet',
    );
  });

  it('a bad CORDON_TEST_SEED is an error, not a silent default', () => {
    const r = node(['--input-type=module', '-e', script], { CORDON_TEST_SEED: 'abc' });
    assert.notEqual(r.code, 0);
    assert.match(r.out, /CORDON_TEST_SEED must be an integer, got 'abc'/);
  });

  it('a failing property names the seed to replay it with', () => {
    assert.throws(
      () =>
        assertProperty(
          fc.property(fc.integer({ min: 0, max: 100 }), (n) => n < 50),
          { numRuns: 200 },
        ),
      (e: Error) => /replay with CORDON_TEST_SEED=-?\d+/.test(e.message),
    );
  });
});

describe('UPDATE_GOLDEN=1 never passes a changed golden file by itself', () => {
  const script = (body: string): string => `import { checkGoldenFile, compareTree } from './test/support/golden.ts'; ${body}`;
  const run = (body: string, update: boolean): { code: number; out: string } =>
    node(['--input-type=module', '-e', script(body)], { UPDATE_GOLDEN: update ? '1' : undefined });

  it('checkGoldenFile: writes, fails "updated …, review the diff"; passes once nothing changes', () => {
    const p = join(tmp, 'one.expected');
    writeFileSync(p, 'old\n');
    const body = `checkGoldenFile(${JSON.stringify(p)}, 'new\\n');`;
    const first = run(body, true);
    assert.notEqual(first.code, 0, 'the update run fails');
    assert.match(first.out, /updated \S*one\.expected, review the diff \(git diff\) and run again without UPDATE_GOLDEN/);
    assert.equal(readFileSync(p, 'utf8'), 'new\n', 'and the file is written');
    assert.equal(run(body, true).code, 0, 'an update run that changes nothing passes');
    assert.equal(run(body, false).code, 0, 'the normal run compares and passes');
    writeFileSync(p, 'drift\n');
    assert.notEqual(run(body, false).code, 0, 'the normal run fails on a difference');
  });

  it('compareTree: a stale file is removed and reported as an update', () => {
    const dir = join(tmp, 'tree');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'keep'), 'same\n');
    writeFileSync(join(dir, 'stale'), 'gone\n');
    const body = `compareTree(${JSON.stringify(dir)}, new Map([[${JSON.stringify(join(dir, 'keep'))}, 'same\\n']]));`;
    assert.notEqual(run(body, false).code, 0, 'the normal run reports the stale file');
    const up = run(body, true);
    assert.notEqual(up.code, 0);
    assert.match(up.out, /updated \S*tree\/stale, review the diff/);
    assert.ok(!existsSync(join(dir, 'stale')));
    assert.equal(run(body, true).code, 0);
    assert.equal(run(body, false).code, 0);
  });
});
