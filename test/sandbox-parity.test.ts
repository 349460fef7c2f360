/**
 * `cordon run` is one sandbox whether it is asked for by flags, by a config file or by a library
 * call: for each mode (isolated, filtered, vpn-only, open) the same options give deep-equal
 * resolved options on all three routes — the mode left to the default, so a library caller gets
 * the CLI's default — and, live, the same verdicts and result shape from the CLI and the library.
 */
import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { commandLineInput } from '../src/cli/commands/run.js';
import { sandboxRequest, type SandboxConfigInput } from '../src/sandbox/config.js';
import { resolveRequest } from '../src/sandbox/request.js';
import { resolveOptions, sandbox, type SandboxResult } from '../src/sandbox/run.js';
import type { SandboxMode, SandboxOptions } from '../src/sandbox/types.js';
import { requireOrSkip } from './support/require-env.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CORDON = join(ROOT, 'bin', 'cordon');
const DIR = mkdtempSync(join(tmpdir(), 'cordon-parity-'));
after(() => rmSync(DIR, { recursive: true, force: true }));

/** The same options as command-line flags: kebab keys are the flags, lists repeat, true is a switch. */
function argvOf(req: SandboxConfigInput): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(req)) {
    if (k === 'command') continue;
    for (const x of Array.isArray(v) ? v : [v]) {
      if (x === true) out.push(`--${k}`);
      else if (x !== false) out.push(`--${k}`, String(x));
    }
  }
  return [...out, '--', ...((req.command ?? []) as unknown[]).map(String)];
}

/** Resolved options on the three routes: library call, flags, --config file. */
async function threeWays(req: SandboxConfigInput): Promise<{ library: SandboxOptions; flags: SandboxOptions; file: SandboxOptions }> {
  const library = resolveOptions((await resolveRequest(sandboxRequest(req))).input);
  const flags = resolveOptions((await commandLineInput(argvOf(req))).input);
  const f = join(DIR, `cfg-${randomBytes(3).toString('hex')}.yaml`);
  writeFileSync(f, JSON.stringify(req));
  const file = resolveOptions((await commandLineInput(['--config', f])).input);
  return { library, flags, file };
}

/** A wg-quick client config (keys made up: resolving never brings the tunnel up). */
function wgConf(dir: string, priv: string, pub: string, endpoint: string): string {
  const f = join(dir, `wg-${randomBytes(3).toString('hex')}.conf`);
  writeFileSync(
    f,
    `[Interface]\nPrivateKey = ${priv}\nAddress = 10.77.0.2/24\nDNS = 10.77.0.1\n\n[Peer]\nPublicKey = ${pub}\nEndpoint = ${endpoint}\nAllowedIPs = 10.77.0.0/24\nPersistentKeepalive = 25\n`,
    { mode: 0o600 },
  );
  return f;
}
const KEY_A = 'yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=';
const KEY_B = 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=';

/** Per mode: options that leave the mode to the default where it can be inferred. */
function cases(hostNetns: string, wg: string, loopbackPort = 7001): [SandboxMode, SandboxConfigInput][] {
  return [
    ['isolated', { memory: '64m', timeout: 20, pids: 64, env: ['PARITY=1'], command: ['node', 'probe.cjs', 'tcp', '198.51.100.10', '7001'] }],
    [
      'filtered',
      {
        'host-netns': hostNetns,
        allow: ['198.51.100.10:7001'],
        deny: ['198.51.100.11'],
        'dns-upstream': '198.51.100.53',
        timeout: '20s',
        command: ['node', 'probe.cjs', 'tcp', '198.51.100.11', '7001'],
      },
    ],
    [
      'vpn-only',
      {
        'host-netns': hostNetns,
        wireguard: wg,
        allow: ['10.77.0.0/24'],
        'tunnel-wait': '500ms',
        command: ['node', 'probe.cjs', 'tcp', '198.51.100.11', '7001'],
      },
    ],
    ['open', { mode: 'open', cpus: 0.5, command: ['node', 'probe.cjs', 'tcp', '127.0.0.1', String(loopbackPort)] }],
  ];
}

