/**
 * `cordon run` as an ordinary user (the rootless path: user + network namespace, pasta, the
 * policy loaded inside), live. The test runs cordon as uid 65534 (`setpriv --reuid=65534`).
 *
 * Safety: nothing here leaves the machine. "The user's real network" is a namespace the test
 * makes (`<P>h`, playing the user's machine: 192.0.2.10/24, default route via 192.0.2.1) with a
 * veth to a second one (`<P>n`, playing the network beyond: the gateway 192.0.2.1 and servers on
 * TEST-NET addresses). The whole cordon invocation runs inside `<P>h` (ip netns exec), so pasta's
 * outside is that namespace; pasta never runs in the machine's own namespace.
 *
 * Set-up changes one thing outside its namespaces, and says so: /dev/net/tun is made mode 0666
 * (Debian's default; this machine ships it 0600, which pasta cannot open as an ordinary user) and
 * put back to its original mode afterwards.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { requireOrSkip } from './support/require-env.js';
import {
  hasDefaultRoute,
  holderArgv,
  nsenterArgv,
  pastaArgv,
  pastaFailure,
  resolverPort,
  usernsFailure,
  withHolder,
  HOLDER_PID,
} from '../src/sandbox/rootless.js';
import { inlineNetwork, OWNER_ENV } from '../src/sandbox/plan.js';

const CORDON = fileURLToPath(new URL('../bin/cordon', import.meta.url));
const SRT = fileURLToPath(new URL('../node_modules/.bin/srt', import.meta.url));
const NOBODY = 65534;

function skipReason(): string | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'needs root (to make the namespaces that play the network)';
  for (const b of ['bwrap', 'nft', 'ip', 'pasta', 'nsenter', 'unshare', 'setpriv', 'python3', 'wireguard-go', 'wg'])
    if (spawnSync('sh', ['-c', `command -v ${b}`]).status !== 0) return `needs ${b}${b === 'pasta' ? ' (apt-get install passt)' : ''}`;
  const u = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'unshare', '--user', '--map-root-user', '--net', 'true']);
  if (u.status !== 0) return `unprivileged user namespaces do not work here: ${u.stderr.toString().trim()}`;
  return undefined;
}
const SKIP = requireOrSkip('cordon run rootless (live)', skipReason());

/**
 * Runs checks inside the sandbox and prints one `check result` line each. A check is
 * `tcp:IP:PORT` (echo), `udp:IP:PORT` (echo), `name:NAME` (resolve with the system resolver),
 * `dnsq:SERVER:NAME` (a raw DNS query straight to SERVER), `tcp6:IP:PORT`, `raw` (a raw socket),
 * `ping` (an ICMP ping socket), `curl:IP:PORT` (HTTP GET with curl, which uses a proxy when told),
 * `icmp:IP` (the ping command).
 */
const PROBE = `
const net = require('node:net'), dgram = require('node:dgram'), dns = require('node:dns'), { spawnSync } = require('node:child_process');
const one = (c) => new Promise((done) => {
  const t = setTimeout(() => done('timeout'), 1500);
  const end = (r) => { clearTimeout(t); done(r); };
  const [kind, ...rest] = c.split(':');
  if (kind === 'tcp' || kind === 'tcp6') {
    const port = Number(rest.pop()); const host = rest.join(':');
    const s = net.connect({ host, port }, () => s.write('ping'));
    s.on('data', (d) => { end(d.toString() === 'ping' ? 'ok' : 'bad'); s.destroy(); });
    s.on('error', (e) => end(e.code));
  } else if (kind === 'udp') {
    const s = dgram.createSocket('udp4');
    s.on('message', (d) => { end(d.toString() === 'ping' ? 'ok' : 'bad'); s.close(); });
    s.on('error', (e) => end(e.code));
    s.send('ping', Number(rest[1]), rest[0]);
  } else if (kind === 'name') {
    dns.lookup(rest[0], { family: 4 }, (e, a) => end(e ? e.code : a));
  } else if (kind === 'dnsq') {
    const q = Buffer.concat([Buffer.from('12340100000100000000000000', 'hex').subarray(0, 12), ...rest[1].split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from('0000010001', 'hex')]);
    const s = dgram.createSocket('udp4');
    s.on('message', () => { end('answered'); s.close(); });
    s.on('error', (e) => end(e.code));
    s.send(q, 53, rest[0]);
  } else if (kind === 'curl') {
    // A proxy-aware client: curl honours http_proxy (srt sets it; cordon passes none).
    const r = spawnSync('curl', ['-s', '-m', '1', '-o', '/dev/null', '-w', '%{http_code}', 'http://' + rest[0] + ':' + rest[1] + '/']);
    const code = String(r.stdout).trim();
    end(code === '200' ? 'ok' : 'curl-' + r.status + '-' + (code || '000'));
  } else if (kind === 'icmp') {
    const r = spawnSync('ping', ['-n', '-c', '1', '-W', '1', rest[0]]);
    end(r.status === 0 ? 'ok' : 'ping-' + r.status);
  } else if (kind === 'raw' || kind === 'ping') {
    const type = kind === 'raw' ? 'socket.SOCK_RAW' : 'socket.SOCK_DGRAM';
    const r = spawnSync('python3', ['-c', 'import socket\\ntry:\\n socket.socket(socket.AF_INET, ' + type + ', socket.IPPROTO_ICMP); print("opened")\\nexcept OSError as e:\\n print(type(e).__name__)']);
    end(String(r.stdout).trim() || 'error');
  } else end('unknown');
});
(async () => { for (const c of process.argv.slice(2)) process.stdout.write(c + ' ' + (await one(c)) + '\\n'); process.exit(0); })();
`;

