/**
 * The root path (`--host-netns NS`, and isolated with a memory limit) after a `kill -9` of
 * `cordon run`: what outlives cordon there by itself — the named namespace `cs<id>`, the veth's
 * host end and the NAT table `ip cordon_<id>` in the host namespace, the run's cgroups, the state
 * file — is removed at once by the run's reaper (src/sandbox/reaper.ts), without another cordon
 * run. As the rootless kill tests do (test/sandbox-rootless.test.ts), live, as root.
 *
 * Safety: the host namespace is one the test makes (`crr<hex>h`) and removes; the state directory
 * is a temp dir of the test's own (CORDON_SANDBOX_STATE_DIR), so other runs on the machine are
 * neither seen nor cleaned by this run's reaper.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { requireOrSkip } from './support/require-env.js';
import { sandboxNames } from '../src/model/names.js';

const CORDON = fileURLToPath(new URL('../bin/cordon', import.meta.url));

function skipReason(): string | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'needs root (the root path: named namespaces, veth, NAT)';
  for (const b of ['bwrap', 'nft', 'ip', 'setpriv', 'unshare'])
    if (spawnSync('sh', ['-c', `command -v ${b}`]).status !== 0) return `needs ${b} (make setup installs it)`;
  return undefined;
}
const SKIP = requireOrSkip('cordon run root path, kill -9 (live)', skipReason());

/** Every descendant of `pid` (from /proc/PID/task/PID/children). */
function tree(pid: number): number[] {
  const out: number[] = [];
  const walk = (p: number): void => {
    out.push(p);
    let kids: number[] = [];
    try {
      kids = readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      // gone
    }
    for (const k of kids) walk(k);
  };
  walk(pid);
  return out;
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
  } catch {
    return false;
  }
}

describe('cordon run as root: kill -9 of cordon, the reaper removes what the run made at once', { skip: SKIP }, () => {
  const P = `crr${randomBytes(2).toString('hex')}`;
  const H = `${P}h`;
  const state = mkdtempSync(join(tmpdir(), 'cordon-root-reaper-state-'));
  const work = mkdtempSync(join(tmpdir(), 'cordon-root-reaper-work-'));

  before(() => {
    const r = spawnSync('ip', ['netns', 'add', H]);
    assert.equal(r.status, 0, r.stderr.toString());
  });
  after(() => {
    spawnSync('ip', ['netns', 'del', H]);
    rmSync(state, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  const netns = (): string[] =>
    spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .stdout.split('\n')
      .map((l) => l.split(' ')[0]!)
      .filter(Boolean);

  /** What the run with this id has in the machine: namespaces, host-side link and table, cgroups, state file. */
  function traces(id: string): string[] {
    const n = sandboxNames(id);
    const out: string[] = [];
    if (netns().includes(n.netns)) out.push(`netns ${n.netns}`);
    if (spawnSync('ip', ['-n', H, 'link', 'show', n.vethHost]).status === 0) out.push(`link ${n.vethHost} in ${H}`);
    if (spawnSync('ip', ['netns', 'exec', H, 'nft', 'list', 'table', 'ip', n.hostTable]).status === 0) out.push(`nft table ip ${n.hostTable} in ${H}`);
    for (const c of ['memory', 'pids', 'cpu', 'unified', '']) if (existsSync(join('/sys/fs/cgroup', c, n.cgroup))) out.push(`cgroup ${c}/${n.cgroup}`);
    for (const f of readdirSync(state)) out.push(`state file ${f}`);
    return out;
  }

  const CASES: { readonly name: string; readonly flags: string[]; readonly made: (id: string) => string[] }[] = [
    {
      name: 'filtered, --host-netns',
      flags: ['--host-netns', H, '--allow', '198.51.100.10:7001'],
      made: (id) => {
        const n = sandboxNames(id);
        return [`netns ${n.netns}`, `link ${n.vethHost} in ${H}`, `nft table ip ${n.hostTable} in ${H}`];
      },
    },
    {
      name: 'isolated with --memory (a cgroup)',
      flags: ['--memory', '256m'],
      made: (id) => [`cgroup memory/${sandboxNames(id).cgroup}`],
    },
  ];

  for (const k of CASES) {
    it(`${k.name}: namespace, host link, NAT table, cgroup and state file are gone without another run`, async () => {
      const started = join(work, 'started');
      rmSync(started, { force: true });
      assert.deepEqual(readdirSync(state), [], 'no state file before the run');
      // bin/cordon execs node, so the PID spawn returns is cordon's own.
      const c = spawn(CORDON, ['run', '-q', '--workdir', work, ...k.flags, '--', 'sh', '-c', 'touch started; sleep 60'], {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, CORDON_SANDBOX_STATE_DIR: state },
      });
      let err = '';
      c.stderr.on('data', (d: Buffer) => (err += d.toString()));
      for (let i = 0; i < 600 && !existsSync(started) && c.exitCode === null; i++) await new Promise((res) => setTimeout(res, 50));
      assert.ok(existsSync(started), `the command started: ${err}`);
      const files = readdirSync(state);
      assert.equal(files.length, 1, `one state file: ${files.join(' ')}`);
      const id = files[0]!.replace(/\.json$/, '');
      const during = traces(id);
      for (const m of k.made(id)) assert.ok(during.includes(m), `${m} exists during the run: ${during.join(', ')}`);
      const procs = tree(c.pid!);
      const cmds = procs.map((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ');
        } catch {
          return '';
        }
      });
      assert.ok(
        cmds.some((x) => x.startsWith('sleep 60')),
        `the command runs: ${cmds.join(' | ')}`,
      );
      // The reaper is detached (a session of its own), so not in cordon's tree: found by its name and state dir.
      c.kill('SIGKILL');
      await new Promise((res) => (c.exitCode !== null || c.signalCode !== null ? res(undefined) : c.once('exit', res)));
      const left = (): string[] => [...traces(id), ...procs.filter((p) => p !== c.pid && alive(p)).map((p) => `process ${p}`)];
      // The reaper's Node (through tsx when dist/ is stale) takes a moment on a loaded machine.
      let now = left();
      for (let i = 0; i < 400 && now.length > 0; i++) {
        await new Promise((res) => setTimeout(res, 50));
        now = left();
      }
      assert.deepEqual(now, [], 'left behind after kill -9');
    });
  }
});
