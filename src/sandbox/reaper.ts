/**
 * The reaper: what makes a `kill -9` of `cordon run` leave nothing behind, files included.
 * Rootless, its processes die with cordon by themselves (`setpriv --pdeathsig`, the resolver on
 * its closed stdin), and their namespaces (the private /run of vpn-only among them) with the last
 * of them; what the kernel does not remove is the run's state file and its temp dir (resolv.conf,
 * the resolver's events). As root (--host-netns, --i-mean-the-host, isolated) much more outlives
 * cordon: the named namespace `cs<id>`, the veth's host end and the NAT table in the host
 * namespace, cgroups, the resolver and the --publish forwarders. The reaper is a shell waiting on a pipe from cordon that cordon never
 * writes to: when cordon ends, however it ends, the pipe closes, and the shell execs
 * reaper-main.ts, which removes what dead runs left (cleanupStale: the same code the next run
 * would run, which also ends any process that missed its death signal). A run that ends normally
 * kills its reaper by PID after its own teardown, so the reaper's Node starts only after a crash.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * The command line that runs one of the sandbox's own scripts (`resolver-main`, `reaper-main`)
 * with this Node: the compiled .js next to this module, or the .ts through tsx when cordon itself
 * runs from its sources.
 */
export function ownScriptArgv(name: string): string[] {
  const ts = import.meta.url.endsWith('.ts');
  const main = fileURLToPath(new URL(`./${name}.${ts ? 'ts' : 'js'}`, import.meta.url));
  const loader = ts ? ['--import', new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href] : [];
  return [process.execPath, ...loader, main];
}

/** The reaper's command line: wait for EOF on stdin (cordon gone), then exec `then`. Pure. */
export function reaperArgv(then: readonly string[]): string[] {
  return ['sh', '-c', 'read _ || :; exec "$@"', 'cordon-reaper', ...then];
}

/**
 * Starts the reaper for the state files in `dir` (the run's own among them). It is detached (a
 * session of its own: a Ctrl-C or a kill of cordon's process group does not reach it) and unref'd
 * (it never keeps cordon alive); the pipe's write end stays in cordon only (Node opens it
 * close-on-exec). Returns the child, whose kill() is a no-op once it has exited (no PID reuse).
 */
export function startReaper(dir: string): ChildProcess {
  const argv = reaperArgv(ownScriptArgv('reaper-main'));
  const child = spawn(argv[0]!, argv.slice(1), {
    detached: true,
    // Not the user's directory: it may be gone by the time cordon is (Node, through tsx, cannot
    // start in a deleted one), and the reaper should not keep it busy meanwhile.
    cwd: '/',
    stdio: ['pipe', 'ignore', 'ignore'],
    env: { ...process.env, CORDON_SANDBOX_STATE_DIR: dir },
  });
  child.on('error', () => undefined);
  child.unref();
  (child.stdin as (NodeJS.WritableStream & { unref?: () => void }) | null)?.unref?.();
  return child;
}

/** Ends the reaper of a run that tore down by itself (nothing left for it to do). */
export function stopReaper(reaper: ChildProcess | undefined): void {
  if (reaper !== undefined && reaper.exitCode === null && reaper.signalCode === null) reaper.kill('SIGKILL');
}
