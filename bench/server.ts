/**
 * Benchmark: `cordon serve` under concurrent clients, each call against the same call through the
 * library in the same run (the baseline: what HTTP, authentication, validation, the database and
 * the event loop add).
 *
 *  1. query: `POST /api/specs/ID/versions/latest/query` on a generated 1,000-host spec
 *     (cordon gen --hosts 1000 --rules 2000 --seed 7), CLIENTS connections for SECONDS (autocannon),
 *     a different host pair per request; p50/p99 latency. Baseline: `queryJson` on the compiled
 *     spec, the same pairs, one after another; p50/p99 per call.
 *  2. matrix: the same spec's matrix. A 1,000-host version is a background job: CLIENTS
 *     connections ask for it at once (the 202 answers' p50/p99), then the time until the one shared
 *     job is done. Baseline: `compileText` + `matrixJson` in this process.
 *  3. peer creation: `POST /api/specs/ID/tunnels/wg0/peers` (server-made key pair, hub config
 *     rewritten 0600 atomically, QR codes), CLIENTS connections, PEERS peers; peers per second.
 *     Baseline: `PeerService.create`, the library call behind the route, on a second data
 *     directory in this process, one after another.
 *
 * The server runs in a child process (this file with `--child`), so autocannon's own work does not
 * share the server's event loop; both are on this machine (2 cores), talking over 127.0.0.1 only.
 * Everything is made under a temporary directory and removed afterwards.
 */
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSpec } from '../src/gen/generate.js';
import { compileText, matrixJson, queryJson } from '../src/server/analysis.js';
import { resolveSettings, type ServerSettingsInput } from '../src/server/config.js';
import { importSpecs, initAdmin, startServer } from '../src/server/index.js';
import { CompileCache } from '../src/server/compile-cache.js';
import { PeerService } from '../src/server/peers.js';
import { Store } from '../src/server/store.js';
import type { Row } from './row.js';

const CLIENTS = Number(process.env.CORDON_BENCH_SERVER_CLIENTS ?? 10);
const SECONDS = Number(process.env.CORDON_BENCH_SERVER_SECONDS ?? 5);
const PEERS = Number(process.env.CORDON_BENCH_SERVER_PEERS ?? 100);
const HOSTS = 1000;

/** The generated spec (its tunnel wg0 is a /24: room for about a hundred more peers). */
function benchSpec(): string {
  return generateSpec({ hosts: HOSTS, rules: 2000, seed: 7 });
}

/** Settings shared by the child server and the library baseline: quotas that do not get in the way of a benchmark. */
function benchSettings(dataDir: string): ServerSettingsInput {
  return {
    dataDir,
    host: '127.0.0.1',
    port: 0,
    loginLimit: { max: 1000, windowMs: 60_000 },
    apiCallsPerMinute: { free: 1e9, 'early-access': 1e9, admin: 1e9 },
    quotas: {
      free: { peers: 0, sandboxRunsPerHour: 0, vaultBytes: 0 },
      'early-access': { peers: 0, sandboxRunsPerHour: 0, vaultBytes: 0 },
      admin: { peers: 1e6, sandboxRunsPerHour: 0, vaultBytes: 0 },
    },
  };
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

async function child(dataDir: string): Promise<void> {
  const s = await startServer(benchSettings(dataDir), { log: new (await import('node:stream')).PassThrough().resume() });
  process.stdout.write(`${s.url}\n`);
  process.on('SIGTERM', () => void s.close().then(() => process.exit(0)));
}

async function startChild(dataDir: string): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child', dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^(http:\/\/\S+)\n/.exec(out);
      if (m) resolve(m[1]!);
    });
    proc.on('exit', (code) => reject(new Error(`the bench server exited (${code}) before listening`)));
  });
  return { url, proc };
}

/** The parts of the answers this benchmark reads (a job, a job's 202, an error). */
interface Answer {
  job?: { state: string };
  href?: string;
  state?: string;
  error?: string;
}

