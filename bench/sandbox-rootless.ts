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
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface Row {
  name: string;
  ms: number;
  baselineMs: number;
  ratio: number;
  notes: string;
}

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

/** N sequential HTTP GETs, a fresh connection each; prints how many answered. */
const REQ = `
const http = require('node:http');
let ok = 0;
const one = (i) => i === 0 ? console.log(ok) : http.get({ host: process.argv[2], port: 8080, agent: false }, (r) => { r.resume(); r.on('end', () => { ok += r.statusCode === 200 ? 1 : 0; one(i - 1); }); }).on('error', () => one(i - 1));
one(Number(process.argv[3]));
`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

async function medianOf(n: number, fn: () => Promise<number>): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) xs.push(await fn());
  return median(xs);
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
  const timeCmd = (argv: readonly string[]): Promise<number> => {
    const t0 = performance.now();
    return new Promise((res) => {
      const c = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore', cwd: dir });
      c.on('close', (code) => res(code === 0 ? performance.now() - t0 : NaN));
      c.on('error', () => res(NaN));
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
    const srtOk = existsSync(SRT);

    const cordon = (flags: readonly string[], cmd: readonly string[] = ['true']): string[] =>
      asUser([CORDON, 'run', '-q', '--workdir', dir, ...flags, '--', ...cmd]);
    const name = ['--allow', 'allowed.test:8080', '--dns-upstream', '198.51.100.53'];
    const addr = ['--allow', '198.51.100.10:8080'];
    const srt = (cmd: string): string[] => asUser([SRT, '-s', join(dir, 'srt.json'), '-c', `cd ${dir} && ${cmd}`]);

    // 1. Start-up, interleaved so load changes hit every variant alike.
    const t = { node: [] as number[], iso: [] as number[], addr: [] as number[], name: [] as number[], srt: [] as number[] };
    for (let i = 0; i < RUNS; i++) {
      t.node.push(await timeCmd(asUser([process.execPath, '-e', '0'])));
      t.iso.push(await timeCmd(cordon([])));
      t.addr.push(await timeCmd(cordon(addr)));
      t.name.push(await timeCmd(cordon(name)));
      t.srt.push(srtOk ? await timeCmd(srt('true')) : NaN);
    }
    const [nodeMs, iso, fil, dns, srtMs] = [median(t.node), median(t.iso), median(t.addr), median(t.name), median(t.srt)];
    const base = `median of ${RUNS}, interleaved, as uid 65534`;
    rows.push({ name: 'node -e 0 (uid 65534)', ms: nodeMs, baselineMs: nodeMs, ratio: 1, notes: `${base}; node's own start` });
    rows.push({ name: 'srt true (uid 65534)', ms: srtMs, baselineMs: nodeMs, ratio: srtMs / nodeMs, notes: srtOk ? base : 'srt not installed' });
    rows.push({
      name: 'rootless cordon run -- true (CLI, isolated) against srt true',
      ms: iso,
      baselineMs: srtMs,
      ratio: iso / srtMs,
      notes: `${base}; target ≤ 0.25; userns + netns + nft + bwrap, no pasta; node -e 0 alone is ${(nodeMs / srtMs).toFixed(2)} of srt`,
    });
    rows.push({
      name: 'rootless cordon run --allow IP:PORT -- true (CLI, filtered) against srt true',
      ms: fil,
      baselineMs: srtMs,
      ratio: fil / srtMs,
      notes: `${base}; holder + nft + pasta + nsenter + bwrap`,
    });
    rows.push({
      name: 'rootless cordon run --allow NAME:PORT -- true (CLI, filtered, one name) against srt true (one allowed domain)',
      ms: dns,
      baselineMs: srtMs,
      ratio: dns / srtMs,
      notes: `${base}; target ≤ 1; + the resolver (a node process) beside pasta`,
    });

    // 2. 100 HTTP requests, a fresh connection each: inside a rootless filtered sandbox against none.
    const n = 100;
    const none = await medianOf(5, () => timeCmd(asUser([process.execPath, join(dir, 'req.cjs'), '198.51.100.10', String(n)])));
    const inTrue = await medianOf(5, () => timeCmd(cordon(addr, [process.execPath, '-e', '0'])));
    const inReq = await medianOf(5, () => timeCmd(cordon(addr, [process.execPath, 'req.cjs', '198.51.100.10', String(n)])));
    const answered = output(cordon(addr, [process.execPath, 'req.cjs', '198.51.100.10', String(n)]));
    const per = (inReq - inTrue) / n;
    const nodeReqStart = nodeMs;
    rows.push({
      name: '100 HTTP requests: per request, no sandbox (uid 65534)',
      ms: (none - nodeReqStart) / n,
      baselineMs: (none - nodeReqStart) / n,
      ratio: 1,
      notes: '(node req.cjs 100 − node -e 0) / 100, median of 5',
    });
    rows.push({
      name: '100 HTTP requests: per request, rootless cordon filtered (pasta)',
      ms: per,
      baselineMs: (none - nodeReqStart) / n,
      ratio: per / ((none - nodeReqStart) / n),
      notes: `(sandboxed req.cjs − sandboxed node -e 0) / 100, median of 5; overhead ${(per - (none - nodeReqStart) / n).toFixed(2)} ms/request (target < 0.5); ${answered}/100 answered`,
    });

    // 3. The user-mode network alone: from start to a configured interface in a fresh user + netns.
    const holder = `unshare --user --map-root-user --net sh -c 'echo $$ > h.pid; exec sleep 5' & until [ -s h.pid ]; do :; done; H=$(cat h.pid); rm -f h.pid;`;
    const pastaMs = await medianOf(RUNS, async () => {
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
      ms: pastaMs,
      baselineMs: slirpMs,
      ratio: pastaMs / slirpMs,
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
