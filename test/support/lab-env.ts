/** The environment the live lab needs, probed once per test file (shared by the lab test files). */
import { spawnSync } from 'node:child_process';

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** Why the live lab cannot run here, or undefined when it can. Creates and removes one probe namespace. */
export function probeLab(): string | undefined {
  if (process.platform !== 'linux') return 'the lab needs Linux network namespaces';
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'the lab needs root (network namespaces, nftables)';
  for (const c of ['ip', 'nft', 'perl', 'wireguard-go', 'wg', 'dnsmasq', 'ss']) if (!has(c)) return `the lab needs ${c} (make setup installs it)`;
  const probe = `cltest${process.pid % 10000}`;
  const r = spawnSync('ip', ['netns', 'add', probe]);
  if (r.status !== 0) return `cannot create network namespaces here: ${r.stderr.toString().trim()}`;
  spawnSync('ip', ['netns', 'del', probe]);
  return undefined;
}