async function json(url: string, init: RequestInit & { token?: string } = {}): Promise<{ status: number; body: Answer }> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(init.token ? { authorization: `Bearer ${init.token}` } : {}) };
  const r = await fetch(url, { ...init, headers });
  return { status: r.status, body: (await r.json()) as Answer };
}

function cannon(opts: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(opts, (err, res) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(res)));
  });
}

export async function benchServer(): Promise<Row[]> {
  const root = mkdtempSync(join(tmpdir(), 'cordon-bench-server-'));
  let proc: ChildProcess | undefined;
  try {
    const text = benchSpec();
    const data = join(root, 'data');
    const { password } = await initAdmin(data);
    const store = new Store(join(data, 'cordon.db'));
    importSpecs(store, [{ name: 'big', text, file: 'big.yaml' }]);
    store.close();
    const started = await startChild(data);
    proc = started.proc;
    const url = started.url;
    const login = await fetch(`${url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password }),
    });
    const cookie = login.headers
      .getSetCookie()
      .find((c) => c.startsWith('cordon_session='))!
      .split(';')[0]!;
    const csrf = ((await login.json()) as { csrfToken: string }).csrfToken;
    const tok = await fetch(`${url}/api/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie, 'x-csrf-token': csrf },
      body: JSON.stringify({ name: 'bench', scopes: ['specs:read', 'peers:write', 'jobs:read'] }),
    });
    const token = ((await tok.json()) as { token: string }).token;
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

    // ---- library baseline: compile once, then the calls ----
    const t0 = performance.now();
    const c = compileText(text, 'big');
    const compileMs = performance.now() - t0;
    const hosts = [...c.ir.model.hosts.keys()].sort();
    const pairs = Array.from({ length: 2000 }, (_, i) => ({ from: hosts[(i * 7) % hosts.length]!, to: hosts[(i * 13 + 1) % hosts.length]! }));
    const libQuery: number[] = [];
    for (const p of pairs) {
      const s = performance.now();
      queryJson(c, { ...p, proto: 'tcp', port: 443, assume: 'configured' });
      libQuery.push(performance.now() - s);
    }
    const m0 = performance.now();
    matrixJson(c, 'configured');
    const libMatrixMs = performance.now() - m0;

    // ---- 1. query over HTTP ----
    // One query first, so the server's compile cache holds the version (compiling is the matrix row's business).
    const first = performance.now();
    const warm = await json(`${url}/api/specs/1/versions/latest/query`, {
      method: 'POST',
      token,
      body: JSON.stringify({ ...pairs[0], proto: 'tcp', port: 443 }),
    });
    if (warm.status !== 200) throw new Error(`query: ${warm.status} ${JSON.stringify(warm.body)}`);
    const firstQueryMs = performance.now() - first;
    let n = 0;
    const q = await cannon({
      url: `${url}/api/specs/1/versions/latest/query`,
      connections: CLIENTS,
      duration: SECONDS,
      method: 'POST',
      headers: auth,
      requests: [
        {
          setupRequest: (req) => ({ ...req, body: JSON.stringify({ ...pairs[n++ % pairs.length], proto: 'tcp', port: 443 }) }),
        },
      ],
    });
    if (q.non2xx > 0 || q.errors > 0) throw new Error(`query: ${q.non2xx} non-2xx answers, ${q.errors} errors`);

    // ---- 2. matrix: concurrent asks share one job ----
    const j0 = performance.now();
    const mRes = await cannon({ url: `${url}/api/specs/1/versions/latest/matrix`, connections: CLIENTS, amount: CLIENTS * 5, headers: auth });
    const job = await json(`${url}/api/specs/1/versions/latest/matrix`, { token });
    if (job.status !== 202) throw new Error(`matrix: expected 202, got ${job.status}`);
    let state = job.body.job?.state ?? 'failed';
    while (state !== 'done' && state !== 'failed') {
      await new Promise((r) => setTimeout(r, 20));
      state = (await json(`${url}${job.body.href ?? ''}`, { token })).body.state ?? 'failed';
    }
    const jobMs = performance.now() - j0;
    if (state !== 'done') throw new Error('matrix job failed');

    // ---- 3. peer creation ----
    let k = 0;
    const p = await cannon({
      url: `${url}/api/specs/1/tunnels/${[...c.ir.model.tunnels.keys()][0]}/peers`,
      connections: CLIENTS,
      amount: PEERS,
      method: 'POST',
      headers: auth,
      requests: [{ setupRequest: (req) => ({ ...req, body: JSON.stringify({ name: `bench-${k++}` }) }) }],
    });
    const created = p['2xx'];
    const peerRate = created / (p.duration || 1);
    // Library: the same PeerService call on a data directory of its own, in this process.
    const libData = join(root, 'lib');
    await initAdmin(libData);
    const libStore = new Store(join(libData, 'cordon.db'));
    importSpecs(libStore, [{ name: 'big', text, file: 'big.yaml' }]);
    const svc = new PeerService(libStore, resolveSettings(benchSettings(libData)), new CompileCache(libStore));
    const admin = libStore.userByName('admin')!;
    const tunnel = [...c.ir.model.tunnels.keys()][0]!;
    const l0 = performance.now();
    for (let i = 0; i < created; i++) await svc.create('bench', admin, 1, tunnel, `lib-${i}`, undefined, undefined);
    const libPeerS = (performance.now() - l0) / 1000;
    libStore.close();
    const libRate = created / libPeerS;

    const libP50 = pct(libQuery, 50);
    const libP99 = pct(libQuery, 99);
    return [
      {
        name: `server 1k: query p50 (${CLIENTS} clients)`,
        ms: q.latency.p50,
        baselineMs: libP50,
        ratio: q.latency.p50 / libP50,
        notes: `${q.requests.total} queries in ${SECONDS} s (${Math.round(q.requests.average)}/s), p99 ${q.latency.p99} ms; library queryJson p50 ${libP50.toFixed(3)} ms, p99 ${libP99.toFixed(3)} ms over ${pairs.length} pairs; the server's first query (compile into its cache) ${firstQueryMs.toFixed(0)} ms, library compile ${compileMs.toFixed(0)} ms`,
      },
      {
        name: `server 1k: query p99 (${CLIENTS} clients)`,
        ms: q.latency.p99,
        baselineMs: libP99,
        ratio: q.latency.p99 / libP99,
        notes: 'autocannon latency percentiles are whole milliseconds',
      },
      {
        name: `server 1k: matrix asked by ${CLIENTS} clients at once, until done`,
        ms: jobMs,
        baselineMs: libMatrixMs + compileMs,
        ratio: jobMs / (libMatrixMs + compileMs),
        notes: `${mRes.requests.total} asks answered 202 (p50 ${mRes.latency.p50} ms, p99 ${mRes.latency.p99} ms), all one shared job in a worker thread (compile + matrix); library compile ${compileMs.toFixed(0)} ms + matrixJson ${libMatrixMs.toFixed(0)} ms in this process`,
      },
      {
        name: `server: peer creation (${CLIENTS} clients)`,
        ms: 1000 / peerRate,
        baselineMs: 1000 / libRate,
        ratio: libRate / peerRate,
        notes: `${created} peers in ${p.duration.toFixed(1)} s = ${peerRate.toFixed(0)}/s over HTTP (p50 ${p.latency.p50} ms, p99 ${p.latency.p99} ms); library PeerService.create ${libRate.toFixed(0)}/s one after another; ms = per peer; each rewrites the hub config (0600, atomic) and makes two QR codes`,
      },
    ];
  } finally {
    proc?.kill('SIGTERM');
    rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') await child(process.argv[3]!);
else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = await benchServer();
  for (const r of rows)
    process.stdout.write(`${r.name}: ${r.ms.toFixed(2)} ms (library ${r.baselineMs.toFixed(3)} ms, ratio ${r.ratio.toFixed(2)}) — ${r.notes}\n`);
}
