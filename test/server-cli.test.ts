/**
 * `cordon serve` as a user runs it: --init-admin prints a one-time password once; serve listens on
 * 127.0.0.1, stops on SIGTERM, and a second run on the same --data keeps the account; --tls-cert
 * and --tls-key serve HTTPS (a self-signed pair made here with openssl); --spec stores specs at
 * start, once; bad certificates, keys and specs are refused with exit 2 naming the flag.
 */
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Store } from '../src/server/store.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CORDON = join(ROOT, 'bin/cordon');
const STACK = /internal error|^\s+at .+:\d+:\d+\)?$/m;

/** Starts `cordon serve`, waits for its "listening on" line, and returns the URL and a stop function that sends SIGTERM and resolves with the exit code and everything it logged. */
async function serve(
  data: string,
  ...extra: string[]
): Promise<{ url: string; stdout: () => string; stop: () => Promise<{ code: number | null; stderr: string }> }> {
  const child = spawn(CORDON, ['serve', '--port', '0', '--data', data, ...extra], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening on" line within 30 s; stderr: ${stderr}`)), 30_000);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const m = /listening on (https?:\/\/\S+)/.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.on('exit', () => reject(new Error(`cordon serve exited early: ${stderr}`)));
  });
  return {
    url,
    stdout: () => stdout,
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

/** A GET over HTTPS that trusts exactly `ca` (the test's self-signed certificate). */
function httpsGet(url: string, ca: string): Promise<{ status: number; body: string; cookies: string[] }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, servername: 'localhost' }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, cookies: res.headers['set-cookie'] ?? [] }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('cordon serve --tls-cert/--tls-key and --spec', () => {
  const root = mkdtempSync(join(tmpdir(), 'cordon-serve-tls-'));
  const data = join(root, 'data');
  const cert = join(root, 'cert.pem');
  const key = join(root, 'key.pem');
  const spec = join(root, 'lab-net.yaml');
  after(() => rmSync(root, { recursive: true, force: true }));

  it('serves HTTPS with a self-signed certificate; plain HTTP gets no answer; cookies are Secure', async (t) => {
    const made = spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { encoding: 'utf8' },
    );
    if (made.error) return t.skip('needs openssl');
    assert.equal(made.status, 0, made.stderr);
    const s = await serve(data, '--tls-cert', cert, '--tls-key', key);
    try {
      assert.match(s.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const health = await httpsGet(`${s.url}/api/health`, readFileSync(cert, 'utf8'));
      assert.equal(health.status, 200, health.body);
      assert.equal((JSON.parse(health.body) as { ok: boolean }).ok, true);
      assert.match(health.cookies.find((c) => c.startsWith('device_id=')) ?? '', /; Secure/);
      await assert.rejects(fetch(s.url.replace('https:', 'http:') + '/api/health'), 'plain HTTP is not served');
      await assert.rejects(httpsGet(`${s.url}/api/health`, ''), /self[- ]signed|unable to verify|certificate/i);
    } finally {
      assert.equal((await s.stop()).code, 0);
    }
  });

  it('refuses a missing or non-PEM certificate, a key without its certificate, and a key that is not the certificate’s (exit 2, no stack)', () => {
    const other = join(root, 'other.pem');
    spawnSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', other]);
    writeFileSync(join(root, 'junk.pem'), 'not a certificate\n');
    const cases: [string[], RegExp][] = [
      [['--tls-cert', join(root, 'nope.pem'), '--tls-key', key], /--tls-cert: cannot open .*nope\.pem: /],
      [['--tls-key', key], /--tls-cert and --tls-key go together/],
      [['--tls-cert', join(root, 'junk.pem'), '--tls-key', key], /--tls-cert .*junk\.pem: not a PEM certificate/],
      [['--tls-cert', cert, '--tls-key', cert], /--tls-key .*cert\.pem: not a PEM private key/],
      [['--tls-cert', cert, '--tls-key', other], /--tls-cert\/--tls-key: the certificate and key cannot be used together/],
    ];
    for (const [args, says] of cases) {
      const r = spawnSync(CORDON, ['serve', '--port', '0', '--data', data, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, says);
      assert.doesNotMatch(r.stderr, STACK);
    }
  });

  it('--spec stores a spec at start as a version of the spec named after the file, and not again when unchanged', async () => {
    writeFileSync(spec, readFileSync(join(ROOT, 'examples/proxmox-dual-bridge.yaml'), 'utf8'));
    for (const [run, says] of [
      [0, /--spec lab-net: stored as version 1/],
      [1, /--spec lab-net: unchanged \(version 1\)/],
    ] as const) {
      const s = await serve(data, '--spec', spec);
      try {
        assert.match(s.stdout(), says, `run ${run}`);
      } finally {
        assert.equal((await s.stop()).code, 0);
      }
    }
    writeFileSync(spec, `${readFileSync(spec, 'utf8')}\n# changed\n`);
    const s = await serve(data, '--spec', spec);
    try {
      assert.match(s.stdout(), /--spec lab-net: stored as version 2/);
    } finally {
      await s.stop();
    }
  });

  it('an invalid --spec stops the start with its diagnostics (file:line) and exit 2, storing none of the files given', () => {
    const bad = join(root, 'broken.yaml');
    writeFileSync(bad, 'version: 1\nhosts:\n  a: { kind: vm, nics: { nowhere: 10.0.0.1 } }\n');
    const good = join(root, 'fresh.yaml');
    writeFileSync(good, readFileSync(join(ROOT, 'examples/proxmox-dual-bridge.yaml'), 'utf8'));
    const r = spawnSync(CORDON, ['serve', '--port', '0', '--data', data, '--spec', good, bad], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /broken\.yaml:3:\d+: error CORDON\d+/);
    assert.match(r.stderr, /--spec .*broken\.yaml: \d+ errors?; nothing stored/);
    assert.doesNotMatch(r.stderr, STACK);
    const db = new Store(join(data, 'cordon.db'));
    try {
      const names = db.listSpecs().map((x) => x.name);
      assert.ok(!names.includes('fresh') && !names.includes('broken'), `fresh.yaml was valid, but nothing of a refused start is stored: ${names.join(', ')}`);
    } finally {
      db.close();
    }
    const missing = spawnSync(CORDON, ['serve', '--port', '0', '--data', data, '--spec', join(root, 'absent.yaml')], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /--spec: cannot open .*absent\.yaml: /);
  });
});
