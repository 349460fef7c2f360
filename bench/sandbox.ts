/**
 * `cordon run` benchmark: start-up of a sandbox running `true` (library API and CLI) against
 * `node -e 0` and srt (@anthropic-ai/sandbox-runtime, `srt true`); the per-request cost of 100
 * HTTP requests from inside each sandbox against none; and the escape attempts of BENCHMARKS.md
 * (UDP, ICMP, IP literal, a name not allowed, a proxy-unaware client), run against both.
 *
 * Everything runs against a namespace that plays the host (`csb<hex>-host`, removed at the end):
 * an HTTP server on 198.51.100.10:8080 (allowed) and 198.51.100.11:8080 (not), UDP echo on .11:7001,
 * a DNS server on .53. srt is run inside that namespace too (`ip netns exec`), so its proxies and
 * bridges never touch the machine's own network. Needs root, bwrap, nft, curl.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDomainRule } from '../src/sandbox/dns.js';
import { parseNetRule, type NetRule } from '../src/sandbox/plan.js';
import type { SandboxInput } from '../src/sandbox/run.js';
import type { Row } from './row.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CORDON = join(ROOT, 'bin', 'cordon');
const SRT = join(ROOT, 'node_modules', '.bin', 'srt');
const RUNS = 21;

const SERVER = `
const http = require('node:http'), dgram = require('node:dgram');
for (const a of ['198.51.100.10', '198.51.100.11']) http.createServer((q, r) => r.end('hello\\n')).listen(8080, a);
const u = dgram.createSocket('udp4'); u.on('message', (m, r) => u.send(m, r.port, r.address)); u.bind(7001, '198.51.100.11');
const ZONE = { 'allowed.test': '198.51.100.10', 'other.test': '198.51.100.11' };
const dns = dgram.createSocket('udp4');
dns.on('message', (m, r) => {
  let off = 12; const labels = [];
  while (m[off] !== 0) { labels.push(m.subarray(off + 1, off + 1 + m[off]).toString()); off += m[off] + 1; }
  const q = m.subarray(12, off + 5); const name = labels.join('.').toLowerCase(); const ip = m.readUInt16BE(off + 1) === 1 ? ZONE[name] : undefined;
  const h = Buffer.alloc(12); m.copy(h, 0, 0, 2); h.writeUInt16BE(0x8180 | (ZONE[name] ? 0 : 3), 2); h.writeUInt16BE(1, 4); h.writeUInt16BE(ip ? 1 : 0, 6);
  const rr = Buffer.alloc(16); rr.writeUInt16BE(0xc00c, 0); rr.writeUInt16BE(1, 2); rr.writeUInt16BE(1, 4); rr.writeUInt32BE(60, 6); rr.writeUInt16BE(4, 10);
  if (ip) ip.split('.').forEach((b, i) => { rr[12 + i] = Number(b); });
  dns.send(Buffer.concat(ip ? [h, q, rr] : [h, q]), r.port, r.address);
});
dns.bind(53, '198.51.100.53');
setTimeout(() => process.stdout.write('ready\\n'), 100);
`;

const PROBE = `
const net = require('node:net'), dgram = require('node:dgram');
const [kind, host, port] = process.argv.slice(2);
const done = (r) => { process.stdout.write(r + '\\n'); process.exit(0); };
setTimeout(() => done('timeout'), 1500);
if (kind === 'tcp') {
  const s = net.connect({ host, port: Number(port) }, () => s.write('GET / HTTP/1.0\\r\\n\\r\\n'));
  s.on('data', (d) => done(/hello/.test(d.toString()) ? 'ok' : 'ok-partial'));
  s.on('error', (e) => done(e.code));
} else {
  const s = dgram.createSocket('udp4');
  s.on('message', () => done('ok'));
  s.on('error', (e) => done(e.code));
  s.send('ping', Number(port), host);
}
`;

function sh(argv: readonly string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_./:=@%+,-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** srt's own flags (-c, -s, -d) would swallow the command's: give it one command string with -c. */
function srtArgv(dir: string, cmd: readonly string[]): string[] {
  return ['ip', 'netns', 'exec', HOST_OF_SRT.ns, SRT, '-s', join(dir, 'srt.json'), '-c', `cd ${dir} && ${sh(cmd)}`];
}
const HOST_OF_SRT = { ns: '' };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

