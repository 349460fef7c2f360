/**
 * Live: a compromised guest on the tunnel server's own bridge forges a tunnel member's underlay
 * address and knocks on the WireGuard listen port (src/ir/compile.ts, tunnelListen). The rule used
 * to be bound to the server's bridge interface only, so the knock got in; it is now bound to the
 * member's bridge port. Checked in a real lab (src/lab: one namespace per host, the bridge, veth
 * ports, the rendered nftables, wireguard-go), under a fresh prefix, removed in `finally`.
 *
 * What counts as "got in": a UDP packet dropped by the input chain never gets its conntrack entry
 * confirmed, one accepted does; so the server's conntrack table is asked for the probe's own source
 * port. The member's own knock from the same address is the positive control (the observation can
 * see an accepted packet), the forged one from the other guest must not be there.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { compile } from '../../src/ir/compile.js';
import type { Ir } from '../../src/ir/types.js';
import { teardownLab } from '../../src/lab/exec.js';
import { freshPrefix, upLab } from '../../src/lab/lab.js';
import { loadModelFromText } from '../../src/model/load.js';
import { hostNamespace } from '../../src/model/names.js';
import { Engine } from '../../src/verify/engine.js';
import { formatFlowSet } from '../../src/util/flows.js';
import { probeLab } from '../support/lab-env.js';
import { requireOrSkip } from '../support/require-env.js';

const SPEC = `
version: 1
networks:
  lan0: { cidr: 10.1.0.0/24, gateway: 10.1.0.1, egress: nat }
tunnels:
  wg0: { server: pve, listen: 51820, cidr: 10.8.0.0/24 }
hosts:
  pve: { kind: hypervisor, uplink: enp1s0, nics: { lan0: 10.1.0.1, wg0: 10.8.0.1 } }
  m: { kind: vm, id: 101, nics: { lan0: 10.1.0.10, wg0: 10.8.0.10 } }
  c: { kind: vm, id: 102, nics: { lan0: 10.1.0.11 } }
`;

const MEMBER = '10.1.0.10';
const ENDPOINT = '10.1.0.1';

function labProbe(): string | undefined {
  const r = probeLab();
  if (r) return r;
  if (spawnSync('sh', ['-c', 'command -v socat && command -v conntrack']).status !== 0) return 'needs socat and conntrack (make setup installs them)';
  return undefined;
}

const SKIP = requireOrSkip('tunnel listen port, forged knock (live lab)', labProbe());

function inNs(ns: string, cmd: string): { code: number; out: string } {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'sh', '-c', cmd], { encoding: 'utf8' });
  return { code: r.status ?? -1, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/** Sends one datagram from `src`:`sport` to the listen port, from inside `ns`. */
function knock(ns: string, src: string, sport: number): void {
  const r = inNs(ns, `echo knock | socat -u - UDP4-SENDTO:${ENDPOINT}:51820,bind=${src}:${sport}`);
  assert.equal(r.code, 0, `knock from ${ns}: ${r.out}`);
}

/** Confirmed conntrack entries at the server for a datagram from MEMBER:sport to the listen port. */
function seenAtServer(ns: string, sport: number): number {
  const r = inNs(ns, `conntrack -L -p udp --orig-src ${MEMBER} --orig-dst ${ENDPOINT} --sport ${sport} --dport 51820 2>/dev/null`);
  return r.out.split('\n').filter((l) => l.includes(`sport=${sport}`)).length;
}

const built = new Set<string>();
after(async () => {
  for (const p of built) await teardownLab(p).catch(() => undefined);
});

describe('tunnel listen port in a live lab: a guest on the same bridge forging a member cannot knock', { skip: SKIP }, () => {
  it("the member's knock is accepted, the forged one from the other guest is not, as the engine says", async () => {
    const r = loadModelFromText(SPEC, 'forge.yaml');
    assert.ok(r.model, r.diagnostics.map((d) => d.message).join('\n'));
    const ir: Ir = compile(r.model);
    const engine = new Engine(ir);
    const cellOf = (from: string): string => formatFlowSet(engine.reach({ kind: 'host', host: from }, { kind: 'host', host: 'pve' }, 'compromised').allowed);
    assert.equal(cellOf('m'), 'udp/51820');
    assert.equal(cellOf('c'), '-', 'the engine: a compromised c cannot reach the listen port, forging or not');

    const prefix = await freshPrefix();
    built.add(prefix);
    try {
      await upLab(ir, { prefix, say: () => undefined, ephemeral: true });
      const pve = hostNamespace(prefix, 'pve');
      const c = hostNamespace(prefix, 'c');
      const m = hostNamespace(prefix, 'm');
      // Positive control: the member knocks from its own address, and the server sees it.
      knock(m, MEMBER, 40124);
      // The attack: c takes the member's address (on lo, so it answers nothing on the bridge) and
      // knocks from it, out of its own port.
      const take = inNs(c, `ip addr add ${MEMBER}/32 dev lo`);
      assert.equal(take.code, 0, take.out);
      knock(c, MEMBER, 40123);
      // Give the packets time to cross the bridge.
      await new Promise((res) => setTimeout(res, 300));
      assert.equal(seenAtServer(pve, 40124), 1, "the member's own knock reaches pve's WireGuard port (the observation works)");
      assert.equal(seenAtServer(pve, 40123), 0, "c's forged knock must be dropped by pve's input chain");
    } finally {
      await teardownLab(prefix);
      built.delete(prefix);
    }
  });
});
