/**
 * The runtime floor (src/system/) and the pieces the issue folded into one: the process runner,
 * namespace listing, the interrupt-and-teardown helper, kernel names with a diagnostic instead of
 * a throw, the one WireGuard key generator, the one binary search, the one any-address constant.
 * None of these needs root: namespace listing reads a directory we make ourselves.
 */
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { findLab, LabChoiceError, labExec, verifyLabFor } from '../src/lab/lab.js';
import { compile } from '../src/ir/compile.js';
import { loadModel } from '../src/model/load.js';
import { checkedIfname, IFNAMSIZ, NameAllocator, wireguardKernelName } from '../src/model/names.js';
import { firstError, run } from '../src/system/exec.js';
import { Interrupted, INTERRUPT_SIGNALS, withTeardown } from '../src/system/interrupt.js';
import { listNetns, netnsNameProblem } from '../src/system/netns.js';
import { ANY_ADDRESS, isAnyAddress } from '../src/util/ip.js';
import { lowerBound, upperBound } from '../src/util/search.js';
import { generateWgKeyPair, isWgKey, publicKeyOf } from '../src/util/wgkey.js';
import { targetDests, targetSources } from '../src/verify/endpoints.js';

const tmp = mkdtempSync(join(tmpdir(), 'cordon-system-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('system/exec: the one process runner', () => {
  it('passes input, collects output and the exit code, without a shell', async () => {
    const r = await run(['sh', '-c', 'cat; echo err >&2; exit 3'], { input: 'hello' });
    assert.equal(r.code, 3);
    assert.equal(r.stdout, 'hello');
    assert.equal(r.stderr, 'err\n');
    assert.equal(firstError(r), 'err');
    const literal = await run(['echo', '$HOME;', 'true']);
    assert.equal(literal.stdout, '$HOME; true\n', 'arguments reach the program as they are');
  });

  it('127 when the program cannot start; a deadline kills it', async () => {
    const missing = await run(['/nonexistent/cordon-no-such-program']);
    assert.equal(missing.code, 127);
    assert.match(missing.stderr, /ENOENT/);
    const slow = await run(['sleep', '5'], { timeoutMs: 100 });
    assert.notEqual(slow.code, 0);
    assert.ok(slow.ms < 3000, `killed after ${slow.ms} ms`);
  });
});

describe('system/netns: one namespace listing', () => {
  it('lists the names in the run directory, sorted; none when it is missing', () => {
    const dir = join(tmp, 'netns');
    mkdirSync(dir);
    for (const n of ['cl00ff-pve', 'alpha', 'cl00ff.internet']) writeFileSync(join(dir, n), '');
    assert.deepEqual(listNetns(dir), ['alpha', 'cl00ff-pve', 'cl00ff.internet']);
    assert.deepEqual(listNetns(join(tmp, 'absent')), []);
  });

  it('says why a name cannot be a namespace', () => {
    assert.equal(netnsNameProblem('cl00ff-pve'), undefined);
    for (const bad of ['', '..', 'a/b', 'a b', 'x'.repeat(65)]) assert.match(netnsNameProblem(bad) ?? '', /is not a network namespace name/, bad);
  });
});

describe('system/interrupt: teardown on failure, success and signals; no exit', () => {
  const listeners = (): number[] => INTERRUPT_SIGNALS.map((s) => process.listenerCount(s));

  it('tears down after success unless kept, and after a failure before rethrowing', async () => {
    const before = listeners();
    let downs = 0;
    const teardown = async (): Promise<void> => void downs++;
    assert.equal(await withTeardown(async () => 7, { teardown }), 7);
    assert.equal(downs, 1);
    assert.equal(await withTeardown(async () => 8, { teardown, keep: () => true }), 8);
    assert.equal(downs, 1, 'kept');
    await assert.rejects(
      withTeardown(
        async () => {
          throw new Error('boom');
        },
        { teardown, keep: () => true },
      ),
      /boom/,
    );
    assert.equal(downs, 2, 'a failure is always taken down');
    assert.deepEqual(listeners(), before, 'handlers removed');
  });

  it('a real SIGINT aborts the work, runs the teardown and rejects with Interrupted', async () => {
    const before = listeners();
    const events: string[] = [];
    const p = withTeardown(
      (signal) =>
        new Promise<string>((resolve, reject) => {
          const timer = setTimeout(() => resolve('finished'), 5000);
          signal.addEventListener('abort', () => {
            clearTimeout(timer);
            events.push('aborted');
            reject(signal.reason as Error); // withTeardown aborts with an Interrupted
          });
        }),
      {
        teardown: async () => void events.push('teardown'),
        keep: () => true,
        onSignal: (sig) => events.push(`signal ${sig}`),
      },
    );
    setTimeout(() => process.kill(process.pid, 'SIGINT'), 50);
    await assert.rejects(p, (e: unknown) => e instanceof Interrupted && e.signal === 'SIGINT');
    assert.deepEqual(events, ['signal SIGINT', 'aborted', 'teardown'], 'the work stops before the teardown starts');
    assert.deepEqual(listeners(), before, 'handlers removed');
  });

  it('work that ignores the abort is torn down after the grace period', async () => {
    let downs = 0;
    const t0 = performance.now();
    const p = withTeardown(() => new Promise<void>((resolve) => setTimeout(resolve, 3000)), {
      teardown: async () => void downs++,
      graceMs: 100,
      keep: () => true,
    });
    setTimeout(() => process.kill(process.pid, 'SIGTERM'), 20);
    await assert.rejects(p, Interrupted);
    assert.equal(downs, 1);
    assert.ok(performance.now() - t0 < 2000);
  });
});

