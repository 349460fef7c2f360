/**
 * "`cordon import` output passes `cordon test` with the same matrix as the source", for every
 * format: the source is imported as `cordon import --from F SOURCE… -o spec.yaml` does (runImport,
 * the CLI's own reader of the flags and files, and the text written to disk), audited as `cordon
 * audit` does, and the written file is loaded back from disk for its matrix; `cordon test
 * spec.yaml --json` runs as a user runs it (bin/cordon). The library does the rest: a process per
 * step would be minutes of CPU on a shared machine.
 *
 * Law 1 (every source): the written spec's matrix, in both views, is the audit's matrix of the
 * source, and `cordon test` on it gives every check the audit ran the same result (a check that
 * fails on the source fails on the spec: exit 1 exactly when one does). A comment, a quoted name
 * or a line map that changed what the written text means would break it.
 * Law 2 (cordon's own output of a spec, for the formats that carry a firewall: iptables, nftables,
 * libvirt, Proxmox): the written spec's matrix is the original spec's, in both views.
 * Sources: the seeds' own files (examples/seed-configs/) and renderer output of the examples.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runImport } from '../src/cli/commands/import-common.js';
import { auditImport } from '../src/import/common/audit.js';
import { compile } from '../src/ir/compile.js';
import { loadModel } from '../src/model/load.js';
import { findRenderer } from '../src/render/registry.js';
import { isKeyedRenderer } from '../src/render/wireguard/keys.js';
import { matrixToJson } from '../src/report/matrix.js';
import { Engine } from '../src/verify/engine.js';
import { computeMatrix } from '../src/verify/matrix.js';
import { testKeySource } from './support/wg-test-keys.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'cordon-import-matrix-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function cordon(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(join(ROOT, 'bin/cordon'), args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface MatrixJson {
  endpoints: string[];
  allowed: { from: string; to: string; text: string }[];
}
interface CheckJson {
  kind: string;
  name: string;
  ok: boolean;
  assume: string;
}

function cells(m: MatrixJson): string[] {
  return m.allowed.map((c) => `${c.from} → ${c.to}: ${c.text}`).sort();
}

function checksText(cs: readonly CheckJson[]): string[] {
  return cs.map((c) => `${c.kind} ${c.name} (${c.assume}): ${c.ok ? 'ok' : 'FAILS'}`).sort();
}

interface Case {
  readonly name: string;
  readonly from: string;
  /** Arguments after --from F: the source paths and --topology/--host. */
  readonly args: () => string[];
  /** The spec the source was rendered from (law 2). */
  readonly original?: string;
}

/** Writes a renderer's files of an example under tmp/<label>/; returns the directory. */
function rendered(example: string, target: string, label: string, params: [string, string][] = []): { dir: string; files: string[] } {
  const loaded = loadModel(`examples/${example}.yaml`);
  assert.ok(loaded.model, example);
  const r0 = findRenderer(target)!;
  const out = (isKeyedRenderer(r0) ? r0.withKeys(testKeySource()) : r0).render(compile(loaded.model), { host: undefined, params: new Map(params) });
  assert.ok(!out.diagnostics.some((d) => d.severity === 'error'), JSON.stringify(out.diagnostics));
  const dir = join(tmp, label);
  const files: string[] = [];
  for (const f of out.files) {
    const p = join(dir, f.path);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, f.content);
    files.push(f.path);
  }
  return { dir, files };
}

/**
 * What the kernel holds for a rendered nftables file: loaded with `nft -f` into a namespace made
 * for it (never the root namespace's firewall), listed with `nft -j list ruleset`, the namespace
 * removed also on failure. Needs root and ip netns, which CI has (make setup).
 */