describe('cordon run: the CLI and the library resolve the same options to the same sandbox', () => {
  const wg = wgConf(DIR, KEY_A, KEY_B, '198.51.100.10:51820');
  for (const [mode, req] of cases('parity-host', wg)) {
    it(`${mode}: flags, --config and a library call give deep-equal options`, async () => {
      const { library, flags, file } = await threeWays(req);
      assert.equal(library.mode, mode, 'the default mode is the same for the library');
      assert.deepEqual(flags, library);
      assert.deepEqual(file, library);
    });
  }

  it('the library infers the mode as the CLI does, from a SandboxInput too', () => {
    const rule = { cidr: { addr: 0xc6336401, len: 32 }, port: 443, text: '198.51.100.1:443' };
    assert.equal(resolveOptions({ command: ['true'], allow: [rule], hostNetns: 'h' }).mode, 'filtered');
    assert.equal(resolveOptions({ command: ['true'] }).mode, 'isolated');
    assert.equal(resolveOptions({ command: ['true'] }).tunnelWaitMs, 5000, 'one default for the tunnel wait');
  });

  it('a difference in the options shows: the comparison can fail', async () => {
    const { library } = await threeWays({ memory: '64m', command: ['true'] });
    const other = resolveOptions((await commandLineInput(['--memory', '65m', '--', 'true'])).input);
    assert.notDeepEqual(other, library);
  });
});

function skipReason(): string | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'needs root';
  for (const b of ['bwrap', 'nft', 'ip', 'wireguard-go', 'wg']) if (spawnSync('sh', ['-c', `command -v ${b}`]).status !== 0) return `needs ${b}`;
  return undefined;
}
const SKIP = requireOrSkip('cordon run parity (live)', skipReason());

const PROBE = `
const net = require('node:net');
const [kind, host, port] = process.argv.slice(2);
const done = (r) => { process.stderr.write(r + '\\n'); process.exit(r === 'ok' ? 0 : 3); };
setTimeout(() => done('timeout'), 700);
const s = net.connect({ host, port: Number(port) }, () => s.write('ping'));
s.on('data', (d) => done(d.toString() === 'ping' ? 'ok' : 'bad'));
s.on('error', (e) => done(e.code));
`;
const SERVER = `
const net = require('node:net');
for (const a of ['127.0.0.1', '198.51.100.10', '198.51.100.11', '10.77.0.1']) net.createServer((c) => c.on('data', (d) => c.write(d))).listen(7001, a);
setTimeout(() => process.stdout.write('ready\\n'), 100);
`;

/** What must agree between a CLI run and a library run: verdicts and the result's shape. */
function verdicts(r: Pick<SandboxResult, 'exitCode' | 'reason' | 'denied' | 'counters' | 'env' | 'hidden'> & { tunnel?: unknown }): unknown {
  return {
    exitCode: r.exitCode,
    reason: r.reason,
    denied: r.denied.map((d) => `${d.destination} ${d.proto} ${d.port ?? '-'}`).sort(),
    counterKeys: Object.keys(r.counters).sort(),
    tunnel: r.tunnel !== undefined,
    env: r.env,
    hidden: r.hidden,
  };
}

