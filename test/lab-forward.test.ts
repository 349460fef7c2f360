/**
 * Port forwards, live (spec `forwards:`, src/render/nftables/nat.ts): the lab of seed 003
 * (examples/phoenix-gateway.yaml) runs the rendered rule set, whose NAT table DNATs tcp/80 and
 * tcp/443 arriving at the hypervisor's uplink address to the Nginx gateway (10.0.0.153). From the
 * lab's internet namespace, at an internet address:
 *  - the public address on 80 and 443 reaches the gateway's own listener (its answer names it);
 *  - the public address on other ports reaches nothing, not even a listener the test starts on the
 *    gateway (tcp/8080), and neither does the gateway's private address on that port (the forward
 *    chain lets only the forwarded ports through from the uplink);
 *  - with cordon's NAT table deleted the public address answers on no port: the DNAT is what did it.
 */
import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { compile } from '../src/ir/compile.js';
import type { Ir } from '../src/ir/types.js';
import { teardownLab } from '../src/lab/exec.js';
import { freshPrefix, upLab } from '../src/lab/lab.js';
import { loadModel } from '../src/model/load.js';
import { natTableName } from '../src/render/nftables/nat.js';
import { formatIPv4 } from '../src/util/ip.js';
import { probeLab } from './support/lab-env.js';
import { requireOrSkip } from './support/require-env.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SKIP = requireOrSkip(
  'lab port forwards (live)',
  probeLab() ??
    (spawnSync('sh', ['-c', 'command -v curl && command -v socat']).status === 0 ? undefined : 'the test needs curl and socat (make setup installs them)'),
);

const built = new Set<string>();
const children: ChildProcess[] = [];
after(async () => {
  for (const c of children) if (c.exitCode === null && c.pid !== undefined) process.kill(c.pid, 'SIGKILL');
  for (const p of built) await teardownLab(p).catch(() => undefined);
});

function load(name: string): Ir {
  const r = loadModel(join(ROOT, 'examples', name));
  assert.ok(r.model, r.diagnostics.map((d) => d.message).join('; '));
  return compile(r.model);
}

/** What an HTTP GET from `ns`, sent from `src`, gets back from `addr:port` within 3 s ('' = nothing). */
function get(ns: string, src: string, addr: string, port: number): string {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'curl', '-s', '--max-time', '3', '--interface', src, `http://${addr}:${port}/`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout : '';
}

describe('port forwards (live lab)', { skip: SKIP }, () => {
  it('phoenix-gateway.yaml: the internet reaches the gateway on the forwarded ports of the public address, and nothing else', async () => {
    const ir = load('phoenix-gateway.yaml');
    const prefix = await freshPrefix();
    built.add(prefix);
    try {
      const { plan } = await upLab(ir, { prefix, say: () => undefined, ephemeral: true });
      const L = plan.layout;
      const pub = [...L.published].find(([, host]) => host === 'hypervisor')?.[0];
      assert.ok(pub !== undefined, 'the lab publishes the hypervisor’s uplink address');
      const publicAddr = formatIPv4(pub);
      const src = formatIPv4(L.internetClasses[0]!.addrs[0]!);
      const gwNs = L.hostNs.get('gateway')!;
      const hvNs = L.hostNs.get('hypervisor')!;

      // A listener on a port the forwards do not publish, on the gateway itself.
      const extra = spawn('ip', ['netns', 'exec', gwNs, 'socat', 'TCP-LISTEN:8080,fork,reuseaddr', 'SYSTEM:echo gateway-8080'], { stdio: 'ignore' });
      children.push(extra);
      let local = '';
      for (let i = 0; i < 30 && !local.includes('gateway-8080'); i++) {
        await new Promise((r) => setTimeout(r, 100));
        const r = spawnSync('ip', ['netns', 'exec', gwNs, 'socat', '-T', '2', '-', 'TCP:127.0.0.1:8080'], { encoding: 'utf8', input: '' });
        local = r.stdout;
      }
      assert.match(local, /gateway-8080/, 'the extra listener answers inside the gateway');

      for (const port of [80, 443]) {
        const body = get(L.internetNs, src, publicAddr, port);
        assert.match(
          body,
          new RegExp(`: gateway\\.\\w+ answered on tcp/${port}`),
          `internet → ${publicAddr}:${port} reaches the gateway's listener (got ${JSON.stringify(body)})`,
        );
      }
      for (const port of [8080, 22, 9000]) assert.equal(get(L.internetNs, src, publicAddr, port), '', `internet → ${publicAddr}:${port} must reach nothing`);
      assert.equal(get(L.internetNs, src, '10.0.0.153', 8080), '', 'internet → 10.0.0.153:8080 (routed to the hypervisor) must stop at its forward chain');
      assert.match(get(L.internetNs, src, '10.0.0.153', 443), /: gateway\.https answered on tcp\/443/, 'the same route carries the forwarded port');

      // Control: without cordon's NAT table the public address forwards nothing.
      const del = spawnSync('ip', ['netns', 'exec', hvNs, 'nft', 'delete', 'table', 'ip', natTableName('hypervisor')], { encoding: 'utf8' });
      assert.equal(del.status, 0, del.stderr);
      for (const port of [80, 443])
        assert.equal(get(L.internetNs, src, publicAddr, port), '', `without the NAT table, ${publicAddr}:${port} must reach nothing`);
    } finally {
      for (const c of children.splice(0)) if (c.exitCode === null && c.pid !== undefined) process.kill(c.pid, 'SIGKILL');
      await teardownLab(prefix);
      built.delete(prefix);
    }
  });
});
