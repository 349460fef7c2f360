/**
 * nftables target (the main one): goldens for every example under test/golden/<example>/nftables/,
 * byte-identical re-renders from two loads of the same spec, and every rendered file accepted by
 * the kernel's own parser (`nft -c -f`, inside `unshare -rn` so nothing on this machine changes).
 * The round trip (load, read back, same matrix) is test/roundtrip.test.ts; this file pins the text.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { findRenderer } from '../src/render/registry.js';
import type { Ir } from '../src/ir/types.js';
import type { RenderResult } from '../src/render/types.js';
import { exampleFiles, irOfText, render } from './support/golden.js';
import { checkTargetGolden, loadExample } from './support/target-golden.js';
import { skipOrFail } from './support/require-env.js';

const EXAMPLES = exampleFiles().map(loadExample);
// The registry's renderer: the same guarded instance `cordon render` and `apply` use.
const NFTABLES = findRenderer('nftables')!;

function renderAll(ir: Ir): RenderResult {
  return render(NFTABLES, ir);
}

describe('nftables target: goldens', () => {
  it('is registered', () => assert.ok(NFTABLES, 'no nftables renderer in the registry'));

  for (const ex of EXAMPLES) {
    it(`${ex.name}: matches test/golden/${ex.name}/nftables/`, (t) => {
      if (!ex.ir) return t.skip('spec does not resolve');
      const result = renderAll(ex.ir);
      assert.ok(result.files.length > 0, `${ex.name}: nothing rendered`);
      checkTargetGolden(ex, 'nftables', result);
    });
  }

  it('renders the same bytes twice, from two loads of the same spec', () => {
    for (const ex of EXAMPLES) {
      if (!ex.ir) continue;
      const a = renderAll(ex.ir);
      const b = renderAll(loadExample(exampleFiles().find((f) => f.endsWith(`/${ex.name}.yaml`))!).ir!);
      assert.deepEqual(b.files, a.files, ex.name);
      assert.deepEqual(b.diagnostics, a.diagnostics, ex.name);
    }
  });
});

describe("nftables target: the kernel's own parser", () => {
  const unshare = spawnSync('unshare', ['-rn', 'nft', '--version'], { encoding: 'utf8' });
  for (const ex of EXAMPLES) {
    it(`${ex.name}: every file passes nft -c -f`, (t) => {
      if (unshare.status !== 0) return skipOrFail(t, `nft in unshare -rn unavailable: ${unshare.stderr || unshare.error?.message}`);
      if (!ex.ir) return t.skip('spec does not resolve');
      for (const f of renderAll(ex.ir).files) {
        const r = spawnSync('unshare', ['-rn', 'nft', '-c', '-f', '-'], { input: f.content, encoding: 'utf8' });
        assert.equal(r.status, 0, `${ex.name}/${f.path}: nft -c refused it:\n${r.stderr}`);
      }
    });
  }
});

describe('nftables target: IPv6 cannot leak', () => {
  const SPEC = `version: 1
networks:
  vmbr0: { cidr: 10.0.0.0/24, gateway: 10.0.0.1, egress: nat }
  lan: { cidr: 192.168.1.0/24, gateway: 192.168.1.1 }
hosts:
  pve: { kind: hypervisor, egress: open, uplink: enp1s0, nics: { vmbr0: 10.0.0.1, lan: 192.168.1.2 } }
  router: { kind: router, managed: false, nics: { lan: 192.168.1.1 } }
  a: { kind: vm, id: 101, nics: { vmbr0: 10.0.0.10 } }
  b: { kind: container, id: 102, nics: { vmbr0: 10.0.0.11 } }
  c: { kind: vm, id: 103, nics: { lan: 192.168.1.50 } }
`;

  it('every guest port of a bridge the host owns carries IPv4 and ARP only, and the host drops IPv6 in every hook (even with egress: open)', () => {
    const ir = irOfText(SPEC);
    const nft = render(findRenderer('nftables')!, ir).files.find((f) => f.path === 'pve/cordon.nft')!.content;
    for (const dir of ['iifname', 'oifname'])
      assert.match(nft, new RegExp(`^\\t\\t${dir} \\{ "tap101i0", "veth102i0" \\} ether type != \\{ ip, arp \\} counter drop$`, 'm'));
    assert.doesNotMatch(nft, /tap103i0/, 'c is on a network pve does not own: not its port to guard');
    const v6 = nft.slice(nft.indexOf('table ip6 cordon_pve_ipv6 {\n'));
    for (const hook of ['input', 'forward', 'output'])
      assert.match(v6, new RegExp(`chain ${hook} \\{\\n\\t\\ttype filter hook ${hook} priority -10; policy accept;\\n`));
    assert.equal(v6.match(/^\t\tcounter drop$/gm)?.length, 3);
    assert.deepEqual(v6.match(/^\t\t.* accept$/gm), ['\t\tiifname "lo" accept', '\t\toifname "lo" accept']);
  });

  it('a guest on a network no managed host bridges is a check warning (CORDON038): its IPv6 is nobody’s to drop', () => {
    const ir = irOfText(SPEC);
    const w = ir.diagnostics.filter((d) => d.code === 'CORDON038');
    assert.equal(w.length, 1, ir.diagnostics.map((d) => d.message).join('\n'));
    assert.equal(w[0]!.severity, 'warning');
    assert.match(w[0]!.message, /^network lan is bridged by no host cordon manages, so IPv6 between c and router there/);
    // One guest among managed hosts only: each drops IPv6 in its own rule set, no finding.
    const lone = irOfText(`version: 1
networks:
  lan0: { cidr: 10.0.0.0/24 }
hosts:
  agent: { kind: vm, nics: { lan0: 10.0.0.10 } }
  llm: { kind: server, nics: { lan0: 10.0.0.20 } }
`);
    assert.deepEqual(
      lone.diagnostics.filter((d) => d.code === 'CORDON038'),
      [],
    );
  });
});