function listedByNft(file: string): string {
  const ns = `cnfti${process.pid}x${listed++}`;
  const run = (cmd: string[]): string => {
    const x = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8' });
    assert.equal(x.status, 0, `${cmd.join(' ')}: ${x.stderr}`);
    return x.stdout;
  };
  run(['ip', 'netns', 'add', ns]);
  try {
    run(['ip', 'netns', 'exec', ns, 'nft', '-f', file]);
    const out = `${file}.json`;
    writeFileSync(out, run(['ip', 'netns', 'exec', ns, 'nft', '-j', 'list', 'ruleset']));
    return out;
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
}
let listed = 0;

const SEEDS = 'examples/seed-configs';

const CASES: Case[] = [
  {
    name: 'iptables: seed 004 in-guest rules',
    from: 'iptables',
    args: () => [`${SEEDS}/004/rules.sh`, '--topology', `${SEEDS}/004/topology.yaml`, '--host', 'workload-vm'],
  },
  { name: 'proxmox: seed 000', from: 'proxmox', args: () => [`${SEEDS}/000/root`, '--topology', `${SEEDS}/000/topology.yaml`] },
  { name: 'proxmox: seed 003', from: 'proxmox', args: () => [`${SEEDS}/003/root`, '--topology', `${SEEDS}/003/topology.yaml`] },
  { name: 'libvirt: seed 001', from: 'libvirt', args: () => [`${SEEDS}/001/root`, '--topology', `${SEEDS}/001/topology.yaml`] },
  {
    name: 'netplan: seed 000 VMs',
    from: 'netplan',
    args: () => [`agentfarm=${SEEDS}/000/netplan/agentfarm.yaml`, `ollama=${SEEDS}/000/netplan/ollama.yaml`, '--topology', `${SEEDS}/000/topology.yaml`],
  },
  { name: 'ifupdown: seed 000 bridges', from: 'ifupdown', args: () => [`pve=${SEEDS}/000/root`, '--topology', `${SEEDS}/000/topology.yaml`] },
  {
    name: 'iptables: phoenix-gateway rendered by cordon',
    from: 'iptables',
    original: 'examples/phoenix-gateway.yaml',
    args: () => {
      const r = rendered('phoenix-gateway', 'iptables', 'ipt');
      return [
        ...r.files.filter((f) => f.endsWith('rules.v4')).map((f) => `${f.split('/')[0]!}=${join(r.dir, f)}`),
        '--topology',
        'examples/phoenix-gateway.yaml',
      ];
    },
  },
  {
    name: 'libvirt: libvirt-nat-filtered rendered by cordon',
    from: 'libvirt',
    original: 'examples/libvirt-nat-filtered.yaml',
    args: () => {
      const r = rendered('libvirt-nat-filtered', 'libvirt', 'lv');
      const hv = r.files[0]!.split('/')[1]!;
      const ifaces = r.files
        .filter((f) => f.endsWith('-interface.xml'))
        .map(
          (f) =>
            `${f
              .split('/')
              .pop()!
              .replace(/-interface\.xml$/, '')}=${join(r.dir, f)}`,
        );
      return [
        join(r.dir, 'libvirt', hv, 'networks'),
        join(r.dir, 'libvirt', hv, 'nwfilters'),
        ...ifaces,
        '--topology',
        'examples/libvirt-nat-filtered.yaml',
        '--host',
        hv,
      ];
    },
  },
  {
    name: 'proxmox: phoenix-gateway rendered by cordon',
    from: 'proxmox',
    original: 'examples/phoenix-gateway.yaml',
    args: () => {
      const r = rendered('phoenix-gateway', 'proxmox', 'pve', [['forward', 'nftables']]);
      const node = r.files[0]!.split('/')[0]!;
      const root = join(tmp, 'pve-root');
      const put = (rel: string, from: string): void => {
        mkdirSync(dirname(join(root, rel)), { recursive: true });
        writeFileSync(join(root, rel), spawnSync('cat', [join(r.dir, from)], { encoding: 'utf8' }).stdout);
      };
      mkdirSync(join(root, 'etc'), { recursive: true });
      writeFileSync(join(root, 'etc/hostname'), `${node}\n`);
      for (const f of r.files) {
        const base = f.split('/').pop()!;
        if (base === 'cluster.fw') put('etc/pve/firewall/cluster.fw', f);
        else if (base === 'host.fw') put(`etc/pve/nodes/${node}/host.fw`, f);
        else if (/^\d+\.fw$/.test(base)) put(`etc/pve/firewall/${base}`, f);
      }
      return [root, '--topology', 'examples/phoenix-gateway.yaml', '--host', node];
    },
  },
  {
    name: 'nftables: vpn-only-vm rendered by cordon, loaded by nft, listed with nft -j',
    from: 'nftables',
    original: 'examples/vpn-only-vm.yaml',
    args: () => {
      const r = rendered('vpn-only-vm', 'nftables', 'nft');
      return [
        ...r.files.filter((f) => f.endsWith('.nft')).map((f) => `${f.split('/')[0]!}=${listedByNft(join(r.dir, f))}`),
        '--topology',
        'examples/vpn-only-vm.yaml',
      ];
    },
  },
  {
    name: 'wireguard: vpn-only-vm rendered by cordon',
    from: 'wireguard',
    args: () => {
      const r = rendered('vpn-only-vm', 'wireguard', 'wg');
      return [...r.files.filter((f) => f.endsWith('.conf')).map((f) => `${f.split('/')[1]!}=${join(r.dir, f)}`), '--topology', 'examples/vpn-only-vm.yaml'];
    },
  },
  {
    name: 'netplan: proxmox-dual-bridge rendered by cordon',
    from: 'netplan',
    args: () => {
      const r = rendered('proxmox-dual-bridge', 'netplan', 'np');
      return [...r.files.map((f) => `${f.split('/')[1]!}=${join(r.dir, f)}`), '--topology', 'examples/proxmox-dual-bridge.yaml'];
    },
  },
  {
    name: 'ifupdown: proxmox-dual-bridge rendered by cordon',
    from: 'ifupdown',
    args: () => {
      const r = rendered('proxmox-dual-bridge', 'ifupdown', 'ifd');
      return [...r.files.map((f) => `${f.split('/')[1]!}=${join(r.dir, f)}`), '--topology', 'examples/proxmox-dual-bridge.yaml'];
    },
  },
];

describe('cordon import output passes cordon test with the same matrix as the source', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const args = c.args();
      const out = join(tmp, `${c.name.replace(/[^a-z0-9]+/gi, '-')}.yaml`);
      const paths = args.slice(0, args.findIndex((a) => a.startsWith('--')) >>> 0);
      const opt = (k: string): string | undefined => (args.includes(k) ? args[args.indexOf(k) + 1] : undefined);
      const { result, topology } = runImport(paths, { from: c.from, topology: opt('--topology'), host: opt('--host') });
      assert.ok(!result.diagnostics.some((d) => d.severity === 'error'), JSON.stringify(result.diagnostics, null, 1));
      writeFileSync(out, result.text);
      const audit = auditImport(result, 'imported.yaml', topology);
      assert.ok(audit.ir && audit.engine);
      const loaded = loadModel(out);
      assert.ok(loaded.model, loaded.diagnostics.map((d) => d.message).join('\n'));
      const ir = compile(loaded.model);
      const engine = new Engine(ir);
      const test = cordon('test', out, '--json');
      const tested = (JSON.parse(test.stdout) as { files: { checks: CheckJson[] }[] }).files[0]!.checks;
      assert.ok(tested.length > 0, 'no check ran');
      assert.deepEqual(checksText(tested), checksText(audit.checks), 'cordon test on the written spec and audit of the source disagree');
      assert.equal(test.status, tested.some((x) => !x.ok) ? 1 : 0, test.stderr);
      const orig = c.original === undefined ? undefined : loadModel(c.original).model;
      for (const view of ['configured', 'compromised'] as const) {
        const written = matrixToJson(computeMatrix(ir, view, engine)) as MatrixJson;
        const source = matrixToJson(computeMatrix(audit.ir, view, audit.engine)) as MatrixJson;
        assert.deepEqual(cells(written), cells(source), `${view}: the written spec allows something else than the audit of the source`);
        assert.deepEqual(written.endpoints, source.endpoints);
        if (orig) {
          const o = matrixToJson(computeMatrix(compile(orig), view)) as MatrixJson;
          // The imported spec has no policy: an endpoint only the policy named (lan) is not one of its own.
          const shared = new Set(written.endpoints.filter((e) => o.endpoints.includes(e)));
          const keep = (m: MatrixJson): string[] => cells({ ...m, allowed: m.allowed.filter((x) => shared.has(x.from) && shared.has(x.to)) });
          assert.deepEqual(keep(written), keep(o), `${view}: the import of cordon's own output allows something else than ${c.original}`);
        }
      }
    });
  }
});
