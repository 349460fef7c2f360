/**
 * A denied connection fails fast in every sandbox mode (issue 12, item 3): the egress policy
 * answers TCP with a reset and everything else with ICMP admin-prohibited, so the client gets
 * "connection refused" / "no route to host" at once instead of waiting out its retries on a silent
 * drop — and the attempt is still counted and reported. Through the CLI, as the README runs it.
 *
 * The bound (PROBE_LIMIT_MS) is not a performance target: a silent drop makes a TCP connect wait
 * for minutes and a UDP socket forever, so any answer well under the limit tells the two apart.
 * Live: needs root, bwrap, nft, ip (wireguard-go for vpn-only); skipped with the reason otherwise,
 * a failure in CI (test/support/require-env.ts). The host namespace (`csr<hex>-host`) stands in
 * for the internet with 198.51.100.10 and is removed in `after`.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { requireOrSkip } from './support/require-env.js';
import { REJECT_OTHER, REJECT_TCP, sandboxRuleset } from '../src/sandbox/ruleset.js';
import { parseNetRule } from '../src/sandbox/plan.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CORDON = join(ROOT, 'bin', 'cordon');
const PROBE_LIMIT_MS = 5000;

/** Prints `<code> <ms>`: the socket error and how long it took, or `timeout` after PROBE_LIMIT_MS. */
const PROBE = `
const net = require('node:net'), dgram = require('node:dgram');
const [kind, host, port] = process.argv.slice(2);
const t0 = Date.now();
const done = (r) => { process.stdout.write(r + ' ' + (Date.now() - t0) + '\\n'); process.exit(0); };
setTimeout(() => done('timeout'), ${PROBE_LIMIT_MS});
if (kind === 'tcp') {
  const s = net.connect({ host, port: Number(port) }, () => done('connected'));
  s.on('error', (e) => done(e.code));
} else {
  // A connected UDP socket learns of the ICMP error on its next send (or receive).
  const s = dgram.createSocket('udp4');
  s.on('error', (e) => done(e.code));
  s.on('message', () => done('answered'));
  s.connect(Number(port), host, () => { s.send('ping'); setInterval(() => s.send('ping'), 50); });
}
`;

function skipReason(): string | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'needs root';
  for (const b of ['bwrap', 'nft', 'ip']) if (spawnSync('sh', ['-c', `command -v ${b}`]).status !== 0) return `needs ${b}`;
  const t = spawnSync('bwrap', ['--unshare-user', '--ro-bind', '/', '/', 'true']);
  if (t.status !== 0) return `bwrap cannot run here: ${t.stderr.toString().trim()}`;
  return undefined;
}
const SKIP = requireOrSkip('denied connections fail fast (live)', skipReason());

describe('denied connections are rejected, not dropped (rule set, pure)', () => {
  const rule = (t: string) => {
    const r = parseNetRule(t);
    assert.ok(typeof r !== 'string', typeof r === 'string' ? r : '');
    return r;
  };
  it('every recording rule rejects, TCP with a reset, in every mode; nothing is dropped silently', () => {
    for (const mode of ['isolated', 'filtered', 'vpn-only'] as const) {
      const text = sandboxRuleset({ mode, allow: [rule('198.51.100.10:443')], deny: [rule('198.51.100.9')] }, undefined, 'veth0', {
        ifname: 'wg0',
        endpoints: [{ addr: 0xcb007105, port: 51820 }],
      });
      const recording = text.split('\n').filter((l) => l.includes('add @denied'));
      assert.ok(recording.length >= 4, `${mode}: ${text}`);
      for (const l of recording) {
        assert.ok(l.trimEnd().endsWith(REJECT_TCP) || l.trimEnd().endsWith(REJECT_OTHER), `${mode}: ${l}`);
        if (l.trimEnd().endsWith(REJECT_TCP)) assert.match(l, /meta l4proto tcp/, `${mode}: a reset needs a TCP match: ${l}`);
      }
      assert.doesNotMatch(text, /\bdrop$/m, `${mode}: a rule ends in drop:\n${text}`);
    }
  });
});

