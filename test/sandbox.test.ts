/**
 * `cordon run` (src/sandbox): the plan (pure) and the sandbox for real. The live tests need root,
 * bwrap, nft and ip; without them they are skipped with the reason. Everything runs against a
 * namespace that plays the host (`cst<hex>-host`, removed in `after`): echo servers (TCP 7001 and
 * 7002, UDP 7001) listen on 0.0.0.0 inside it, on its loopback, on 198.51.100.10/.11 (a veth
 * pair with both ends inside it, standing in for the internet) and on the sandbox veth's host end.
 */
import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseBytes, parseDuration, parseNetRule, pickSubnet, planSandbox, planToText, sandboxRuleset, type NetRule } from '../src/sandbox/plan.js';
import { addressAllowed, buildQuery, buildReply, parseAnswers, parseDomainRule, parseQuery, rulesFor, type DomainRule } from '../src/sandbox/dns.js';
import { vault } from '../src/index.js';
import { leftovers, resolveOptions, sandbox, SandboxError, stateDir, type SandboxInput } from '../src/sandbox/run.js';
import { parseCidr } from '../src/util/ip.js';
import { loadModel } from '../src/model/load.js';
import { specHostRules } from '../src/sandbox/spec-hosts.js';
import { requireOrSkip } from './support/require-env.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CORDON = join(ROOT, 'bin', 'cordon');

function rule(text: string): NetRule {
  const r = parseNetRule(text);
  if (typeof r === 'string') assert.fail(r);
  return r;
}

describe('sandbox plan (pure)', () => {
  it('parses allow entries, sizes and durations; refuses domains and bad ports with a reason', () => {
    assert.equal(rule('10.0.0.0/8:443').port, 443);
    assert.equal(rule('1.2.3.4').cidr.len, 32);
    for (const [text, why] of [
      ['example.com:443', /resolver/],
      ['1.2.3.4:70000', /out of range/],
    ] as const) {
      const r = parseNetRule(text);
      assert.ok(typeof r === 'string', `${text} is refused`);
      assert.match(r, why);
    }
    assert.equal(parseBytes('512m'), 512 * 1024 * 1024);
    assert.equal(parseDuration('30s'), 30_000);
    assert.equal(parseDuration('250ms'), 250);
  });
  it('egress rule set: default drop, allows after denies, metadata denied unless allowed inside it', () => {
    const text = sandboxRuleset({ mode: 'filtered', allow: [rule('0.0.0.0/0:443')], deny: [rule('203.0.113.9')] });
    assert.match(text, /policy drop;/);
    assert.ok(text.indexOf('203.0.113.9') < text.indexOf('0.0.0.0/0'));
    assert.ok(text.indexOf('169.254.0.0/16') < text.indexOf('0.0.0.0/0'));
    assert.match(text, /add @denied/);
    assert.doesNotMatch(sandboxRuleset({ mode: 'filtered', allow: [rule('169.254.169.254:80')], deny: [] }), /169\.254\.0\.0\/16/);
    assert.doesNotMatch(sandboxRuleset({ mode: 'isolated', allow: [rule('1.1.1.1')], deny: [] }), /1\.1\.1\.1/);
  });
  it('picks a /30 that collides with nothing in the host namespace', () => {
    const s = pickSubnet([parseCidr('10.213.0.0/30')!, parseCidr('10.213.0.4/31')!]);
    assert.deepEqual(s, parseCidr('10.213.0.8/30'));
    assert.deepEqual(pickSubnet([], 5), parseCidr('10.213.0.20/30'));
    assert.deepEqual(pickSubnet([parseCidr('10.213.255.252/30')!], 16383), parseCidr('10.213.0.0/30'), 'wraps around');
  });
  it('filtered mode without a host namespace is refused with the reason', () => {
    assert.throws(
      () => resolveOptions({ command: ['true'], mode: 'filtered' }),
      (e: unknown) => e instanceof SandboxError && /--host-netns/.test(e.message),
    );
  });
  it('--spec: HOST[:PORT] stands for every address of the spec host; unknown names are left to the other parsers', () => {
    const { model } = loadModel(join(ROOT, 'examples', 'proxmox-dual-bridge.yaml'));
    assert.ok(model);
    const r = specHostRules(model, 'ollama:11434');
    assert.deepEqual(
      r?.map((x) => [x.cidr.len, x.port]),
      [[32, 11434]],
    );
    assert.equal(specHostRules(model, 'no-such-host'), undefined);
    const dry = spawnSync(
      CORDON,
      ['run', '--dry-run', '--spec', join(ROOT, 'examples', 'proxmox-dual-bridge.yaml'), '--host-netns', 'x', '--allow', 'ollama:11434', '--', 'true'],
      { encoding: 'utf8' },
    );
    assert.equal(dry.status, 0, dry.stderr);
    assert.match(dry.stdout, /ip daddr 192\.168\.100\.20 meta l4proto \{ tcp, udp \} th dport 11434 counter name tx accept/);
    const bad = spawnSync(CORDON, ['run', '--dry-run', '--host-netns', 'x', '--allow', 'ollama:11434', '--', 'true'], { encoding: 'utf8' });
    assert.equal(bad.status, 2);
  });

  it('plans the same steps twice; dry-run text names every object with the id', () => {
    const opts = resolveOptions({
      command: ['true'],
      mode: 'filtered',
      hostNetns: 'h',
      allow: [rule('192.0.2.1:80')],
      memoryBytes: 1 << 26,
      pids: 10,
      hide: [],
    });
    const a = planToText(planSandbox(opts, 'abc123', pickSubnet([]), 'v1'));
    assert.equal(a, planToText(planSandbox(opts, 'abc123', pickSubnet([]), 'v1')));
    assert.match(a, /ip netns add csabc123/);
    assert.match(a, /link add csabc123s netns csabc123 type veth peer name csabc123h netns h/);
    assert.match(a, /ip netns exec h nft -f -/);
    assert.match(a, /memory\/cordon-abc123\/memory.limit_in_bytes/);
    assert.match(a, /bwrap --unshare-user --unshare-pid/);
    assert.doesNotMatch(a, /--unshare-net/);
  });
});

