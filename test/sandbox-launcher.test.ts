/**
 * The fast launcher of `cordon run -- CMD` (src/sandbox/launcher.ts, sourced by bin/cordon) gives
 * exactly the sandbox the Node path gives: live, as uid 65534, the same probes run under both
 * paths and their answers are compared whole — the mounts the command sees (mount points, types,
 * options), what a list of paths shows (secrets, cordon's state, the work dir), the environment,
 * the network (interfaces, addresses, routes), capabilities (CapEff/CapBnd…), seccomp (status and
 * a refused user namespace), the uid — and so are cordon's own lines (start, summary, a denied
 * attempt's report) and the exit code. The home the runs use holds secrets of every kind the
 * shell has to handle (directory, file, symlink to elsewhere, a secret holding the work dir),
 * and the environment a token, a locale variable and a value that imitates `export -p` output.
 *
 * Each run uses a copy of bin/cordon in a directory of the test's own, beside the launcher built
 * there by the build step's own function (writeLauncher) and a dist/cli/main.js that runs the CLI
 * from src/ and leaves a mark: so the test also sees which path ran (no mark: no Node).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireOrSkip } from './support/require-env.js';
import { writeLauncher } from '../src/cli/fast-build.js';
import { launcherScript, MARK } from '../src/sandbox/launcher.js';
import { launcherText } from '../src/cli/fast-build.js';
import { seccompArch } from '../src/sandbox/seccomp/bpf.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const NOBODY = 65534;

function skipReason(): string | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'needs root (to run cordon as uid 65534 with a home of the test)';
  for (const b of ['bwrap', 'nft', 'ip', 'unshare', 'setpriv', 'awk'])
    if (spawnSync('sh', ['-c', `command -v ${b}`]).status !== 0) return `needs ${b} (make setup installs it)`;
  if (seccompArch() === undefined) return `no seccomp table for ${process.arch}`;
  const u = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'unshare', '--user', '--map-root-user', '--net', 'true']);
  if (u.status !== 0) return `unprivileged user namespaces do not work here: ${u.stderr.toString().trim()}`;
  return undefined;
}

describe('the fast launcher, built', () => {
  it('takes every policy part from the plan code: the inline network script, the bwrap flags, the lists', () => {
    const arch = seccompArch() ?? 'x86_64';
    const s = launcherScript({ arch, seccompFile: 'f.bpf', report: 'r.js', text: launcherText() });
    assert.ok(s.includes('table inet cordon_sbx {') && s.includes('CORDON_NFT'), 'the inline script with the egress policy');
    assert.match(s, /'--cap-drop' 'ALL'/);
    assert.match(s, /'--seccomp' '5' '--chdir' "\$_c_wd" '--'/);
    assert.match(s, /\.ssh\n\.gnupg\n/, "hidden.ts's per-home list");
    assert.match(s, /PATH\|HOME\|USER\|LOGNAME/, "env.ts's allowlist");
    assert.ok(!s.includes('\u0001'), 'no mark is left in the script');
  });

  it("the summary templates are the CLI's summary with the run-time values as marks", () => {
    const t = launcherText();
    assert.equal(t.start, `cordon run: sandbox ${MARK.id}: isolated (rootless)\n`);
    assert.equal(
      t.summary.wnhn,
      `cordon run: exit ${MARK.rc} · out 0 pkt/0 B · in 0 pkt/0 B\ncordon run: env: ${MARK.passed} passed, ${MARK.withheld} withheld (--env NAME passes one) · ${MARK.hidden} secret paths hidden\n`,
    );
    assert.match(t.summary.w0h1, /0 withheld · 1 secret path hidden\n$/);
  });
});

const SKIP = requireOrSkip('cordon run fast launcher (live)', skipReason());

describe('cordon run -- CMD: the fast launcher and the Node path give the same sandbox', { skip: SKIP }, () => {
  const base = mkdtempSync(join(tmpdir(), 'cordon-launcher-'));
  const root = join(base, 'root');
  const home = join(base, 'home');
  const mark = join(base, 'node-ran');
  /** Left by dist/cli/fast-report.js: the launcher asked Node to report. */
  const reported = join(base, 'report-ran');
  const work = join(home, 'project');
  const inSecret = join(home, '.config', 'gh', 'work');
  const elsewhere = join(base, 'aws-real');

  before(() => {
    chmodSync(base, 0o755);
    mkdirSync(join(root, 'bin'), { recursive: true });
    mkdirSync(join(root, 'dist', 'cli'), { recursive: true });
    writeFileSync(join(root, 'bin', 'cordon'), readFileSync(join(REPO, 'bin', 'cordon')));
    chmodSync(join(root, 'bin', 'cordon'), 0o755);
    const tsx = join(REPO, 'node_modules', 'tsx', 'dist', 'esm', 'api', 'index.mjs');
    // dist/cli/*.js of this root run the sources (no build needed); main.js leaves the mark.
    writeFileSync(
      join(root, 'dist', 'cli', 'main.js'),
      `import { writeFileSync } from 'node:fs';\nimport { register } from ${JSON.stringify(tsx)};\nregister();\nwriteFileSync(${JSON.stringify(mark)}, '');\nconst { main } = await import(${JSON.stringify(join(REPO, 'src', 'cli', 'main.ts'))});\nprocess.exitCode = await main(process.argv.slice(2));\n`,
    );
    writeFileSync(
      join(root, 'dist', 'cli', 'fast-report.js'),
      `import { writeFileSync } from 'node:fs';\nimport { register } from ${JSON.stringify(tsx)};\nregister();\nwriteFileSync(${JSON.stringify(reported)}, '');\nawait import(${JSON.stringify(join(REPO, 'src', 'cli', 'fast-report.ts'))});\n`,
    );
    // After dist/cli, as make build does: bin/cordon uses no launcher older than the CLI.
    assert.ok(writeLauncher(join(root, 'dist', 'fast')));
    // The home: secrets as a directory, a file, a symlink to a directory elsewhere, one holding a work dir; cordon's own state.
    for (const d of [join(home, '.ssh'), work, inSecret, elsewhere, join(home, '.local', 'share', 'cordon', 'vault'), join(base, 'vaultdir')])
      mkdirSync(d, { recursive: true });
    writeFileSync(join(home, '.ssh', 'id_ed25519'), 'PRIVATE');
    writeFileSync(join(home, '.gitconfig'), '[user]\n');
    writeFileSync(join(home, '.netrc'), 'machine x password y\n');
    writeFileSync(join(elsewhere, 'credentials'), 'AKIA');
    symlinkSync(elsewhere, join(home, '.aws'));
    writeFileSync(join(home, 'agent.sock'), '');
    writeFileSync(join(work, 'visible.txt'), 'ok');
    for (const p of [base, root, home]) spawnSync('chown', ['-R', `${NOBODY}:${NOBODY}`, p]);
  });
  after(() => rmSync(base, { recursive: true, force: true }));

  /** What the command sees, one line each; the paths are probed for existence, kind and content. */
  const PROBED = [
    '/etc/shadow',
    '/etc/passwd',
    '/run/user',
    '/run/dbus',
    '/run/cordon',
    join(home, '.ssh'),
    join(home, '.ssh', 'id_ed25519'),
    join(home, '.gitconfig'),
    join(home, '.netrc'),
    join(home, '.aws'),
    join(elsewhere, 'credentials'),
    join(home, 'agent.sock'),
    join(home, '.local', 'share', 'cordon'),
    join(base, 'vaultdir'),
    join(work, 'visible.txt'),
    inSecret,
  ];
  const probe = [
    'echo "uid $(id -u)"',
    "grep -E '^(Cap|Seccomp|NoNewPrivs)' /proc/self/status",
    'echo "userns $(unshare --user true 2>/dev/null && echo allowed || echo refused)"',
    // Named network namespaces come and go with other work on the machine between the two runs.
    "awk '$5 !~ /^\\/run\\/netns\\// { print $5, $9, $6 }' /proc/self/mountinfo | sort",
    `for p in ${PROBED.map((p) => `'${p}'`).join(' ')}; do if [ -d "$p" ]; then echo "$p dir $(ls -A "$p" 2>&1 | tr '\\n' ,)"; elif [ -e "$p" ]; then echo "$p file $(cat "$p" 2>&1 | head -c 40)"; else echo "$p none"; fi; done`,
    'env | sort',
    // Without the veth pair's random MAC addresses.
    'ip -o link | sed -e "s/^[0-9]*: //" -e "s/link\\/ether [0-9a-f:]*//"',
    'ip -o -4 addr | sed "s/^[0-9]*: //"',
    'ip route',
    'echo > /dev/null > "$PWD/wrote" && echo "workdir writable"; rm -f "$PWD/wrote"',
    'touch /usr/x 2>/dev/null && echo "root writable" || echo "root read-only"',
  ].join('\n');

  interface Out {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
    readonly node: boolean;
    /** The launcher handed the report to Node (something counted, or the set-up failed). */
    readonly report: boolean;
  }

  /** `cordon run -- CMD` as uid 65534 in `cwd`; `node` forces the Node path. */
  function run(cmd: readonly string[], opts: { node: boolean; cwd?: string; env?: Record<string, string> }): Out {
    rmSync(mark, { force: true });
    rmSync(reported, { force: true });
    const env: Record<string, string> = {
      PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin',
      HOME: home,
      USER: 'nobody',
      LANG: 'C.UTF-8',
      LC_ALL: 'C',
      GITHUB_TOKEN: 'ghp_secret',
      // A value that imitates `export -p` output: its second line must not become a variable.
      SPOOF: "x'\nexport LC_SPOOF='1",
      SSH_AUTH_SOCK: join(home, 'agent.sock'),
      CORDON_VAULT_DIR: join(base, 'vaultdir'),
      CORDON_SANDBOX_STATE_DIR: join(base, 'state'),
      CORDON_RUN_NODE: opts.node ? '1' : '',
      // A name bin/cordon uses itself: the caller's is withheld from the sandbox, the launcher still works.
      ROOT: '/caller/root',
      ...opts.env,
    };
    const r = spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', join(root, 'bin', 'cordon'), 'run', '--', ...cmd], {
      cwd: opts.cwd ?? work,
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    return {
      code: r.status ?? -1,
      stdout: r.stdout,
      stderr: r.stderr.replace(/sandbox [0-9a-f]{6}:/g, 'sandbox ID:'),
      node: existsSync(mark),
      report: existsSync(reported),
    };
  }

  function same(cmd: readonly string[], opts: { cwd?: string; env?: Record<string, string> } = {}): { fast: Out; node: Out } {
    const fast = run(cmd, { ...opts, node: false });
    const node = run(cmd, { ...opts, node: true });
    assert.equal(node.node, true, 'CORDON_RUN_NODE=1 runs Node');
    assert.equal(fast.node, false, `the fast path ran without Node: ${fast.stderr}`);
    assert.equal(fast.stdout, node.stdout, 'what the command saw');
    assert.equal(fast.stderr, node.stderr, "cordon's lines");
    assert.equal(fast.code, node.code, 'the exit code');
    return { fast, node };
  }

  it('the probes see the same sandbox: mounts, hidden paths, env, network, capabilities, seccomp, uid', () => {
    const { fast } = same(['sh', '-c', probe]);
    assert.equal(fast.report, false, 'nothing counted: the launcher printed the summary itself');
    // The comparison is about a real sandbox: what it shows is what cordon promises.
    const out = fast.stdout;
    if (process.env.SHOW_PROBES) process.stderr.write(out);
    assert.match(out, /^uid 0$/m, 'root of its own user namespace only');
    assert.match(out, /^CapEff:\s+0+$/m);
    assert.match(out, /^CapBnd:\s+0+$/m);
    assert.match(out, /^Seccomp:\s+2$/m);
    assert.match(out, /^userns refused$/m);
    assert.match(out, new RegExp(`^${join(home, '.ssh')} dir $`, 'm'), '~/.ssh is an empty directory');
    // /dev/null bound over it, on a nodev mount: nothing to read.
    assert.match(out, new RegExp(`^${join(home, '.gitconfig')} file (cat: .*)?$`, 'm'), '~/.gitconfig is there, empty');
    assert.doesNotMatch(out, /\[user\]|password y|PRIVATE|AKIA/, "no secret's content");
    assert.match(out, new RegExp(`^${join(elsewhere, 'credentials')} none$`, 'm'), "a symlinked secret's target is hidden too");
    assert.match(out, new RegExp(`^${join(base, 'vaultdir')} dir $`, 'm'), "CORDON_VAULT_DIR's directory is hidden");
    assert.match(out, new RegExp(`^${join(work, 'visible.txt')} file ok$`, 'm'), 'the work dir is there');
    assert.match(out, /^\/etc\/shadow file (cat: .*)?$/m);
    assert.match(out, /^LC_ALL=C$/m);
    assert.doesNotMatch(out, /GITHUB_TOKEN|SPOOF|LC_SPOOF|SSH_AUTH_SOCK|CORDON_/, 'tokens and the rest stay outside');
    assert.doesNotMatch(out, /^(eth|ens|veth)/m, 'no interface to the outside');
    assert.match(out, /^workdir writable$/m);
    assert.match(out, /^root read-only$/m);
    assert.match(fast.stderr, /^cordon run: env: 5 passed, \d+ withheld \(--env NAME passes one\) · \d+ secret paths hidden$/m);
  });

  it('a work dir inside a secret: that secret stays visible on both paths (the user chose it)', () => {
    const { fast } = same(['sh', '-c', 'ls -A; pwd'], { cwd: inSecret });
    assert.match(fast.stdout, new RegExp(`^${inSecret}$`, 'm'));
  });

  it('a denied attempt: the same report (through Node, from the same table), the same exit code', () => {
    const { fast } = same([
      'sh',
      '-c',
      'ip route get 198.51.100.7 >/dev/null; (exec 3<>/dev/tcp/198.51.100.7/443) 2>/dev/null; bash -c "echo > /dev/tcp/198.51.100.7/443" 2>/dev/null; exit 7',
    ]);
    assert.equal(fast.code, 7);
    assert.equal(fast.report, true, 'a denied attempt: Node reports it');
    assert.match(fast.stderr, /1 denied destination:\n {2}✗ tcp 198\.51\.100\.7:443/);
  });

  it('exit codes and a command that is not there, summarised by the launcher itself', () => {
    for (const cmd of [['sh', '-c', 'exit 3'], ['sh', '-c', 'kill -TERM $$'], ['/nonexistent/cmd']]) {
      const { fast } = same(cmd);
      assert.equal(fast.report, false, `${cmd.join(' ')}: no Node`);
    }
  });

  /** Every descendant of `pid`. */
  function tree(pid: number): number[] {
    let kids: number[] = [];
    try {
      kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      // gone
    }
    return [pid, ...kids.flatMap(tree)];
  }
  const alive = (pid: number): boolean => {
    try {
      const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return !/^[ZX]/.test(st.slice(st.lastIndexOf(')') + 2));
    } catch {
      return false;
    }
  };

  /**
   * Starts `sleep 60` in the sandbox, then sends `sig` (to cordon's process group, as a terminal's
   * Ctrl-C does; SIGKILL to cordon alone); resolves with the exit, cordon's lines, and the processes of the run left.
   */
  async function interrupt(
    node: boolean,
    sig: NodeJS.Signals,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; left: number[] }> {
    const started = join(work, 'started');
    rmSync(started, { force: true });
    rmSync(mark, { force: true });
    const c = spawn(
      'setpriv',
      [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', join(root, 'bin', 'cordon'), 'run', '--', 'sh', '-c', 'touch started; exec sleep 60'],
      {
        cwd: work,
        env: { PATH: '/usr/bin:/bin:/usr/sbin:/sbin', HOME: home, CORDON_RUN_NODE: node ? '1' : '' },
        stdio: ['ignore', 'ignore', 'pipe'],
        detached: true,
      },
    );
    let stderr = '';
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => c.on('exit', (code, signal) => res({ code, signal })));
    for (let i = 0; i < 600 && !existsSync(started); i++) await new Promise((res) => setTimeout(res, 50));
    assert.ok(existsSync(started), `the command started: ${stderr}`);
    assert.equal(existsSync(mark), node, node ? 'the Node path' : 'the fast path, no Node');
    const procs = tree(c.pid!);
    assert.ok(procs.length >= 3, `the run's processes: ${procs.join(' ')}`);
    if (sig === 'SIGKILL') c.kill(sig);
    else process.kill(-c.pid!, sig);
    const end = await exited;
    let left = procs.filter(alive);
    for (let i = 0; i < 100 && left.length > 0; i++) {
      await new Promise((res) => setTimeout(res, 50));
      left = procs.filter(alive);
    }
    return { ...end, stderr: stderr.replace(/sandbox [0-9a-f]{6}/g, 'sandbox ID'), left };
  }

  it('kill -9 of cordon: the command and every process of the run die with it, as on the Node path', async () => {
    const fast = await interrupt(false, 'SIGKILL');
    assert.equal(fast.signal, 'SIGKILL');
    assert.deepEqual(fast.left, [], 'processes left behind');
  });

  it("Ctrl-C (SIGINT to cordon's process group): the same exit code and message as the Node path, nothing left", async () => {
    const fast = await interrupt(false, 'SIGINT');
    const node = await interrupt(true, 'SIGINT');
    assert.deepEqual(fast.left, [], 'processes left behind (fast)');
    assert.deepEqual(node.left, [], 'processes left behind (Node)');
    assert.equal(fast.code, 130);
    assert.equal(fast.code, node.code);
    assert.equal(fast.stderr, node.stderr);
  });

  it('what it does not handle goes to Node, with Node’s answer: a system work dir, an unnormalised HOME, a launcher-named variable, a stale state file', () => {
    const sysdir = run(['true'], { node: false, cwd: '/etc' });
    assert.equal(sysdir.node, true, 'a refused work dir: Node');
    assert.equal(sysdir.code, 2);
    assert.match(sysdir.stderr, /\/etc is a system directory/);
    const slash = run(['true'], { node: false, env: { HOME: `${home}/` } });
    assert.equal(slash.node, true, 'HOME with a trailing slash: Node');
    assert.equal(slash.code, 0, slash.stderr);
    const own = run(['true'], { node: false, env: { _c_wd: '/x' } });
    assert.equal(own.node, true, "a variable named like the launcher's own: Node");
    assert.equal(own.code, 0, own.stderr);
    mkdirSync(join(base, 'state'), { recursive: true });
    // A run whose owner is gone (no such PID): what a kill -9 leaves when no reaper ran.
    writeFileSync(join(base, 'state', 'abcdef.json'), JSON.stringify({ id: 'abcdef', ownerPid: 2 ** 22 + 1, ownerStart: '1', cgroups: [], publishPids: [] }));
    spawnSync('chown', ['-R', `${NOBODY}:${NOBODY}`, join(base, 'state')]);
    try {
      const stale = run(['true'], { node: false });
      assert.equal(stale.node, true, "a dead run's state file: Node cleans it up");
    } finally {
      rmSync(join(base, 'state'), { recursive: true, force: true });
    }
  });
});