describe('denied connections fail fast and are reported (live, cordon run)', { skip: SKIP }, () => {
  const host = `csr${randomBytes(2).toString('hex')}-host`;
  const dir = mkdtempSync(join(tmpdir(), 'cordon-reject-'));
  const ip = (...a: string[]): void => {
    const r = spawnSync('ip', a);
    assert.equal(r.status, 0, `ip ${a.join(' ')}: ${r.stderr.toString()}`);
  };

  before(() => {
    writeFileSync(join(dir, 'probe.cjs'), PROBE);
    ip('netns', 'add', host);
    ip('-n', host, 'link', 'set', 'lo', 'up');
    ip('-n', host, 'link', 'add', 'inet0', 'type', 'veth', 'peer', 'name', 'inet1');
    ip('-n', host, 'addr', 'add', '198.51.100.10/24', 'dev', 'inet0');
    ip('-n', host, 'link', 'set', 'inet0', 'up');
    ip('-n', host, 'link', 'set', 'inet1', 'up');
  });
  after(() => {
    spawnSync('ip', ['netns', 'del', host]);
    rmSync(dir, { recursive: true, force: true });
  });

  interface Denied {
    destination: string;
    proto: string;
    port?: number;
  }
  /** One probe in one sandbox: its answer, and the CLI's --json report. */
  function probe(flags: string[], kind: 'tcp' | 'udp', to: string, port: number): { code: string; ms: number; denied: Denied[] } {
    const r = spawnSync(CORDON, ['run', ...flags, '--workdir', dir, '--json', '--', process.execPath, join(dir, 'probe.cjs'), kind, to, String(port)], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    const j = JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as { exitCode: number; denied: Denied[] };
    const line = r.stdout.slice(0, r.stdout.indexOf('{')).trim().split('\n').pop() ?? '';
    const [code = '', ms = 'NaN'] = line.split(' ');
    assert.equal(j.exitCode, 0, `probe exit: ${r.stdout} ${r.stderr}`);
    return { code, ms: Number(ms), denied: j.denied };
  }

  function assertRejected(mode: string, flags: string[]): void {
    for (const [kind, codes, port] of [
      ['tcp', ['ECONNREFUSED'], 7001],
      ['udp', ['EHOSTUNREACH', 'ECONNREFUSED', 'ENETUNREACH'], 7002],
    ] as const) {
      const p = probe(flags, kind, '198.51.100.11', port);
      assert.ok((codes as readonly string[]).includes(p.code), `${mode} ${kind}: expected one of ${codes.join('/')}, got '${p.code}' after ${p.ms} ms`);
      assert.ok(p.ms < PROBE_LIMIT_MS, `${mode} ${kind}: ${p.ms} ms`);
      assert.ok(
        p.denied.some((d) => d.destination === '198.51.100.11' && d.proto === kind && d.port === port),
        `${mode} ${kind}: not in the denied report: ${JSON.stringify(p.denied)}`,
      );
    }
  }

  it('isolated: a TCP connect is refused and a UDP send unreachable at once, both reported', () => {
    assertRejected('isolated', []);
  });

  it('filtered: a destination outside the allowlist is refused at once and reported', () => {
    assertRejected('filtered', ['--host-netns', host, '--allow', '198.51.100.10:7001']);
  });

  it('vpn-only: traffic outside the tunnel is refused at once and reported', (t) => {
    if (spawnSync('sh', ['-c', 'command -v wireguard-go && command -v wg']).status !== 0)
      return t.skip('wireguard-go/wg not installed (make setup installs them)');
    const conf = join(dir, 'wg0.conf');
    // The tunnel never comes up (no server at the endpoint, no keepalive): what matters is that
    // everything outside its allowed IPs is rejected, not silently dropped.
    const key = spawnSync('wg', ['genkey'], { encoding: 'utf8' }).stdout.trim();
    const pub = spawnSync('wg', ['pubkey'], { input: key, encoding: 'utf8' }).stdout.trim();
    writeFileSync(
      conf,
      `[Interface]\nPrivateKey = ${key}\nAddress = 10.77.0.2/24\n\n[Peer]\nPublicKey = ${pub}\nEndpoint = 198.51.100.10:51820\nAllowedIPs = 10.77.0.0/24\n`,
      {
        mode: 0o600,
      },
    );
    assertRejected('vpn-only', ['--host-netns', host, '--wireguard', conf]);
  });
});
