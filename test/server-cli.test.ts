/** `cordon serve` as a user runs it: --init-admin prints a one-time password once; serve listens on 127.0.0.1, stops on SIGTERM, and a second run on the same --data keeps the account. */
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CORDON = join(ROOT, 'bin/cordon');
const STACK = /internal error|^\s+at .+:\d+:\d+\)?$/m;

/** Starts `cordon serve`, waits for its "listening on" line, and returns the URL and a stop function that sends SIGTERM and resolves with the exit code and everything it logged. */
async function serve(data: string): Promise<{ url: string; stop: () => Promise<{ code: number | null; stderr: string }> }> {
  const child = spawn(CORDON, ['serve', '--port', '0', '--data', data], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening on" line within 30 s; stderr: ${stderr}`)), 30_000);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.on('exit', () => reject(new Error(`cordon serve exited early: ${stderr}`)));
  });
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
      return { code: await exited, stderr };
    },
  };
}

describe('cordon serve', () => {
  const root = mkdtempSync(join(tmpdir(), 'cordon-serve-cli-'));
  const data = join(root, 'data');
  after(() => rmSync(root, { recursive: true, force: true }));
  let password = '';

  it('--init-admin prints a one-time password once; a second run refuses without printing one', () => {
    const r = spawnSync(CORDON, ['serve', '--init-admin', '--data', data], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    password = /one-time password[^:]*: (\S+)/.exec(r.stdout)![1]!;
    assert.ok(password.length >= 24);
    const again = spawnSync(CORDON, ['serve', '--init-admin', '--data', data], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(again.status, 2);
    assert.match(again.stderr, /already exists/);
    assert.doesNotMatch(again.stdout + again.stderr, /password/);
    assert.doesNotMatch(again.stderr, STACK);
  });

  it('serves on 127.0.0.1, keeps the account across a restart, never logs the password, exits 0 on SIGTERM', async () => {
    for (let run = 0; run < 2; run++) {
      const s = await serve(data);
      assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      const login = await fetch(`${s.url}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password }),
      });
      assert.equal(login.status, 200, `run ${run}: ${await login.text()}`);
      const { code, stderr } = await s.stop();
      assert.equal(code, 0, stderr);
      assert.match(stderr, /"url":"\/api\/auth\/login"/, 'requests are logged');
      assert.ok(!stderr.includes(password), 'the password is not logged');
    }
  });

  it('a bad --port is refused with exit 2 and no stack trace', () => {
    const r = spawnSync(CORDON, ['serve', '--port', '99999', '--data', data], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--port must be 0–65535/);
    assert.doesNotMatch(r.stderr, STACK);
  });

  it('a --data that cannot be a directory names --data and the path, not the listening socket', () => {
    const file = join(data, 'cordon.db'); // exists once --init-admin ran; a file, so nothing can be made under it
    const r = spawnSync(CORDON, ['serve', '--port', '0', '--data', join(file, 'sub')], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--data: cannot create directory .*cordon\.db\/sub: a part of the path is not a directory/);
    assert.doesNotMatch(r.stderr, /cannot listen/);
    assert.doesNotMatch(r.stderr, STACK);
  });
});
