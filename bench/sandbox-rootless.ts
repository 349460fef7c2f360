/**
 * `cordon run` rootless benchmark (`npm run bench -- sandbox-rootless`): everything as uid 65534,
 * measured side by side in one run — the CLI's `cordon run -- true` (isolated, and filtered by an
 * address and by a name, through pasta) against `srt true` (@anthropic-ai/sandbox-runtime, same
 * user, same namespace); the per-request cost of 100 HTTP requests through pasta against none; and
 * the user-mode network's own start-up, pasta against slirp4netns (why pasta: rootless.ts).
 *
 * Safety as in test/sandbox-rootless.test.ts: `<P>h` plays the user's machine (192.0.2.10, default
 * via 192.0.2.1), `<P>n` the network beyond (HTTP on 198.51.100.10:8080, DNS on .53); every
 * command runs inside `<P>h`, so pasta's and slirp4netns's outside is that namespace. /dev/net/tun
 * is made 0666 (Debian's default) for the run and put back. Needs root (to make the namespaces).
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Row } from './row.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CORDON = join(ROOT, 'bin', 'cordon');
const SRT = join(ROOT, 'node_modules', '.bin', 'srt');
const RUNS = 11;
const NOBODY = '65534';

const SERVER = `
const http = require('node:http'), dgram = require('node:dgram');
http.createServer((q, r) => r.end('hello\\n')).listen(8080, '198.51.100.10');
const dns = dgram.createSocket('udp4');
dns.on('message', (m, r) => {
  let off = 12; const labels = [];
  while (m[off] !== 0) { labels.push(m.subarray(off + 1, off + 1 + m[off]).toString()); off += m[off] + 1; }
  const q = m.subarray(12, off + 5); const ok = labels.join('.').toLowerCase() === 'allowed.test' && m.readUInt16BE(off + 1) === 1;
  const h = Buffer.alloc(12); m.copy(h, 0, 0, 2); h.writeUInt16BE(0x8180 | (ok ? 0 : 3), 2); h.writeUInt16BE(1, 4); h.writeUInt16BE(ok ? 1 : 0, 6);
  const rr = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 51, 100, 10]);
  dns.send(Buffer.concat(ok ? [h, q, rr] : [h, q]), r.port, r.address);
});
dns.bind(53, '198.51.100.53');
setTimeout(() => process.stdout.write('ready\\n'), 100);
`;

/**
 * N sequential HTTP GETs, a fresh connection each; prints how many answered and the median time of
 * one request, measured inside the process: no start-up in it, and a median of single requests
 * is what a loaded machine's scheduling stalls disturb least (a total would add them all up).
 */
const REQ = `
const http = require('node:http');
let ok = 0;
const times = [];
const one = (i) => {
  if (i === 0) { times.sort((a, b) => a - b); return console.log(ok + ' ' + times[Math.floor(times.length / 2)].toFixed(4)); }
  const t0 = performance.now();
  http.get({ host: process.argv[2], port: 8080, agent: false }, (r) => { r.resume(); r.on('end', () => { times.push(performance.now() - t0); ok += r.statusCode === 200 ? 1 : 0; one(i - 1); }); }).on('error', () => { times.push(performance.now() - t0); one(i - 1); });
};
one(Number(process.argv[3]));
`;

/** Median wall and CPU (user + sys of the process and its children, /usr/bin/time) of one command. */
interface Timed {
  readonly wall: number;
  readonly cpu: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

async function medianOf(n: number, fn: () => Promise<number>): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) xs.push(await fn());
  return median(xs);
}

function medianTimed(xs: readonly Timed[]): Timed {
  return { wall: median(xs.map((x) => x.wall)), cpu: median(xs.map((x) => x.cpu)) };
}

/**
 * What a CLI that starts faster than the ESM modules of dist/ would give, built for the run (needs
 * esbuild, which tsx brings): [key, argv as the user, what]. An ESM bundle with code splitting (the
 * lazily imported commands stay lazy), and a V8 start-up snapshot of a CommonJS bundle of `run`
 * alone (`node --snapshot-blob`; a single-executable application with useSnapshot starts the same
 * way). Empty when esbuild is not there.
 */
