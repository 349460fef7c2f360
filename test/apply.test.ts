/**
 * `cordon apply` end to end, inside throw-away network namespaces (never the machine's own):
 * a first apply and its read-back, a second apply that replaces only cordon's tables, failures
 * that leave the previous rule set loaded, a rule set changed behind apply's back in each way
 * that matters (caught rule by rule and named), a rule injected into the rendered text itself
 * (caught by the meaning check), --dry-run, --confirm without confirmation, --rollback, and the
 * refusal to act without --netns. The watchdog's own tests are in apply-watchdog.test.ts.
 */
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { applyRuleset } from '../src/apply/apply.js';
import { netnsTarget } from '../src/apply/target.js';
import { alive } from '../src/apply/rollback.js';
import { compareShapes, shapeFromJson, shapeFromText } from '../src/apply/shape.js';
import { listRuns } from '../src/apply/state.js';
import { compile } from '../src/ir/compile.js';
import { loadModel } from '../src/model/load.js';
import { nftablesRenderer } from '../src/render/nftables/index.js';
import { NetnsPool, netnsSkipReason } from './support/netns-fixture.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CORDON = join(ROOT, 'bin', 'cordon');
const PVE = join(ROOT, 'examples', 'proxmox-dual-bridge.yaml');
const KVM = join(ROOT, 'examples', 'libvirt-nat-filtered.yaml');

function rendered(spec: string, host: string): string {
  const r = loadModel(spec);
  assert.ok(r.model);
  return nftablesRenderer.render(compile(r.model), { host, params: new Map() }).files[0]!.content;
}

function cordon(args: readonly string[], env: NodeJS.ProcessEnv = {}): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(CORDON, args, { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env }, input: '' });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('cordon apply: refuses without a namespace', () => {
  it('exits 2 and says why when neither --netns nor --i-mean-the-host is given', () => {
    const r = cordon(['apply', PVE, '--host', 'pve', '--state-dir', join(tmpdir(), 'cordon-never-used')]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /refusing to act on the machine's own network namespace/);
    assert.match(r.stderr, /--netns NAME/);
  });

  it('exits 2 for a namespace that does not exist', () => {
    const r = cordon(['apply', PVE, '--host', 'pve', '--netns', 'cordon-t-no-such-namespace']);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /no network namespace 'cordon-t-no-such-namespace'/);
  });
});

const skip = netnsSkipReason();

