/**
 * Throw-away network namespaces for tests that load real rule sets. Every name carries a
 * run-unique prefix; every namespace is removed after the test file (and, as a last resort, when
 * the process exits), also when a test fails. Nothing here touches the machine's own namespace.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { requireOrSkip } from './require-env.js';

/**
 * For `describe(…, { skip: netnsSkipReason('suite name') })` at module level: undefined when
 * namespaces and nft work here; else the reason, and in CI (CI=true) also a failing test — a live
 * suite never skips silently in CI (see require-env.ts).
 */
export function netnsSkipReason(suite = 'network namespace tests'): string | undefined {
  return requireOrSkip(suite, probeNetns());
}

/** Why tests that need namespaces and nft cannot run here; undefined = they can. No side effects but the probe namespace. */
export function probeNetns(): string | undefined {
  if (process.platform !== 'linux') return 'needs Linux network namespaces';
  if (process.getuid?.() !== 0) return 'needs root (creates network namespaces and loads nftables rule sets in them)';
  if (spawnSync('nft', ['--version']).status !== 0) return 'needs nft (apt-get install nftables; make setup does)';
  if (spawnSync('ip', ['-V']).status !== 0) return 'needs ip (iproute2)';
  const probe = `cordon-t-probe-${randomBytes(4).toString('hex')}`;
  const add = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (add.status !== 0) return `cannot create network namespaces here: ${(add.stderr || '').trim()}`;
  spawnSync('ip', ['netns', 'del', probe]);
  return undefined;
}

export class NetnsPool {
  readonly prefix = `cordon-t-${process.pid}-${randomBytes(3).toString('hex')}`;
  private readonly made = new Set<string>();
  private n = 0;
  private readonly onExit = (): void => this.cleanup();

  constructor() {
    process.on('exit', this.onExit);
  }

  /** A new, empty namespace; `label` ends up in its name. */
  create(label = 'ns'): string {
    const name = `${this.prefix}-${label}-${++this.n}`;
    const r = spawnSync('ip', ['netns', 'add', name], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ip netns add ${name}: ${r.stderr}`);
    this.made.add(name);
    return name;
  }

  remove(name: string): void {
    if (!this.made.has(name)) return;
    spawnSync('ip', ['netns', 'del', name]);
    this.made.delete(name);
  }

  /** Removes every namespace this pool made; safe to call twice. */
  cleanup(): void {
    for (const name of [...this.made]) this.remove(name);
    process.removeListener('exit', this.onExit);
  }

  /** Runs a command inside a namespace, synchronously. */
  exec(name: string, argv: readonly string[], input?: string): { status: number; stdout: string; stderr: string } {
    const r = spawnSync('ip', ['netns', 'exec', name, ...argv], { encoding: 'utf8', input, maxBuffer: 256 * 1024 * 1024 });
    return { status: r.status ?? 1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }
}