describe('sandbox resolver codec and policy (pure)', () => {
  it('a query round-trips; replies carry the id, the question and the A records', () => {
    const q = parseQuery(buildQuery(4242, 'Api.Example.COM'))!;
    assert.equal(q.id, 4242);
    assert.equal(q.name, 'api.example.com');
    assert.equal(q.qtype, 1);
    const a = parseAnswers(
      buildReply(q, 0, [
        { ip: '192.0.2.7', ttl: 60 },
        { ip: '192.0.2.8', ttl: 30 },
      ]),
    )!;
    assert.deepEqual(a, {
      id: 4242,
      rcode: 0,
      answers: [
        { ip: '192.0.2.7', ttl: 60 },
        { ip: '192.0.2.8', ttl: 30 },
      ],
    });
    assert.equal(parseAnswers(buildReply(q, 3))!.rcode, 3);
    assert.equal(parseQuery(Buffer.from([1, 2, 3])), undefined);
  });
  it('names match exactly, or as proper subdomains of a *. entry', () => {
    const rules = ['example.com:443', '*.pypi.org'].map((t) => parseDomainRule(t)!);
    const table: [string, number][] = [
      ['example.com', 1],
      ['EXAMPLE.com.', 1],
      ['www.example.com', 0],
      ['files.pypi.org', 1],
      ['pypi.org', 0],
      ['evilpypi.org', 0],
      ['example.com.evil.net', 0],
    ];
    for (const [name, n] of table) assert.equal(rulesFor(name, rules).length, n, name);
    assert.equal(parseDomainRule('1.2.3.4'), undefined);
    assert.equal(parseDomainRule('example.com:99999'), undefined);
  });
  it('answers in private, link-local and metadata ranges are dropped unless a CIDR allow covers them', () => {
    const table: [string, boolean][] = [
      ['93.184.216.34', true],
      ['10.0.0.5', false],
      ['169.254.169.254', false],
      ['127.0.0.1', false],
      ['192.168.1.1', false],
      ['100.64.0.1', false],
    ];
    for (const [ip, ok] of table) assert.equal(addressAllowed(ip, []), ok, ip);
    assert.equal(addressAllowed('10.0.0.5', [{ lo: 0x0a000000, hi: 0x0affffff }]), true);
  });
});

function skipReason(): string | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'needs root';
  for (const b of ['bwrap', 'nft', 'ip']) if (spawnSync('sh', ['-c', `command -v ${b}`]).status !== 0) return `needs ${b}`;
  const t = spawnSync('bwrap', ['--unshare-user', '--ro-bind', '/', '/', 'true']);
  if (t.status !== 0) return `bwrap cannot run here: ${t.stderr.toString().trim()}`;
  return undefined;
}
// Skipped locally without root/bwrap; in CI a failure (test/support/require-env.ts).
const SKIP = requireOrSkip('cordon run (live)', skipReason());

const PROBE = `
const net = require('node:net'), dgram = require('node:dgram');
const [kind, host, port] = process.argv.slice(2);
const done = (r) => { process.stdout.write(r + '\\n'); process.exit(0); };
setTimeout(() => done('timeout'), 700);
if (kind === 'tcp') {
  const s = net.connect({ host, port: Number(port) }, () => s.write('ping'));
  s.on('data', (d) => done(d.toString() === 'ping' ? 'ok' : 'bad'));
  s.on('error', (e) => done(e.code));
} else {
  const s = dgram.createSocket('udp4');
  s.on('message', (d) => done(d.toString() === 'ping' ? 'ok' : 'bad'));
  s.on('error', (e) => done(e.code));
  s.send('ping', Number(port), host);
}
`;

const SERVER = `
const net = require('node:net'), dgram = require('node:dgram');
for (const p of [7001, 7002]) net.createServer((c) => c.on('data', (d) => c.write(d))).listen(p, '0.0.0.0');
// UDP per address: a socket on 0.0.0.0 would answer from the address nearest the client.
for (const a of ['127.0.0.1', '198.51.100.10', '198.51.100.11']) {
  const u = dgram.createSocket('udp4'); u.on('message', (m, r) => u.send(m, r.port, r.address)); u.bind(7001, a);
}
// A fake upstream DNS server on 198.51.100.53 (the sandbox's resolver asks it).
const ZONE = { 'allowed.test': '198.51.100.10', 'other.test': '198.51.100.11', 'private.test': '10.1.2.3', 'api.sub.wild.test': '198.51.100.10' };
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
setTimeout(() => process.stdout.write('ready\\n'), 100);
`;

