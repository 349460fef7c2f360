/**
 * The live lab (src/lab): the spec built in network namespaces and probed, compared with the
 * static verifier. Needs root, `ip netns`, nft and perl; tunnels need wireguard-go and wg, DNS
 * needs dnsmasq. Without them the live tests are skipped (the plan tests still run); with CI=true
 * that is a failure instead (test/support/require-env.ts).
 *
 *  - every examples/*.yaml: live = static on every probe, every expectation (the seed's own
 *    verification steps) passes live, every tunnel comes up exactly when cordon says it can;
 *  - 32 small generated specs (cordon gen): zero differences;
 *  - a `lab up` killed half-way is removed completely by `lab down`; SIGINT during `lab up`
 *    cleans up by itself; two labs run side by side;
 *  - no namespace of any lab is left at the end, also when a test fails.
 */
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { generateSpec } from '../src/gen/generate.js';
import { compile } from '../src/ir/compile.js';
import type { Ir } from '../src/ir/types.js';
import { labPrefixes, teardownLab } from '../src/lab/exec.js';
import { placeholderKeys } from '../src/lab/keys.js';
import { freshPrefix, leftoverNamespaces, upLab } from '../src/lab/lab.js';
import { isLabNamespace } from '../src/model/names.js';
import { natHosts, natRules } from '../src/render/nat.js';
import { planLab, planToText } from '../src/lab/plan.js';
import { listStates } from '../src/lab/state.js';
import { verifyLab, type VerifyResult } from '../src/lab/verify.js';
import { attackLab } from '../src/lab/attack.js';
import { loadModel } from '../src/model/load.js';
import { formatFlow } from '../src/util/flows.js';
import { formatIPv4 } from '../src/util/ip.js';
import { probeLab } from './support/lab-env.js';
import { requireOrSkip } from './support/require-env.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EXAMPLES = join(ROOT, 'examples');
const CORDON = join(ROOT, 'bin', 'cordon');

function load(path: string): Ir {
  const r = loadModel(path);
  assert.ok(r.model, `${path} does not load: ${r.diagnostics.map((d) => d.message).join('; ')}`);
  return compile(r.model);
}

// Locally the live tests skip without root/namespaces/tools; in CI that is a failure (require-env.ts).
const SKIP = requireOrSkip('lab (live)', probeLab());

/** The labs this file built, so they come down even when an assertion fails. */
const built = new Set<string>();

async function verifySpec(ir: Ir): Promise<{ result: VerifyResult; tunnels: { host: string; up: boolean; expectUp: boolean }[] }> {
  const prefix = await freshPrefix();
  built.add(prefix);
  try {
    const { report } = await upLab(ir, { prefix, say: () => undefined, ephemeral: true });
    const result = await verifyLab(ir, prefix, { timeoutMs: 500 });
    return { result, tunnels: [...report.tunnels] };
  } finally {
    await teardownLab(prefix);
    built.delete(prefix);
  }
}

/**
 * Labs that appeared since `before` and belong to `spec` (by their registry entry; a prefix with
 * namespaces but no entry counts too). Other test files (lab-tamper) build labs at the same time:
 * those are not this test's to judge or to take down.
 */
async function newLabsOf(before: ReadonlySet<string>, spec: string): Promise<string[]> {
  const states = listStates();
  return (await labPrefixes()).filter((p) => {
    if (before.has(p)) return false;
    const st = states.find((s) => s.prefix === p);
    return st === undefined || st.file === spec;
  });
}

function describeDifferences(r: VerifyResult): string {
  return r.differences
    .slice(0, 10)
    .map(
      (d) =>
        `  ${d.probe.from} → ${d.probe.to} ${formatIPv4(d.probe.dst)} ${formatFlow(d.probe.flow)}: static ${d.probe.staticAllowed ? 'allow' : 'deny'}, live ${d.live}\n    ${d.explanation.summary}`,
    )
    .join('\n');
}

after(async () => {
  for (const p of built) await teardownLab(p).catch(() => undefined);
});

/** Delivered tcp and icmp probes to the internet from hosts whose default route is a NAT gateway that masquerades. */
function natProbes(ir: Ir, r: VerifyResult): VerifyResult['probes'][number][] {
  const behind = new Set<string>();
  for (const gw of natHosts(ir.model))
    for (const rule of natRules(ir.model, gw))
      for (const h of ir.model.hosts.values())
        if (h.name !== gw && h.defaultRoute.kind === 'gateway' && h.defaultRoute.segment === rule.network.name) behind.add(h.name);
  return r.probes.filter((p) => behind.has(p.from) && p.to === 'internet' && p.delivered && p.flow.proto !== 'udp');
}

