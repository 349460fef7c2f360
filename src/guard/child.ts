import type { ChildProcess } from 'node:child_process';

/**
 * Ends a helper process the guard started (ulogd, nft monitor, conntrack -E) by its own handle,
 * never by name: SIGTERM, then SIGKILL if it has not exited after `graceMs`, so a helper that
 * ignores SIGTERM cannot hold the guard's shutdown (or a test) open.
 */
export async function stopChild(child: ChildProcess, graceMs = 2000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