describe('cordon run (live)', { skip: SKIP }, () => {
  const host = `cst${randomBytes(2).toString('hex')}-host`;
  const dir = mkdtempSync(join(tmpdir(), 'cordon-sbx-'));
  let server: ChildProcess | undefined;
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
    ip('-n', host, 'addr', 'add', '198.51.100.10/24', 'dev', 'inet0');
    ip('-n', host, 'addr', 'add', '198.51.100.11/24', 'dev', 'inet0');
    ip('-n', host, 'addr', 'add', '198.51.100.53/24', 'dev', 'inet0');
    ip('-n', host, 'link', 'set', 'inet0', 'up');
    ip('-n', host, 'link', 'set', 'inet1', 'up');
    server = spawn('ip', ['netns', 'exec', host, process.execPath, join(dir, 'server.cjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((res) => server!.stdout!.once('data', () => res()));
  });

  after(() => {
    if (server?.pid) server.kill('SIGKILL');
    spawnSync('ip', ['netns', 'del', host]);
    rmSync(dir, { recursive: true, force: true });
  });

  const base = (): Pick<SandboxInput, 'workdir' | 'stdio' | 'hide'> => ({ workdir: dir, stdio: 'ignore', hide: [] });

  /** Runs the probe inside a sandbox; the answer comes back through a file in the work dir. */
  async function probe(opts: Partial<SandboxInput>, kind: 'tcp' | 'udp', to: string, port: number): Promise<{ answer: string; denied: string[] }> {
    const out = `out-${randomBytes(3).toString('hex')}`;
    // GATEWAY: the veth's host end, whatever /30 this run got.
    const dst = to === 'GATEWAY' ? `$(ip route | awk '/^default/ {print $3}')` : to;
    const r = await sandbox({ ...base(), ...opts, command: ['sh', '-c', `node probe.cjs ${kind} ${dst} ${port} > ${out}`] });
    const { readFileSync } = await import('node:fs');
    const answer = readFileSync(join(dir, out), 'utf8').trim();
    return { answer, denied: r.denied.map((d) => `${d.destination} ${d.proto} ${d.port ?? ''}`.trim()) };
  }

  it('returns the command exit code', async () => {
    const r = await sandbox({ ...base(), command: ['sh', '-c', 'exit 42'] });
    assert.equal(r.exitCode, 42);
    assert.equal(r.reason, 'exited');
  });

  it('isolated: nothing outside the sandbox answers, over TCP or UDP; attempts are reported', async () => {
    for (const [kind, to] of [
      ['tcp', '198.51.100.10'],
      ['udp', '198.51.100.10'],
      ['tcp', '10.213.0.1'],
    ] as const) {
      const p = await probe({ mode: 'isolated' }, kind, to, 7001);
      assert.notEqual(p.answer, 'ok', `${kind} ${to}`);
      assert.ok(p.denied.includes(`${to} ${kind} 7001`), `${kind} ${to}: denied = ${p.denied.join(', ')}`);
    }
    // The sandbox's loopback is its own: the host's 127.0.0.1:7001 is not there.
    assert.notEqual((await probe({ mode: 'isolated' }, 'tcp', '127.0.0.1', 7001)).answer, 'ok');
  });

  it('filtered: the allowed server answers, nothing else does (other port, other IP, UDP, the host end, ICMP)', async () => {
    const f: Partial<SandboxInput> = { mode: 'filtered', hostNetns: host, allow: [rule('198.51.100.10:7001')] };
    assert.equal((await probe(f, 'tcp', '198.51.100.10', 7001)).answer, 'ok');
    assert.equal((await probe(f, 'udp', '198.51.100.10', 7001)).answer, 'ok');
    for (const [kind, to, port] of [
      ['tcp', '198.51.100.10', 7002],
      ['tcp', '198.51.100.11', 7001],
      ['udp', '198.51.100.11', 7001],
      ['tcp', 'GATEWAY', 7001],
    ] as const) {
      const p = await probe(f, kind, to, port);
      assert.notEqual(p.answer, 'ok', `${kind} ${to}:${port}`);
      if (to === 'GATEWAY')
        assert.ok(
          p.denied.some((d) => /^10\.213\.\d+\.\d+ tcp 7001$/.test(d)),
          `the host end was tried and denied: ${p.denied.join(', ')}`,
        );
    }
    const p = await probe(f, 'tcp', '198.51.100.11', 7002);
    assert.deepEqual(
      p.denied.filter((d) => d.startsWith('198.')),
      ['198.51.100.11 tcp 7002'],
    );
    // Inside, the command cannot touch its own egress policy (the namespace is not its user namespace's).
    const flush = await sandbox({ ...f, ...base(), command: ['sh', '-c', 'nft flush ruleset || ip route add 198.51.100.11 dev lo || ip link set lo down'] });
    assert.notEqual(flush.exitCode, 0);
    assert.notEqual((await probe(f, 'tcp', '198.51.100.11', 7001)).answer, 'ok');
    const ping = await sandbox({ ...f, ...base(), command: ['ping', '-c', '1', '-W', '1', '198.51.100.10'] });
    assert.notEqual(ping.exitCode, 0);
    const counted = await sandbox({ ...f, ...base(), command: ['node', 'probe.cjs', 'tcp', '198.51.100.10', '7001'] });
    assert.ok(counted.counters.packetsOut > 0 && counted.counters.packetsIn > 0, JSON.stringify(counted.counters));
  });

  it('two filtered sandboxes side by side in one host namespace: each gets its own /30, both work', async () => {
    const f: Partial<SandboxInput> = { mode: 'filtered', hostNetns: host, allow: [rule('198.51.100.10:7001')] };
    const [a, b] = await Promise.all([probe(f, 'tcp', '198.51.100.10', 7001), probe(f, 'tcp', '198.51.100.10', 7001)]);
    assert.equal(a.answer, 'ok');
    assert.equal(b.answer, 'ok');
  });

  it('filtered: a deny entry wins over the allowlist', async () => {
    const p = await probe(
      { mode: 'filtered', hostNetns: host, allow: [rule('198.51.100.0/24')], deny: [rule('198.51.100.10:7001')] },
      'tcp',
      '198.51.100.10',
      7001,
    );
    assert.notEqual(p.answer, 'ok');
    assert.equal(
      (await probe({ mode: 'filtered', hostNetns: host, allow: [rule('198.51.100.0/24')], deny: [rule('198.51.100.10:7001')] }, 'tcp', '198.51.100.11', 7001))
        .answer,
      'ok',
    );
  });

  it('DNS: only allowlisted names resolve; their answers open the way, nothing else does', async () => {
    const d = (t: string): DomainRule => parseDomainRule(t)!;
    const f: Partial<SandboxInput> = {
      mode: 'filtered',
      hostNetns: host,
      allowDomains: [d('allowed.test:7001'), d('private.test'), d('*.wild.test:7001')],
      dnsUpstream: '198.51.100.53',
    };
    const look = async (name: string): Promise<string> => {
      const out = `dns-${randomBytes(3).toString('hex')}`;
      await sandbox({ ...base(), ...f, command: ['sh', '-c', `getent ahostsv4 ${name} | head -1 > ${out}; true`] });
      const { readFileSync } = await import('node:fs');
      return readFileSync(join(dir, out), 'utf8').trim().split(/\s+/)[0] ?? '';
    };
    assert.equal(await look('allowed.test'), '198.51.100.10');
    assert.equal(await look('api.sub.wild.test'), '198.51.100.10');
    assert.equal(await look('other.test'), '', 'a name not on the allowlist');
    assert.equal(await look('private.test'), '', 'an allowed name answering with a private address');
    assert.equal((await probe(f, 'tcp', 'allowed.test', 7001)).answer, 'ok');
    assert.notEqual((await probe(f, 'tcp', 'allowed.test', 7002)).answer, 'ok');
    // The answer's IP, but on a port the entry does not allow; and the IP of a refused name.
    assert.notEqual((await probe(f, 'tcp', '198.51.100.11', 7001)).answer, 'ok');
    // Asking the upstream directly, past the resolver.
    const direct = await probe(f, 'udp', '198.51.100.53', 53);
    assert.notEqual(direct.answer, 'ok');
    assert.ok(direct.denied.includes('198.51.100.53 udp 53'), direct.denied.join(', '));
    const ev = await sandbox({ ...base(), ...f, command: ['sh', '-c', 'getent hosts other.test; true'] });
    assert.ok(
      ev.denied.some((e) => e.proto === 'dns' && e.destination === 'other.test' && e.rule === 'dns-not-allowlisted'),
      JSON.stringify(ev.denied),
    );
  });

  it('limits: memory hog → 137 with the reason, sleep past the timeout → 124, fork bomb held by pids', async () => {
    const mem = await sandbox({ ...base(), memoryBytes: 64 * 1024 * 1024, command: ['node', '-e', 'const a=[];for(;;)a.push(Buffer.alloc(16<<20).fill(1))'] });
    assert.equal(mem.exitCode, 137);
    assert.equal(mem.reason, 'memory');
    assert.match(mem.message, /killed: memory limit 64m/);
    const t0 = Date.now();
    const slow = await sandbox({ ...base(), timeoutMs: 400, command: ['sleep', '30'] });
    assert.equal(slow.exitCode, 124);
    assert.equal(slow.reason, 'timeout');
    assert.ok(Date.now() - t0 < 5000);
    const bomb = await sandbox({
      ...base(),
      pids: 16,
      timeoutMs: 10_000,
      command: ['sh', '-c', 'exec 2>bomb-err; i=0; while [ $i -lt 60 ]; do sleep 3 & i=$((i+1)); done; exit 0'],
    });
    assert.notEqual(bomb.reason, 'timeout');
    assert.match(bomb.message, /pids limit 16 was reached/);
    const { readFileSync } = await import('node:fs');
    assert.match(readFileSync(join(dir, 'bomb-err'), 'utf8'), /fork/i);
  });

  it("limits: --cpus sets the CFS quota of the command's own cgroup", async () => {
    const { existsSync, readFileSync } = await import('node:fs');
    const run = sandbox({
      ...base(),
      cpus: 0.25,
      command: ['sh', '-c', 'grep -E "^[0-9]+:(cpu|cpu,cpuacct|):" /proc/self/cgroup | head -1 > cg.tmp && mv cg.tmp cg; sleep 1'],
    });
    for (let i = 0; i < 100 && !existsSync(join(dir, 'cg')); i++) await new Promise((res) => setTimeout(res, 20));
    const [, ctl, path] = /^\d+:([^:]*):(\S+)/.exec(readFileSync(join(dir, 'cg'), 'utf8'))!;
    assert.match(path!, /^\/cordon-[0-9a-f]{6}$/);
    const quota = ctl === '' ? readFileSync(`/sys/fs/cgroup${path}/cpu.max`, 'utf8') : readFileSync(`/sys/fs/cgroup/cpu${path}/cpu.cfs_quota_us`, 'utf8');
    assert.match(quota, /^25000\b/);
    assert.equal((await run).exitCode, 0);
  });

  it('filesystem: root read-only, work dir writable, hidden secrets are empty', async () => {
    const secret = join(dir, 'home', '.ssh');
    mkdirSync(secret, { recursive: true });
    writeFileSync(join(secret, 'id_ed25519'), 'SECRET');
    const r = await sandbox({
      ...base(),
      hide: [secret],
      command: ['sh', '-c', `test ! -e ${secret}/id_ed25519 && ! touch /etc/cordon-x 2>/dev/null && touch ok-file`],
    });
    assert.equal(r.exitCode, 0);
  });

  it('CLI: cordon run --json passes the exit code and reports denied attempts', () => {
    const r = spawnSync(
      CORDON,
      ['run', '--json', '--mode', 'isolated', '--', 'sh', '-c', `cd ${dir} && node probe.cjs udp 198.51.100.10 7001 >/dev/null; exit 5`],
      { cwd: dir, encoding: 'utf8' },
    );
    assert.equal(r.status, 5, r.stderr);
    const j = JSON.parse(r.stdout) as { exitCode: number; denied: { destination: string; proto: string; port: number }[] };
    assert.equal(j.exitCode, 5);
    assert.ok(j.denied.some((d) => d.destination === '198.51.100.10' && d.proto === 'udp' && d.port === 7001));
  });

  it('open mode: the host network (here: the test namespace), filesystem still read-only', async () => {
    const r = await sandbox({ ...base(), mode: 'open', command: ['sh', '-c', '! touch /etc/cordon-open 2>/dev/null'] });
    assert.equal(r.exitCode, 0);
  });

  it('CLI: --events writes JSON lines; --dry-run changes nothing; SIGINT mid-run removes everything', async () => {
    const ev = join(dir, 'events.jsonl');
    const r = spawnSync(
      CORDON,
      ['run', '-q', '--host-netns', host, '--allow', '198.51.100.10:7001', '--events', ev, '--', 'node', 'probe.cjs', 'tcp', '198.51.100.11', '7002'],
      { cwd: dir, encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    const { readFileSync } = await import('node:fs');
    const lines = readFileSync(ev, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { destination: string; proto: string; port: number; rule: string; time: string });
    assert.ok(lines.some((l) => l.destination === '198.51.100.11' && l.proto === 'tcp' && l.port === 7002 && l.rule !== '' && l.time !== ''));
    const dry = spawnSync(CORDON, ['run', '--dry-run', '--host-netns', host, '--allow', 'allowed.test:443', '--memory', '64m', '--', 'true'], {
      cwd: dir,
      encoding: 'utf8',
    });
    assert.equal(dry.status, 0, dry.stderr);
    assert.match(dry.stdout, /cordon-resolver --listen 10\.213\.\d+\.\d+:53/);
    assert.deepEqual(await leftovers(), []);
    const child = spawn(
      CORDON,
      ['run', '-q', '--host-netns', host, '--allow', 'allowed.test', '--dns-upstream', '198.51.100.53', '--memory', '64m', '--', 'sleep', '30'],
      { cwd: dir, stdio: 'ignore' },
    );
    for (let i = 0; i < 100 && (await leftovers()).filter((l) => l.startsWith('cs')).length === 0; i++) await new Promise((res) => setTimeout(res, 50));
    await new Promise((res) => setTimeout(res, 300));
    assert.ok((await leftovers()).length > 0, 'the sandbox came up');
    child.kill('SIGINT');
    const code = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
    assert.equal(code, 130);
  });

  it("--publish: the sandbox's port answers on the host namespace's 127.0.0.1, its other ports do not", async () => {
    const srv =
      "require('node:net').createServer((c) => c.on('data', (d) => c.write(d))).listen(7101, '0.0.0.0'); require('node:net').createServer((c) => c.on('data', (d) => c.write(d))).listen(7102, '0.0.0.0'); setTimeout(() => process.exit(0), 8000)";
    const run = sandbox({ ...base(), mode: 'filtered', hostNetns: host, publish: [7101], command: ['node', '-e', srv] });
    const from = (to: string, port: number): string =>
      spawnSync('ip', ['netns', 'exec', host, process.execPath, join(dir, 'probe.cjs'), 'tcp', to, String(port)], { encoding: 'utf8' }).stdout.trim();
    // Set-up plus node's start take about a second on a loaded machine: ask until the server is up.
    let first = '';
    for (let i = 0; i < 30 && first !== 'ok'; i++) {
      await new Promise((res) => setTimeout(res, 200));
      first = from('127.0.0.1', 7101);
    }
    assert.equal(first, 'ok');
    const sandboxIp = spawnSync('ip', ['-n', host, '-4', '-o', 'addr', 'show'], { encoding: 'utf8' }).stdout.match(/inet (10\.213\.\d+)\.(\d+)\/30/);
    assert.ok(sandboxIp, 'the veth host end');
    const peer = `${sandboxIp[1]}.${Number(sandboxIp[2]) + 1}`;
    assert.notEqual(from(peer, 7102), 'ok', 'an unpublished port');
    assert.equal((await run).exitCode, 0);
    assert.equal(spawnSync('ip', ['netns', 'exec', host, 'ss', '-Hltn', 'sport = :7101'], { encoding: 'utf8' }).stdout.trim(), '', 'the forwarder is gone');
  });

  it("--vault: the session's files are readable at $CORDON_VAULT (/tmp/vault), read-only, and the mount is gone afterwards", async () => {
    const root = join(dir, 'vault-root');
    vault.createSession('case-1', { root });
    vault.putFile('case-1', 'notes.txt', Buffer.from('the secret plan'), { root });
    const r = await sandbox({
      ...base(),
      vault: { session: 'case-1', options: { root } },
      command: ['sh', '-c', 'cat "$CORDON_VAULT/notes.txt" > vault-out && ! touch "$CORDON_VAULT/x" 2>/dev/null && test "$CORDON_VAULT" = /tmp/vault'],
    });
    assert.equal(r.exitCode, 0);
    const { readFileSync } = await import('node:fs');
    assert.equal(readFileSync(join(dir, 'vault-out'), 'utf8'), 'the secret plan');
    assert.doesNotMatch(readFileSync('/proc/mounts', 'utf8'), /cordon-vault-/);
    await assert.rejects(sandbox({ ...base(), vault: { session: 'no-such', options: { root } }, command: ['true'] }), SandboxError);
  });

  it('vpn-only: traffic goes through the tunnel only; the command cannot use the transport; tunnel down or gone → nothing leaks', async () => {
    const { readFileSync } = await import('node:fs');
    // The VPN server: wireguard-go in the host namespace, listening on 198.51.100.10:51820, 10.77.0.1/24.
    const srvIf = `cstw${randomBytes(2).toString('hex')}`;
    const key = (): { priv: string; pub: string } => {
      const priv = spawnSync('wg', ['genkey'], { encoding: 'utf8' }).stdout.trim();
      return { priv, pub: spawnSync('wg', ['pubkey'], { input: priv, encoding: 'utf8' }).stdout.trim() };
    };
    const srv = key();
    const cli = key();
    const wgd = spawn('ip', ['netns', 'exec', host, 'wireguard-go', '-f', srvIf], { stdio: 'ignore', env: { ...process.env, WG_PROCESS_FOREGROUND: '1' } });
    try {
      for (let i = 0; i < 200 && spawnSync('test', ['-S', `/var/run/wireguard/${srvIf}.sock`]).status !== 0; i++)
        await new Promise((res) => setTimeout(res, 10));
      const set = spawnSync('sh', ['-c', 'cat | wg setconf "$1" /dev/stdin', 'sh', srvIf], {
        input: `[Interface]\nPrivateKey = ${srv.priv}\nListenPort = 51820\n[Peer]\nPublicKey = ${cli.pub}\nAllowedIPs = 10.77.0.2/32\n`,
        encoding: 'utf8',
      });
      assert.equal(set.status, 0, set.stderr);
      ip('-n', host, 'addr', 'add', '10.77.0.1/24', 'dev', srvIf);
      ip('-n', host, 'link', 'set', srvIf, 'up');
      const conf = (allowed: string): string => {
        const f = join(dir, `wg-${randomBytes(3).toString('hex')}.conf`);
        writeFileSync(
          f,
          `[Interface]\nPrivateKey = ${cli.priv}\nAddress = 10.77.0.2/24\nDNS = 10.77.0.1\n\n[Peer]\nPublicKey = ${srv.pub}\nEndpoint = 198.51.100.10:51820\nAllowedIPs = ${allowed}\nPersistentKeepalive = 25\n`,
          { mode: 0o600 },
        );
        return f;
      };
      const { parseWgQuick } = await import('../src/sandbox/wireguard.js');
      const v = (allowed: string): Partial<SandboxInput> => {
        const f = conf(allowed);
        return { mode: 'vpn-only', hostNetns: host, wireguard: parseWgQuick(readFileSync(f, 'utf8'), f) };
      };
      // Split tunnel (10.77.0.0/24): the server's tunnel address answers through the tunnel.
      const split = v('10.77.0.0/24');
      assert.equal((await probe(split, 'tcp', '10.77.0.1', 7001)).answer, 'ok');
      // Outside the tunnel's allowed IPs: dropped at the veth and reported, although the host namespace would answer.
      const direct = await probe(split, 'tcp', '198.51.100.11', 7001);
      assert.notEqual(direct.answer, 'ok');
      assert.ok(direct.denied.includes('198.51.100.11 tcp 7001'), direct.denied.join(', '));
      // The command itself sending to the VPN endpoint: no wireguard-go mark, so dropped.
      const transport = await probe(split, 'udp', '198.51.100.10', 51820);
      assert.ok(transport.denied.includes('198.51.100.10 udp 51820'), transport.denied.join(', '));
      // The tunnel's DNS servers are the sandbox's.
      const rc = await sandbox({ ...base(), ...split, command: ['sh', '-c', 'cat /etc/resolv.conf > rc-out'] });
      assert.equal(rc.exitCode, 0);
      assert.match(readFileSync(join(dir, 'rc-out'), 'utf8'), /^nameserver 10\.77\.0\.1$/m);
      // Full tunnel: 198.51.100.11 is reached through the tunnel (the server's namespace answers it).
      const full = v('0.0.0.0/0');
      const viaTunnel = await sandbox({ ...base(), ...full, command: ['sh', '-c', 'node probe.cjs tcp 198.51.100.11 7001 > full-out'] });
      assert.equal(readFileSync(join(dir, 'full-out'), 'utf8').trim(), 'ok');
      assert.ok(viaTunnel.tunnel?.peers[0]?.latestHandshake !== undefined && viaTunnel.tunnel.peers[0].rxBytes > 0, JSON.stringify(viaTunnel.tunnel));
      assert.equal((await probe(full, 'udp', '198.51.100.11', 7001)).answer, 'ok', 'udp through the tunnel');
      // The tunnel interface inside the sandbox goes away mid-run: the same destination is now
      // dropped at the veth and reported; nothing goes around the tunnel.
      for (const f of ['gone-ready', 'gone-go']) rmSync(join(dir, f), { force: true });
      const running = sandbox({
        ...base(),
        ...full,
        command: [
          'sh',
          '-c',
          'node probe.cjs tcp 198.51.100.11 7001 > gone-1; touch gone-ready; while [ ! -e gone-go ]; do sleep 0.05; done; node probe.cjs tcp 198.51.100.11 7001 > gone-2',
        ],
      });
      const { existsSync } = await import('node:fs');
      for (let i = 0; i < 200 && !existsSync(join(dir, 'gone-ready')); i++) await new Promise((res) => setTimeout(res, 25));
      // This run's namespace: the one with a tunnel interface (other sandboxes may run meanwhile).
      const sbx = (await leftovers()).filter((l) => /^cs[0-9a-f]{6}$/.test(l) && spawnSync('ip', ['-n', l, 'link', 'show', `${l}w`]).status === 0);
      assert.equal(sbx.length, 1, sbx.join(', '));
      ip('-n', sbx[0]!, 'link', 'del', `${sbx[0]}w`);
      writeFileSync(join(dir, 'gone-go'), '');
      const gone = await running;
      assert.equal(readFileSync(join(dir, 'gone-1'), 'utf8').trim(), 'ok');
      assert.notEqual(readFileSync(join(dir, 'gone-2'), 'utf8').trim(), 'ok');
      assert.ok(
        gone.denied.some((d) => d.destination === '198.51.100.11' && d.proto === 'tcp' && d.port === 7001),
        JSON.stringify(gone.denied),
      );
      // The VPN server gone: a fresh sandbox's tunnel never comes up and nothing leaks.
      process.kill(wgd.pid!, 'SIGKILL');
      await new Promise((res) => (wgd.exitCode !== null || wgd.signalCode !== null ? res(undefined) : wgd.once('exit', res)));
      const notes: string[] = [];
      const down = await sandbox({
        ...base(),
        ...full,
        tunnelWaitMs: 300,
        say: (l) => notes.push(l),
        command: ['sh', '-c', 'node probe.cjs tcp 198.51.100.11 7001 > down-out'],
      });
      assert.ok(
        notes.some((n) => /no handshake within 300ms; starting the command anyway/.test(n)),
        notes.join('\n'),
      );
      assert.notEqual(readFileSync(join(dir, 'down-out'), 'utf8').trim(), 'ok');
      assert.equal(down.tunnel?.peers[0]?.latestHandshake, undefined);
      assert.deepEqual(
        down.denied.filter((d) => d.destination === '198.51.100.11'),
        [],
        'went into the tunnel, not around it',
      );
    } finally {
      if (wgd.pid && wgd.exitCode === null && wgd.signalCode === null) process.kill(wgd.pid, 'SIGKILL');
      rmSync(`/var/run/wireguard/${srvIf}.sock`, { force: true });
    }
  });

  it('--spec --as HOST: the sandbox gets what the verifier says HOST may reach, and nothing else', () => {
    // agent may reach the internet on tcp/7001 and the model server on tcp/11434; nothing else.
    writeFileSync(
      join(dir, 'as.yaml'),
      [
        'version: 1',
        'networks:',
        '  lab: { cidr: 10.60.0.0/24, gateway: 10.60.0.1, egress: nat }',
        'hosts:',
        '  gw: { kind: hypervisor, uplink: eth0, nics: { lab: 10.60.0.1 } }',
        '  agent: { kind: vm, nics: { lab: 10.60.0.10 } }',
        '  models: { kind: vm, nics: { lab: 10.60.0.20 }, services: { api: tcp/11434 } }',
        'policy:',
        '  - allow: { from: agent, to: internet, ports: tcp/7001 }',
        '  - allow: { from: agent, to: models.api }',
        '',
      ].join('\n'),
    );
    const as = (...cmd: string[]): { status: number | null; stdout: string; stderr: string } =>
      spawnSync(CORDON, ['run', '--json', '--spec', join(dir, 'as.yaml'), '--as', 'agent', '--host-netns', host, '--', ...cmd], { cwd: dir, encoding: 'utf8' });
    const ok = as('node', 'probe.cjs', 'tcp', '198.51.100.10', '7001');
    assert.equal(ok.status, 0, ok.stderr);
    const dry = spawnSync(CORDON, ['run', '--dry-run', '--spec', join(dir, 'as.yaml'), '--as', 'agent', '--host-netns', host, '--', 'true'], {
      encoding: 'utf8',
    });
    assert.match(dry.stdout, /ip daddr 10\.60\.0\.20 tcp dport 11434 counter name tx accept/);
    assert.match(
      dry.stdout,
      /ip daddr \{ [^}]*196\.0\.0\.0\/6[^}]* \} tcp dport 7001 counter name tx accept/,
      'one rule, a set of public prefixes (198.51.100.10 is in 196.0.0.0/6)',
    );
    assert.doesNotMatch(dry.stdout, /10\.0\.0\.0\/8[^\n]*dport 7001/, 'private ranges are not "the internet"');
    assert.match(dry.stderr, /as agent: filtered, \d+ allow rules/);
    const run = (port: string): string => {
      const r = spawnSync(
        CORDON,
        ['run', '-q', '--spec', join(dir, 'as.yaml'), '--as', 'agent', '--host-netns', host, '--', 'node', 'probe.cjs', 'tcp', '198.51.100.10', port],
        { cwd: dir, encoding: 'utf8' },
      );
      return r.stdout.trim();
    };
    assert.equal(run('7001'), 'ok');
    assert.notEqual(run('7002'), 'ok');
    const bad = spawnSync(CORDON, ['run', '--spec', join(dir, 'as.yaml'), '--as', 'agnet', '--host-netns', host, '--', 'true'], { encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /did you mean 'agent'/);
    const noSpec = spawnSync(CORDON, ['run', '--as', 'agent', '--', 'true'], { encoding: 'utf8' });
    assert.equal(noSpec.status, 2);
    assert.match(noSpec.stderr, /--as HOST needs --spec FILE/);
  });

  it('--config FILE: options and the command from YAML; flags on the command line win; errors point into the file', () => {
    writeFileSync(
      join(dir, 'sbx.yaml'),
      `mode: filtered\nallow: [198.51.100.10:7001]\nhost-netns: ${host}\ntimeout: 20s\ncommand: [node, probe.cjs, tcp, 198.51.100.10, "7001"]\n`,
    );
    const r = spawnSync(CORDON, ['run', '-q', '--config', join(dir, 'sbx.yaml')], { cwd: dir, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'ok');
    const other = spawnSync(CORDON, ['run', '-q', '--config', join(dir, 'sbx.yaml'), '--', 'node', 'probe.cjs', 'tcp', '198.51.100.11', '7001'], {
      cwd: dir,
      encoding: 'utf8',
    });
    assert.notEqual(other.stdout.trim(), 'ok', "the command line's command, under the file's allowlist");
    const isolated = spawnSync(CORDON, ['run', '-q', '--config', join(dir, 'sbx.yaml'), '--mode', 'isolated'], { cwd: dir, encoding: 'utf8' });
    assert.equal(isolated.status, 2, 'an explicit --mode wins over the file, and isolated refuses an allowlist');
    writeFileSync(join(dir, 'bad.yaml'), 'mode: filtered\nhost_netns: lab\n');
    const bad = spawnSync(CORDON, ['run', '--config', join(dir, 'bad.yaml'), '--', 'true'], { encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /bad\.yaml:2:1/);
    assert.match(bad.stderr, /host-netns/);
  });

  it("kill -9 of the owner mid-run: the run's reaper removes what it left at once, nothing is left for the next run", async () => {
    const { existsSync, readdirSync } = await import('node:fs');
    const listDir = (d: string): string[] => (existsSync(d) ? readdirSync(d) : []);
    const stateBefore = new Set(listDir(stateDir()));
    rmSync(join(dir, 'started'), { force: true });
    const child = spawn(
      CORDON,
      [
        'run',
        '-q',
        '--host-netns',
        host,
        '--allow',
        'allowed.test',
        '--dns-upstream',
        '198.51.100.53',
        '--memory',
        '64m',
        '--',
        'sh',
        '-c',
        'touch started; sleep 30',
      ],
      { cwd: dir, stdio: 'ignore' },
    );
    for (let i = 0; i < 200 && !existsSync(join(dir, 'started')); i++) await new Promise((res) => setTimeout(res, 50));
    assert.ok(existsSync(join(dir, 'started')), 'the command started');
    child.kill('SIGKILL');
    await new Promise((res) => child.on('exit', res));
    // The reaper (a shell on a pipe from cordon, then Node: a moment on a loaded machine); its
    // state file goes last. Other runs on the machine may have state files of their own.
    const mine = (): string[] => listDir(stateDir()).filter((f) => !stateBefore.has(f));
    let left = [...(await leftovers()), ...mine()];
    for (let i = 0; i < 400 && left.length > 0; i++) {
      await new Promise((res) => setTimeout(res, 50));
      left = [...(await leftovers()), ...mine()];
    }
    assert.deepEqual(left, [], 'namespace, NAT table, cgroups, resolver and state file removed without another run');
  });

  it('leaves nothing behind: no sandbox namespace, no cordon table in the host namespace, no cgroup', async () => {
    assert.deepEqual(await leftovers(), []);
    const t = spawnSync('ip', ['netns', 'exec', host, 'nft', 'list', 'tables'], { encoding: 'utf8' });
    assert.doesNotMatch(t.stdout, /cordon/);
    const l = spawnSync('ip', ['-n', host, 'link'], { encoding: 'utf8' });
    assert.doesNotMatch(l.stdout, /cs[0-9a-f]{6}h/);
    const { readdirSync } = await import('node:fs');
    assert.deepEqual(
      readdirSync(tmpdir()).filter((n) => /^cordon-[0-9a-f]{6}-/.test(n)),
      [],
      'resolver temp dirs',
    );
  });
});
