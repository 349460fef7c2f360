/**
 * Directories the user names (`render --out`, `--keys`, `vault --dir`) are made one component at
 * a time (src/util/mkdirs.ts): a component that cannot be made is an exit-2 error naming it, and
 * a failed render leaves nothing behind. Node's recursive mkdir loops forever under /proc, so
 * every case runs the CLI with a timeout: a regression fails here instead of hanging the suite.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EXIT } from '../src/cli/io.js';
import { makeDirs } from '../src/util/mkdirs.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EXAMPLE = 'examples/proxmox-dual-bridge.yaml';
const TMP = mkdtempSync(join(tmpdir(), 'cordon-out-dirs-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

/** Well above a render of the example (seconds through tsx on a loaded machine); far below "forever". */
const TIMEOUT_MS = 30_000;

function cordon(args: readonly string[]) {
  const r = spawnSync(join(ROOT, 'bin/cordon'), args, {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: TIMEOUT_MS,
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '', CORDON_DEBUG: '', CORDON_VAULT_DIR: join(TMP, 'vault-default') },
  });
  assert.equal(r.error, undefined, `cordon ${args.join(' ')} did not finish within ${TIMEOUT_MS} ms (${String(r.error)})`);
  return { code: r.status, stderr: r.stderr };
}

/** A regular file: a directory path through it cannot be made. */
const FILE = join(TMP, 'a-file');
writeFileSync(FILE, 'x\n');

// nftables renders streaming (stageFiles), iptables whole (writeRendered): both write paths.
const TARGETS = ['nftables', 'iptables'] as const;

describe('render --out: a directory that cannot be made', () => {
  for (const target of TARGETS) {
    it(`${target}: under /proc, the component /proc refuses, promptly`, () => {
      const r = cordon(['render', EXAMPLE, '-t', target, '-o', '/proc/nonexistent/x']);
      assert.equal(r.code, EXIT.invalid, r.stderr);
      assert.match(r.stderr, /^cordon: --out: cannot create directory \/proc\/nonexistent: no such file or directory$/m);
    });

    it(`${target}: through a regular file, the first directory under it`, () => {
      const r = cordon(['render', EXAMPLE, '-t', target, '-o', join(FILE, 'x', 'y')]);
      assert.equal(r.code, EXIT.invalid, r.stderr);
      assert.ok(r.stderr.includes(`--out: cannot create directory ${join(FILE, 'x')}: a part of the path is not a directory`), r.stderr);
    });

    it(`${target}: a failed render leaves no directory it made`, () => {
      // `new/a` can be made, the name after it cannot (ENAMETOOLONG): `new` must be gone again.
      const base = join(TMP, `new-${target}`);
      const r = cordon(['render', EXAMPLE, '-t', target, '-o', join(base, 'a', 'n'.repeat(300))]);
      assert.equal(r.code, EXIT.invalid, r.stderr);
      assert.match(r.stderr, /--out: cannot create directory .*: the name is too long/);
      assert.equal(existsSync(base), false, `${base} left behind: ${existsSync(base) ? readdirSync(base, { recursive: true }).join(', ') : ''}`);
    });
  }

  it('a render refused by its diagnostics leaves no directory it made', () => {
    const base = join(TMP, 'refused');
    const r = cordon(['render', EXAMPLE, '-t', 'nftables', '--host', 'wg-client', '-o', join(base, 'out')]);
    assert.equal(r.code, EXIT.failed, r.stderr);
    assert.equal(existsSync(base), false);
  });
});

describe('other directories the user names', () => {
  it('render --keys under /proc', () => {
    const r = cordon(['render', EXAMPLE, '-t', 'wireguard', '--keys', '/proc/nonexistent/keys']);
    assert.equal(r.code, EXIT.invalid, r.stderr);
    assert.match(r.stderr, /--keys: cannot create directory \/proc\/nonexistent: no such file or directory/);
  });

  it('vault --dir under /proc', () => {
    const r = cordon(['vault', 'create', 's1', '--dir', '/proc/nonexistent/vault']);
    assert.equal(r.code, EXIT.invalid, r.stderr);
    assert.match(r.stderr, /cannot create directory \/proc\/nonexistent: no such file or directory/);
  });
});

describe('makeDirs', () => {
  it('makes each missing component, outermost first, with the mode; none when all are there', () => {
    const dir = join(TMP, 'm', 'n', 'o');
    assert.deepEqual(makeDirs(dir, 0o750), [join(TMP, 'm'), join(TMP, 'm', 'n'), dir]);
    assert.equal(statSync(dir).mode & 0o777, 0o750 & ~process.umask());
    assert.deepEqual(makeDirs(dir, 0o750), []);
  });

  it('a relative path stays relative in what it returns and in its error', () => {
    const rel = relative(process.cwd(), join(TMP, 'r'));
    assert.deepEqual(makeDirs(join(rel, 'x')), [rel, join(rel, 'x')]);
    const underFile = join(relative(process.cwd(), FILE), 'x');
    assert.throws(() => makeDirs(underFile), { code: 'ENOTDIR', syscall: 'mkdir', path: underFile });
  });

  it('the path itself a regular file: ENOTDIR on it', () => {
    assert.throws(() => makeDirs(FILE), { code: 'ENOTDIR', path: FILE });
  });
});
