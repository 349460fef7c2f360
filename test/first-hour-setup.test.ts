/**
 * The first hour on a fresh clone (issue 12, items 1, 2 and 6):
 *  - `make setup` checks Node.js first (scripts/check-node.sh): too old, missing, or without npm,
 *    it says what to install and fails, instead of failing later inside `npm ci`;
 *  - `make install` puts `cordon` on PATH (a link to bin/cordon) and `make uninstall` takes it
 *    away again, only when it is this checkout's link;
 *  - every package in package-lock.json supports the Node range package.json declares (no
 *    EBADENGINE from `npm ci`), and every dependency with an install script has an explicit
 *    allowScripts decision (no install-scripts warning from npm 11).
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string }; allowScripts?: Record<string, boolean> };
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { engines?: { node?: string } | string[]; hasInstallScript?: boolean; dev?: boolean; optional?: boolean }>;
};

const tmp = mkdtempSync(join(tmpdir(), 'cordon-firsthour-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A directory holding a fake `node` that prints VERSION (and a fake npm unless noNpm), plus the few tools the script uses. */
function fakeBin(name: string, version: string | undefined, opts: { noNpm?: boolean } = {}): string {
  const dir = join(tmp, name);
  mkdirSync(dir);
  for (const tool of ['sh', 'sed', 'head', 'dirname']) {
    const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    symlinkSync(found, join(dir, tool));
  }
  if (version !== undefined) writeFileSync(join(dir, 'node'), `#!/bin/sh\necho ${version}\n`, { mode: 0o755 });
  if (!opts.noNpm) writeFileSync(join(dir, 'npm'), '#!/bin/sh\necho 10.8.2\n', { mode: 0o755 });
  return dir;
}

function checkNode(bin: string): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(join(bin, 'sh'), [join(ROOT, 'scripts', 'check-node.sh')], { encoding: 'utf8', env: { PATH: bin } });
}

const MIN = /^>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(pkg.engines.node);

describe('make setup checks Node.js first (scripts/check-node.sh)', () => {
  it('package.json declares a plain minimum the check can read', () => {
    assert.ok(MIN, `engines.node is '${pkg.engines.node}', expected >=MAJOR[.MINOR]`);
  });
  it("Debian 12's Node 18: exit 1, says the minimum and how to install it", () => {
    const r = checkNode(fakeBin('node18', 'v18.19.0'));
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /Node\.js v18\.19\.0 .* is too old; cordon needs Node\.js >= 20/);
    assert.match(r.stderr, /Debian 12's own nodejs package is 18/);
    assert.match(r.stderr, /nodesource/i);
  });
  it('a Node 20 older than the declared minor is too old as well', () => {
    const r = checkNode(fakeBin('node20-0', 'v20.0.0'));
    assert.equal(r.status, MIN?.[2] !== undefined && Number(MIN[2]) > 0 ? 1 : 0, r.stderr);
  });
  it('no node at all: exit 1, says so', () => {
    const r = checkNode(fakeBin('none', undefined));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /Node\.js not found; cordon needs Node\.js >= 20/);
  });
  it('node without npm: exit 1, says npm is missing', () => {
    const r = checkNode(fakeBin('nonpm', 'v22.3.0', { noNpm: true }));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /npm is not/);
  });
  it('a new enough Node with npm passes and says which', () => {
    const r = checkNode(fakeBin('node22', 'v22.3.0'));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /Node\.js v22\.3\.0, npm 10\.8\.2/);
  });
  it('make setup runs the check before anything else (the Makefile wires it first)', () => {
    // Under `make test` this runs inside a make: without its MAKEFLAGS/MAKELEVEL (and with
    // --no-print-directory) the first line printed is the recipe's, not "make[1]: Entering directory".
    const env = { ...process.env };
    for (const k of ['MAKEFLAGS', 'MFLAGS', 'MAKELEVEL', 'MAKEOVERRIDES']) delete env[k];
    const r = spawnSync('make', ['--no-print-directory', '-n', 'setup'], { cwd: ROOT, encoding: 'utf8', env });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout.split('\n')[0] ?? '', /check-node\.sh/, r.stdout);
  });
});

