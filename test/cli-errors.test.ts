/**
 * CLI failures are values with exit codes (README: 0 ok · 1 a check failed · 2 invalid input ·
 * 3 internal error): a table of bad invocations, each through bin/cordon, must exit with its
 * documented code and say on stderr what is wrong, with no stack trace and no "internal error".
 * None of them changes anything on the machine: each fails on its flags or input before acting,
 * and sandbox state goes to a directory of the test's own.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CommanderError } from 'commander';
import { failureOf } from '../src/cli/failure.js';
import { EXIT, ExitError, pathFailure } from '../src/cli/io.js';
import { Interrupted } from '../src/system/interrupt.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EXAMPLE = 'examples/proxmox-dual-bridge.yaml';
const STACK = /^\s+at .+:\d+:\d+\)?$/m;
const TMP = mkdtempSync(join(tmpdir(), 'cordon-cli-errors-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

function cordon(args: readonly string[]) {
  const r = spawnSync(join(ROOT, 'bin/cordon'), args, {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '', CORDON_DEBUG: '', CORDON_SANDBOX_STATE_DIR: join(TMP, 'sandbox') },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `package.json/x`: a path under a regular file, which no mkdir or open can use. */
const UNDER_A_FILE = 'package.json/x';

const CASES: readonly { readonly name: string; readonly args: readonly string[]; readonly exit: number; readonly says: RegExp }[] = [
  {
    name: 'check: missing file',
    args: ['check', 'no/such/spec.yaml'],
    exit: EXIT.invalid,
    says: /no\/such\/spec\.yaml: error CORDON001: cannot read spec: no such file/,
  },
  { name: 'check: a directory', args: ['check', 'examples'], exit: EXIT.invalid, says: /examples: error CORDON001: .*directory/ },
  {
    name: 'check: unknown host in the policy',
    args: ['check', 'test/bad/12-unknown-host-in-policy.yaml'],
    exit: EXIT.invalid,
    says: /CORDON004: unknown name 'olama'/,
  },
  { name: 'matrix: missing file', args: ['matrix', 'no/such/spec.yaml'], exit: EXIT.invalid, says: /CORDON001[\s\S]*cordon: no\/such\/spec\.yaml: 1 error/ },
  { name: 'test: missing file', args: ['test', 'no/such/spec.yaml'], exit: EXIT.invalid, says: /CORDON001[\s\S]*cordon: no\/such\/spec\.yaml: 1 error/ },
  { name: 'lint: missing file', args: ['lint', 'no/such/spec.yaml'], exit: EXIT.invalid, says: /CORDON001/ },
  { name: 'diff: one side missing', args: ['diff', EXAMPLE, 'no/such/spec.yaml'], exit: EXIT.invalid, says: /no\/such\/spec\.yaml: 1 error/ },
  {
    name: 'matrix: bad --assume',
    args: ['matrix', EXAMPLE, '--assume', 'maybe'],
    exit: EXIT.invalid,
    says: /--assume must be 'configured' or 'compromised', got 'maybe'/,
  },
  { name: 'diff: bad --assume', args: ['diff', EXAMPLE, EXAMPLE, '--assume', 'x'], exit: EXIT.invalid, says: /--assume must be .*got 'x'/ },
  {
    name: 'query: unknown --from host',
    args: ['query', EXAMPLE, '--from', 'nope', '--to', 'ollama', '--proto', 'tcp', '--port', '1'],
    exit: EXIT.invalid,
    says: /--from: unknown host 'nope'.*'agentfarm'/,
  },
  {
    name: 'query: unknown service',
    args: ['query', EXAMPLE, '--from', 'agentfarm', '--to', 'ollama.nosvc'],
    exit: EXIT.invalid,
    says: /host 'ollama' has no service 'nosvc'/,
  },
  {
    name: 'query: bad --proto',
    args: ['query', EXAMPLE, '--from', 'agentfarm', '--to', 'ollama', '--proto', 'xyz', '--port', '3'],
    exit: EXIT.invalid,
    says: /--proto must be .*got 'xyz'/,
  },
  {
    name: 'query: --port out of range',
    args: ['query', EXAMPLE, '--from', 'agentfarm', '--to', 'ollama', '--proto', 'tcp', '--port', '99999'],
    exit: EXIT.invalid,
    says: /--port must be 1–65535, got '99999'/,
  },
  {
    name: 'query: --port missing',
    args: ['query', EXAMPLE, '--from', 'agentfarm', '--to', 'ollama', '--proto', 'tcp'],
    exit: EXIT.invalid,
    says: /--port is required with --proto tcp/,
  },
  { name: 'render: unknown --target', args: ['render', EXAMPLE, '--target', 'nope'], exit: EXIT.invalid, says: /unknown target 'nope'.*'nftables'/ },
  { name: 'render: no spec file', args: ['render', '--target', 'nftables'], exit: EXIT.invalid, says: /render needs a spec file/ },
  { name: 'render: unknown --host', args: ['render', EXAMPLE, '-t', 'nftables', '--host', 'nope'], exit: EXIT.invalid, says: /--host: unknown host 'nope'/ },
  {
    name: 'render: --param without =',
    args: ['render', EXAMPLE, '-t', 'proxmox', '-p', 'firewall'],
    exit: EXIT.invalid,
    says: /--param 'firewall': expected KEY=VALUE/,
  },
  {
    name: 'render: unknown --param',
    args: ['render', EXAMPLE, '-t', 'proxmox', '-p', 'foo=bar'],
    exit: EXIT.invalid,
    says: /target proxmox has no parameter 'foo'/,
  },
  {
    name: 'render: --out under a file',
    args: ['render', EXAMPLE, '-t', 'nftables', '--out', UNDER_A_FILE],
    exit: EXIT.invalid,
    says: /--out: cannot create directory package\.json\/x.*not a directory/,
  },
  {
    name: 'render: --keys under a file',
    args: ['render', EXAMPLE, '-t', 'wireguard', '--keys', UNDER_A_FILE],
    exit: EXIT.invalid,
    says: /--keys: cannot create directory package\.json\/x.*not a directory/,
  },
  {
    name: 'render: target cannot express the spec',
    args: ['render', EXAMPLE, '-t', 'nftables', '--host', 'wg-client'],
    exit: EXIT.failed,
    says: /CORDON004[\s\S]*target nftables cannot express this spec/,
  },
  { name: 'gen: bad --hosts', args: ['gen', '--hosts', 'x', '--rules', '1', '--seed', '1'], exit: EXIT.invalid, says: /--hosts must be a whole number/ },
  {
    name: 'gen: --out under a file',
    args: ['gen', '--hosts', '3', '--rules', '2', '--seed', '1', '--out', UNDER_A_FILE],
    exit: EXIT.invalid,
    says: /cannot write package\.json\/x/,
  },
  {
    name: 'apply: --netns and --i-mean-the-host',
    args: ['apply', EXAMPLE, '--host', 'pve', '--netns', 'x', '--i-mean-the-host'],
    exit: EXIT.invalid,
    says: /either --netns NAME or --i-mean-the-host, not both/,
  },
  { name: 'run: unknown --mode', args: ['run', '--dry-run', '--mode', 'bogus', '--', 'true'], exit: EXIT.invalid, says: /--mode: unknown mode 'bogus'/ },
  { name: 'run: bad --memory', args: ['run', '--dry-run', '--memory', '12q', '--', 'true'], exit: EXIT.invalid, says: /--memory: cannot read '12q'/ },
  {
    name: 'run: missing --config',
    args: ['run', '--dry-run', '--config', 'no/such/run.yaml', '--', 'true'],
    exit: EXIT.invalid,
    says: /--config:[\s\S]*CORDON001/,
  },
  {
    name: 'run: unknown --as host',
    args: ['run', '--dry-run', '--spec', EXAMPLE, '--as', 'nohost', '--', 'true'],
    exit: EXIT.invalid,
    says: /--as: no host 'nohost'/,
  },
  {
    name: 'vault: --dir under a file',
    args: ['vault', 'create', 's1', '--dir', UNDER_A_FILE],
    exit: EXIT.invalid,
    says: /vault: cannot create directory package\.json\/x.*not a directory/,
  },
  { name: 'explain-code: not a code', args: ['explain-code', 'CORDON999'], exit: EXIT.invalid, says: /'CORDON999' is not a diagnostic code\n {2}hint: / },
  { name: 'an unknown option', args: ['schema', '--bogus'], exit: EXIT.invalid, says: /unknown option '--bogus'/ },
  { name: 'a missing argument', args: ['vault', 'get'], exit: EXIT.invalid, says: /missing required argument 'session'/ },
  { name: 'an unknown command', args: ['frobnicate'], exit: EXIT.invalid, says: /unknown command 'frobnicate'/ },
];