describe('cordon apply in a network namespace', { skip }, () => {
  const pool = new NetnsPool();
  let ns = '';
  let state = '';
  const list = (): string => {
    const r = pool.exec(ns, ['nft', '-s', 'list', 'ruleset']);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  const tables = (): string[] =>
    pool
      .exec(ns, ['nft', 'list', 'tables'])
      .stdout.trim()
      .split('\n')
      .filter((l) => l !== '')
      .sort();
  const apply = (args: readonly string[], env: NodeJS.ProcessEnv = {}): { status: number; stdout: string; stderr: string } =>
    cordon(['apply', ...args, '--netns', ns, '--state-dir', state], env);

  before(() => {
    ns = pool.create('apply');
    state = mkdtempSync(join(tmpdir(), 'cordon-apply-test-'));
    // A table that is not cordon's: every apply and rollback must leave it alone.
    const r = pool.exec(
      ns,
      ['nft', '-f', '-'],
      'table inet other {\n\tchain input {\n\t\ttype filter hook input priority 10; policy accept;\n\t\ttcp dport 2222 counter accept\n\t}\n}\n',
    );
    assert.equal(r.status, 0, r.stderr);
  });
  after(() => {
    pool.cleanup();
    rmSync(state, { recursive: true, force: true });
  });

  it('applies into a fresh namespace, and the rule set read back matches what was rendered', () => {
    const r = apply([PVE, '--host', 'pve']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /applied to netns/);
    assert.match(r.stderr, /read back: matches what was rendered/);
    const loaded = shapeFromJson(JSON.parse(pool.exec(ns, ['nft', '-j', 'list', 'ruleset']).stdout));
    const want = shapeFromText(rendered(PVE, 'pve'));
    assert.ok(loaded.ok && want.ok);
    assert.deepEqual(compareShapes(want.value, loaded.value), []);
    assert.deepEqual(
      tables(),
      [
        'table bridge cordon_pve_ports',
        'table bridge cordon_pve_v4only',
        'table inet cordon_pve_forward',
        'table inet cordon_pve_input',
        'table inet cordon_pve_output',
        'table inet other',
        // No NAT table: seed 000's pve routes vmbr0 to the home router, which NATs.
        'table ip6 cordon_pve_ipv6',
      ].sort(),
    );
    // The state directory is private.
    const run = listRuns(state, ns)[0]!;
    assert.equal(statSync(run.path).mode & 0o777, 0o700);
    assert.equal(statSync(run.file('snapshot.nft')).mode & 0o777, 0o600);
    assert.equal(run.status(), 'applied');
  });

  it("a second apply replaces only cordon's tables: the foreign table survives, stale cordon tables go", () => {
    const r = apply([KVM]);
    assert.equal(r.status, 0, r.stderr);
    const t = tables();
    assert.ok(t.includes('table inet other'), t.join('\n'));
    assert.ok(!t.some((x) => x.includes('cordon_pve_')), `pve's tables should be gone:\n${t.join('\n')}`);
    assert.ok(
      t.some((x) => x.includes('cordon_kvm_host_forward')),
      t.join('\n'),
    );
    assert.match(list(), /tcp dport 2222 counter accept/);
  });

  it('--dry-run prints a diff and changes nothing', () => {
    const before = list();
    const r = apply([PVE, '--host', 'pve', '--dry-run']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^--- loaded in netns /m);
    assert.match(r.stdout, /^\+\+\+ rendered for pve/m);
    assert.match(r.stdout, /^\+table inet cordon_pve_forward \{/m);
    assert.match(r.stdout, /^-table inet cordon_kvm_host_forward_\w+ \{/m);
    assert.equal(list(), before);
    const same = apply([KVM, '--dry-run']);
    assert.equal(same.status, 0, same.stderr);
    assert.match(same.stdout, /no changes/);
  });

  it('a load the kernel refuses fails atomically: the previous cordon tables are still loaded', () => {
    const before = list();
    const r = apply([PVE, '--host', 'pve'], { CORDON_APPLY_INJECT_FAULT: 'load' });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /not applied: nft -f failed/);
    assert.match(r.stderr, /previous rule set is still loaded/);
    assert.equal(list(), before);
  });

  it('a rule set nft rejects (corrupted output) changes nothing', async () => {
    const before = list();
    const broken = rendered(PVE, 'pve').replace('counter accept', 'counter acept');
    const out = await applyRuleset({ target: netnsTarget(ns), host: 'pve', ruleset: broken, stateRoot: state, say: () => undefined });
    assert.equal(out.status, 'unchanged', out.message);
    assert.match(out.message, /nft -c rejected the rule set/);
    assert.equal(list(), before);
  });

  it('a read-back that differs from what was rendered rolls back to the previous rule set', () => {
    const before = list();
    const r = apply([PVE, '--host', 'pve'], { CORDON_APPLY_INJECT_FAULT: 'tamper' });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /read back differs/);
    assert.match(r.stderr, /rule\(s\) loaded/);
    assert.match(r.stderr, /apply failed and was rolled back/);
    assert.equal(list(), before);
    assert.equal(listRuns(state, ns)[0]!.status(), 'rolled-back');
  });

  // Each way of changing the loaded rule set behind apply's back, and the line that must name it.
  const TAMPERS: readonly [string, RegExp][] = [
    ['tamper-accept', /chain forward: 1 rule\(s\) loaded that were not rendered, from rule 1: 'counter accept'/],
    [
      'tamper-verdict',
      /1 rule\(s\) loaded that were not rendered, from rule \d+: '[^']* accept'[\s\S]*1 rendered rule\(s\) not loaded, from rule \d+: '[^']* drop'/,
    ],
    ['tamper-match', /1 rule\(s\) loaded that were not rendered, from rule \d+: '[^']*cordon-tampered/],
    ['tamper-element', /1 element\(s\) loaded that were not rendered: 192\.0\.2\.66/],
    ['tamper-policy', /chain forward: declared \{[^}]*"policy":"accept"[^}]*\}, rendered \{[^}]*"policy":"drop"/],
  ];
  for (const [fault, names] of TAMPERS) {
    it(`${fault}: a rule set changed between load and read-back is caught, named and rolled back`, () => {
      const before = list();
      const r = apply([PVE, '--host', 'pve'], { CORDON_APPLY_INJECT_FAULT: fault });
      assert.equal(r.status, 1, r.stderr);
      assert.doesNotMatch(r.stderr, /found nothing to change|FAILED:/, 'the injection itself must have worked');
      assert.match(r.stderr, /read back differs/);
      assert.match(r.stderr, names);
      assert.match(r.stderr, /apply failed and was rolled back/);
      assert.equal(list(), before);
    });
  }

  it('a rule that got into the rendered text itself (not in the spec) is caught by the meaning check', async () => {
    const before = list();
    const spec = loadModel(PVE);
    const ir = compile(spec.model!);
    const text = rendered(PVE, 'pve');
    // An injected rule in the text: the kernel holds exactly the text, so only the spec can tell.
    const injected = text.replace(/(chain forward \{\n\t\ttype filter hook forward priority [^\n]*\n)/, '$1\t\tcounter accept\n');
    assert.notEqual(injected, text);
    const lines: string[] = [];
    const out = await applyRuleset({ target: netnsTarget(ns), host: 'pve', ruleset: injected, ir, stateRoot: state, say: (l) => lines.push(l) });
    assert.equal(out.status, 'rolled-back', `${out.message}\n${lines.join('\n')}`);
    assert.ok(out.differences.length > 0 && out.differences.every((d) => d.startsWith('meaning (')), out.differences.join('\n'));
    assert.ok(
      out.differences.some((d) => /agentfarm → ollama: the spec allows tcp\/11434, the loaded rule set any/.test(d)),
      out.differences.join('\n'),
    );
    assert.equal(list(), before);
    // The same text without the spec to compare with is what the rendered-text walls accept.
    const blind = await applyRuleset({ target: netnsTarget(ns), host: 'pve', ruleset: injected, stateRoot: state, say: () => undefined });
    assert.equal(blind.status, 'applied', blind.message);
    const back = apply(['--rollback']);
    assert.equal(back.status, 0, back.stderr);
    assert.equal(list(), before);
  });

  it('--confirm 1 without a confirmation rolls back', () => {
    const before = list();
    const r = apply([PVE, '--host', 'pve', '--confirm', '1']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /cordon apply --confirm-token [0-9a-f]+ --netns /);
    assert.match(r.stderr, /not confirmed within 1s/);
    assert.match(r.stderr, /rolled back/);
    assert.equal(list(), before);
  });

  it('--confirm with --confirm-token from another process keeps the new rule set', async () => {
    const child = spawn(CORDON, ['apply', PVE, '--host', 'pve', '--netns', ns, '--state-dir', state, '--confirm', '30'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const token = await new Promise<string>((resolve, reject) => {
      const timer = setInterval(() => {
        const m = /--confirm-token ([0-9a-f]+)/.exec(err);
        if (m) {
          clearInterval(timer);
          resolve(m[1]!);
        }
      }, 50);
      child.on('exit', () => {
        clearInterval(timer);
        reject(new Error(`apply exited before printing a token:\n${err}`));
      });
    });
    const c = apply(['--confirm-token', token]);
    assert.equal(c.status, 0, c.stderr);
    const code = await new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.on('exit', resolve)));
    assert.equal(code, 0, err);
    assert.ok(tables().includes('table inet cordon_pve_forward'));
    // The watchdog that held the rollback promise is gone, found by the pid it recorded.
    const run = listRuns(state, ns).find((x) => x.token() === token)!;
    const watchdog = run.watchdogPid();
    assert.ok(watchdog !== undefined, 'a --confirm run records its watchdog');
    assert.ok(!alive(watchdog), `watchdog ${watchdog} still runs after the confirmation`);
    assert.equal(run.status(), 'applied');
    assert.equal(apply(['--confirm-token', token]).status, 0, 'confirming twice is harmless');
  });

  it('--rollback restores the snapshot taken before the last apply', () => {
    const r = apply(['--rollback']);
    assert.equal(r.status, 0, r.stderr);
    const t = tables();
    assert.ok(
      t.some((x) => x.includes('cordon_kvm_host_forward')),
      t.join('\n'),
    );
    assert.ok(!t.some((x) => x.includes('cordon_pve_')), t.join('\n'));
    assert.ok(t.includes('table inet other'));
    const snap = readFileSync(
      listRuns(state, ns)
        .find((x) => x.status() === 'rolled-back')!
        .file('snapshot.nft'),
      'utf8',
    );
    assert.match(snap, /cordon_kvm_host_forward/);
  });
});