describe('lab plan (pure)', () => {
  const files = readdirSync(EXAMPLES)
    .filter((f) => f.endsWith('.yaml'))
    .sort();
  for (const f of files) {
    it(`${f}: deterministic, prefixed, kernel names fit`, () => {
      const ir = load(join(EXAMPLES, f));
      const keys = (h: string, t: string): { privateKey: string; publicKey: string } => ({ privateKey: `priv-${h}-${t}`, publicKey: `pub-${h}-${t}` });
      const a = planLab(ir, { prefix: 'cl1234', keys });
      const b = planLab(ir, { prefix: 'cl1234', keys });
      assert.equal(planToText(a), planToText(b));
      assert.deepEqual(JSON.stringify(a.steps), JSON.stringify(b.steps));
      for (const ns of a.namespaces) assert.ok(isLabNamespace(ns.name, 'cl1234'), `namespace ${ns.name} lacks the prefix`);
      for (const s of a.steps) {
        if (s.kind !== 'ip') continue;
        // Nothing is configured in the machine's own namespace; links are created inside lab namespaces.
        if (s.ns === undefined)
          assert.match(
            s.cmd,
            /^link add \S+ address 02:c0:\S+ netns cl1234[.-]\S+ type (veth peer name \S+ address 02:c0:\S+ netns cl1234[.-]\S+|bridge)$/,
            s.cmd,
          );
        else assert.ok(isLabNamespace(s.ns, 'cl1234'), s.ns);
        for (const m of s.cmd.matchAll(/(?:dev|name|master) (\S+)/g)) assert.ok(m[1]!.length <= 15, `interface name ${m[1]} is longer than 15 characters`);
      }
      for (const s of a.steps) if (s.kind === 'wireguard') assert.ok(s.kernelName.startsWith('cl1234'));
    });
  }

  it('every host, internet and upstream address has exactly one namespace', () => {
    const ir = load(join(EXAMPLES, 'proxmox-dual-bridge.yaml'));
    const p = planLab(ir, { prefix: 'cl1234', keys: placeholderKeys() });
    for (const h of ir.model.hosts.values()) for (const n of h.nics) assert.equal(p.layout.addrNs.get(n.address), p.layout.hostNs.get(h.name));
    assert.ok(p.layout.internetClasses.length > 0);
    assert.ok(p.layout.addrNs.get(0x08080808) === p.layout.internetNs, '8.8.8.8 answers on the lab internet');
  });
});