/** The network beyond: TCP echo on 7001 and HTTP on 8080 everywhere (IPv6 too), UDP echo per address, a DNS server on 198.51.100.53. */
const SERVER = `
const net = require('node:net'), dgram = require('node:dgram');
net.createServer((c) => c.on('data', (d) => c.write(d))).listen(7001, '::');
require('node:http').createServer((q, r) => r.end('hello')).listen(8080, '::');
for (const a of ['198.51.100.10', '198.51.100.11', '169.254.169.254']) {
  const u = dgram.createSocket('udp4'); u.on('message', (m, r) => u.send(m, r.port, r.address)); u.bind(7001, a);
}
const ZONE = { 'allowed.test': '198.51.100.10', 'other.test': '198.51.100.11' };
const dns = dgram.createSocket('udp4');
dns.on('message', (m, r) => {
  let off = 12; const labels = [];
  while (m[off] !== 0) { labels.push(m.subarray(off + 1, off + 1 + m[off]).toString()); off += m[off] + 1; }
  const q = m.subarray(12, off + 5); const name = labels.join('.').toLowerCase(); const qtype = m.readUInt16BE(off + 1);
  const ip = qtype === 1 ? ZONE[name] : undefined;
  const h = Buffer.alloc(12); m.copy(h, 0, 0, 2); h.writeUInt16BE(0x8180 | (ZONE[name] ? 0 : 3), 2); h.writeUInt16BE(1, 4); h.writeUInt16BE(ip ? 1 : 0, 6);
  const rr = Buffer.alloc(16); rr.writeUInt16BE(0xc00c, 0); rr.writeUInt16BE(1, 2); rr.writeUInt16BE(1, 4); rr.writeUInt32BE(60, 6); rr.writeUInt16BE(4, 10);
  if (ip) ip.split('.').forEach((b, i) => { rr[12 + i] = Number(b); });
  dns.send(Buffer.concat(ip ? [h, q, rr] : [h, q]), r.port, r.address);
});
dns.bind(53, '198.51.100.53');
setTimeout(() => process.stdout.write('ready\\n'), 200);
`;

/** The user's own machine: a service on its loopback (must never be reachable from a sandbox). */
const LOOPBACK = `
require('node:net').createServer((c) => c.on('data', (d) => c.write(d))).listen(7009, '127.0.0.1', () => process.stdout.write('ready\\n'));
`;

interface Run {
  readonly code: number;
  readonly results: Record<string, string>;
  readonly denied: string[];
  readonly id: string;
  readonly stderr: string;
  /** vpn-only: the last handshake of the first peer ('' = never), from --json. */
  readonly handshake: string | undefined;
}

describe('rootless network, pure parts', () => {
  it("pasta never maps the gateway to the host's loopback nor forwards the sandbox's loopback there", () => {
    const a = pastaArgv({ ifname: 'cs000001s', publish: [], resolverPort: undefined });
    assert.ok(a.includes('--no-map-gw'));
    for (const [flag, v] of [
      ['--tcp-ports', 'none'],
      ['--udp-ports', 'none'],
      ['--tcp-ns', 'none'],
      ['--udp-ns', 'none'],
    ] as const)
      assert.equal(a[a.indexOf(flag) + 1], v, flag);
    assert.ok(a.includes('--ipv4-only'));
    assert.ok(a.includes('--foreground'), 'a child of cordon, so it dies with it');
    const route = 'Iface\tDestination\tGateway\ncs000001s\t00000000\t0102000A\ncs000001s\t000200C0\t00000000\n';
    assert.equal(hasDefaultRoute(route, 'cs000001s'), true);
    assert.equal(hasDefaultRoute(route.replace('\t00000000\t0102', '\t00FF0000\t0102'), 'cs000001s'), false);
  });

  it("with names, only UDP 53 goes to the resolver's port; --publish binds the host's 127.0.0.1 only", () => {
    const a = pastaArgv({ ifname: 'cs000001s', publish: [8080, 9090], resolverPort: 23456 });
    assert.equal(a[a.indexOf('--udp-ns') + 1], '53:23456');
    assert.equal(a[a.indexOf('--tcp-ns') + 1], 'none');
    assert.equal(a[a.indexOf('--tcp-ports') + 1], '127.0.0.1/8080,127.0.0.1/9090');
    for (const id of ['000000', 'ffffff', 'abc123']) assert.ok(resolverPort(id) >= 20000 && resolverPort(id) < 60000, id);
  });

  it('the holder loads the policy before it says ready, and fails with 125 when it cannot', () => {
    const script = holderArgv('table inet t {}\n')[7]!;
    assert.ok(script.indexOf('nft -f -') < script.indexOf('echo ready'));
    assert.match(script, /nft -f - <<'CORDON_NFT' \|\| exit 125/);
    assert.ok(!holderArgv(undefined)[7]!.includes('nft'), 'open mode: no policy');
    assert.deepEqual(holderArgv(undefined).slice(0, 5), ['unshare', '--user', '--map-root-user', '--net', '--']);
  });

  it('the holder PID goes into the command line only where planned', () => {
    const line = ['setpriv', '--', ...nsenterArgv(HOLDER_PID), 'bwrap', `--target=${HOLDER_PID}x`];
    assert.deepEqual(withHolder(line, 4242), ['setpriv', '--', ...nsenterArgv(4242), 'bwrap', `--target=${HOLDER_PID}x`]);
  });

  it('errors name the setting and what to do', () => {
    const none = (): undefined => undefined;
    assert.match(
      usernsFailure('unshare: unshare failed: Operation not permitted', (k) => (k === 'kernel/unprivileged_userns_clone' ? '0' : undefined)),
      /kernel\.unprivileged_userns_clone=1/,
    );
    assert.match(
      usernsFailure('unshare: unshare failed: No space left on device', (k) => (k === 'user/max_user_namespaces' ? '0' : undefined)),
      /user\.max_user_namespaces/,
    );
    assert.match(
      usernsFailure('unshare: x', (k) => (k === 'kernel/apparmor_restrict_unprivileged_userns' ? '1' : undefined)),
      /AppArmor/,
    );
    assert.match(usernsFailure('unshare: x', none), /--host-netns/);
    assert.match(pastaFailure('Failed to open tun socket in namespace'), /chmod 0666 \/dev\/net\/tun/);
    assert.match(pastaFailure("Don't run as root. Changing to nobody..."), /--host-netns/);
  });
});

