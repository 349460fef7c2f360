/**
 * Named network namespaces (`ip netns`): listing them, checking a name, running inside one.
 * The one place that knows where `ip netns` keeps its names.
 */
import { readdirSync } from 'node:fs';
import { run, type ExecResult, type RunOptions } from './exec.js';

/** Where `ip netns add` bind-mounts a namespace; `ip netns list` is a listing of this directory. */
export const NETNS_RUN_DIR = '/run/netns';

/** What `ip netns add` accepts as a name (it becomes a file under /run/netns). */
const NETNS_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** Why `name` cannot be a network namespace name, or undefined. */
export function netnsNameProblem(name: string): string | undefined {
  if (!NETNS_NAME.test(name) || name === '.' || name === '..') return `'${name}' is not a network namespace name (letters, digits, '.', '_', '-')`;
  return undefined;
}

/**
 * Names of the named network namespaces, sorted; empty when there are none (or no directory).
 * Reads the directory `ip netns list` reads, so it starts no process.
 */
export function listNetns(dir = NETNS_RUN_DIR): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/** Runs a program inside the named namespace (`ip netns exec NS …`). */
export function runInNetns(ns: string, argv: readonly string[], opts?: RunOptions): Promise<ExecResult> {
  return run(['ip', 'netns', 'exec', ns, ...argv], opts);
}
