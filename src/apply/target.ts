/**
 * Where a rule set is applied: inside a named network namespace (`ip netns exec NS …`), or, only
 * when asked for in so many words, on the machine itself. Every side effect of `apply` goes
 * through a `Target`, so what it touches is explicit.
 */
import { run, type ExecResult, type RunOptions } from '../system/exec.js';
import { NETNS_RUN_DIR, netnsNameProblem, runInNetns } from '../system/netns.js';

/** Where a rule set is applied. */
export interface Target {
  /** `netns NAME` or `the host's own network namespace`. */
  readonly label: string;
  /** Directory name under the state root: the namespace name, or `_host`. */
  readonly stateKey: string;
  /** The namespace name; undefined = the machine's own namespace. */
  readonly netns: string | undefined;
  /** Runs a program inside the target's network namespace. */
  exec(argv: readonly string[], opts?: RunOptions): Promise<ExecResult>;
}

export function netnsTarget(name: string): Target {
  const problem = netnsNameProblem(name);
  if (problem !== undefined) throw new Error(problem);
  return {
    label: `netns ${name}`,
    stateKey: name,
    netns: name,
    exec: (argv, opts) => runInNetns(name, argv, opts),
  };
}

/** The machine's own network namespace: only behind an explicit `--i-mean-the-host`. */
export function hostTarget(): Target {
  return {
    label: "the host's own network namespace",
    stateKey: '_host',
    netns: undefined,
    exec: (argv, opts) => run(argv, opts),
  };
}

/**
 * The same target, entered with `nsenter --net` alone: for `nft`, which needs nothing of what
 * `ip netns exec` adds (a mount namespace with /sys remounted, /etc/netns bind mounts), so each
 * command starts about a third sooner. The guard's hot path (re-read, re-load, kill switch) uses it;
 * apply keeps `ip netns exec`. The machine's own namespace is returned as it is.
 */
export function netOnly(t: Target): Target {
  const ns = t.netns;
  if (ns === undefined) return t;
  return { ...t, exec: (argv, opts) => run(['nsenter', `--net=${NETNS_RUN_DIR}/${ns}`, ...argv], opts) };
}