describe('make install / uninstall: cordon on PATH', () => {
  const prefix = join(tmp, 'prefix');
  // -o setup -o build: only the link step; setup and build are what `make test` itself needs.
  const make = (...a: string[]) => spawnSync('make', ['-s', '-o', 'setup', '-o', 'build', ...a, `PREFIX=${prefix}`], { cwd: ROOT, encoding: 'utf8' });

  it('links PREFIX/bin/cordon to this checkout, and cordon runs from anywhere through the link', () => {
    const r = make('install');
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const link = join(prefix, 'bin', 'cordon');
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.equal(readlinkSync(link), join(ROOT, 'bin', 'cordon'));
    const v = spawnSync('cordon', ['--version'], { cwd: tmp, encoding: 'utf8', env: { ...process.env, PATH: `${join(prefix, 'bin')}:${process.env.PATH}` } });
    assert.equal(v.status, 0, v.stderr);
    assert.match(v.stdout, /^\d+\.\d+\.\d+/);
  });
  it('uninstall removes the link, and leaves a cordon that is not this checkout’s alone', () => {
    assert.equal(make('uninstall').status, 0);
    assert.equal(existsSync(join(prefix, 'bin', 'cordon')), false);
    writeFileSync(join(prefix, 'bin', 'cordon'), '#!/bin/sh\n');
    const r = make('uninstall');
    assert.notEqual(r.status, 0);
    assert.match(r.stdout + r.stderr, /not this checkout's link; left alone/);
    assert.ok(existsSync(join(prefix, 'bin', 'cordon')));
  });
});

/** Does `version` (x.y.z) satisfy an npm engines range? The forms package-locks use: ||, space-joined comparators, ^, ~, x, bare versions. */
export function satisfies(version: string, range: string): boolean {
  const v = version.split('.').map(Number) as [number, number, number];
  const cmp = (a: number[], b: number[]): number => a[0]! - b[0]! || a[1]! - b[1]! || a[2]! - b[2]!;
  const parts = (s: string): { nums: number[]; given: number } => {
    const p = s
      .replace(/^v/, '')
      .split('.')
      .filter((x) => x !== '' && x !== 'x' && x !== '*');
    return { nums: [Number(p[0] ?? 0), Number(p[1] ?? 0), Number(p[2] ?? 0)], given: p.length };
  };
  const one = (c: string): boolean => {
    const m = /^(>=|<=|>|<|=|\^|~)?\s*(.*)$/.exec(c.trim())!;
    const op = m[1] ?? '';
    const { nums, given } = parts(m[2]!);
    if (given === 0) return true;
    const upper = (i: number) => [...nums.slice(0, i), nums[i]! + 1, 0, 0].slice(0, 3);
    switch (op) {
      case '>=':
        return cmp(v, nums) >= 0;
      case '>':
        return cmp(v, nums) > 0;
      case '<=':
        return cmp(v, nums) <= 0;
      case '<':
        return cmp(v, nums) < 0;
      case '^':
        return cmp(v, nums) >= 0 && cmp(v, upper(nums[0]! > 0 || given === 1 ? 0 : 1)) < 0;
      case '~':
        return cmp(v, nums) >= 0 && cmp(v, upper(given === 1 ? 0 : 1)) < 0;
      default:
        // A bare version: as precise as it is written (`20` is every 20.x).
        return cmp(v, nums) >= 0 && cmp(v, upper(given - 1)) < 0;
    }
  };
  return range.split('||').some((alt) =>
    alt
      .trim()
      .replace(/(>=|<=|>|<|=|\^|~)\s+/g, '$1')
      .split(/\s+/)
      .every(one),
  );
}

describe('npm ci on the declared Node: no engine mismatch, no unreviewed install script', () => {
  it('the range reader agrees with npm on the forms the lockfile uses', () => {
    const table: [string, string, boolean][] = [
      ['20.17.0', '>=20', true],
      ['20.17.0', '>=22', false],
      ['20.17.0', '^20.17.0 || >=22.9.0', true],
      ['20.16.0', '^20.17.0 || >=22.9.0', false],
      ['20.17.0', '18 || 20 || >=22', true],
      ['21.0.0', '20 || >=22', false],
      ['20.17.0', '>=16 || 14 >=14.17', true],
      ['20.17.0', '>=0.6.11 <=0.7.0 || >=0.7.3', true],
      ['20.17.0', '^8.16.0 || ^10.6.0 || >=11.0.0', true],
      ['20.17.0', '>= 18.6.0', true],
      ['20.17.0', '~20.16.0', false],
    ];
    for (const [v, r, want] of table) assert.equal(satisfies(v, r), want, `${v} in '${r}'`);
  });
  it('every package in package-lock.json runs on the lowest Node package.json admits, and on this one', () => {
    assert.ok(MIN);
    const lowest = `${MIN[1]}.${MIN[2] ?? 0}.${MIN[3] ?? 0}`;
    const current = process.version.slice(1);
    const bad: string[] = [];
    for (const [path, p] of Object.entries(lock.packages)) {
      const range = Array.isArray(p.engines) ? undefined : p.engines?.node;
      if (path === '' || range === undefined) continue;
      for (const v of [lowest, current]) if (!satisfies(v, range)) bad.push(`${path} needs node '${range}', not ${v}`);
    }
    assert.deepEqual(bad, [], `EBADENGINE under engines.node '${pkg.engines.node}':\n${bad.join('\n')}`);
  });
  it('every dependency with an install script is approved or denied in allowScripts', () => {
    const allow = pkg.allowScripts ?? {};
    const undecided = Object.entries(lock.packages)
      .filter(([path, p]) => path !== '' && p.hasInstallScript === true)
      .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length))
      .filter((name) => !Object.keys(allow).some((k) => k === name || k.startsWith(`${name}@`)));
    assert.deepEqual(undecided, [], 'npm 11 would warn about these install scripts: decide them in package.json allowScripts');
  });
});