describe('cordon run parity (live): the same verdicts from the CLI and the library, per mode', { skip: SKIP }, () => {
  const host = `csp${randomBytes(2).toString('hex')}-host`;
  const dir = mkdtempSync(join(tmpdir(), 'cordon-parity-live-'));
  const srvIf = `cspw${randomBytes(2).toString('hex')}`;
  let server: ChildProcess | undefined;
  let wgd: ChildProcess | undefined;
  let wg = '';
  const ip = (...a: string[]): void => {
    const r = spawnSync('ip', a);
    assert.equal(r.status, 0, `ip ${a.join(' ')}: ${r.stderr.toString()}`);
  };

  before(async () => {
    writeFileSync(join(dir, 'probe.cjs'), PROBE);
    writeFileSync(join(dir, 'server.cjs'), SERVER);
    ip('netns', 'add', host);
    ip('-n', host, 'link', 'set', 'lo', 'up');
    ip('-n', host, 'link', 'add', 'inet0', 'type', 'veth', 'peer', 'name', 'inet1');
    for (const a of ['198.51.100.10/24', '198.51.100.11/24', '198.51.100.53/24']) ip('-n', host, 'addr', 'add', a, 'dev', 'inet0');
    ip('-n', host, 'link', 'set', 'inet0', 'up');
    ip('-n', host, 'link', 'set', 'inet1', 'up');
    // The VPN server for vpn-only: wireguard-go in the host namespace.
    const key = (): { priv: string; pub: string } => {
      const priv = spawnSync('wg', ['genkey'], { encoding: 'utf8' }).stdout.trim();
      return { priv, pub: spawnSync('wg', ['pubkey'], { input: priv, encoding: 'utf8' }).stdout.trim() };
    };
    const srv = key();
    const cli = key();
    wgd = spawn('ip', ['netns', 'exec', host, 'wireguard-go', '-f', srvIf], { stdio: 'ignore', env: { ...process.env, WG_PROCESS_FOREGROUND: '1' } });
    for (let i = 0; i < 200 && spawnSync('test', ['-S', `/var/run/wireguard/${srvIf}.sock`]).status !== 0; i++) await new Promise((res) => setTimeout(res, 10));
    const set = spawnSync('sh', ['-c', 'cat | wg setconf "$1" /dev/stdin', 'sh', srvIf], {
      input: `[Interface]\nPrivateKey = ${srv.priv}\nListenPort = 51820\n[Peer]\nPublicKey = ${cli.pub}\nAllowedIPs = 10.77.0.2/32\n`,
      encoding: 'utf8',
    });
    assert.equal(set.status, 0, set.stderr);
    ip('-n', host, 'addr', 'add', '10.77.0.1/24', 'dev', srvIf);
    ip('-n', host, 'link', 'set', srvIf, 'up');
    wg = wgConf(dir, cli.priv, srv.pub, '198.51.100.10:51820');
    server = spawn('ip', ['netns', 'exec', host, process.execPath, join(dir, 'server.cjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((res) => server!.stdout!.once('data', () => res()));
  });

  after(() => {
    if (server?.pid) server.kill('SIGKILL');
    if (wgd?.pid) wgd.kill('SIGKILL');
    spawnSync('ip', ['netns', 'del', host]);
    rmSync(`/var/run/wireguard/${srvIf}.sock`, { force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  /** Expected per mode: the probe's verdict (exit 0 = reached) and the denied destinations. */
  const expected: Record<SandboxMode, { exitCode: number; denied: string[] }> = {
    isolated: { exitCode: 3, denied: ['198.51.100.10 tcp 7001'] },
    // A deny entry records the destination without its port (ruleset.ts: `. 0`).
    filtered: { exitCode: 3, denied: ['198.51.100.11 tcp -'] },
    'vpn-only': { exitCode: 3, denied: ['198.51.100.11 tcp 7001'] },
    // Open: this process's own network; its loopback server answers, nothing is recorded.
    open: { exitCode: 0, denied: [] },
  };

  it('each mode: `cordon run --json` and sandbox() agree (exit code, reason, denied, result shape)', async () => {
    // Open mode's target: an echo server on this namespace's loopback (nothing leaves the machine).
    const { createServer } = await import('node:net');
    const echo = createServer((c) => c.on('data', (d) => c.write(d)));
    await new Promise<void>((res) => echo.listen(0, '127.0.0.1', res));
    const port = (echo.address() as { port: number }).port;
    after(() => echo.close());
    for (const [mode, req] of cases(host, '', port)) {
      const r = mode === 'vpn-only' ? { ...req, wireguard: wg } : req;
      // spawn, not spawnSync: the echo server in this process must keep answering meanwhile.
      const cli = await new Promise<{ status: number | null; stdout: string; stderr: string }>((res) => {
        const c = spawn(CORDON, ['run', '--json', '--workdir', dir, ...argvOf(r)], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        c.on('close', (status) => res({ status, stdout, stderr }));
      });
      assert.ok(cli.stdout.trim() !== '', `${mode}: no JSON from the CLI: ${cli.stderr}`);
      const fromCli = JSON.parse(cli.stdout) as SandboxResult;
      assert.equal(cli.status, fromCli.exitCode, `${mode}: the CLI exits with the command's code`);
      const { input } = await resolveRequest(sandboxRequest({ ...r, workdir: dir }));
      const fromLib = await sandbox({ ...input, stdio: 'ignore' });
      assert.deepEqual(verdicts(fromCli), verdicts(fromLib), `${mode}: CLI and library differ`);
      assert.equal(fromLib.exitCode, expected[mode].exitCode, `${mode}: exit code`);
      assert.deepEqual((verdicts(fromLib) as { denied: string[] }).denied, expected[mode].denied, `${mode}: denied`);
      assert.deepEqual(Object.keys(fromCli).sort(), Object.keys({ ...fromLib, ms: 0 }).sort(), `${mode}: the JSON carries the result's fields`);
    }
  });
});
