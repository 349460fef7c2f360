/**
 * The one place `cordon run`'s defaults are decided: SandboxInput (what a library caller or the
 * CLI, through request.ts, passes) → SandboxOptions (nothing left implicit), with what is refused
 * for safety checked on the way. Reads the machine (homes, hidden paths, environment) but changes
 * nothing.
 */
import { existsSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sandboxEnv } from './env.js';
import { HOME_SECRETS, outermost, secretCandidates, stateCandidates, within, type HiddenContext } from './hidden.js';
import { hideEntry, homes, listDir, real, systemNameserver, withTarget } from './host.js';
import { stateDir } from './teardown.js';
import { refuseBind } from './paths.js';
import { seccompArch } from './seccomp/bpf.js';
import { SandboxError, type SandboxInput, type SandboxMode, type SandboxOptions } from './types.js';

/** How long vpn-only waits for the tunnel's first handshake when the input does not say (ms). */
export const TUNNEL_WAIT_MS = 5000;

/**
 * The mode when none is given, for the CLI and the library alike: a tunnel means vpn-only, an
 * allowlist (addresses or names) filtered, nothing isolated.
 */
export function defaultMode(input: Pick<SandboxInput, 'wireguard' | 'allow' | 'allowDomains'>): SandboxMode {
  if (input.wireguard !== undefined) return 'vpn-only';
  return (input.allow ?? []).length + (input.allowDomains ?? []).length > 0 ? 'filtered' : 'isolated';
}

/** The secrets of one home that exist (see hidden.ts for the full list, system files included). */
export function defaultHidden(home = homedir()): string[] {
  return HOME_SECRETS.map((s) => join(home, s)).filter((p) => existsSync(p));
}

function isRoot(): boolean {
  return typeof process.getuid !== 'function' || process.getuid() === 0;
}

/**
 * What the rootless path cannot do, refused with the reason: cgroup limits need a cgroup the user
 * may write. (ICMP: rootlessIcmpNote.)
 */
function refuseRootless(input: SandboxInput): void {
  if (input.cpus !== undefined)
    throw new SandboxError(
      '--cpus needs a cgroup, which an ordinary user cannot make: run as root, or drop --cpus (--memory and --pids work rootless, through prlimit)',
    );
}

/**
 * Rootless, ICMP allow entries (`--allow IP/icmp`, or a spec host's `--as` egress) stay in the
 * policy but nothing answers them: the sandbox's namespace gives the command no ping sockets and
 * no raw ones, and pasta could forward echo requests only through the user's own ping sockets
 * (net.ipv4.ping_group_range). A note, not a refusal, so `--as` works for hosts that may ping.
 */
export function rootlessIcmpNote(opts: Pick<SandboxOptions, 'rootless' | 'allow'>): string | undefined {
  const icmp = opts.allow.find((r) => r.proto === 'icmp');
  if (!opts.rootless || icmp === undefined) return undefined;
  return `--allow ${icmp.text}: ICMP does not leave a rootless sandbox (no ping or raw sockets inside; pasta would need ping sockets, sysctl net.ipv4.ping_group_range); TCP and UDP entries work`;
}