function timeCmd(argv: readonly string[]): Promise<number> {
  const t0 = performance.now();
  return new Promise((res) => {
    const c = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' });
    c.on('close', () => res(performance.now() - t0));
    c.on('error', () => res(NaN));
  });
}

async function medianOf(n: number, fn: () => Promise<number>): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) xs.push(await fn());
  return median(xs);
}

function rule(t: string): NetRule {
  const r = parseNetRule(t);
  if (typeof r === 'string') throw new Error(r);
  return r;
}

export async function benchSandbox(): Promise<Row[]> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) throw new Error('the sandbox benchmark needs root');
  const host = `csb${randomBytes(2).toString('hex')}-host`;
  const dir = mkdtempSync(join(tmpdir(), 'cordon-bench-sbx-'));
  const rows: Row[] = [];
  const ip = (...a: string[]): void => {
    const r = spawnSync('ip', a);
    if (r.status !== 0) throw new Error(`ip ${a.join(' ')}: ${r.stderr.toString()}`);
  };
  let server: ReturnType<typeof spawn> | undefined;
  const srtOk = existsSync(SRT);
  HOST_OF_SRT.ns = host;
  try {
    writeFileSync(join(dir, 'server.cjs'), SERVER);
    writeFileSync(join(dir, 'probe.cjs'), PROBE);
    writeFileSync(
      join(dir, 'srt.json'),
      JSON.stringify({ network: { allowedDomains: ['198.51.100.10'], deniedDomains: [] }, filesystem: { denyRead: [], allowWrite: [dir], denyWrite: [] } }),
    );
    ip('netns', 'add', host);
    ip('-n', host, 'link', 'set', 'lo', 'up');
    ip('-n', host, 'link', 'add', 'inet0', 'type', 'veth', 'peer', 'name', 'inet1');
    for (const a of ['198.51.100.10/24', '198.51.100.11/24', '198.51.100.53/24']) ip('-n', host, 'addr', 'add', a, 'dev', 'inet0');
    ip('-n', host, 'link', 'set', 'inet0', 'up');
    ip('-n', host, 'link', 'set', 'inet1', 'up');
    server = spawn('ip', ['netns', 'exec', host, process.execPath, join(dir, 'server.cjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((res) => server!.stdout!.once('data', () => res()));

    const filtered: SandboxInput = {
      command: ['true'],
      mode: 'filtered',
      hostNetns: host,
      allow: [rule('198.51.100.10:8080')],
      allowDomains: [parseDomainRule('allowed.test:8080')!],
      dnsUpstream: '198.51.100.53',
      workdir: dir,
      stdio: 'ignore',
      hide: [],
    };
    const isolated: SandboxInput = { command: ['true'], mode: 'isolated', workdir: dir, stdio: 'ignore', hide: [] };

    // The code as users run it: the compiled dist/ (bin/cordon uses it when it is fresh; the
    // resolver is then a plain `node resolver-main.js`, not a tsx start). Build first.
    const built = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, encoding: 'utf8' });
    if (built.status !== 0) throw new Error(`npm run build failed: ${built.stdout}${built.stderr}`);
    const { sandbox } = (await import(join(ROOT, 'dist', 'sandbox', 'run.js'))) as typeof import('../src/sandbox/run.js');

    // 1. Start-up.
    const nodeMs = await medianOf(RUNS, () => timeCmd([process.execPath, '-e', '0']));
    const libIso = await medianOf(RUNS, async () => (await sandbox(isolated)).ms);
    const libFil = await medianOf(RUNS, async () => {
      const t0 = performance.now();
      await sandbox({ ...filtered, allowDomains: [] });
      return performance.now() - t0;
    });
    const libDns = await medianOf(RUNS, async () => {
      const t0 = performance.now();
      await sandbox(filtered);
      return performance.now() - t0;
    });
    const bwrapMs = await medianOf(RUNS, () =>
      timeCmd([
        'bwrap',
        '--unshare-all',
        '--die-with-parent',
        '--new-session',
        '--ro-bind',
        '/',
        '/',
        '--dev',
        '/dev',
        '--proc',
        '/proc',
        '--tmpfs',
        '/tmp',
        '--',
        'true',
      ]),
    );
    const cliIso = await medianOf(RUNS, () => timeCmd([CORDON, 'run', '-q', '--', 'true']));
    const srtMs = srtOk ? await medianOf(RUNS, () => timeCmd(srtArgv(dir, ['true']))) : NaN;
    const base = `median of ${RUNS}; baseline node -e 0 = ${nodeMs.toFixed(0)} ms`;
    rows.push({
      name: 'cordon run -- true: library, isolated',
      ms: libIso,
      baselineMs: nodeMs,
      ratio: libIso / nodeMs,
      notes: `${base}; netns + nft + bwrap + teardown`,
    });
    rows.push({
      name: 'cordon run -- true: library, filtered (veth + NAT)',
      ms: libFil,
      baselineMs: nodeMs,
      ratio: libFil / nodeMs,
      notes: `${base}; plus veth pair, host NAT table`,
    });
    rows.push({
      name: 'cordon run -- true: library, filtered + resolver',
      ms: libDns,
      baselineMs: nodeMs,
      ratio: libDns / nodeMs,
      notes: `${base}; plus the resolver process (a node start)`,
    });
    rows.push({
      name: 'bwrap --unshare-all true (no policy, no counters)',
      ms: bwrapMs,
      baselineMs: nodeMs,
      ratio: bwrapMs / nodeMs,
      notes: `${base}; the floor of any bwrap-based sandbox`,
    });
    rows.push({
      name: 'cordon run -- true: CLI (bin/cordon, dist), isolated',
      ms: cliIso,
      baselineMs: nodeMs,
      ratio: cliIso / nodeMs,
      notes: `${base}; the CLI's own node start included`,
    });
    rows.push({
      name: 'srt true (sandbox-runtime 0.0.83)',
      ms: srtMs,
      baselineMs: nodeMs,
      ratio: srtMs / nodeMs,
      notes: srtOk ? `${base}; run inside the host-playing namespace` : 'srt not installed',
    });
    rows.push({
      name: 'cordon run -- true (CLI) against srt true',
      ms: cliIso,
      baselineMs: srtMs,
      ratio: cliIso / srtMs,
      notes: `target ≤ 0.25; node -e 0 alone is ${(nodeMs / srtMs).toFixed(2)} of srt`,
    });
    rows.push({
      name: 'library per-run overhead, isolated, against bare bwrap',
      ms: libIso - bwrapMs,
      baselineMs: bwrapMs,
      ratio: libIso / bwrapMs,
      notes: 'target < 20 ms: what cordon adds to a bare bwrap start (namespace, policy, counters, teardown)',
    });

    // 2. 100 HTTP requests from inside (curl, one process, a fresh connection each).
    const urls = Array.from({ length: 100 }, () => 'http://198.51.100.10:8080/');
    // Output goes nowhere (stdio ignored); every request must answer 200, checked below.
    const curl = ['curl', '-s', '-H', 'Connection: close', ...urls];
    const none = await medianOf(5, () => timeCmd(['ip', 'netns', 'exec', host, ...curl]));
    const cordonTrue = await medianOf(5, async () => (await sandbox({ ...filtered, allowDomains: [] })).ms);
    const cordon = await medianOf(5, async () => (await sandbox({ ...filtered, allowDomains: [], command: curl })).ms);
    const srtTrue = srtOk ? srtMs : NaN;
    const srt = srtOk ? await medianOf(5, () => timeCmd(srtArgv(dir, curl))) : NaN;
    const count = (argv: readonly string[]): number => {
      const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
      return (r.stdout.match(/hello/g) ?? []).length;
    };
    const srtCount = srtOk ? count(srtArgv(dir, curl)) : 0;
    const checkOut = `cordon-${randomBytes(3).toString('hex')}`;
    await sandbox({ ...filtered, allowDomains: [], command: ['sh', '-c', `${sh(curl)} > ${checkOut}`] });
    const cordonCount = (readFileSync(join(dir, checkOut), 'utf8').match(/hello/g) ?? []).length;
    const per = (total: number, start: number): number => (total - start) / 100;
    rows.push({
      name: '100 HTTP requests: per request, no sandbox',
      ms: none / 100,
      baselineMs: none / 100,
      ratio: 1,
      notes: `curl in the host-playing namespace, total ${none.toFixed(0)} ms (median of 5)`,
    });
    rows.push({
      name: '100 HTTP requests: per request, cordon filtered',
      ms: per(cordon, cordonTrue),
      baselineMs: none / 100,
      ratio: per(cordon, cordonTrue) / (none / 100),
      notes: `(sandboxed curl − sandboxed true) / 100; direct through veth + NAT, nft allow rule; ${cordonCount}/100 answered`,
    });
    rows.push({
      name: '100 HTTP requests: per request, srt',
      ms: per(srt, srtTrue),
      baselineMs: none / 100,
      ratio: per(srt, srtTrue) / (none / 100),
      notes: srtOk ? `(srt curl − srt true) / 100; through srt's HTTP proxy; ${srtCount}/100 answered` : 'srt not installed',
    });

    // 3. Escape attempts: result per sandbox.
    const attempts: [string, string[]][] = [
      ['control: proxy-aware curl → the allowed server', ['sh', '-c', 'curl -s -m 2 http://198.51.100.10:8080/ | grep -q hello && echo ok || echo blocked']],
      ['UDP to a non-allowed IP', ['node', 'probe.cjs', 'udp', '198.51.100.11', '7001']],
      ['ICMP echo', ['sh', '-c', 'ping -c1 -W1 198.51.100.11 >/dev/null 2>&1 && echo ok || echo blocked']],
      ['IP literal, not allowed (proxy-aware curl)', ['sh', '-c', 'curl -s -m 2 http://198.51.100.11:8080/ | grep -q hello && echo ok || echo blocked']],
      ['DNS: a name not allowed', ['sh', '-c', 'getent hosts other.test >/dev/null && echo ok || echo blocked']],
      ['DNS straight to the upstream server', ['node', 'probe.cjs', 'udp', '198.51.100.53', '53']],
      ['proxy-unaware client → non-allowed IP', ['node', 'probe.cjs', 'tcp', '198.51.100.11', '8080']],
      ['proxy-unaware client → the allowed server', ['node', 'probe.cjs', 'tcp', '198.51.100.10', '8080']],
    ];
    for (const [what, cmd] of attempts) {
      const t0 = performance.now();
      await sandbox({ ...filtered, command: ['sh', '-c', `${sh(cmd)} > escape.out 2>/dev/null`] });
      const ms = performance.now() - t0;
      const c = readFileSync(join(dir, 'escape.out'), 'utf8').trim();
      let s = 'not run';
      if (srtOk) {
        const a = srtArgv(dir, cmd);
        const r = spawnSync(a[0]!, a.slice(1), { encoding: 'utf8', timeout: 20_000 });
        s = r.stdout.trim().split('\n').pop() ?? '';
      }
      const verdict = (x: string): string => (x === 'ok' || x === 'ok-partial' ? 'reached' : `blocked (${x || 'no answer'})`);
      rows.push({ name: `escape: ${what}`, ms, baselineMs: ms, ratio: 1, notes: `cordon: ${verdict(c)}; srt: ${srtOk ? verdict(s) : 'not run'}` });
    }
  } finally {
    if (server?.pid) server.kill('SIGKILL');
    spawnSync('ip', ['netns', 'del', host]);
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = await benchSandbox();
  for (const r of rows) process.stdout.write(`${r.name}\t${r.ms.toFixed(2)}\t${r.baselineMs.toFixed(2)}\t${r.ratio.toFixed(2)}\t${r.notes}\n`);
}
