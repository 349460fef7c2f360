/** The command line through bin/cordon: help, exit codes, JSON shapes, errors without stack traces. */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EXAMPLE = 'examples/proxmox-dual-bridge.yaml';
const STACK = /internal error|^\s+at .+:\d+:\d+\)?$/m;

function cordon(...args: string[]) {
  const r = spawnSync(join(ROOT, 'bin/cordon'), args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('cordon CLI', () => {
  it('--help exits 0 and lists the commands', () => {
    const r = cordon('--help');
    assert.equal(r.code, 0, r.stderr);
    for (const cmd of ['check', 'matrix', 'query', 'explain', 'test', 'diff', 'schema'])
      assert.match(r.stdout, new RegExp(`^\\s+${cmd}\\b`, 'm'), `${cmd} not listed`);
    assert.match(r.stdout, /Exit codes: 0 ok/);
  });

  it('--version and -V print the version and load no command (not even with arguments after the flag)', async () => {
    for (const args of [['--version'], ['-V'], ['--version', 'check'], ['-V', '--bogus']]) {
      const r = cordon(...args);
      assert.deepEqual([r.code, r.stdout, r.stderr], [0, '0.1.0\n', ''], args.join(' '));
    }
    const { buildProgram } = (await import('../src/cli/main.js')) as { buildProgram: (argv?: readonly string[]) => Promise<Command> };
    assert.deepEqual((await buildProgram(['--version'])).commands, []);
    assert.deepEqual((await buildProgram(['-V', 'check'])).commands, []);
    assert.ok((await buildProgram(['--bogus', '--version'])).commands.length > 20, 'an option before it: every command (did-you-mean)');
  });

  it('query --json prints one object with a top-level verdict', () => {
    const r = cordon('query', EXAMPLE, '--from', 'agentfarm', '--to', 'ollama.api', '--json');
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { verdict: string };
    assert.equal(typeof j, 'object');
    assert.equal(j.verdict, 'allow');
  });

  it('query exits 0 on allow and 1 on deny (also with --json)', () => {
    assert.equal(cordon('query', EXAMPLE, '--from', 'wg-client', '--to', 'agentfarm', '--proto', 'tcp', '--port', '8080').code, 0);
    const deny = cordon('query', EXAMPLE, '--from', 'wg-client', '--to', 'ollama', '--proto', 'tcp', '--port', '11434');
    assert.equal(deny.code, 1, deny.stderr);
    assert.match(deny.stdout, /^DENY/);
    const denyJson = cordon('query', EXAMPLE, '--from', 'wg-client', '--to', 'ollama', '--proto', 'tcp', '--port', '11434', '--json');
    assert.equal(denyJson.code, 1);
    assert.equal((JSON.parse(denyJson.stdout) as { verdict: string }).verdict, 'deny');
  });

  it('test exits 0 on the example', () => {
    const r = cordon('test', EXAMPLE);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /\d+ passed, 0 failed/);
  });

  it('check exits 0 on the example', () => {
    const r = cordon('check', EXAMPLE);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /: ok \(/);
  });

  it('an unknown command exits 2', () => {
    const r = cordon('frobnicate');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown command 'frobnicate'/);
  });

  it('an unknown flag or a bad flag value exits 2', () => {
    assert.equal(cordon('matrix', EXAMPLE, '--no-such-flag').code, 2);
    assert.equal(cordon('matrix', EXAMPLE, '--assume', 'sometimes').code, 2);
    assert.equal(cordon('query', EXAMPLE, '--from', 'nobody', '--to', 'ollama', '--proto', 'icmp').code, 2);
    assert.equal(cordon('query', EXAMPLE, '--from', 'agentfarm', '--to', 'ollama', '--proto', 'tcp', '--port', '70000').code, 2);
  });

  for (const cmd of ['check', 'matrix', 'test', 'query']) {
    it(`${cmd} on a missing file exits 2 with CORDON001 and no stack trace`, () => {
      const extra = cmd === 'query' ? ['--from', 'a', '--to', 'b'] : [];
      const r = cordon(cmd, 'no/such/spec.yaml', ...extra);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /no\/such\/spec\.yaml: error CORDON001: cannot read spec: no such file/);
      assert.doesNotMatch(r.stderr, STACK);
    });
  }

  it('check on a bad file exits 2 and prints the diagnostic with its code frame', () => {
    const r = cordon('check', 'test/bad/12-unknown-host-in-policy.yaml');
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^test\/bad\/12-unknown-host-in-policy\.yaml:9:35: error CORDON004: /);
    assert.match(r.stderr, /^> 9 \| /m);
    assert.doesNotMatch(r.stderr, STACK);
  });

  it('check with several files exits 2 when one is bad, and still reports the good one', () => {
    const r = cordon('check', EXAMPLE, 'test/bad/14-address-outside-cidr.yaml');
    assert.equal(r.code, 2);
    assert.match(r.stdout, /proxmox-dual-bridge\.yaml: ok/);
    assert.match(r.stderr, /CORDON005/);
  });

  it('check --json prints per-file results', () => {
    const r = cordon('check', '--json', 'test/bad/07-wrong-version.yaml');
    assert.equal(r.code, 2);
    const j = JSON.parse(r.stdout) as { file: string; ok: boolean; diagnostics: { code: string; path: string; line: number }[] }[];
    assert.equal(j.length, 1);
    assert.equal(j[0]!.ok, false);
    assert.deepEqual(
      j[0]!.diagnostics.map((d) => [d.code, d.path, d.line]),
      [['CORDON013', 'version', 2]],
    );
  });

  it('matrix --json is complete JSON with both views available', () => {
    for (const assume of ['configured', 'compromised']) {
      const r = cordon('matrix', EXAMPLE, '--json', '--assume', assume);
      assert.equal(r.code, 0, r.stderr);
      const j = JSON.parse(r.stdout) as { assume: string; endpoints: string[]; allowed: unknown[] };
      assert.equal(j.assume, assume);
      assert.ok(j.endpoints.includes('ollama'));
      assert.ok(j.allowed.length > 0);
    }
  });

  it('schema prints a JSON Schema', () => {
    const r = cordon('schema');
    assert.equal(r.code, 0);
    const j = JSON.parse(r.stdout) as { type: string; properties: Record<string, unknown> };
    assert.equal(j.type, 'object');
    assert.ok('hosts' in j.properties && 'policy' in j.properties);
  });
});