/** Resolves every default (here only) and checks what is refused for safety. */
export function resolveOptions(input: SandboxInput): SandboxOptions {
  if (input.command.length === 0) throw new SandboxError('no command given (cordon run [options] -- CMD ARGS…)');
  const mode = input.mode ?? defaultMode(input);
  const egress = mode === 'filtered' || mode === 'vpn-only';
  if (mode === 'vpn-only' && input.wireguard === undefined)
    throw new SandboxError(
      'vpn-only mode needs the tunnel: --wireguard FILE (a wg-quick client config: [Interface] PrivateKey, Address; [Peer] PublicKey, Endpoint, AllowedIPs)',
    );
  // An ordinary user without a host namespace: the rootless path (rootless.ts). Root keeps the
  // veth + NAT path (pasta refuses to run as root), which needs a host namespace named.
  const rootless = !isRoot() && input.hostNetns === undefined && input.iMeanTheHost !== true;
  if (rootless) refuseRootless(input);
  if (egress && !rootless && input.hostNetns === undefined && input.iMeanTheHost !== true) {
    throw new SandboxError(
      `${mode} mode connects the sandbox to a host namespace with a veth pair and NAT; name one with --host-netns NS, or pass --i-mean-the-host to put the veth's host end and a masquerade table (ip cordon_<id>) in this machine's own network namespace`,
    );
  }
  if (mode !== 'vpn-only' && input.wireguard !== undefined) throw new SandboxError(`--wireguard is for --mode vpn-only (mode '${mode}' has no tunnel)`);
  if (mode === 'vpn-only' && (input.allowDomains ?? []).length > 0)
    throw new SandboxError(
      'vpn-only mode takes addresses in --allow (they limit what goes through the tunnel), not names: names are resolved by the DNS servers of the tunnel config',
    );
  if (mode !== 'filtered' && mode !== 'vpn-only' && ((input.allow ?? []).length > 0 || (input.allowDomains ?? []).length > 0)) {
    throw new SandboxError(`an allowlist needs --mode filtered or vpn-only (mode '${mode}' ignores it)`);
  }
  if (mode === 'filtered' && (input.allowDomains ?? []).length > 0 && input.dnsUpstream === undefined && systemNameserver() === undefined) {
    throw new SandboxError('allowed names need an upstream DNS server: none in /etc/resolv.conf; give one with --dns-upstream IP[:PORT]');
  }
  if ((input.publish ?? []).length > 0 && mode !== 'filtered')
    throw new SandboxError(`--publish needs a veth to the host namespace: use --mode filtered (mode '${mode}' has none)`);
  const workdir = real(resolve(input.workdir ?? process.cwd()));
  const arch = seccompArch();
  if (arch === undefined)
    throw new SandboxError(`cordon run's seccomp filter has syscall tables for x86_64 and aarch64, not for this machine (${process.arch})`);
  const ctx: HiddenContext = {
    homes: homes(),
    env: process.env,
    dirs: [...new Set([process.cwd(), workdir])],
    etcSsh: listDir('/etc/ssh'),
    tmpEntries: [...new Set([tmpdir(), '/tmp', '/dev/shm'])].flatMap((d) => listDir(d).map((n) => join(d, n))),
    vaultPaths: [input.vault?.options?.root, input.vault?.options?.masterKeyFile].filter((p): p is string => p !== undefined).map((p) => resolve(p)),
  };
  // Only existing paths are resolved further: a failed realpath or stat throws, and a few hundred
  // throws would cost more than the rest of the start-up.
  const state = [...stateCandidates(ctx), stateDir()].flatMap((p) => (existsSync(p) ? withTarget(p) : [p]));
  const secrets = (input.hide ?? secretCandidates(ctx)).map((p) => resolve(p)).flatMap((p) => (existsSync(p) ? withTarget(p) : [p]));
  const show = (input.show ?? []).map((p) => resolve(p));
  for (const p of show) {
    if (state.some((d) => within(p, d)))
      throw new SandboxError(
        `--show ${p}: cordon's own state (vault, keys, snapshots, sandbox and lab state) is never visible in a sandbox; pass one vault session read-only with --vault SESSION`,
      );
    if (!secrets.includes(p) && !secrets.includes(real(p)))
      throw new SandboxError(`--show ${p}: not one of the hidden paths; --show takes a path of the secret list exactly (see cordon run --help)`);
  }
  const shown = new Set(show.flatMap(withTarget));
  // Without --workdir the work dir is the current directory: say so, not a flag the user never gave.
  const wdFlag = input.workdir !== undefined ? '--workdir' : 'the work dir (the current directory; --workdir DIR chooses another):';
  const binds: [string, string][] = [
    [wdFlag, workdir],
    ...(input.ro ?? []).map((p): [string, string] => ['--ro', p]),
    ...(input.rw ?? []).map((p): [string, string] => ['--rw', p]),
  ];
  for (const [flag, p] of binds) {
    const abs = real(resolve(p));
    const why = refuseBind(flag, abs, p);
    if (why !== undefined) throw new SandboxError(why);
    const st = state.find((d) => within(abs, d));
    if (st !== undefined)
      throw new SandboxError(
        `${flag} ${p}: inside cordon's own state (${st}), which is never visible in a sandbox; pass one vault session read-only with --vault SESSION`,
      );
    if (flag === wdFlag) continue;
    const sec = secrets.find((d) => within(abs, d) && !shown.has(d));
    if (sec !== undefined) throw new SandboxError(`${flag} ${p}: ${sec} is hidden as a secret; add --show ${sec} to pass it in`);
  }
  // The work dir is the user's explicit choice: a secret directory holding it is not hidden.
  const hidden = outermost([...state, ...secrets.filter((p) => !shown.has(p) && !within(workdir, p))].filter((p) => existsSync(p)))
    .map(hideEntry)
    .filter((h): h is { path: string; dir: boolean } => h !== undefined);
  const env = sandboxEnv(process.env, input.env ?? [], input.envAll === true);
  return {
    mode,
    allow: input.allow ?? [],
    allowDomains: input.allowDomains ?? [],
    deny: input.deny ?? [],
    dnsUpstream: input.dnsUpstream ?? (mode === 'filtered' && (input.allowDomains ?? []).length > 0 ? systemNameserver() : undefined),
    memoryBytes: input.memoryBytes,
    cpus: input.cpus,
    pids: input.pids,
    timeoutMs: input.timeoutMs,
    ro: (input.ro ?? []).map((p) => resolve(p)),
    rw: (input.rw ?? []).map((p) => resolve(p)),
    workdir,
    hide: hidden,
    arch,
    allowUserns: input.allowUserns === true,
    env: env.env,
    envCounts: { passed: env.passed, withheld: env.withheld },
    hostNetns: egress ? input.hostNetns : undefined,
    rootless,
    publish: input.publish ?? [],
    wireguard: input.wireguard,
    vaultDir: undefined,
    command: input.command,
    tunnelWaitMs: input.tunnelWaitMs ?? TUNNEL_WAIT_MS,
  };
}
