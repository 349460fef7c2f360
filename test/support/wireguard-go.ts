/**
 * Starts wireguard-go for a live test: `ifname` in namespace `ns`, in the foreground (the child's
 * pid is wireguard-go's own, since `ip netns exec` execs it, so the test ends it by that pid), and
 * waits for its control socket. Control sockets (/var/run/wireguard/NAME.sock) are machine-wide:
 * callers pass names unique to their run.
 */
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

export async function startWireguardGo(ns: string, ifname: string, waitMs = 3000): Promise<ChildProcess> {
  const child = spawn('ip', ['netns', 'exec', ns, 'wireguard-go', '-f', ifname], {
    stdio: 'ignore',
    env: { ...process.env, WG_PROCESS_FOREGROUND: '1', LOG_LEVEL: 'error' },
  });
  const sock = `/var/run/wireguard/${ifname}.sock`;
  for (let waited = 0; waited < waitMs && !existsSync(sock) && child.exitCode === null; waited += 10) await new Promise((r) => setTimeout(r, 10));
  if (!existsSync(sock)) child.kill('SIGKILL');
  assert.ok(existsSync(sock), `wireguard-go ${ifname} in ${ns} made no control socket`);
  return child;
}