describe('lab (live)', { skip: SKIP }, () => {
  const files = readdirSync(EXAMPLES)
    .filter((f) => f.endsWith('.yaml'))
    .sort();
  for (const f of files) {
    it(`${f}: live = static, the seed's steps pass live, tunnels as predicted, NAT answered`, async () => {
      const ir = load(join(EXAMPLES, f));
      const { result, tunnels } = await verifySpec(ir);
      assert.equal(result.differences.length, 0, `${f}: ${result.differences.length} differences:\n${describeDifferences(result)}`);
      const failed = result.steps.filter((s) => !s.ok);
      assert.equal(failed.length, 0, `${f}: steps failed live:\n${failed.map((s) => `  ${s.text}: ${s.detail}`).join('\n')}`);
      for (const t of tunnels) assert.equal(t.up, t.expectUp, `${f}: tunnel of ${t.host} up=${t.up}, static says ${t.expectUp}`);
      assert.ok(result.probes.length > 100, 'probes every pair');
      // NAT is the rendered rule set's (src/render/nftables/nat.ts): without it a NAT network's
      // packets still reach the lab internet, but nothing answers them. (TCP and ICMP only: a UDP
      // responder may ignore a payload that is not its protocol's, as the resolvers do.)
      const nat = natProbes(ir, result);
      if (natHosts(ir.model).length > 0) assert.ok(nat.length > 0, `${f}: no tcp/icmp probe from behind a NAT gateway was delivered to the internet`);
      const silent = nat.filter((p) => p.status !== 'ok' && p.status !== 'refused');
      assert.deepEqual(
        silent.map((p) => `${p.from} → ${formatIPv4(p.dst)} ${formatFlow(p.flow)}: ${p.status}`),
        [],
        `${f}: delivered to the internet but not answered: no NAT on the way back`,
      );
    });
  }

  it('the seed steps of seed 000 say what the seed says, live', async () => {
    const { result } = await verifySpec(load(join(EXAMPLES, 'proxmox-dual-bridge.yaml')));
    const step = (text: string): { ok: boolean; answered: number; delivered: number } => {
      const s = result.steps.find((x) => x.text === text);
      assert.ok(s, `no step '${text}' (have: ${result.steps.map((x) => x.text).join(' | ')})`);
      return s;
    };
    // "Från AgentFarm: ping 8.8.8.8 — Ska fungera": delivered and answered by the lab internet.
    const ping = step('agentfarm → 8.8.8.8 icmp: allow');
    assert.ok(ping.ok && ping.answered > 0);
    // "Från Ollama: ping 8.8.8.8 — Ska INTE fungera".
    const nope = step('ollama → 8.8.8.8 icmp: deny');
    assert.ok(nope.ok && nope.delivered === 0);
    // "Från WireGuard-klient: curl http://10.0.0.10:8080 — Ska fungera" (through wireguard-go).
    assert.ok(step('wg-client → agentfarm tcp/8080: allow').ok);
    assert.ok(step('wg-client → ollama tcp/11434: deny').ok);
  });

  const gens: { hosts: number; rules: number; seed: number }[] = [];
  for (let i = 0; i < 24; i++) gens.push({ hosts: 5 + (i % 8), rules: 8 + ((i * 7) % 17), seed: 1000 + i });
  for (let i = 0; i < 8; i++) gens.push({ hosts: 20, rules: 12 + i, seed: 2000 + i });
  for (const g of gens) {
    it(`cordon gen --hosts ${g.hosts} --rules ${g.rules} --seed ${g.seed}: live = static`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'cordon-lab-gen-'));
      try {
        const file = join(dir, `gen-${g.seed}.yaml`);
        writeFileSync(file, generateSpec(g));
        const { result, tunnels } = await verifySpec(load(file));
        assert.equal(result.differences.length, 0, `${result.differences.length} differences:\n${describeDifferences(result)}`);
        for (const t of tunnels) assert.equal(t.up, t.expectUp, `tunnel of ${t.host} up=${t.up}, static says ${t.expectUp}`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  // The compromised-guest view, tested from inside the guests: every move the attack makes gets
  // exactly as far as `cordon matrix --assume compromised` says, and the guest is put back.
  const attacks: [string, string[]][] = [
    ['proxmox-dual-bridge.yaml', ['agentfarm', 'ollama']],
    ['vpn-only-vm.yaml', ['workload-vm']],
    ['libvirt-nat-filtered.yaml', ['agent-1']],
    ['libvirt-isolated.yaml', ['secure-vm']],
    ['agentfarm-platform.yaml', ['llm', 'customer-1']],
    ['phoenix-gateway.yaml', ['gateway']],
  ];
  for (const [f, guests] of attacks) {
    it(`lab attack on ${f} (${guests.join(', ')}) = static --assume compromised; the guests are restored`, async () => {
      const ir = load(join(EXAMPLES, f));
      const prefix = await freshPrefix();
      built.add(prefix);
      try {
        await upLab(ir, { prefix, say: () => undefined });
        for (const g of guests) {
          const r = await attackLab(ir, prefix, g, {});
          assert.equal(
            r.differences.length,
            0,
            `${g}: ${r.differences.map((d) => `${d.to} ${d.dst} ${d.flow}: static ${d.static}, attack ${d.live}${d.how ? ` (${d.how})` : ''}\n    ${d.explanation.summary}`).join('\n  ')}`,
          );
          assert.ok(r.moves.some((m) => m.move.startsWith('flush its in-guest firewall')));
          assert.equal(r.reachedAttack, r.staticCompromised);
        }
        const after = await verifyLab(ir, prefix, { timeoutMs: 500 });
        assert.equal(after.differences.length, 0, `after the attack the lab no longer matches the configured view:\n${describeDifferences(after)}`);
      } finally {
        await teardownLab(prefix);
        built.delete(prefix);
      }
    });
  }

  it('lab attack finds what a compromised vpn-only guest in a generated spec can do, and no more', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cordon-lab-gen-'));
    const prefix = await freshPrefix();
    built.add(prefix);
    try {
      const file = join(dir, 'gen.yaml');
      writeFileSync(file, generateSpec({ hosts: 20, rules: 14, seed: 2002 }));
      const ir = load(file);
      const vpnOnly = [...ir.model.hosts.values()].find((h) => h.egress === 'vpn-only');
      assert.ok(vpnOnly);
      await upLab(ir, { prefix, say: () => undefined });
      const r = await attackLab(ir, prefix, vpnOnly.name, {});
      assert.equal(r.differences.length, 0, r.differences.map((d) => `${d.to} ${d.dst} ${d.flow}: static ${d.static}, attack ${d.live}`).join('; '));
      assert.ok(r.reachedAttack > r.reachedConfigured, 'the attack gets further than the configured guest');
    } finally {
      await teardownLab(prefix);
      built.delete(prefix);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('two labs run side by side and come down independently', async () => {
    const ir = load(join(EXAMPLES, 'proxmox-dual-bridge.yaml'));
    const a = await freshPrefix();
    built.add(a);
    await upLab(ir, { prefix: a, say: () => undefined });
    const b = await freshPrefix();
    built.add(b);
    await upLab(ir, { prefix: b, say: () => undefined });
    assert.ok((await leftoverNamespaces(a)).length > 0 && (await leftoverNamespaces(b)).length > 0);
    const r = await verifyLab(ir, b, { timeoutMs: 500 });
    assert.equal(r.differences.length, 0);
    await teardownLab(a);
    built.delete(a);
    assert.equal((await leftoverNamespaces(a)).length, 0);
    assert.ok((await leftoverNamespaces(b)).length > 0, 'the other lab is untouched');
    await teardownLab(b);
    await teardownLab(b); // safe to repeat
    built.delete(b);
    assert.equal((await leftoverNamespaces(b)).length, 0);
  });

  it('a lab up killed half-way (SIGKILL) is removed completely by lab down', async () => {
    const before = new Set(await labPrefixes());
    const child = spawn(CORDON, ['lab', 'up', join(EXAMPLES, 'agentfarm-platform.yaml'), '--again'], { stdio: ['ignore', 'ignore', 'pipe'] });
    // Kill it once it is building (its namespaces exist), before it is done.
    let stderr = '';
    await new Promise<void>((resolve) => {
      child.stderr.on('data', (b: Buffer) => {
        stderr += b.toString();
        if (/links|addresses|firewalls/.test(stderr)) resolve();
      });
      child.on('exit', () => resolve());
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r).once('close', r));
    const mine = await newLabsOf(before, join(EXAMPLES, 'agentfarm-platform.yaml'));
    for (const p of mine) built.add(p);
    assert.ok(mine.length >= 1, `the killed lab left something to clean up (stderr: ${stderr})`);
    for (const p of mine) {
      const r = spawnSync(CORDON, ['lab', 'down', p], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.equal((await leftoverNamespaces(p)).length, 0);
      assert.ok(!listStates().some((s) => s.prefix === p));
      assert.ok(!readdirSync('/var/run/wireguard').some((n) => n.startsWith(p)), 'no wireguard-go socket left');
      built.delete(p);
    }
  });

  it('SIGINT during lab up takes the lab down by itself', async () => {
    const before = new Set(await labPrefixes());
    const child = spawn(CORDON, ['lab', 'up', join(EXAMPLES, 'vpn-only-vm.yaml'), '--again'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    await new Promise<void>((resolve) => {
      child.stderr.on('data', (b: Buffer) => {
        stderr += b.toString();
        if (/sysctls|links/.test(stderr)) resolve();
      });
      child.on('exit', () => resolve());
    });
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    const mine = await newLabsOf(before, join(EXAMPLES, 'vpn-only-vm.yaml'));
    for (const p of mine) built.add(p);
    assert.equal(mine.length, 0, `left behind: ${mine.join(', ')} (exit ${code}, stderr: ${stderr})`);
    assert.equal(code, 130, `the command line turns the library's Interrupted into exit 130 (stderr: ${stderr})`);
    assert.match(stderr, /SIGINT: taking the lab down/);
  });

  it('leaves no namespace of any lab this file built', async () => {
    for (const p of built) await teardownLab(p);
    const left = (await leftoverNamespaces()).filter((n) => [...built].some((p) => n.startsWith(p)));
    assert.deepEqual(left, []);
  });
});