describe('cordon: a reader that stops early', () => {
  it('`cordon test … | head -1` ends quietly with 141 (128 + SIGPIPE), no stack trace', () => {
    // The reader exits after one line; cordon keeps writing (every example's checks) into the closed pipe.
    const r = spawnSync('bash', ['-c', `set -o pipefail; '${join(ROOT, 'bin/cordon')}' test examples/*.yaml | head -1; echo "status=\${PIPESTATUS[0]}" >&2`], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
    });
    assert.equal(r.stdout.trim().split('\n').length, 1, r.stdout);
    assert.match(r.stderr, /status=141$/m, r.stderr);
    // A stack frame ends in file:line:col; a diagnostic's `  at networks.vmbr0.ports` (the
    // example's CORDON055 warning) is not one.
    assert.doesNotMatch(r.stderr, /EPIPE|Unhandled|^\s+at .+:\d+:\d+\)?$/m, r.stderr);
  });

  it('an output that cannot be written (/dev/full) ends with exit 3 and one line, no stack trace', () => {
    const r = spawnSync('bash', ['-c', `'${join(ROOT, 'bin/cordon')}' check ${EXAMPLE} > /dev/full`], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 3, r.stderr);
    assert.match(r.stderr, /^cordon: cannot write the output: ENOSPC/m);
    assert.doesNotMatch(r.stderr, /^\s+at .+:\d+:\d+\)?$/m, r.stderr);
  });
});