describe('cordon run rootless (live)', { skip: SKIP }, () => {
  const P = `crl${randomBytes(2).toString('hex')}`;
  const H = `${P}h`;
  const N = `${P}n`;
  const dir = mkdtempSync(join(tmpdir(), 'cordon-rootless-'));
  const work = join(dir, 'work');
  const state = join(dir, 'state');
  const servers: ChildProcess[] = [];
  let tunMode: number | undefined;
  const ip = (...a: string[]): void => {
    const r = spawnSync('ip', a);
    assert.equal(r.status, 0, `ip ${a.join(' ')}: ${r.stderr.toString()}`);
  };
  const serve = async (ns: string, file: string): Promise<void> => {
    const s = spawn('ip', ['netns', 'exec', ns, process.execPath, file], { stdio: ['ignore', 'pipe', 'inherit'] });
    servers.push(s);
    await new Promise<void>((res) => s.stdout.once('data', () => res()));
  };

  before(async () => {
    // The one change outside the test's namespaces: Debian's default mode for the TUN device, put back in after().
    tunMode = statSync('/dev/net/tun').mode & 0o777;
    chmodSync('/dev/net/tun', 0o666);
    for (const d of [work, state]) {
      spawnSync('mkdir', ['-p', d]);
      chownSync(d, NOBODY, NOBODY);
    }
    chmodSync(dir, 0o755);
    writeFileSync(join(work, 'probe.cjs'), PROBE);
    writeFileSync(join(dir, 'server.cjs'), SERVER);
    writeFileSync(join(dir, 'loopback.cjs'), LOOPBACK);
    ip('netns', 'add', H);
    ip('netns', 'add', N);
    ip('link', 'add', `${P}a`, 'netns', H, 'type', 'veth', 'peer', 'name', `${P}b`, 'netns', N);
    ip('-n', H, 'link', 'set', 'lo', 'up');
    ip('-n', H, 'addr', 'add', '192.0.2.10/24', 'dev', `${P}a`);
    ip('-n', H, 'link', 'set', `${P}a`, 'up');
    ip('-n', H, 'route', 'add', 'default', 'via', '192.0.2.1');
    // IPv6 too, so an IPv6 attempt from a sandbox would have somewhere to go.
    ip('-n', H, 'addr', 'add', '2001:db8:1::10/64', 'dev', `${P}a`, 'nodad');
    ip('-n', H, 'route', 'add', 'default', 'via', '2001:db8:1::1');
    ip('-n', N, 'addr', 'add', '2001:db8:1::1/64', 'dev', `${P}b`, 'nodad');
    ip('-n', N, 'link', 'set', 'lo', 'up');
    ip('-n', N, 'addr', 'add', '192.0.2.1/24', 'dev', `${P}b`);
    ip('-n', N, 'link', 'set', `${P}b`, 'up');
    for (const a of ['198.51.100.10/32', '198.51.100.11/32', '198.51.100.53/32', '169.254.169.254/32']) ip('-n', N, 'addr', 'add', a, 'dev', 'lo');
    await serve(N, join(dir, 'server.cjs'));
    await serve(H, join(dir, 'loopback.cjs'));
  });

  after(() => {
    for (const s of servers) if (s.pid) s.kill('SIGKILL');
    spawnSync('ip', ['netns', 'del', H]);
    spawnSync('ip', ['netns', 'del', N]);
    if (tunMode !== undefined) chmodSync('/dev/net/tun', tunMode);
    rmSync(dir, { recursive: true, force: true });
  });

  /** cordon run as uid 65534, inside the namespace that plays the user's machine. */
  /** `argv` run as the unprivileged user, with a clean environment, inside the namespace that plays the user's machine. */
  function asNobody(argv: readonly string[], home = '/nonexistent'): string[] {
    return [
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
      `HOME=${home}`,
      `CORDON_SANDBOX_STATE_DIR=${state}`,
      ...argv,
    ];
  }

  function cordon(flags: readonly string[], checks: readonly string[], json = true, command?: string): Promise<Run> {
    const argv = asNobody([
      CORDON,
      'run',
      ...(json ? ['--json'] : []),
      '--workdir',
      work,
      ...flags,
      '--',
      'sh',
      '-c',
      command ?? `node probe.cjs ${checks.join(' ')} > out.txt`,
    ]);
    return new Promise((res) => {
      const c = spawn('ip', argv, { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      c.stdout.on('data', (d: Buffer) => (out += d.toString()));
      c.stderr.on('data', (d: Buffer) => (err += d.toString()));
      c.on('exit', (code) => {
        let results: Record<string, string> = {};
        try {
          results = Object.fromEntries(
            readFileSync(join(work, 'out.txt'), 'utf8')
              .trim()
              .split('\n')
              .filter(Boolean)
              .map((l) => [l.slice(0, l.lastIndexOf(' ')), l.slice(l.lastIndexOf(' ') + 1)]),
          );
          rmSync(join(work, 'out.txt'), { force: true });
        } catch {
          // no output: the assertions say what was missing
        }
        let j: { id?: string; denied?: { destination: string; proto: string; port?: number }[]; tunnel?: { peers: { latestHandshake?: string }[] } } = {};
        try {
          j = JSON.parse(out) as typeof j;
        } catch {
          // not JSON: an error before the run, in stderr
        }
        res({
          code: code ?? -1,
          results,
          denied: (j.denied ?? []).map((d) => `${d.proto} ${d.destination}${d.port !== undefined ? `:${d.port}` : ''}`),
          id: j.id ?? '',
          stderr: err,
          handshake: j.tunnel === undefined ? undefined : (j.tunnel.peers[0]?.latestHandshake ?? ''),
        });
      });
    });
  }

  /** Nothing of the run is left: no process naming its interface, holder or reaper, no state file. */
  function nothingLeft(r: Run): void {
    assert.match(r.id, /^[0-9a-f]{6}$/, r.stderr);
    const mine: string[] = [];
    for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      try {
        const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ');
        if (
          statSync(`/proc/${p}`).uid === NOBODY &&
          (cmd.includes(`cs${r.id}`) ||
            cmd.includes('cordon-holder') ||
            cmd.includes('cordon-reaper') ||
            cmd.includes('reaper-main') ||
            cmd.includes(`cordon-${r.id}-`))
        )
          mine.push(`${p}: ${cmd}`);
      } catch {
        // gone meanwhile
      }
    }
    assert.deepEqual(mine, [], 'processes left behind');
    assert.deepEqual(readdirSync(state), [], 'state files left behind');
    assert.deepEqual(
      readdirSync(tmpdir()).filter((f) => f.startsWith(`cordon-${r.id}-`)),
      [],
      'temp dirs left behind',
    );
  }

  it('filtered by address: the allowed address answers; others, the host loopback and the gateway do not; denials are reported', async () => {
    const r = await cordon(
      ['--allow', '198.51.100.10:7001', '--allow', '192.0.2.1:7009'],
      ['tcp:198.51.100.10:7001', 'tcp:198.51.100.11:7001', 'udp:198.51.100.11:7001', 'tcp:127.0.0.1:7009', 'tcp:192.0.2.1:7009', 'tcp:169.254.169.254:7001'],
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.results['tcp:198.51.100.10:7001'], 'ok', r.stderr);
    assert.notEqual(r.results['tcp:198.51.100.11:7001'], 'ok');
    assert.notEqual(r.results['udp:198.51.100.11:7001'], 'ok');
    // The machine's own loopback service: the sandbox's 127.0.0.1 is its own.
    assert.equal(r.results['tcp:127.0.0.1:7009'], 'ECONNREFUSED');
    // Allowed, the gateway is the gateway (nothing listens there), never the host's loopback (pasta --no-map-gw).
    assert.notEqual(r.results['tcp:192.0.2.1:7009'], 'ok');
    assert.notEqual(r.results['tcp:169.254.169.254:7001'], 'ok');
    for (const d of ['tcp 198.51.100.11:7001', 'udp 198.51.100.11:7001', 'tcp 169.254.169.254:7001'])
      assert.ok(r.denied.includes(d), `${d} not in ${r.denied.join(', ')}`);
    assert.ok(!r.denied.some((d) => d.includes('198.51.100.10')), r.denied.join(', '));
    nothingLeft(r);
  });

  it('filtered by name: the allowed name resolves and answers; another name, DNS straight to the upstream, IPv6, raw and ping sockets do not', async () => {
    const r = await cordon(
      ['--allow', 'allowed.test:7001', '--dns-upstream', '198.51.100.53'],
      [
        'name:allowed.test',
        'tcp:allowed.test:7001',
        'name:other.test',
        'dnsq:198.51.100.53:other.test',
        'tcp6:2001:db8::10:7001',
        'raw',
        'ping',
        'tcp:198.51.100.11:7001',
      ],
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.results['name:allowed.test'], '198.51.100.10', r.stderr);
    assert.equal(r.results['tcp:allowed.test:7001'], 'ok');
    assert.equal(r.results['name:other.test'], 'ENOTFOUND');
    assert.notEqual(r.results['dnsq:198.51.100.53:other.test'], 'answered');
    assert.notEqual(r.results['tcp6:2001:db8::10:7001'], 'ok');
    assert.equal(r.results.raw, 'PermissionError');
    assert.equal(r.results.ping, 'PermissionError');
    assert.notEqual(r.results['tcp:198.51.100.11:7001'], 'ok');
    assert.ok(r.denied.includes('dns other.test:53'), r.denied.join(', '));
    assert.ok(r.denied.includes('udp 198.51.100.53:53'), r.denied.join(', '));
    nothingLeft(r);
  });

  it('the command cannot change the policy (no capabilities, nft refused)', async () => {
    const r = await cordon(['--allow', '198.51.100.10:7001'], []);
    assert.equal(r.code, 0, r.stderr);
    const flush = spawnSync(
      'ip',
      asNobody([
        CORDON,
        'run',
        '-q',
        '--workdir',
        work,
        '--allow',
        '198.51.100.10:7001',
        '--',
        'sh',
        '-c',
        'nft flush ruleset 2>/dev/null && echo flushed; node probe.cjs tcp:198.51.100.11:7001',
      ]),
    );
    const out = flush.stdout.toString();
    assert.ok(!out.includes('flushed'), out);
    assert.match(out, /tcp:198\.51\.100\.11:7001 (?!ok)/);
  });

  it('isolated: nothing answers, not even the host loopback', async () => {
    const r = await cordon([], ['tcp:198.51.100.10:7001', 'udp:198.51.100.10:7001', 'tcp:127.0.0.1:7009']);
    assert.equal(r.code, 0, r.stderr);
    assert.notEqual(r.results['tcp:198.51.100.10:7001'], 'ok');
    assert.notEqual(r.results['udp:198.51.100.10:7001'], 'ok');
    assert.equal(r.results['tcp:127.0.0.1:7009'], 'ECONNREFUSED');
    assert.ok(r.denied.includes('tcp 198.51.100.10:7001'), r.denied.join(', '));
    nothingLeft(r);
  });

  it('open: everything outside answers, the host loopback still does not', async () => {
    const r = await cordon(['--mode', 'open'], ['tcp:198.51.100.11:7001', 'tcp:127.0.0.1:7009']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.results['tcp:198.51.100.11:7001'], 'ok', r.stderr);
    assert.equal(r.results['tcp:127.0.0.1:7009'], 'ECONNREFUSED');
    nothingLeft(r);
  });

  /**
   * The VPN server: wireguard-go (root) in the network beyond, on 198.51.100.10:51820, 10.77.0.1/24.
   * `conf(allowed)` writes a client config for uid 65534 (readable by it only); `stop()` ends the
   * server (safe to repeat).
   */
  async function vpnServer(): Promise<{ conf: (allowed: string) => string; stop: () => Promise<void>; clientKey: string }> {
    const srvIf = `${P}w`;
    const key = (): { priv: string; pub: string } => {
      const priv = spawnSync('wg', ['genkey'], { encoding: 'utf8' }).stdout.trim();
      return { priv, pub: spawnSync('wg', ['pubkey'], { input: priv, encoding: 'utf8' }).stdout.trim() };
    };
    const srv = key();
    const cli = key();
    const wgd = spawn('ip', ['netns', 'exec', N, 'wireguard-go', '-f', srvIf], { stdio: 'ignore', env: { ...process.env, WG_PROCESS_FOREGROUND: '1' } });
    const stop = async (): Promise<void> => {
      if (wgd.pid && wgd.exitCode === null && wgd.signalCode === null) {
        process.kill(wgd.pid, 'SIGKILL');
        await new Promise((res) => (wgd.exitCode !== null || wgd.signalCode !== null ? res(undefined) : wgd.once('exit', res)));
      }
      rmSync(`/var/run/wireguard/${srvIf}.sock`, { force: true });
    };
    try {
      for (let i = 0; i < 200 && !existsSync(`/var/run/wireguard/${srvIf}.sock`); i++) await new Promise((res) => setTimeout(res, 10));
      const set = spawnSync('sh', ['-c', 'cat | wg setconf "$1" /dev/stdin', 'sh', srvIf], {
        input: `[Interface]\nPrivateKey = ${srv.priv}\nListenPort = 51820\n[Peer]\nPublicKey = ${cli.pub}\nAllowedIPs = 10.77.0.2/32\n`,
        encoding: 'utf8',
      });
      assert.equal(set.status, 0, set.stderr);
      ip('-n', N, 'addr', 'add', '10.77.0.1/24', 'dev', srvIf);
      ip('-n', N, 'link', 'set', srvIf, 'up');
    } catch (e) {
      await stop();
      throw e;
    }
    const conf = (allowed: string): string => {
      const f = join(work, `wg-${randomBytes(3).toString('hex')}.conf`);
      writeFileSync(
        f,
        `[Interface]\nPrivateKey = ${cli.priv}\nAddress = 10.77.0.2/24\nDNS = 10.77.0.1\n\n[Peer]\nPublicKey = ${srv.pub}\nEndpoint = 198.51.100.10:51820\nAllowedIPs = ${allowed}\nPersistentKeepalive = 25\n`,
        { mode: 0o600 },
      );
      chownSync(f, NOBODY, NOBODY);
      return f;
    };
    return { conf, stop, clientKey: cli.priv };
  }

  /** Every process whose chain of parents leads to `root` (root included), as PID → start time. */
  function tree(root: number): Map<number, string> {
    const parent = new Map<number, number>();
    const start = new Map<number, string>();
    for (const d of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
      try {
        const st = readFileSync(`/proc/${d}/stat`, 'utf8');
        const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
        parent.set(Number(d), Number(f[1]));
        start.set(Number(d), f[19]!);
      } catch {
        // gone meanwhile
      }
    }
    const out = new Map<number, string>();
    for (const [p] of parent) {
      for (let q: number | undefined = p; q !== undefined && q > 1; q = parent.get(q)) {
        if (q === root) {
          out.set(p, start.get(p)!);
          break;
        }
      }
    }
    return out;
  }

  /** The namespaces (user, net, mnt: `net:[4026…]`) of these processes that are not the test's own or the user-playing namespace's. */
  function namespacesOf(pids: Iterable<number>): Set<string> {
    const skip = new Set(['user', 'net', 'mnt'].map((k) => readlinkSync(`/proc/self/ns/${k}`)));
    skip.add(spawnSync('ip', ['netns', 'exec', H, 'readlink', '/proc/self/ns/net'], { encoding: 'utf8' }).stdout.trim());
    const out = new Set<string>();
    for (const p of pids)
      for (const k of ['user', 'net', 'mnt']) {
        try {
          const ns = readlinkSync(`/proc/${p}/ns/${k}`);
          if (!skip.has(ns)) out.add(ns);
        } catch {
          // gone meanwhile
        }
      }
    return out;
  }

  /** Processes still running (not zombies) of `was` (same PID and start time), and processes anywhere in one of `namespaces`. */
  function survivors(was: Map<number, string>, namespaces: Set<string>): string[] {
    const left: string[] = [];
    for (const d of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
      try {
        const st = readFileSync(`/proc/${d}/stat`, 'utf8');
        const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
        if (f[0] === 'Z') continue;
        const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ').slice(0, 100);
        if (was.get(Number(d)) === f[19]) left.push(`${d} (started by cordon): ${cmd}`);
        else if (['user', 'net', 'mnt'].some((k) => namespaces.has(readlinkSync(`/proc/${d}/ns/${k}`)))) left.push(`${d} (in the run's namespaces): ${cmd}`);
      } catch {
        // gone meanwhile
      }
    }
    return left;
  }

  /** The run's temp dirs (`cordon-<id>-…`, the user's) in /tmp. */
  const tempDirs = (): string[] =>
    readdirSync(tmpdir()).filter((f) => {
      try {
        return /^cordon-[0-9a-f]{6}-/.test(f) && statSync(join(tmpdir(), f)).uid === NOBODY;
      } catch {
        return false;
      }
    });

  /**
   * Each mode: cordon as uid 65534 runs `sleep 60`; kill -9 of cordon; then nothing of the run is
   * left — no process it started (the command, holder, pasta, wireguard-go, the reaper; the resolver runs inside cordon),
   * no process in its user, network or mount namespaces (so they, and vpn-only's private /run
   * mount, are gone), no state file, no temp dir — without another cordon run to clean up.
   */
  const KILL_CASES: { readonly mode: string; readonly flags: (vpn: string) => string[]; readonly running: RegExp[] }[] = [
    { mode: 'isolated', flags: () => [], running: [/sleep 60/] },
    { mode: 'filtered by address', flags: () => ['--allow', '198.51.100.10:7001'], running: [/cordon-holder/, /^pasta /, /cordon-reaper/, /sleep 60/] },
    {
      mode: 'filtered by name',
      flags: () => ['--allow', 'allowed.test:7001', '--dns-upstream', '198.51.100.53'],
      running: [/cordon-holder/, /^pasta /, /cordon-reaper/, /sleep 60/],
    },
    { mode: 'open', flags: () => ['--mode', 'open'], running: [/cordon-holder/, /^pasta /, /cordon-reaper/, /sleep 60/] },
    { mode: 'vpn-only', flags: (vpn) => ['--wireguard', vpn], running: [/cordon-holder/, /^pasta /, /^wireguard-go /, /cordon-reaper/, /sleep 60/] },
  ];
  for (const k of KILL_CASES) {
    it(`kill -9 of cordon, ${k.mode}: no process, namespace, mount or file of the run is left`, async () => {
      const vpn = k.mode === 'vpn-only' ? await vpnServer() : undefined;
      try {
        const started = join(work, 'started');
        rmSync(started, { force: true });
        assert.deepEqual(readdirSync(state), [], 'no state file before the run');
        // bin/cordon execs node (and ip netns exec, setpriv and env exec too), so the PID spawn returns is cordon's own.
        const c = spawn(
          'ip',
          asNobody([CORDON, 'run', '-q', '--workdir', work, ...k.flags(vpn?.conf('10.77.0.0/24') ?? ''), '--', 'sh', '-c', 'touch started; sleep 60']),
          {
            stdio: ['ignore', 'ignore', 'pipe'],
          },
        );
        let err = '';
        c.stderr.on('data', (d: Buffer) => (err += d.toString()));
        for (let i = 0; i < 600 && !existsSync(started) && c.exitCode === null; i++) await new Promise((res) => setTimeout(res, 50));
        assert.ok(existsSync(started), `the command started: ${err}`);
        const was = tree(c.pid!);
        const cmds = [...was.keys()].map((p) => {
          try {
            return readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ');
          } catch {
            return '';
          }
        });
        for (const r of k.running)
          assert.ok(
            cmds.some((x) => r.test(x)),
            `${r} runs: ${cmds.join(' | ')}`,
          );
        const namespaces = namespacesOf(was.keys());
        assert.ok(namespaces.size >= 2, `the run has namespaces of its own: ${[...namespaces].join(' ')}`);
        // Isolated mode writes no state file at all; the others one, which the reaper removes.
        assert.equal(readdirSync(state).length, k.mode === 'isolated' ? 0 : 1, readdirSync(state).join(' '));
        c.kill('SIGKILL');
        await new Promise((res) => (c.exitCode !== null || c.signalCode !== null ? res(undefined) : c.once('exit', res)));
        const gone = (): string[] => [
          ...survivors(was, namespaces),
          ...readdirSync(state).map((f) => `state file ${f}`),
          ...tempDirs().map((f) => `temp dir ${f}`),
        ];
        // Processes die at once; the reaper's Node (through tsx when dist/ is stale) takes a moment on a loaded machine.
        let left = gone();
        for (let i = 0; i < 300 && left.length > 0; i++) {
          await new Promise((res) => setTimeout(res, 50));
          left = gone();
        }
        assert.deepEqual(left, [], 'left behind');
      } finally {
        await vpn?.stop();
      }
    });
  }

  it("--publish PORT: the sandbox's port answers on the user's 127.0.0.1, not on the user's other addresses", async () => {
    const ready = join(work, 'listening');
    rmSync(ready, { force: true });
    writeFileSync(
      join(work, 'serve.cjs'),
      `require('node:net').createServer((c) => c.end('hi')).listen(7100, '0.0.0.0', () => require('node:fs').writeFileSync('listening', ''));`,
    );
    const run = cordon(['--allow', '198.51.100.10:7001', '--publish', '7100', '--timeout', '8s'], [], true, 'node serve.cjs');
    for (let i = 0; i < 200 && !existsSync(ready); i++) await new Promise((res) => setTimeout(res, 50));
    assert.ok(existsSync(ready), 'the server in the sandbox listens');
    const get = (addr: string): string =>
      spawnSync(
        'ip',
        [
          'netns',
          'exec',
          H,
          process.execPath,
          '-e',
          `const s=require('node:net').connect(7100,'${addr}');s.on('data',d=>{console.log(String(d));process.exit(0)});s.on('error',e=>{console.log(e.code);process.exit(0)});setTimeout(()=>{console.log('timeout');process.exit(0)},2000)`,
        ],
        {
          encoding: 'utf8',
        },
      ).stdout.trim();
    assert.equal(get('127.0.0.1'), 'hi');
    assert.notEqual(get('192.0.2.10'), 'hi');
    const r = await run;
    assert.equal(r.code, 124, r.stderr);
    nothingLeft(r);
  });

  it("isolated mode's command line starts nothing once its owner is gone (cordon killed before setpriv set the death signal)", () => {
    // The inline script as planned, in a network namespace of this test's own (unshare --net as
    // root, gone when it exits); its parent is this process, standing in for cordon.
    const mark = join(dir, 'ran');
    const runAs = (owner: string | undefined): number | null => {
      rmSync(mark, { force: true });
      const argv = [...inlineNetwork('table inet cordon_sbx {\n}\n'), 'touch', mark];
      const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' };
      if (owner !== undefined) env[OWNER_ENV] = owner;
      return spawnSync(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] }).status;
    };
    assert.equal(runAs(String(process.pid)), 0);
    assert.ok(existsSync(mark), 'its owner alive: the command runs');
    assert.equal(runAs('1'), 125);
    assert.ok(!existsSync(mark), 'another owner: nothing runs');
    assert.equal(runAs(undefined), 0);
    assert.ok(existsSync(mark), 'run by hand (no owner given): the command runs');
  });

  it('says what it cannot do: ICMP entries (a note), --cpus (refused), with the reason', async () => {
    // Without --json, which silences the notes.
    const r = await cordon(['--allow', '198.51.100.10/icmp'], [], false);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /ICMP does not leave a rootless sandbox/);
    const c = await cordon(['--allow', '198.51.100.10:7001', '--cpus', '0.5'], []);
    assert.notEqual(c.code, 0);
    assert.match(c.stderr, /--cpus needs a cgroup/);
  });

  it('escape attempts side by side: no sandbox (control), rootless cordon (asserted), srt (recorded), all as uid 65534', async (t) => {
    // [attempt, probe, cordon's expected outcome, what cordon reports]; `reach` rows are the controls of the allowlist.
    // Raw and ping sockets and IPv6 never make a packet in the sandbox (no socket, no route), so nothing to report.
    const rows: [string, string, 'reach' | 'block', string | undefined][] = [
      ['allowed server, proxy-aware client (curl)', 'curl:198.51.100.10:8080', 'reach', undefined],
      ['allowed server, proxy-unaware client (plain TCP)', 'tcp:198.51.100.10:7001', 'reach', undefined],
      ['UDP to a non-allowed IP', 'udp:198.51.100.11:7001', 'block', 'udp 198.51.100.11:7001'],
      ['ICMP echo (ping)', 'icmp:198.51.100.11', 'block', undefined],
      ['IP literal, not allowed (curl)', 'curl:198.51.100.11:8080', 'block', 'tcp 198.51.100.11:8080'],
      ['DNS: a name not allowed', 'name:other.test', 'block', 'dns other.test:53'],
      ['DNS straight to the upstream server', 'dnsq:198.51.100.53:other.test', 'block', 'udp 198.51.100.53:53'],
      ['proxy-unaware client → non-allowed IP', 'tcp:198.51.100.11:7001', 'block', 'tcp 198.51.100.11:7001'],
      ['raw socket', 'raw', 'block', undefined],
      ['IPv6', 'tcp6:2001:db8:1::1:7001', 'block', undefined],
      ["the machine's own loopback service", 'tcp:127.0.0.1:7009', 'block', undefined],
      ['link-local / metadata (plain TCP)', 'tcp:169.254.169.254:7001', 'block', 'tcp 169.254.169.254:7001'],
      ['link-local / metadata (curl)', 'curl:169.254.169.254:8080', 'block', 'tcp 169.254.169.254:8080'],
    ];
    const checks = rows.map((r) => r[1]);
    // Control: the same attempts with no sandbox, so a "blocked" below means the sandbox blocked it.
    const bare = Object.fromEntries(
      spawnSync('ip', asNobody([process.execPath, join(work, 'probe.cjs'), ...checks]), { cwd: work, encoding: 'utf8' })
        .stdout.trim()
        .split('\n')
        .map((l) => [l.slice(0, l.lastIndexOf(' ')), l.slice(l.lastIndexOf(' ') + 1)]),
    ) as Record<string, string>;
    for (const c of [
      'curl:198.51.100.10:8080',
      'udp:198.51.100.11:7001',
      'icmp:198.51.100.11',
      'curl:198.51.100.11:8080',
      'dnsq:198.51.100.53:other.test',
      'tcp:198.51.100.11:7001',
      'tcp6:2001:db8:1::1:7001',
      'tcp:127.0.0.1:7009',
      'tcp:169.254.169.254:7001',
    ])
      assert.ok(bare[c] === 'ok' || bare[c] === 'answered', `without a sandbox ${c} gets through (${bare[c]}), so blocking it means something`);
    const r = await cordon(
      ['--allow', '198.51.100.10:7001', '--allow', '198.51.100.10:8080', '--allow', 'allowed.test:7001', '--dns-upstream', '198.51.100.53'],
      checks,
    );
    assert.equal(r.code, 0, r.stderr);
    for (const [what, c, want] of rows) {
      const got = r.results[c];
      if (want === 'reach') assert.equal(got, 'ok', `${what}: ${got}`);
      else assert.ok(got !== undefined && got !== 'ok' && got !== 'answered', `${what}: ${got}`);
    }
    // Reported: every blocked attempt that left a packet (raw, ping and IPv6 never make one; the name is refused by the resolver).
    for (const d of [
      'udp 198.51.100.11:7001',
      'tcp 198.51.100.11:8080',
      'dns other.test:53',
      'udp 198.51.100.53:53',
      'tcp 198.51.100.11:7001',
      'tcp 169.254.169.254:7001',
      'tcp 169.254.169.254:8080',
    ])
      assert.ok(r.denied.includes(d), `${d} not reported: ${r.denied.join(', ')}`);
    nothingLeft(r);
    // srt, the same user, the same attempts; its outcome is recorded, not asserted.
    let srt: Record<string, string> | undefined;
    let why = '';
    if (!existsSync(SRT)) why = `srt is not installed (${SRT}: npm install)`;
    else {
      writeFileSync(
        join(dir, 'srt.json'),
        JSON.stringify({ network: { allowedDomains: ['198.51.100.10'], deniedDomains: [] }, filesystem: { denyRead: [], allowWrite: [work], denyWrite: [] } }),
      );
      const s = spawnSync('ip', asNobody([SRT, '-s', join(dir, 'srt.json'), '-c', `cd ${work} && node probe.cjs ${checks.join(' ')}`], dir), {
        encoding: 'utf8',
        timeout: 60_000,
      });
      const lines = s.stdout
        .trim()
        .split('\n')
        .filter((l) => checks.includes(l.slice(0, l.lastIndexOf(' '))));
      if (lines.length === 0) why = `srt did not run: exit ${s.status}: ${(s.stderr || s.stdout).trim().split('\n').slice(-3).join(' / ')}`;
      else srt = Object.fromEntries(lines.map((l) => [l.slice(0, l.lastIndexOf(' ')), l.slice(l.lastIndexOf(' ') + 1)]));
    }
    const verdict = (x: string | undefined): string => (x === 'ok' || x === 'answered' ? 'reached' : `blocked (${x ?? 'no answer'})`);
    const table = ['| attempt | no sandbox | cordon rootless | srt |', '| --- | --- | --- | --- |'];
    for (const [what, c] of rows) {
      const rep =
        r.results[c] !== 'ok' && r.denied.some((d) => c.includes(d.split(' ')[1]!.replace(/:\d+$/, '')) || d === `dns ${c.slice(5)}:53`) ? ', reported' : '';
      table.push(`| ${what} | ${verdict(bare[c])} | ${verdict(r.results[c])}${rep} | ${srt ? verdict(srt[c]) : 'not run'} |`);
    }
    for (const l of table) t.diagnostic(l);
    if (srt === undefined) t.diagnostic(`srt column skipped: ${why}`);
  });

  it('vpn-only (--wireguard): split tunnel reaches the server through it, nothing else leaves; no handshake → nothing leaks', async () => {
    const vpn = await vpnServer();
    const conf = vpn.conf;
    try {
      const split = conf('10.77.0.0/24');
      const r = await cordon(
        ['--wireguard', split],
        ['tcp:10.77.0.1:7001', 'tcp:198.51.100.11:7001', 'udp:198.51.100.10:51820', 'tcp:127.0.0.1:7009'],
        true,
        'node probe.cjs tcp:10.77.0.1:7001 tcp:198.51.100.11:7001 udp:198.51.100.10:51820 tcp:127.0.0.1:7009 > out.txt; cat /etc/resolv.conf >> out.txt',
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.results['tcp:10.77.0.1:7001'], 'ok', `through the tunnel: ${r.stderr}`);
      // Outside the tunnel's allowed IPs: dropped on pasta's interface and reported, although the network would answer.
      assert.notEqual(r.results['tcp:198.51.100.11:7001'], 'ok');
      assert.ok(r.denied.includes('tcp 198.51.100.11:7001'), r.denied.join(', '));
      // The command itself sending to the VPN endpoint: no wireguard-go mark, so dropped and reported.
      assert.notEqual(r.results['udp:198.51.100.10:51820'], 'ok');
      assert.ok(r.denied.includes('udp 198.51.100.10:51820'), r.denied.join(', '));
      assert.equal(r.results['tcp:127.0.0.1:7009'], 'ECONNREFUSED');
      // The tunnel's DNS server is the sandbox's.
      assert.equal(r.results.nameserver, '10.77.0.1');
      assert.ok(r.handshake !== undefined && r.handshake !== '', 'the tunnel came up');
      // The private key went to wg on a pipe: not in the output, nor in any file the run left.
      assert.ok(!r.stderr.includes(vpn.clientKey.slice(0, 20)));
      nothingLeft(r);
      // Full tunnel: 198.51.100.11 is reached through the tunnel (the server's namespace answers it).
      const full = conf('0.0.0.0/0');
      const f = await cordon(['--wireguard', full], ['tcp:198.51.100.11:7001', 'udp:198.51.100.11:7001']);
      assert.equal(f.code, 0, f.stderr);
      assert.equal(f.results['tcp:198.51.100.11:7001'], 'ok', f.stderr);
      assert.equal(f.results['udp:198.51.100.11:7001'], 'ok', 'udp through the tunnel');
      nothingLeft(f);
      // The VPN server gone: the tunnel never comes up and nothing leaks.
      await vpn.stop();
      const d = await cordon(['--wireguard', full, '--tunnel-wait', '300ms'], ['tcp:198.51.100.11:7001'], false);
      assert.equal(d.code, 0, d.stderr);
      assert.match(d.stderr, /no handshake within 300ms; starting the command anyway/);
      assert.match(d.stderr, /never came up/);
      assert.notEqual(d.results['tcp:198.51.100.11:7001'], 'ok');
    } finally {
      await vpn.stop();
    }
  });

  it('user namespaces disabled: every mode names the setting and what to do, instead of failing like the command', async () => {
    // A user namespace of the test's own, mapping uids 0-65535 to themselves, whose limit on
    // further user namespaces is 0 (user.max_user_namespaces is per user namespace): the machine's
    // own setting is never touched. cordon runs in it as uid 65534, inside the user-playing namespace.
    const disabled = (flags: readonly string[]): Promise<{ code: number; stderr: string }> =>
      new Promise((res) => {
        const inner = asNobody([CORDON, 'run', '-q', '--workdir', work, ...flags, '--', 'true']).slice(3);
        const c = spawn(
          'ip',
          ['netns', 'exec', H, 'unshare', '--user', '--', 'sh', '-c', 'read _ && sysctl -qw user.max_user_namespaces=0 && exec "$@"', 'sh', ...inner],
          {
            stdio: ['pipe', 'ignore', 'pipe'],
          },
        );
        let err = '';
        c.stderr.on('data', (d: Buffer) => (err += d.toString()));
        c.on('exit', (code) => res({ code: code ?? -1, stderr: err }));
        // unshare has exec'd sh by the time the maps can be written; sh waits on its stdin for them.
        const write = (): void => {
          try {
            writeFileSync(`/proc/${c.pid}/uid_map`, '0 0 65536\n');
            writeFileSync(`/proc/${c.pid}/gid_map`, '0 0 65536\n');
            c.stdin.end('go\n');
          } catch {
            setTimeout(write, 10);
          }
        };
        setTimeout(write, 50);
      });
    for (const flags of [[], ['--allow', '198.51.100.10:7001'], ['--mode', 'open']]) {
      const r = await disabled(flags);
      assert.notEqual(r.code, 0, flags.join(' '));
      assert.match(r.stderr, /cannot make a user namespace as an ordinary user/, `${flags.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /sysctl user\.max_user_namespaces=0 \(as root: sysctl -w user\.max_user_namespaces=15000\)/, r.stderr);
    }
  });

  it('names /dev/net/tun and what to do when pasta cannot open it', async () => {
    chmodSync('/dev/net/tun', 0o600);
    try {
      const r = await cordon(['--allow', '198.51.100.10:7001'], []);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /\/dev\/net\/tun/);
      assert.match(r.stderr, /0666/);
    } finally {
      chmodSync('/dev/net/tun', 0o666);
    }
  });
});