describe('model/names: kernel names are diagnostics, not throws', () => {
  it('a lab tunnel name that does not fit IFNAMSIZ is CORDON017 at the tunnel', () => {
    const at = { file: 'x.yaml', line: 4, col: 3, path: 'tunnels.wg0' };
    assert.deepEqual(wireguardKernelName('cl00ff', 12, at), { ok: true, name: 'cl00ffw12' });
    const r = wireguardKernelName('cl00ff', 123_456_789, at);
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.diagnostic.code, 'CORDON017');
      assert.equal(r.diagnostic.line, 4);
      assert.match(r.diagnostic.message, /at most 15/);
    }
    assert.equal(checkedIfname('x'.repeat(IFNAMSIZ), at).ok, true);
    assert.equal(checkedIfname('x'.repeat(IFNAMSIZ + 1), at).ok, false);
  });

  it('NameAllocator keeps clean names, hashes lossy, long, reserved and clashing ones, never repeats', () => {
    const alloc = new NameAllocator({ max: 10, clean: (raw) => raw.replace(/[^a-z]/g, '_'), reserved: (n) => n === 'all' });
    assert.equal(alloc.take('web'), 'web');
    const names = ['web', 'a.b', 'a_b', 'all', 'averyverylongname', 'web'].map((r) => alloc.take(r));
    assert.equal(new Set(['web', ...names]).size, names.length + 1, `unique: ${names.join(' ')}`);
    for (const n of names) assert.ok(n.length <= 10, n);
    assert.match(names[1]!, /^a_b-[0-9a-f]{4}$/, 'lossy: hashed');
    assert.equal(names[2], 'a_b', 'the clean one keeps its name');
    assert.match(names[3]!, /^all-[0-9a-f]{4}$/, 'reserved: hashed');
  });
});

describe('one of each', () => {
  it('the WireGuard generator makes pairs that derive and check', () => {
    const a = generateWgKeyPair();
    const b = generateWgKeyPair();
    assert.ok(isWgKey(a.privateKey) && isWgKey(a.publicKey));
    assert.equal(publicKeyOf(a.privateKey), a.publicKey);
    assert.notEqual(a.privateKey, b.privateKey);
  });

  it('lowerBound/upperBound agree with a linear scan on plain and typed arrays', () => {
    let seed = 7;
    const rnd = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    for (let t = 0; t < 200; t++) {
      const arr = Array.from({ length: rnd(20) }, () => rnd(30)).sort((x, y) => x - y);
      const typed = Float64Array.from(arr);
      for (let x = -1; x <= 31; x++) {
        const lo = arr.findIndex((v) => v >= x);
        const up = arr.findIndex((v) => v > x);
        assert.equal(lowerBound(arr, x), lo === -1 ? arr.length : lo);
        assert.equal(upperBound(typed, x), up === -1 ? arr.length : up);
      }
    }
  });

  it('the any-address constant', () => {
    assert.ok(isAnyAddress(ANY_ADDRESS));
    assert.ok(!isAnyAddress([[0, 0xfffffffe]]));
    assert.ok(
      !isAnyAddress([
        [0, 5],
        [7, 0xffffffff],
      ]),
    );
  });

  it('targets: sources and destinations agree except a single address, which is itself', () => {
    const { model } = loadModel('examples/proxmox-dual-bridge.yaml');
    assert.ok(model);
    const host = [...model.hosts.values()][0]!;
    const addr = host.nics[0]!.address;
    const one = { kind: 'cidr', range: { lo: addr, hi: addr } } as const;
    assert.deepEqual(targetSources(model, one as never), [{ kind: 'host', host: host.name }]);
    assert.deepEqual(targetDests(model, one as never), [{ kind: 'addr', addr }]);
    const net = { kind: 'network', network: host.nics[0]!.segment } as const;
    assert.deepEqual(targetDests(model, net as never), targetSources(model, net as never));
    assert.ok(targetSources(model, net as never).some((s) => s.kind === 'host' && s.host === host.name));
  });
});

describe("lab library: a wrong lab is the user's input, not a crash", () => {
  it('labExec and verifyLabFor name the missing lab (LabChoiceError), building nothing', async () => {
    assert.ok('error' in findLab('clfffe'));
    await assert.rejects(labExec('pve', ['true'], { lab: 'clfffe' }), (e: unknown) => e instanceof LabChoiceError && /no lab 'clfffe'/.test(e.message));
    const { model } = loadModel('examples/proxmox-dual-bridge.yaml');
    const ir = compile(model!);
    await assert.rejects(
      verifyLabFor(ir, { file: 'examples/proxmox-dual-bridge.yaml', lab: 'clfffe', timeoutMs: 100, say: () => undefined }),
      (e: unknown) => e instanceof LabChoiceError && /no lab 'clfffe'/.test(e.message),
    );
  });
});