function launcherAlternatives(dir: string, asUser: (argv: readonly string[]) => string[]): [string, string[], string][] {
  const esbuild = join(ROOT, 'node_modules', '.bin', 'esbuild');
  if (!existsSync(esbuild)) return [];
  const out: [string, string[], string][] = [];
  const esm = join(dir, 'esm');
  const b1 = spawnSync(
    esbuild,
    [
      join(ROOT, 'dist', 'cli', 'main.js'),
      '--bundle',
      '--splitting',
      '--platform=node',
      '--format=esm',
      '--target=node20',
      `--outdir=${esm}`,
      '--out-extension:.js=.mjs',
      '--log-level=error',
      "--banner:js=import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    ],
    { encoding: 'utf8' },
  );
  if (b1.status === 0)
    out.push(['esm', asUser([process.execPath, join(esm, 'main.mjs'), 'run', '-q', '--', 'true']), 'one ESM bundle (esbuild, code splitting)']);
  const entry = join(dir, 'snap-entry.mjs');
  writeFileSync(
    entry,
    [
      "import v8 from 'node:v8';",
      `import { Command } from ${JSON.stringify(join(ROOT, 'node_modules', 'commander', 'esm.mjs'))};`,
      `import { registerRun } from ${JSON.stringify(join(ROOT, 'dist', 'cli', 'commands', 'run.js'))};`,
      "const go = (argv) => { const p = new Command().name('cordon'); registerRun(p); return p.parseAsync(argv, { from: 'user' }); };",
      'if (v8.startupSnapshot?.isBuildingSnapshot()) v8.startupSnapshot.setDeserializeMainFunction(() => go(process.argv.slice(1)));',
      'else go(process.argv.slice(2));',
    ].join('\n'),
  );
  const cjs = join(dir, 'run.cjs');
  const blob = join(dir, 'run.blob');
  const b2 = spawnSync(esbuild, [entry, '--bundle', '--platform=node', '--format=cjs', '--target=node20', `--outfile=${cjs}`, '--log-level=error'], {
    encoding: 'utf8',
  });
  const b3 = b2.status === 0 ? spawnSync(process.execPath, ['--snapshot-blob', blob, '--build-snapshot', cjs], { cwd: dir, encoding: 'utf8' }) : b2;
  if (b3.status === 0)
    out.push(['snap', asUser([process.execPath, '--snapshot-blob', blob, 'run', '-q', '--', 'true']), 'V8 start-up snapshot of `run` (node --snapshot-blob)']);
  const sea = b2.status === 0 ? seaBuild(dir, cjs) : undefined;
  if (sea !== undefined) out.push(['sea', asUser([sea, 'run', '-q', '--', 'true']), 'single executable (Node SEA, the same CommonJS bundle, code cache)']);
  return out;
}

/**
 * A Node single-executable application of the CommonJS bundle of `run` (Node 20: experimental,
 * CommonJS only): `node --experimental-sea-config`, a copy of this node, the blob injected with
 * postject (not a dependency of cordon: found on $PATH or in node_modules/.bin, else no row).
 * Returns the executable, or undefined.
 */
function seaBuild(dir: string, cjs: string): string | undefined {
  const postject = [join(ROOT, 'node_modules', '.bin', 'postject'), ...(process.env.PATH ?? '').split(':').map((d) => join(d, 'postject'))].find((p) =>
    existsSync(p),
  );
  if (postject === undefined) return undefined;
  const cfg = join(dir, 'sea.json');
  const blob = join(dir, 'sea.blob');
  const exe = join(dir, 'cordon-sea');
  writeFileSync(cfg, JSON.stringify({ main: cjs, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true }));
  if (spawnSync(process.execPath, ['--experimental-sea-config', cfg], { cwd: dir }).status !== 0) return undefined;
  copyFileSync(process.execPath, exe);
  chmodSync(exe, 0o755);
  const r = spawnSync(postject, [exe, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'], { encoding: 'utf8' });
  return r.status === 0 ? exe : undefined;
}

export async function benchSandboxRootless(): Promise<Row[]> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0)
    throw new Error('the rootless sandbox benchmark needs root (to make the namespaces that play the network)');
  const P = `crb${randomBytes(2).toString('hex')}`;
  const H = `${P}h`;
  const N = `${P}n`;
  const dir = mkdtempSync(join(tmpdir(), 'cordon-bench-rootless-'));
  const state = join(dir, 'state');
  const ip = (...a: string[]): void => {
    const r = spawnSync('ip', a);
    if (r.status !== 0) throw new Error(`ip ${a.join(' ')}: ${r.stderr.toString()}`);
  };
  const asUser = (argv: readonly string[]): string[] => [
    'ip',
    'netns',
    'exec',
    H,
    'setpriv',
    `--reuid=${NOBODY}`,
    `--regid=${NOBODY}`,
    '--clear-groups',
    'env',
    '-i',
    `PATH=${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`,
    `HOME=${dir}`,
    `CORDON_SANDBOX_STATE_DIR=${state}`,
    ...argv,
  ];
  /** Wall ms (NaN on failure) and CPU ms (user + sys, children included: /usr/bin/time) of one run. */
  const timeCmd = (argv: readonly string[]): Promise<Timed> => {
    const t0 = performance.now();
    const cpuFile = join(dir, `cpu-${randomBytes(3).toString('hex')}`);
    const full = existsSync('/usr/bin/time') ? ['/usr/bin/time', '-f', '%U %S', '-o', cpuFile, ...argv] : [...argv];
    return new Promise((res) => {
      const c = spawn(full[0]!, full.slice(1), { stdio: 'ignore', cwd: dir });
      c.on('close', (code) => {
        const wall = code === 0 ? performance.now() - t0 : NaN;
        let cpu = NaN;
        try {
          const [u, y] = readFileSync(cpuFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
          cpu = ((u ?? NaN) + (y ?? NaN)) * 1000;
          rmSync(cpuFile, { force: true });
        } catch {
          // no /usr/bin/time: wall only
        }
        res({ wall, cpu });
      });
      c.on('error', () => res({ wall: NaN, cpu: NaN }));
    });
  };
  const output = (argv: readonly string[]): string => spawnSync(argv[0]!, argv.slice(1), { cwd: dir, encoding: 'utf8' }).stdout.trim();
  const rows: Row[] = [];
  const tunMode = statSync('/dev/net/tun').mode & 0o777;
  let server: ReturnType<typeof spawn> | undefined;
  try {
    chmodSync('/dev/net/tun', 0o666);
    chmodSync(dir, 0o755);
    mkdirSync(state);
    chownSync(dir, Number(NOBODY), Number(NOBODY));
    chownSync(state, Number(NOBODY), Number(NOBODY));
    writeFileSync(join(dir, 'server.cjs'), SERVER);
    writeFileSync(join(dir, 'req.cjs'), REQ);
    writeFileSync(
      join(dir, 'srt.json'),
      JSON.stringify({ network: { allowedDomains: ['allowed.test'], deniedDomains: [] }, filesystem: { denyRead: [], allowWrite: [dir], denyWrite: [] } }),
    );
    ip('netns', 'add', H);
    ip('netns', 'add', N);
    ip('link', 'add', `${P}a`, 'netns', H, 'type', 'veth', 'peer', 'name', `${P}b`, 'netns', N);
    ip('-n', H, 'link', 'set', 'lo', 'up');
    ip('-n', H, 'addr', 'add', '192.0.2.10/24', 'dev', `${P}a`);
    ip('-n', H, 'link', 'set', `${P}a`, 'up');
    ip('-n', H, 'route', 'add', 'default', 'via', '192.0.2.1');
    ip('-n', N, 'link', 'set', 'lo', 'up');
    ip('-n', N, 'addr', 'add', '192.0.2.1/24', 'dev', `${P}b`);
    ip('-n', N, 'link', 'set', `${P}b`, 'up');
    for (const a of ['198.51.100.10/32', '198.51.100.53/32']) ip('-n', N, 'addr', 'add', a, 'dev', 'lo');
    server = spawn('ip', ['netns', 'exec', N, process.execPath, join(dir, 'server.cjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((res) => server!.stdout!.once('data', () => res()));

    // The code as users run it: bin/cordon uses the compiled dist/ when it is fresh.
    const built = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, encoding: 'utf8' });
    if (built.status !== 0) throw new Error(`npm run build failed: ${built.stdout}${built.stderr}`);
    // make build's last step: the launcher of `cordon run -- CMD` without Node (dist/fast/).
    const fastBuilt = spawnSync(process.execPath, [join(ROOT, 'dist', 'cli', 'fast-build.js')], { cwd: ROOT, encoding: 'utf8' });
    if (fastBuilt.status !== 0) throw new Error(`dist/cli/fast-build.js failed: ${fastBuilt.stderr}`);
    const srtOk = existsSync(SRT);

    const cordon = (flags: readonly string[], cmd: readonly string[] = ['true']): string[] =>
      asUser([CORDON, 'run', '-q', '--workdir', dir, ...flags, '--', ...cmd]);
    const name = ['--allow', 'allowed.test:8080', '--dns-upstream', '198.51.100.53'];
    const addr = ['--allow', '198.51.100.10:8080'];
    const srt = (cmd: string): string[] => asUser([SRT, '-s', join(dir, 'srt.json'), '-c', `cd ${dir} && ${cmd}`]);

    // 1. Start-up, interleaved so load changes hit every variant alike; wall and CPU (CPU is what
    // a loaded machine distorts least: it does not count the time spent waiting for a core).
    const launchers = launcherAlternatives(dir, asUser);
    // Where the isolated start goes (CPU): node alone, + loading the run command's modules
    // (commander and the sandbox, nothing run), + bin/cordon's launcher, resolving and planning
    // (--dry-run: the whole start but the process chain), + the chain itself (the full run).
    const dist = join(ROOT, 'dist', 'cli');
    const variants: [string, string[]][] = [
      ['node', asUser([process.execPath, '-e', '0'])],
      [
        'mods',
        asUser([
          process.execPath,
          '--input-type=module',
          '-e',
          `await import(${JSON.stringify(join(ROOT, 'node_modules', 'commander', 'esm.mjs'))}); await import(${JSON.stringify(join(dist, 'commands', 'run.js'))})`,
        ]),
      ],
      ['dry', cordon(['--dry-run'])],
      ['iso', cordon([])],
      // `cordon run -- true` exactly as a user types it (work dir = the current one, the summary
      // on stderr): the fast launcher (dist/fast/run.sh, no Node), and the Node path for the same line.
      ['fast', asUser([CORDON, 'run', '--', 'true'])],
      ['isoNode', asUser(['env', 'CORDON_RUN_NODE=1', CORDON, 'run', '--', 'true'])],
      ['addr', cordon(addr)],
      ['name', cordon(name)],
      ...launchers.map(([k, argv]): [string, string[]] => [k, argv]),
      ...(srtOk ? [['srt', srt('true')] as [string, string[]]] : []),
    ];
    const t = new Map<string, Timed[]>(variants.map(([k]) => [k, []]));
    for (let i = 0; i < RUNS; i++) for (const [k, argv] of variants) t.get(k)!.push(await timeCmd(argv));
    const m = (k: string): Timed => (t.has(k) ? medianTimed(t.get(k)!) : { wall: NaN, cpu: NaN });
    const [nodeT, iso, fil, dns, srtT, mods, dry] = [m('node'), m('iso'), m('addr'), m('name'), m('srt'), m('mods'), m('dry')];
    const base = `median of ${RUNS}, interleaved, as uid 65534`;
    const cpuNote = (x: Timed, b: Timed): string => `CPU ${x.cpu.toFixed(0)} against ${b.cpu.toFixed(0)} ms (${(x.cpu / b.cpu).toFixed(2)}×)`;
    rows.push({
      name: 'node -e 0 (uid 65534)',
      ms: nodeT.wall,
      baselineMs: nodeT.wall,
      ratio: 1,
      notes: `${base}; node's own start; CPU ${nodeT.cpu.toFixed(0)} ms`,
    });
    rows.push({
      name: 'srt true (uid 65534)',
      ms: srtT.wall,
      baselineMs: nodeT.wall,
      ratio: srtT.wall / nodeT.wall,
      notes: srtOk ? `${base}; CPU ${srtT.cpu.toFixed(0)} ms` : 'srt not installed',
    });
    rows.push({
      name: 'rootless cordon run -- true (CLI, isolated) against srt true',
      ms: iso.wall,
      baselineMs: srtT.wall,
      ratio: iso.wall / srtT.wall,
      notes: `${base}; target ≤ 0.25; userns + netns + nft + bwrap, no pasta; node -e 0 alone is ${(nodeT.wall / srtT.wall).toFixed(2)} of srt; ${cpuNote(iso, srtT)}`,
    });
    const [fast, isoNode] = [m('fast'), m('isoNode')];
    rows.push({
      name: 'rootless cordon run -- true, fast launcher (dist/fast/run.sh: no Node) against srt true',
      ms: fast.wall,
      baselineMs: srtT.wall,
      ratio: fast.wall / srtT.wall,
      notes: `${base}; target ≤ 0.25; bin/cordon (sh) sources the launcher make build wrote from the plan code; the same sandbox as the Node path (test/sandbox-launcher.test.ts); ${cpuNote(fast, srtT)}`,
    });
    rows.push({
      name: 'rootless cordon run -- true, Node path (CORDON_RUN_NODE=1, the same command line) against srt true',
      ms: isoNode.wall,
      baselineMs: srtT.wall,
      ratio: isoNode.wall / srtT.wall,
      notes: `${base}; ${cpuNote(isoNode, srtT)}; the fast launcher against it: ${(fast.wall / isoNode.wall).toFixed(2)}× wall, ${(fast.cpu / isoNode.cpu).toFixed(2)}× CPU`,
    });
    rows.push({
      name: 'isolated start, CPU by part: node / + modules of run (commander, sandbox) / + launcher, options and plan (--dry-run) / + the process chain (the run)',
      ms: iso.cpu,
      baselineMs: nodeT.cpu,
      ratio: iso.cpu / nodeT.cpu,
      notes: `${base}; CPU ms: node ${nodeT.cpu.toFixed(0)}, modules +${(mods.cpu - nodeT.cpu).toFixed(0)}, launcher (bin/cordon), options and plan +${(dry.cpu - mods.cpu).toFixed(0)}, spawn and process chain (setpriv, unshare, sh, ip, nft, bwrap, nft list) +${(iso.cpu - dry.cpu).toFixed(0)}`,
    });
    rows.push({
      name: 'rootless cordon run --allow IP:PORT -- true (CLI, filtered) against srt true',
      ms: fil.wall,
      baselineMs: srtT.wall,
      ratio: fil.wall / srtT.wall,
      notes: `${base}; holder + nft + pasta + nsenter + bwrap; ${cpuNote(fil, srtT)}`,
    });
    rows.push({
      name: 'rootless cordon run --allow NAME:PORT -- true (CLI, filtered, one name) against srt true (one allowed domain)',
      ms: dns.wall,
      baselineMs: srtT.wall,
      ratio: dns.wall / srtT.wall,
      notes: `${base}; target ≤ 1; + the resolver, inside cordon (no second Node), beside pasta; ${cpuNote(dns, srtT)}`,
    });
    for (const [k, , what] of launchers) {
      const x = m(k);
      rows.push({
        name: `launcher alternative: ${what} — cordon run -- true against the CLI`,
        ms: x.wall,
        baselineMs: iso.wall,
        ratio: x.wall / iso.wall,
        notes: `${base}; against srt ${(x.wall / srtT.wall).toFixed(2)}; ${cpuNote(x, iso)} of the CLI`,
      });
    }

    // 2. 100 HTTP requests, a fresh connection each, timed inside the requesting process; no
    // sandbox, pasta alone (a user + network namespace and pasta, no policy, no bwrap: where the
    // cost comes from), and the rootless filtered sandbox — interleaved.
    const n = 100;
    const req = [process.execPath, join(dir, 'req.cjs'), '198.51.100.10', String(n)];
    const pastaOnly = asUser([
      'sh',
      '-c',
      `unshare --user --map-root-user --net sh -c 'echo $$ > q.pid; exec sleep 30' & until [ -s q.pid ]; do :; done; H=$(cat q.pid); rm -f q.pid; pasta --config-net --quiet --no-map-gw --ipv4-only -t none -u none -T none -U none --pid qp.pid $H; P=$(cat qp.pid); c0=$(awk '{print $14+$15}' /proc/$P/stat); R=$(nsenter --target=$H --user --net --preserve-credentials ${req.join(' ')}); c1=$(awk '{print $14+$15}' /proc/$P/stat); echo "$R $((c1-c0)) $(getconf CLK_TCK)"; kill $P $H; rm -f qp.pid`,
    ]);
    const per = { none: [] as number[], pasta: [] as number[], cordon: [] as number[] };
    // pasta's own CPU (user + sys) over the 100 requests, in ms: what each connection costs it.
    const pastaCpu: number[] = [];
    let answered = '';
    for (let i = 0; i < 7; i++) {
      for (const [k, argv] of [
        ['none', asUser(req)],
        ['pasta', pastaOnly],
        ['cordon', cordon(addr, req)],
      ] as const) {
        const [ok, ms, ticks, hz] = output(argv).split(' ');
        per[k].push(Number(ms));
        if (k === 'pasta') pastaCpu.push((Number(ticks) * 1000) / Number(hz));
        if (k === 'cordon') answered = ok ?? '?';
      }
    }
    const [noneMs, pastaMs, cordonMs] = [median(per.none), median(per.pasta), median(per.cordon)];
    const reqNote = `median request of ${n} (each timed inside the process), median over 7 runs, interleaved`;
    rows.push({ name: '100 HTTP requests: per request, no sandbox (uid 65534)', ms: noneMs, baselineMs: noneMs, ratio: 1, notes: reqNote });
    rows.push({
      name: '100 HTTP requests: per request, pasta alone (user + net namespace, no policy, no bwrap)',
      ms: pastaMs,
      baselineMs: noneMs,
      ratio: pastaMs / noneMs,
      notes: `${reqNote}; overhead ${(pastaMs - noneMs).toFixed(2)} ms/request; pasta's own CPU ${(median(pastaCpu) / n).toFixed(2)} ms per request (median over 7 runs; clock ticks)`,
    });
    rows.push({
      name: '100 HTTP requests: per request, rootless cordon filtered (pasta)',
      ms: cordonMs,
      baselineMs: noneMs,
      ratio: cordonMs / noneMs,
      notes: `${reqNote}; overhead ${(cordonMs - noneMs).toFixed(2)} ms/request (target < 0.5), of which pasta alone ${(pastaMs - noneMs).toFixed(2)}; ${answered}/100 answered`,
    });

    // 3. The user-mode network alone: from start to a configured interface in a fresh user + netns.
    const holder = `unshare --user --map-root-user --net sh -c 'echo $$ > h.pid; exec sleep 5' & until [ -s h.pid ]; do :; done; H=$(cat h.pid); rm -f h.pid;`;
    const pastaUpMs = await medianOf(RUNS, async () => {
      const out = output(
        asUser([
          'sh',
          '-c',
          `${holder} t0=$(date +%s%N); pasta --config-net --quiet --no-map-gw --ipv4-only -t none -u none -T none -U none --pid p.pid $H; t1=$(date +%s%N); kill $(cat p.pid) $H; rm -f p.pid; echo $(( (t1-t0)/1000 ))`,
        ]),
      );
      return Number(out) / 1000;
    });
    const slirpMs = await medianOf(RUNS, async () => {
      const out = output(
        asUser([
          'sh',
          '-c',
          `${holder} rm -f r.fifo; mkfifo r.fifo; t0=$(date +%s%N); slirp4netns --configure --disable-host-loopback --ready-fd=9 $H tap0 9>r.fifo >/dev/null 2>&1 & S=$!; head -c1 r.fifo >/dev/null; t1=$(date +%s%N); kill $S $H; rm -f r.fifo; echo $(( (t1-t0)/1000 ))`,
        ]),
      );
      return Number(out) / 1000;
    });
    rows.push({
      name: 'user-mode network up: pasta (--config-net, returns when configured)',
      ms: pastaUpMs,
      baselineMs: slirpMs,
      ratio: pastaUpMs / slirpMs,
      notes: `median of ${RUNS}; baseline slirp4netns --configure to --ready-fd; slirp4netns ${existsSync('/usr/bin/slirp4netns') ? 'installed' : 'not installed (NaN)'}`,
    });
    return rows;
  } finally {
    if (server?.pid) server.kill('SIGKILL');
    spawnSync('ip', ['netns', 'del', H]);
    spawnSync('ip', ['netns', 'del', N]);
    chmodSync('/dev/net/tun', tunMode);
    rmSync(dir, { recursive: true, force: true });
  }
}
