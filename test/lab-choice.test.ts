/**
 * Which lab a command touches, on a machine shared with other people's labs (issue 12, item 5):
 * `lab down` without a spec file, `--lab PREFIX` or `--all` refuses and removes nothing; `lab up`
 * of a spec whose lab is already up says so and names its prefix instead of building a second
 * one (`--again` builds one). Through the CLI. Live: needs what the lab needs (test/lab.test.ts);
 * skipped with the reason otherwise, a failure in CI. Every lab built here is removed in `after`.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { teardownLab } from '../src/lab/exec.js';
import { leftoverNamespaces, labsOf } from '../src/lab/lab.js';
import { probeLab } from './support/lab-env.js';
import { requireOrSkip } from './support/require-env.js';

const CORDON = join(fileURLToPath(new URL('..', import.meta.url)), 'bin', 'cordon');

const SPEC = `version: 1
networks:
  lan: { cidr: 10.50.0.0/24 }
hosts:
  a: { kind: server, nics: { lan: 10.50.0.1 }, services: { web: tcp/80 } }
  b: { kind: vm, nics: { lan: 10.50.0.2 } }
policy:
  - allow: { from: b, to: a.web }
`;

function cordon(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(CORDON, args, { encoding: 'utf8', timeout: 120_000 });
}

describe('lab down without a target (no root needed to be refused)', () => {
  it('exits 2 and names the three ways to choose, before touching anything', () => {
    const r = cordon('lab', 'down');
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /cordon lab down FILE, --lab PREFIX or --all/);
  });
  it('a target and --all together are refused too', () => {
    const r = cordon('lab', 'down', 'cl0000', '--all');
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /name one lab/);
  });
});

describe('lab up/down choose their lab (live)', { skip: requireOrSkip('lab choice (live)', probeLab()) }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-labchoice-'));
  const spec = join(dir, 'tiny.yaml');
  writeFileSync(spec, SPEC);

  after(async () => {
    for (const s of labsOf(spec)) await teardownLab(s.prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  it('lab up twice builds one lab and names it; --again builds a second; lab down with no target leaves both; --lab and FILE remove them', async () => {
    const up = cordon('lab', 'up', spec, '--json');
    assert.equal(up.status, 0, up.stderr);
    const first = (JSON.parse(up.stdout) as { prefix: string }).prefix;
    assert.deepEqual(
      labsOf(spec).map((s) => s.prefix),
      [first],
    );

    const again = cordon('lab', 'up', spec);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`lab ${first} of .* is already up`));
    assert.equal(labsOf(spec).length, 1, 'no second lab was built');

    const second = cordon('lab', 'up', spec, '--again', '--json');
    assert.equal(second.status, 0, second.stderr);
    const other = (JSON.parse(second.stdout) as { prefix: string }).prefix;
    assert.notEqual(other, first);

    const refused = cordon('lab', 'down');
    assert.equal(refused.status, 2, refused.stderr);
    assert.match(refused.stderr, new RegExp(first));
    assert.equal((await leftoverNamespaces(first)).length > 0, true, `lab ${first} is still there`);
    assert.equal((await leftoverNamespaces(other)).length > 0, true, `lab ${other} is still there`);

    const byPrefix = cordon('lab', 'down', '--lab', other);
    assert.equal(byPrefix.status, 0, byPrefix.stderr);
    assert.deepEqual(await leftoverNamespaces(other), []);
    assert.ok((await leftoverNamespaces(first)).length > 0, 'only the named lab went');

    const byFile = cordon('lab', 'down', spec);
    assert.equal(byFile.status, 0, byFile.stderr);
    assert.deepEqual(await leftoverNamespaces(first), []);
    assert.deepEqual(labsOf(spec), []);
  });

  it('a prefix that is not one is refused with the form it should have', () => {
    const r = cordon('lab', 'down', '--lab', 'nonsense');
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /not a lab prefix/);
  });
});
