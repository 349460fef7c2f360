/**
 * `cordon run`'s own boundaries (issue 10, part 2): what the sandbox hides (cordon's state, the
 * machine's and the user's secrets), which environment passes, which binds are refused, the seccomp
 * filter, and that the command dies with cordon (kill -9 included) and its vault mount is removed by
 * the next invocation. Pure checks first; the live ones need root, bwrap, nft, ip, perl.
 */
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { vault } from '../src/index.js';
import { AUDIT_ARCH, blockedNumbers, ENOSYS, EPERM, evaluate, RET_ALLOW, RET_KILL_PROCESS, retErrno, seccompFilter } from '../src/sandbox/seccomp/bpf.js';
import { BLOCKED, CLONE_NEWUSER } from '../src/sandbox/seccomp/policy.js';
import { SYSCALL_NAMES, SYSCALLS } from '../src/sandbox/seccomp/syscalls.generated.js';
import { parseEnvPass, sandboxEnv } from '../src/sandbox/env.js';
import { refuseBind } from '../src/sandbox/paths.js';
import { homeOf, outermost, secretCandidates, stateCandidates, type HiddenContext } from '../src/sandbox/hidden.js';
import { DIE_WITH_CORDON, planSandbox, SECCOMP_FD } from '../src/sandbox/plan.js';
import { cleanupStale, resolveOptions, SandboxError, type SandboxInput } from '../src/sandbox/run.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CORDON = join(ROOT, 'bin', 'cordon');
const TMP = mkdtempSync(join(tmpdir(), 'cordon-sbxsec-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

describe('seccomp filter (pure)', () => {
  for (const arch of Object.keys(AUDIT_ARCH)) {
    it(`${arch}: every blocked call → EPERM, clone3 → ENOSYS, new user namespaces refused unless allowed, a foreign arch is killed`, () => {
      const prog = seccompFilter({ arch });
      const a = AUDIT_ARCH[arch]!;
      const t = SYSCALLS[arch]!;
      const blocked = blockedNumbers(arch);
      assert.ok(blocked.length >= 40, `${blocked.length} blocked calls`);
      for (const g of BLOCKED) for (const c of g.calls) if (t[c] !== undefined) assert.equal(evaluate(prog, { arch: a, nr: t[c] }), retErrno(EPERM), c);
      assert.equal(evaluate(prog, { arch: a, nr: t.clone3! }), retErrno(ENOSYS));
      for (const c of ['clone', 'unshare'] as const) {
        assert.equal(evaluate(prog, { arch: a, nr: t[c]!, arg0: CLONE_NEWUSER | 17 }), retErrno(EPERM), `${c}(CLONE_NEWUSER)`);
        assert.equal(evaluate(prog, { arch: a, nr: t[c]!, arg0: 0x00020000 }), RET_ALLOW, `${c} without CLONE_NEWUSER`);
        assert.equal(evaluate(seccompFilter({ arch, allowUserns: true }), { arch: a, nr: t[c]!, arg0: CLONE_NEWUSER }), RET_ALLOW, `${c} with --allow-userns`);
      }
      assert.equal(evaluate(prog, { arch: a, nr: t.getpid! }), RET_ALLOW, 'getpid');
      assert.equal(evaluate(prog, { arch: 0x40000003 /* i386 */, nr: t.getpid! }), RET_KILL_PROCESS);
      if (arch === 'x86_64') assert.equal(evaluate(prog, { arch: a, nr: 0x40000000 | t.getpid! }), retErrno(EPERM), 'x32 ABI');
      assert.deepEqual(seccompFilter({ arch }), prog, 'deterministic');
    });
  }

  it('the committed syscall table is what libseccomp says (scripts/gen-seccomp-table.sh)', (t) => {
    if (spawnSync('sh', ['-c', 'command -v scmp_sys_resolver']).status !== 0) return t.skip('scmp_sys_resolver not installed (apt-get install seccomp)');
    for (const arch of Object.keys(SYSCALLS)) {
      for (const name of SYSCALL_NAMES) {
        const r = spawnSync('scmp_sys_resolver', ['-a', arch, name], { encoding: 'utf8' });
        const n = Number(r.stdout.trim());
        assert.equal(SYSCALLS[arch]![name], n >= 0 ? n : undefined, `${arch} ${name}`);
      }
    }
  });
});

describe('sandbox environment, binds, hidden paths (pure)', () => {
  it('environment: a small allowlist by default; --env NAME / NAME=VALUE adds; --env-all passes everything; counts, no values', () => {
    const host = {
      PATH: '/bin',
      HOME: '/root',
      LANG: 'C.UTF-8',
      LC_ALL: 'C',
      TERM: 'xterm',
      TZ: 'UTC',
      OPENAI_API_KEY: 'sk-x',
      AWS_SECRET_ACCESS_KEY: 'a',
      GITHUB_TOKEN: 'g',
      SUDO_USER: 'u',
    };
    const d = sandboxEnv(host, [], false);
    assert.deepEqual(Object.keys(d.env).sort(), ['HOME', 'LANG', 'LC_ALL', 'PATH', 'TERM', 'TZ']);
    assert.deepEqual([d.passed, d.withheld], [6, 4]);
    const e = sandboxEnv(
      host,
      [parseEnvPass('OPENAI_API_KEY') as { name: string }, parseEnvPass('MODE=a=b') as { name: string; value: string }, { name: 'UNSET' }],
      false,
    );
    assert.equal(e.env.OPENAI_API_KEY, 'sk-x');
    assert.equal(e.env.MODE, 'a=b');
    assert.equal('UNSET' in e.env, false);
    assert.equal(e.env.GITHUB_TOKEN, undefined);
    assert.deepEqual([e.passed, e.withheld], [8, 3]);
    const all = sandboxEnv(host, [], true);
    assert.deepEqual([all.passed, all.withheld], [10, 0]);
    for (const text of ['1BAD', 'A-B=1']) {
      const r = parseEnvPass(text);
      assert.ok(typeof r === 'string', `${text} is refused`);
      assert.match(r, /not a variable name/);
    }
  });

  it('binds: / and system directories are refused for --ro/--rw/--workdir; the work dir and paths outside the system tree are not', () => {
    const table: [string, boolean][] = [
      ['/', false],
      ['/etc', false],
      ['/etc/cron.d', false],
      ['/usr/lib', false],
      ['/proc', false],
      ['/run', false],
      ['/var', false],
      ['/var/lib/x', false],
      ['/var/tmp', false],
      ['/var/tmp/cache', true],
      ['/home/u/proj', true],
      ['/srv/agent', true],
      ['/opt/models', true],
      ['/tmp/x', true],
    ];
    for (const [p, ok] of table) assert.equal(refuseBind('--rw', p, p) === undefined, ok, p);
    assert.match(refuseBind('--rw', '/', '/')!, /--rw \/: refusing to bind the whole root/);
    assert.match(refuseBind('--ro', '/etc/ssh', 'x')!, /inside the system directory \/etc/);
  });

  it("hidden paths: cordon's state from every place cordon keeps it; secrets per home (SUDO_USER's too)", () => {
    const ctx: HiddenContext = {
      homes: ['/root', '/home/ann'],
      env: { CORDON_VAULT_DIR: '/srv/vault', CORDON_STATE_DIR: 'state', SSH_AUTH_SOCK: '/run/user/1000/ssh.sock' },
      dirs: ['/work/p'],
      etcSsh: ['ssh_host_ed25519_key', 'ssh_host_ed25519_key.pub', 'sshd_config'],
      tmpEntries: ['/tmp/cordon-vault-abc123-XyZ', '/tmp/other', '/dev/shm/cordon-vault-q'],
      vaultPaths: ['/keys/master.key'],
    };
    const state = stateCandidates(ctx);
    for (const p of [
      '/run/cordon',
      '/run/cordon-lab',
      '/root/.local/share/cordon',
      '/home/ann/.local/share/cordon',
      '/work/p/.cordon',
      '/srv/vault',
      '/work/p/state',
      '/keys/master.key',
      '/tmp/cordon-vault-abc123-XyZ',
      '/dev/shm/cordon-vault-q',
    ]) {
      assert.ok(state.includes(p), p);
    }
    assert.ok(!state.includes('/tmp/other'));
    const secrets = secretCandidates(ctx);
    for (const p of [
      '/etc/shadow',
      '/etc/gshadow',
      '/etc/ssh/ssh_host_ed25519_key',
      '/home/ann/.bash_history',
      '/root/.zsh_history',
      '/home/ann/.aws',
      '/home/ann/.config/gcloud',
      '/home/ann/.docker',
      '/home/ann/.kube',
      '/home/ann/.git-credentials',
      '/home/ann/.gitconfig',
      '/home/ann/.config/gh',
      '/home/ann/.npmrc',
      '/home/ann/.pypirc',
      '/home/ann/.cargo/credentials.toml',
      '/home/ann/.password-store',
      '/home/ann/.mozilla',
      '/home/ann/.config/google-chrome',
      '/run/user/1000/ssh.sock',
      '/run/docker.sock',
    ]) {
      assert.ok(secrets.includes(p), p);
    }
    assert.ok(!secrets.includes('/etc/ssh/ssh_host_ed25519_key.pub'));
    assert.deepEqual(outermost(['/run/user', '/run/user/1000/ssh.sock', '/a/b', '/a/bc']), ['/a/b', '/a/bc', '/run/user']);
    assert.equal(homeOf('root:x:0:0:root:/root:/bin/bash\nann:x:1000:1000::/home/ann:/bin/sh\n', 'ann'), '/home/ann');
  });
});

/** A home with secrets and a vault, and a work dir with apply state, for resolveOptions and the live tests. */
function fakeHome(): { home: string; work: string } {
  const home = join(TMP, `home-${randomBytes(3).toString('hex')}`);
  const work = join(home, 'proj');
  for (const d of ['.aws', '.ssh', '.config/gh', 'proj/.cordon/apply/lab', 'proj/.cordon/keys/x']) mkdirSync(join(home, d), { recursive: true });
  const files: [string, string][] = [
    ['.bash_history', 'export OPENAI_API_KEY=sk-history'],
    ['.aws/credentials', '[default]\naws_secret_access_key=x'],
    ['.ssh/id_ed25519', 'PRIVATE'],
    ['.gitconfig', '[user]\nname = t'],
    ['.config/gh/hosts.yml', 'oauth_token: gho_x'],
    ['.npmrc', '//registry.npmjs.org/:_authToken=npm_x'],
    ['proj/.cordon/apply/lab/snapshot.nft', 'table'],
    ['proj/.cordon/keys/x/a.key', 'KEY'],
    ['proj/readme', 'hello'],
  ];
  for (const [f, text] of files) writeFileSync(join(home, f), text, { mode: 0o600 });
  vault.createSession('case-1', { root: join(home, '.local/share/cordon/vault') });
  vault.putFile('case-1', 'plan.txt', Buffer.from('the secret plan'), { root: join(home, '.local/share/cordon/vault') });
  return { home, work };
}

function withHome<T>(home: string, f: () => T): T {
  const was = process.env.HOME;
  process.env.HOME = home;
  try {
    return f();
  } finally {
    process.env.HOME = was;
  }
}

describe('sandbox options: refusals and the hidden list (resolveOptions)', () => {
  const refuses = (input: Partial<SandboxInput>, re: RegExp): void => {
    assert.throws(
      () => resolveOptions({ command: ['true'], ...input }),
      (e: unknown) => e instanceof SandboxError && re.test(e.message),
      JSON.stringify(input),
    );
  };

  it("refuses --rw /, system directories, and anything inside cordon's state, with the reason; --show cannot uncover state", () => {
    const { home, work } = fakeHome();
    withHome(home, () => {
      refuses({ workdir: work, rw: ['/'] }, /--rw \/: refusing to bind the whole root/);
      refuses({ workdir: work, rw: ['/etc'] }, /--rw \/etc: \/etc is a system directory/);
      refuses({ workdir: work, ro: ['/usr/lib'] }, /system directory/);
      refuses({ workdir: '/' }, /--workdir \/: refusing/);
      refuses({ workdir: '/var/lib' }, /--workdir \/var\/lib/);
      refuses({ workdir: work, ro: [join(home, '.local/share/cordon/vault')] }, /inside cordon's own state/);
      refuses({ workdir: join(home, '.local/share/cordon') }, /inside cordon's own state/);
      refuses({ workdir: work, rw: [join(work, '.cordon/keys')] }, /inside cordon's own state/);
      refuses({ workdir: work, show: [join(home, '.local/share/cordon/vault')] }, /never visible in a sandbox/);
      refuses({ workdir: work, show: [join(home, 'proj')] }, /not one of the hidden paths/);
      refuses({ workdir: work, ro: [join(home, '.ssh')] }, /hidden as a secret; add --show .*\.ssh/);
      assert.doesNotThrow(() => resolveOptions({ command: ['true'], workdir: work, ro: [join(home, '.ssh')], show: [join(home, '.ssh')] }));
    });
  });

  it('hides the state and secrets that exist; --show passes one back; the plan hides them after every bind', () => {
    const { home, work } = fakeHome();
    const opts = withHome(home, () => resolveOptions({ command: ['true'], workdir: work, ro: [home] }));
    const hidden = opts.hide.map((h) => h.path);
    for (const p of ['.local/share/cordon', 'proj/.cordon', '.bash_history', '.aws', '.ssh', '.gitconfig', '.config/gh', '.npmrc'])
      assert.ok(hidden.includes(join(home, p)), p);
    assert.ok(hidden.includes('/run/cordon'), 'sandbox state');
    if (existsSync('/etc/shadow')) assert.ok(hidden.includes('/etc/shadow'));
    const shown = withHome(home, () => resolveOptions({ command: ['true'], workdir: work, show: [join(home, '.gitconfig')] }));
    assert.ok(!shown.hide.some((h) => h.path === join(home, '.gitconfig')));
    assert.ok(shown.hide.some((h) => h.path === join(home, '.bash_history')));
    // --hide replaces the secret list, never the state list.
    const none = withHome(home, () => resolveOptions({ command: ['true'], workdir: work, hide: [] }));
    assert.ok(none.hide.some((h) => h.path === join(home, '.local/share/cordon')));
    assert.ok(!none.hide.some((h) => h.path === join(home, '.aws')));
    const plan = planSandbox(opts, 'abc123', undefined, 'none');
    const argv = plan.argv;
    assert.deepEqual(argv.slice(0, DIE_WITH_CORDON.length), DIE_WITH_CORDON, 'the first process dies with cordon');
    for (const f of ['--die-with-parent', '--cap-drop']) assert.ok(argv.includes(f), f);
    assert.equal(argv[argv.indexOf('--seccomp') + 1], String(SECCOMP_FD));
    const lastBind = Math.max(...argv.map((a, i) => (a === '--bind' || (a === '--ro-bind' && argv[i + 1] !== '/dev/null') ? i : -1)));
    const firstHide = argv.findIndex((a, i) => (a === '--tmpfs' && argv[i + 1] !== '/tmp') || (a === '--ro-bind' && argv[i + 1] === '/dev/null'));
    assert.ok(firstHide > lastBind, 'hidden paths are bound over after every --ro/--rw bind');
    assert.ok(plan.seccomp.length > 0 && plan.seccomp.length % 8 === 0);
  });
});

function skipReason(): string | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'needs root';
  for (const b of ['bwrap', 'nft', 'ip', 'perl', 'setpriv']) if (spawnSync('sh', ['-c', `command -v ${b}`]).status !== 0) return `needs ${b}`;
  const t = spawnSync('bwrap', ['--unshare-user', '--ro-bind', '/', '/', 'true']);
  if (t.status !== 0) return `bwrap cannot run here: ${t.stderr.toString().trim()}`;
  return undefined;
}
const SKIP = skipReason();
if (SKIP) process.stderr.write(`sandbox security tests: live tests skipped: ${SKIP}\n`);

/** Calls each NAME=NR given with harmless arguments; prints "NAME ERRNO" (0 = it worked). */
const SYSCALL_PROBE = `use strict; use POSIX ();
my %args = (unshare => [${CLONE_NEWUSER}], clone => [${CLONE_NEWUSER} | 17, 0, 0, 0, 0]);
for my $a (@ARGV) {
  my ($name, $nr) = split /=/, $a;
  $! = 0;
  my $r = syscall($nr + 0, @{ $args{$name} // [0, 0, 0, 0, 0, 0] });
  POSIX::_exit(0) if $r == 0 && $name eq 'clone';
  print "$name ", ($r == -1 ? $! + 0 : 0), "\\n";
}
`;

/** Prints "visible PATH" for each path that shows any content (a non-empty file or directory, a socket). */
const LOOK = `for p in "$@"; do
  if [ -S "$p" ] || { [ -f "$p" ] && [ -s "$p" ]; } || { [ -d "$p" ] && [ -n "$(ls -A "$p" 2>/dev/null)" ]; }; then echo "visible $p"; fi
done
env | cut -d= -f1 | sed 's/^/env /'`;

describe('cordon run: its own boundaries (live)', { skip: SKIP }, () => {
  let home = '';
  let work = '';
  let agent: Server | undefined;
  const secret = { OPENAI_API_KEY: 'sk-live-test', AWS_SECRET_ACCESS_KEY: 'aws-live-test', GITHUB_TOKEN: 'ghp-live-test' };
  const env = (): NodeJS.ProcessEnv => ({ ...process.env, ...secret, HOME: home, SSH_AUTH_SOCK: join(home, 'agent.sock') });
  const cordon = (args: string[], extraEnv: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } =>
    spawnSync(CORDON, args, { cwd: work, encoding: 'utf8', env: { ...env(), ...extraEnv } });

  before(async () => {
    ({ home, work } = fakeHome());
    writeFileSync(join(work, 'look.sh'), LOOK);
    writeFileSync(join(work, 'sys.pl'), SYSCALL_PROBE);
    agent = createServer(() => undefined);
    await new Promise<void>((res) => agent!.listen(join(home, 'agent.sock'), res));
  });
  after(() => agent?.close());

  const looked = (): string[] => [
    join(home, '.local/share/cordon/vault/master.key'),
    join(home, '.local/share/cordon'),
    join(work, '.cordon/apply'),
    join(work, '.cordon/keys/x/a.key'),
    '/run/cordon',
    '/run/cordon/sandbox',
    '/etc/shadow',
    '/etc/gshadow',
    join(home, '.bash_history'),
    join(home, '.aws/credentials'),
    join(home, '.ssh/id_ed25519'),
    join(home, '.gitconfig'),
    join(home, '.config/gh/hosts.yml'),
    join(home, '.npmrc'),
    join(home, 'agent.sock'),
  ];

  // The home is under /tmp, which the sandbox replaces with its own: every run binds it with --ro.
  it("hides cordon's state and the secrets, also under --ro of their parent; passes only the allowlisted environment", () => {
    // The host side really has them (so "not visible" means hidden, not absent).
    const host = spawnSync('sh', ['look.sh', ...looked()], { cwd: work, encoding: 'utf8', env: env() });
    const onHost = host.stdout.split('\n').filter((l) => l.startsWith('visible ')).length;
    assert.ok(onHost >= looked().length - 3, host.stdout);
    const r = cordon(['run', '--json', '--ro', home, '--', 'sh', 'look.sh', ...looked()]);
    assert.equal(r.status, 0, r.stderr);
    const out = r.stdout.slice(0, r.stdout.indexOf('{'));
    assert.deepEqual(
      out.split('\n').filter((l) => l.startsWith('visible ')),
      [],
      'nothing of the state or the secrets is visible',
    );
    const names = out
      .split('\n')
      .filter((l) => l.startsWith('env '))
      .map((l) => l.slice(4));
    for (const n of Object.keys(secret)) assert.ok(!names.includes(n), `${n} passed`);
    assert.ok(names.includes('PATH') && names.includes('HOME'));
    const j = JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as { env: { passed: number; withheld: number }; hidden: number };
    assert.ok(j.env.withheld >= 3, JSON.stringify(j.env));
    assert.ok(j.hidden >= 10, String(j.hidden));
    assert.doesNotMatch(r.stdout + r.stderr, /sk-live-test|aws-live-test|ghp-live-test/, 'no value in the output');
    const summary = cordon(['run', '--', 'true']);
    assert.match(summary.stderr, /env: \d+ passed, \d+ withheld \(--env NAME passes one\) · \d+ secret paths hidden/);
  });

  it('--show PATH passes one secret back; --env NAME[=VALUE] and --env-all pass variables (the latter with a warning)', () => {
    const r = cordon([
      'run',
      '-q',
      '--ro',
      home,
      '--show',
      join(home, '.gitconfig'),
      '--env',
      'OPENAI_API_KEY',
      '--env',
      'EXTRA=1',
      '--',
      'sh',
      '-c',
      'sh look.sh "$@"; echo "key=$OPENAI_API_KEY extra=$EXTRA"',
      'sh',
      ...looked(),
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(
      r.stdout.split('\n').filter((l) => l.startsWith('visible ')),
      [`visible ${join(home, '.gitconfig')}`],
    );
    assert.match(r.stdout, /key=sk-live-test extra=1/);
    assert.doesNotMatch(r.stdout, /^env GITHUB_TOKEN$/m);
    const all = cordon(['run', '-q', '--env-all', '--', 'sh', '-c', 'echo "gh=$GITHUB_TOKEN"']);
    assert.match(all.stdout, /gh=ghp-live-test/);
    assert.match(all.stderr, /--env-all: the whole environment passes into the sandbox/);
  });

  it("--rw / and system directories are refused before anything runs; the host's /etc is untouched", () => {
    const mark = `/etc/cordon-rw-test-${randomBytes(3).toString('hex')}`;
    for (const args of [
      ['--rw', '/'],
      ['--rw', '/etc'],
      ['--ro', '/'],
      ['--workdir', '/usr'],
      ['--ro', join(home, '.local/share/cordon/vault')],
    ]) {
      const r = cordon(['run', ...args, '--', 'sh', '-c', `touch ${mark}`]);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /system directory|whole root|cordon's own state/);
      assert.doesNotMatch(r.stderr, /\n\s+at .*:\d+:\d+/, 'no stack trace');
    }
    assert.equal(existsSync(mark), false);
  });

  it('seccomp: each blocked call fails with EPERM inside, clone3 with ENOSYS; ordinary programs still work; --allow-userns lets user namespaces through', () => {
    const arch = process.arch === 'x64' ? 'x86_64' : 'aarch64';
    const t = SYSCALLS[arch]!;
    const calls = [...new Set(BLOCKED.flatMap((g) => g.calls))].filter((c) => t[c] !== undefined).map((c) => `${c}=${t[c]}`);
    const r = cordon(['run', '-q', '--', 'perl', 'sys.pl', ...calls, `clone3=${t.clone3}`, `clone=${t.clone}`, `unshare=${t.unshare}`]);
    assert.equal(r.status, 0, r.stderr);
    const got = new Map(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(' ') as [string, string]),
    );
    for (const c of calls) assert.equal(got.get(c.split('=')[0]!), String(EPERM), `${c}: errno ${got.get(c.split('=')[0]!)}`);
    assert.equal(got.get('clone3'), String(ENOSYS));
    assert.equal(got.get('clone'), String(EPERM), 'clone(CLONE_NEWUSER)');
    assert.equal(got.get('unshare'), String(EPERM), 'unshare(CLONE_NEWUSER)');
    const ok = cordon([
      'run',
      '-q',
      '--',
      'sh',
      '-c',
      'grep "^Seccomp:" /proc/self/status; grep "^CapEff" /proc/self/status; sh -c "echo sh-ok" & wait; curl -sS file://$PWD/readme; node -e "console.log(\'node-ok\')"; perl -e "print qq(perl-ok\\n)"',
    ]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /^Seccomp:\s+2$/m, 'the filter is in force');
    assert.match(ok.stdout, /^CapEff:\s+0+$/m, 'no capabilities');
    for (const w of ['sh-ok', 'hello', 'node-ok', 'perl-ok']) assert.match(ok.stdout, new RegExp(w));
    const userns = cordon(['run', '-q', '--allow-userns', '--', 'perl', 'sys.pl', `unshare=${t.unshare}`]);
    assert.equal(userns.stdout.trim(), 'unshare 0', userns.stderr);
  });

  it("kill -9 of cordon: the command dies with it (before its --timeout), and the run's reaper unmounts the decrypted vault at once", async () => {
    const marker = `300.${parseInt(randomBytes(3).toString('hex'), 16)}`;
    const vaultEnv = { CORDON_VAULT_DIR: join(home, '.local/share/cordon/vault') };
    const mountsBefore = new Set(vaultMounts());
    const child = spawn(CORDON, ['run', '-q', '--timeout', '10m', '--vault', 'case-1', '--', 'sleep', marker], {
      cwd: work,
      stdio: 'ignore',
      env: { ...env(), ...vaultEnv },
    });
    let pids: number[] = [];
    for (let i = 0; i < 200 && pids.length === 0; i++) {
      await new Promise((res) => setTimeout(res, 50));
      pids = processesWith(marker);
    }
    assert.ok(pids.length > 0, 'the command started');
    const mine = vaultMounts().filter((m) => !mountsBefore.has(m));
    assert.equal(mine.length, 1, 'the session is mounted');
    child.kill('SIGKILL');
    await new Promise((res) => child.on('exit', res));
    for (let i = 0; i < 60 && processesWith(marker).length > 0; i++) await new Promise((res) => setTimeout(res, 50));
    assert.deepEqual(processesWith(marker), [], 'the command is gone within 3 s of cordon');
    // The kernel does not unmount it; the reaper (a shell on a pipe from cordon, then Node: a
    // moment on a loaded machine) does, without another cordon invocation, then removes the directory.
    const gone = (): boolean => !vaultMounts().includes(mine[0]!) && !existsSync(mine[0]!);
    for (let i = 0; i < 400 && !gone(); i++) await new Promise((res) => setTimeout(res, 50));
    assert.ok(!vaultMounts().includes(mine[0]!), 'the reaper unmounted it');
    assert.equal(existsSync(mine[0]!), false, 'and removed its directory');
  });

  it('what a dead run left and no reaper removed (the reaper killed too) goes with the next cordon invocation of any kind', () => {
    const state = mkdtempSync(join(TMP, 'state-next-'));
    const id = randomBytes(3).toString('hex');
    // No such PID (above the kernel's pid_max limit of 2^22): the owner is gone.
    writeFileSync(join(state, `${id}.json`), JSON.stringify({ id, ownerPid: 2 ** 22 + 1, ownerStart: '1', cgroups: [], publishPids: [] }));
    const next = cordon(['schema'], { CORDON_SANDBOX_STATE_DIR: state });
    assert.equal(next.status, 0, next.stderr);
    assert.match(next.stderr, new RegExp(`removed what 1 dead sandbox left behind \\(${id}\\)`));
    assert.deepEqual(readdirSync(state), []);
  });

  it('a command that outlived its owner (cordon died before --pdeathsig was set) is killed by the next cleanup', async () => {
    const marker = `301.${parseInt(randomBytes(3).toString('hex'), 16)}`;
    const cmd = spawn('sleep', [marker], { detached: true, stdio: 'ignore' });
    const state = join(TMP, 'state');
    mkdirSync(state, { recursive: true });
    const start = readFileSync(`/proc/${cmd.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19];
    const id = randomBytes(3).toString('hex');
    writeFileSync(
      join(state, `${id}.json`),
      JSON.stringify({ id, ownerPid: cmd.pid, ownerStart: 'not-this-process', cgroups: [], publishPids: [], commandPid: cmd.pid, commandStart: start }),
    );
    const was = process.env.CORDON_SANDBOX_STATE_DIR;
    process.env.CORDON_SANDBOX_STATE_DIR = state;
    try {
      assert.deepEqual(await cleanupStale(), [id]);
    } finally {
      if (was === undefined) delete process.env.CORDON_SANDBOX_STATE_DIR;
      else process.env.CORDON_SANDBOX_STATE_DIR = was;
    }
    const sig = await new Promise<string | null>((res) => {
      const t = setTimeout(() => {
        cmd.kill('SIGTERM'); // ours, by PID: not left behind when the check fails
        res('still running after 3 s');
      }, 3000);
      cmd.on('exit', (_c, s) => {
        clearTimeout(t);
        res(s);
      });
    });
    assert.equal(sig, 'SIGKILL');
  });
});

/** PIDs of `sleep ARG` (read from /proc; nothing signalled); cordon's and bwrap's own command lines name ARG too. */
function processesWith(arg: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (argv[0]?.endsWith('sleep') && argv.includes(arg)) out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out;
}

function vaultMounts(): string[] {
  return readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((p) => /\/cordon-vault-/.test(p));
}
