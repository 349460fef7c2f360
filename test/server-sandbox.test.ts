/**
 * Live: `POST /api/sandbox/run` runs code through the library's sandbox in isolated mode, with
 * seed 002's limits. Against a real server, real bwrap, cgroups and a network namespace per run:
 * each language runs and returns its output and exit status; the network is refused (and the
 * attempt reported); the root is read-only; memory and time limits kill; the hourly quota and the
 * bounded queue answer 429. Needs root and bwrap (skipped locally without them, a failure in CI).
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { hashPassword } from '../src/server/secrets.js';
import { ErrorSchema, SandboxRunResponse } from '../src/server/schemas.js';
import { Store } from '../src/server/store.js';
import { requireOrSkip } from './support/require-env.js';
import { testServer, type Client, type TestServer } from './support/server.js';

function skipReason(): string | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'needs root';
  for (const b of ['bwrap', 'nft', 'ip', 'python3', 'node', 'bash']) if (spawnSync('sh', ['-c', `command -v ${b}`]).status !== 0) return `needs ${b}`;
  const t = spawnSync('bwrap', ['--unshare-user', '--ro-bind', '/', '/', 'true']);
  if (t.status !== 0) return `bwrap cannot run here: ${t.stderr.toString().trim()}`;
  return undefined;
}

describe('server: sandbox runs (live)', { skip: requireOrSkip('server sandbox (live)', skipReason()) }, () => {
  let t: TestServer;
  let eve: Client;
  let admin: Client;
  const run = (c: Client, code: string, language: string) => c.req('POST', '/api/sandbox/run', { body: { code, language } });

  before(async () => {
    t = await testServer({
      // Seed 002's memory and CPU; a shorter time limit (a memory hog at half a CPU needs a few seconds to reach 512 MiB).
      sandboxLimits: { memoryBytes: 512 * 1024 * 1024, cpus: 0.5, timeoutMs: 20_000 },
      sandboxConcurrency: 1,
      sandboxQueue: 1,
      quotas: {
        free: { peers: 1, sandboxRunsPerHour: 0, vaultBytes: 0 },
        'early-access': { peers: 1, sandboxRunsPerHour: 3, vaultBytes: 0 },
        admin: { peers: 1, sandboxRunsPerHour: 100, vaultBytes: 0 },
      },
    });
    const store = new Store(join(t.dataDir, 'cordon.db'));
    store.createUser('test', 'eve', await hashPassword('eve-password-1'), 'early-access');
    store.close();
    eve = t.client();
    assert.equal((await eve.login('eve', 'eve-password-1')).status, 200);
    admin = t.client();
    assert.equal((await admin.login('admin', t.adminPassword)).status, 200);
  });
  after(async () => t?.close());

  it('runs python3, node and bash: stdout, stderr and the exit status come back', async () => {
    const cases: [string, string, string, string, number][] = [
      ['python3', 'import sys\nprint("py", 6*7)\nprint("oops", file=sys.stderr)\nsys.exit(3)', 'py 42\n', 'oops\n', 3],
      ['node', 'console.log("js", 6*7); console.error("warn"); process.exitCode = 0;', 'js 42\n', 'warn\n', 0],
      ['bash', 'echo "sh $((6*7))"; echo err >&2; exit 7', 'sh 42\n', 'err\n', 7],
    ];
    for (const [language, code, stdout, stderr, exitCode] of cases) {
      const r = await run(admin, code, language);
      assert.equal(r.status, 200, r.text);
      const out = r.as(SandboxRunResponse);
      assert.deepEqual([out.stdout, out.stderr, out.exitCode, out.reason], [stdout, stderr, exitCode, 'exited'], language);
      assert.deepEqual(out.limits, { memoryBytes: 512 * 1024 * 1024, cpus: 0.5, timeoutMs: 20_000, network: 'none', root: 'read-only' });
    }
  });

  it('refuses the network: a connection out fails inside and is reported as a denied attempt', async () => {
    const code = [
      'import socket',
      's = socket.socket(); s.settimeout(1)',
      'try:',
      '    s.connect(("198.51.100.7", 8080)); print("connected")',
      'except OSError as e:',
      '    print("refused", type(e).__name__)',
    ].join('\n');
    const out = (await run(admin, code, 'python3')).as(SandboxRunResponse);
    assert.match(out.stdout, /^refused /, out.stdout + out.stderr);
    assert.ok(
      out.denied.some((d) => d.destination === '198.51.100.7' && d.port === 8080),
      JSON.stringify(out.denied),
    );
    // UDP gets no further (and is reported too).
    const udp = (
      await run(
        admin,
        'import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ntry:\n    s.sendto(b"x", ("198.51.100.7", 5353))\nexcept OSError: pass\n',
        'python3',
      )
    ).as(SandboxRunResponse);
    assert.ok(
      udp.denied.some((d) => d.destination === '198.51.100.7' && d.port === 5353),
      JSON.stringify(udp.denied),
    );
  });

  it('keeps the root read-only and the host’s files out of reach of writes', async () => {
    const out = (await run(admin, 'touch /etc/cordon-owned 2>&1 || echo ro; touch /usr/cordon-owned 2>&1 || echo ro2', 'bash')).as(SandboxRunResponse);
    assert.match(out.stdout, /ro\n[\s\S]*ro2\n/, out.stdout);
    assert.equal(spawnSync('test', ['-e', '/etc/cordon-owned']).status, 1);
    // Nor can it make the root writable again.
    const remount = (
      await run(admin, 'mount -o remount,rw / 2>/dev/null && echo remounted; touch /cordon-owned 2>/dev/null && echo wrote; echo end', 'bash')
    ).as(SandboxRunResponse);
    assert.equal(remount.stdout, 'end\n');
    assert.equal(spawnSync('test', ['-e', '/cordon-owned']).status, 1);
  });

  it('enforces the memory limit (killed, 137) and the time limit (124)', async () => {
    const mem = (await run(admin, 'a = []\nwhile True: a.append(b"x" * (64 << 20))', 'python3')).as(SandboxRunResponse);
    assert.deepEqual([mem.exitCode, mem.reason], [137, 'memory'], mem.message + mem.stderr);
    assert.match(mem.message, /memory limit 512m/);
    // The time limit on a server of its own with a short one, so the test does not wait 20 s.
    const quick = await testServer({ sandboxLimits: { memoryBytes: 512 * 1024 * 1024, cpus: 0.5, timeoutMs: 1500 } });
    try {
      const c = quick.client();
      assert.equal((await c.login('admin', quick.adminPassword)).status, 200);
      const slow = (await run(c, 'while :; do :; done', 'bash')).as(SandboxRunResponse);
      assert.deepEqual([slow.exitCode, slow.reason], [124, 'timeout'], slow.message);
    } finally {
      await quick.close();
    }
  });

  it('holds busy code to half a CPU: spinning processes get at most about half a CPU-second per second, under a 50 ms / 100 ms quota', async (t) => {
    // Four spinners, so that without the limit they would take both cores of an idle machine (up to
    // 6 CPU-seconds in 3 s). The code reads its own cgroup: the quota on it, and how often the
    // quota stopped it (cpu.stat). On a loaded machine the group may never get its half CPU at all
    // (cgroup v1 weighs the whole group as one task): then nothing was throttled, and only the
    // quota itself and the upper bound can be checked.
    const code = [
      'import json, os, time',
      'start = time.monotonic()',
      'kids = []',
      'for _ in range(4):',
      '    pid = os.fork()',
      '    if pid == 0:',
      '        end = time.monotonic() + 3.0',
      '        while time.monotonic() < end: pass',
      '        os._exit(0)',
      '    kids.append(pid)',
      'for k in kids: os.waitpid(k, 0)',
      'wall = time.monotonic() - start',
      't = os.times()',
      'def read(d, f):',
      '    try: return open(d + "/" + f).read().strip()',
      '    except OSError: return None',
      'cg = {}',
      'for line in open("/proc/self/cgroup"):',
      '    _, ctl, path = line.strip().split(":", 2)',
      '    d = "/sys/fs/cgroup/" + ctl + path if "cpu" in ctl.split(",") else "/sys/fs/cgroup" + path if ctl == "" else None',
      '    if d is None or (cg and ctl == ""): continue',
      '    v1 = read(d, "cpu.cfs_quota_us")',
      '    quota = (v1 + " " + read(d, "cpu.cfs_period_us")) if v1 else read(d, "cpu.max")',
      '    stat = read(d, "cpu.stat")',
      '    if quota and stat: cg = {"quota": quota, "stat": dict(l.split() for l in stat.splitlines())}',
      'print(json.dumps({"wall": wall, "cpu": t.children_user + t.children_system, **cg}))',
    ].join('\n');
    const r = await run(admin, code, 'python3');
    const out = r.as(SandboxRunResponse);
    assert.equal(out.exitCode, 0, out.stderr);
    const m = z.object({ wall: z.number(), cpu: z.number(), quota: z.string(), stat: z.record(z.string(), z.string()) }).parse(JSON.parse(out.stdout));
    assert.equal(m.quota, '50000 100000', 'the code runs under a quota of half of each 100 ms period');
    const share = m.cpu / m.wall;
    // Half a CPU, with room for the last period's overshoot and the clock's granularity; never near 1.
    assert.ok(share <= 0.5 * 1.25, `used ${m.cpu.toFixed(2)} CPU-s in ${m.wall.toFixed(2)} s`);
    assert.ok(m.cpu > 0, 'the spinners ran');
    if (share >= 0.4) assert.ok(Number(m.stat.nr_throttled) > 0, `near its half CPU the quota must have stopped it: ${JSON.stringify(m.stat)}`);
    else t.diagnostic(`the machine was too busy for the spinners to reach the quota (share ${share.toFixed(2)}); checked the quota and the upper bound only`);
  });

  it('holds memory to 512 MiB: 400 MiB written is fine, a single 600 MiB allocation is killed', async () => {
    const touch = (mib: number) => `b = bytearray(${mib} << 20)\nfor i in range(0, len(b), 4096): b[i] = 1\nprint("wrote", len(b) >> 20)`;
    const fits = (await run(admin, touch(400), 'python3')).as(SandboxRunResponse);
    assert.deepEqual([fits.exitCode, fits.stdout], [0, 'wrote 400\n'], fits.message + fits.stderr);
    const over = (await run(admin, touch(600), 'python3')).as(SandboxRunResponse);
    assert.deepEqual([over.exitCode, over.reason, over.stdout], [137, 'memory', ''], over.message + over.stderr);
  });

  it('caps what the code writes: output past 64 KiB is cut and flagged', async () => {
    const out = (await run(admin, 'print("x" * 200000)', 'python3')).as(SandboxRunResponse);
    assert.equal(out.stdout.length, 64 * 1024);
    assert.equal(out.stdoutTruncated, true);
  });

  it('bad bodies → 400 naming the field; nothing runs', async () => {
    for (const [body, path] of [
      [{ code: 'print(1)', language: 'ruby' }, 'body.language'],
      [{ code: '', language: 'python3' }, 'body.code'],
      [{ language: 'python3' }, 'body.code'],
      [{ code: 'x'.repeat(256 * 1024 + 1), language: 'bash' }, 'body.code'],
    ] as const) {
      const r = await admin.req('POST', '/api/sandbox/run', { body });
      assert.equal(r.status, 400, r.text.slice(0, 200));
      assert.equal(r.as(ErrorSchema).issues?.[0]?.path, path);
    }
  });

  it('a full queue answers 429 with Retry-After at once; the runs in it finish', async () => {
    // One runs, one waits: the third finds the queue full.
    const slow = 'sleep 1; echo done';
    const [a, b, c] = await Promise.all([run(admin, slow, 'bash'), run(admin, slow, 'bash'), run(admin, slow, 'bash')]);
    const statuses = [a, b, c].map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 200, 429]);
    const full = [a, b, c].find((r) => r.status === 429)!;
    assert.match(full.as(ErrorSchema).error, /queue is full/);
    assert.equal(full.headers.get('retry-after'), '5');
    const positions = [a, b, c]
      .filter((r) => r.status === 200)
      .map((r) => r.as(SandboxRunResponse).queuePosition)
      .sort();
    assert.deepEqual(positions, [0, 1]);
  });

  it("an account past its tier's runs per hour → 429 with Retry-After", async () => {
    for (let i = 0; i < 3; i++) assert.equal((await run(eve, 'true', 'bash')).status, 200, `run ${i + 1}`);
    const r = await run(eve, 'true', 'bash');
    assert.equal(r.status, 429);
    assert.match(r.as(ErrorSchema).error, /tier early-access.*3 sandbox runs in the last hour/);
    const wait = Number(r.headers.get('retry-after'));
    assert.ok(wait > 3000 && wait <= 3600, `Retry-After ${wait}`);
  });
});