describe('bad invocations: documented exit code, the problem named, no stack trace', () => {
  for (const c of CASES) {
    it(`${c.name} → exit ${c.exit}`, () => {
      const r = cordon(c.args);
      assert.equal(r.code, c.exit, `exit ${r.code}\n${r.stderr}`);
      assert.match(r.stderr, c.says);
      assert.doesNotMatch(r.stderr, STACK);
      assert.doesNotMatch(r.stderr, /internal error/);
    });
  }
  it('left nothing behind (no file under package.json, no sandbox state)', () => {
    assert.ok(statSync(join(ROOT, 'package.json')).isFile());
    const state = join(TMP, 'sandbox');
    let left: string[] = [];
    try {
      left = readdirSync(state);
    } catch {
      /* never created: nothing left */
    }
    assert.deepEqual(left, []);
  });
});

describe('failureOf: the one mapping from a thrown value to exit code and stderr', () => {
  it('ExitError: its code, "cordon: message" and the hint on its own line', () => {
    assert.deepEqual(failureOf(new ExitError(EXIT.invalid, '--port must be 1–65535', 'try --port 443')), {
      exit: 2,
      text: 'cordon: --port must be 1–65535\n  hint: try --port 443\n',
    });
    assert.deepEqual(failureOf(new ExitError(130)), { exit: 130, text: '' });
  });

  it('ExitError: a control character from a path or a server answer is shown, a line break the message makes is kept', () => {
    const f = failureOf(new ExitError(EXIT.failed, "--token-file: cannot read 'a\u001b]0;pwned\u0007b'\nsecond line", 'a \u202ehint'));
    assert.equal(f.text, "cordon: --token-file: cannot read 'a\\u{1b}]0;pwned\\u{7}b'\nsecond line\n  hint: a \\u{202e}hint\n");
  });

  it('a bug (any other Error) is exit 3, "internal error", the stack only with debug', () => {
    const bug = new TypeError('x is undefined');
    const quiet = failureOf(bug);
    assert.equal(quiet.exit, EXIT.internal);
    assert.match(quiet.text, /^cordon: internal error: x is undefined\nset CORDON_DEBUG=1/);
    assert.doesNotMatch(quiet.text, STACK);
    assert.match(failureOf(bug, { debug: true }).text, STACK);
  });

  it('a thrown string is a bug too, and says what was thrown', () => {
    const f = failureOf('oops');
    assert.equal(f.exit, EXIT.internal);
    assert.match(f.text, /internal error: a thrown string: oops/);
  });

  it('commander: help and version exit 0, a usage error 2 (commander printed it)', () => {
    assert.deepEqual(failureOf(new CommanderError(0, 'commander.helpDisplayed', '')), { exit: 0, text: '' });
    assert.deepEqual(failureOf(new CommanderError(1, 'commander.unknownOption', "error: unknown option '--x'")), { exit: 2, text: '' });
  });

  it('a signal is 130, silently', () => {
    assert.deepEqual(failureOf(new Interrupted('SIGINT')), { exit: 130, text: '' });
  });

  it('pathFailure: a file-system error names the flag, the path and why; anything else passes through', () => {
    const enotdir = Object.assign(new Error("ENOTDIR: not a directory, mkdir 'a/b'"), { code: 'ENOTDIR', syscall: 'mkdir', path: 'a/b' });
    const f = pathFailure(enotdir, '--out');
    assert.ok(f instanceof ExitError);
    assert.equal(f.code, EXIT.invalid);
    assert.equal(f.message, '--out: cannot create directory a/b: a part of the path is not a directory');
    const bug = new RangeError('no');
    assert.equal(pathFailure(bug, '--out'), bug);
    const refusal = new ExitError(EXIT.invalid, 'refused');
    assert.equal(pathFailure(refusal, '--keys'), refusal);
  });
});

describe('src/cli throws only typed failures', () => {
  function files(dir: string): string[] {
    return readdirSync(dir).flatMap((e) => {
      const p = join(dir, e);
      return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
    });
  }
  it('every throw is an ExitError, a mapping of the library error caught (exitFor, pathFailure) or that error re-thrown', () => {
    const bad: string[] = [];
    for (const f of files(join(ROOT, 'src/cli'))) {
      const lines = readFileSync(f, 'utf8').split('\n');
      lines.forEach((line, i) => {
        if (/^\s*(\*|\/\/)/.test(line)) return;
        for (const m of line.matchAll(/\bthrow\s+([^;]*)/g))
          if (!/^(new ExitError\(|exitFor\(|pathFailure\(|e$)/.test(m[1]!)) bad.push(`${relative(ROOT, f)}:${i + 1}: ${line.trim()}`);
      });
    }
    assert.deepEqual(bad, []);
  });
});
