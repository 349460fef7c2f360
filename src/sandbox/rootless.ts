/**
 * The rootless network, pure half: what `cordon run` does as an ordinary user, with nothing
 * prepared. A holder process makes a user namespace and a network namespace (`unshare --user
 * --map-root-user --net`), loads the egress policy there (allowed: the network namespace belongs
 * to the run's own user namespace) and waits; pasta (Debian's `passt` package) connects that
 * namespace to the user's network through a tap device; the command joins it with nsenter and
 * runs under bwrap with every capability dropped, so it cannot change the policy.
 *
 * Why pasta and not slirp4netns: pasta gives the sandbox the host's own address and routes (no
 * second NAT), can publish a port on the host's 127.0.0.1 only (`-t 127.0.0.1/PORT`), and moves data through the kernel's sockets rather
 * than a user-space TCP stack, and forwards one port of the sandbox's loopback to the resolver
 * (`--udp-ns 53:PORT`). slirp4netns starts faster (measured here: ~90 ms against pasta's
 * ~170-400 ms to a configured interface, under load); isolated mode needs neither.
 *
 * What pasta is told, and why:
 * - `--no-map-gw`: pasta would otherwise map the gateway's address to the host's loopback, which
 *   must never be reachable from the sandbox.
 * - `-T none -U none`: no forwarding from the sandbox's loopback to the host's (pasta's default
 *   `auto` forwards every port bound on the host's loopback) — except, with allowed names, UDP 53
 *   to cordon's own resolver (ROOTLESS_RESOLVER).
 * - `-t none -u none`: nothing inbound, except `--publish PORT` as `-t 127.0.0.1/PORT`.
 * - `-4`: IPv4 only (the policy is IPv4; IPv6 has no route inside and fails at once).
 *
 * Pure: no I/O. The holder's PID exists only at run time; command lines that need it carry
 * HOLDER_PID, which the stages replace.
 */
/** Stands for the holder's PID in planned command lines (replaced when the holder runs). */
export const HOLDER_PID = '<holder-pid>';

/**
 * Where the command finds the resolver (filtered mode with names): its own 127.0.0.1:53, which
 * pasta forwards (`--udp-ns 53:PORT`) to the resolver listening on the user's 127.0.0.1:PORT. The
 * resolver runs outside the sandbox, so it reaches the upstream (a loopback one too) while the
 * command cannot; only that one port of the host's loopback is reachable, and only from there.
 */
export const ROOTLESS_RESOLVER = '127.0.0.1';

/** The resolver's port on the user's loopback: derived from the run id (pure), in 20000-59999. */
export function resolverPort(id: string): number {
  return 20000 + (parseInt(id, 16) % 40000);
}

/**
 * The prefix that runs a program inside the holder's namespaces (as root there, with its
 * capabilities). `mount`: its mount namespace too (vpn-only: where wireguard-go's control socket
 * lives); the command never enters it.
 */
export function nsenterArgv(pid: number | string, mount = false): string[] {
  return ['nsenter', `--target=${pid}`, '--user', '--net', ...(mount ? ['--mount'] : []), '--preserve-credentials', '--'];
}

/**
 * Stands for "the holder's namespaces" in the `ns` of planned `ip` and `wireguard` steps
 * (rootless vpn-only): they run through nsenterArgv(holder, true), not `ip netns exec`.
 */
export const HOLDER_NS = '<holder>';

/**
 * Rootless vpn-only routes the tunnel by policy, as wg-quick does: every packet without
 * wireguard-go's mark looks up this table first (the allowed IPs, on the tunnel); wireguard-go's
 * own marked packets, and anything the table has no route for, fall through to the main table,
 * where pasta's default route is — and the egress policy passes only the marked transport there,
 * recording the rest. No gateway address needed, no conflict with pasta's default route.
 */
export const TUNNEL_TABLE = 51820;

/**
 * Where wireguard-go's control socket appears when seen from the user's own namespace: in the
 * holder's private /run (its mount namespace), reached through /proc.
 */
export function holderSocket(pid: number, ifname: string): string {
  return `/proc/${pid}/root/run/wireguard/${ifname}.sock`;
}

/** Replaces HOLDER_PID in a planned command line. */
export function withHolder(argv: readonly string[], pid: number): string[] {
  return argv.map((a) => (a === `--target=${HOLDER_PID}` ? `--target=${pid}` : a));
}

/**
 * The holder: a user + network namespace with loopback up and the policy loaded (`ruleset`, or
 * none in open mode); prints `ready` once both are in place, then waits until its stdin closes
 * (cordon gone) or it is killed (teardown). Setup errors go to its stderr, exit 125. The caller
 * puts DIE_WITH_CORDON in front.
 *
 * `privateRun` (vpn-only): a mount namespace too, with an empty tmpfs on /run. wireguard-go and
 * `wg` find their control sockets only in /var/run/wireguard (= /run/wireguard), which an
 * ordinary user cannot write; in the holder's mount namespace they get a /run of their own, which
 * vanishes with the namespace. The command does not enter this mount namespace.
 */
export function holderArgv(ruleset: string | undefined, privateRun = false): string[] {
  const nft = ruleset === undefined ? [] : [`nft -f - <<'CORDON_NFT' || exit 125`, ruleset.trimEnd(), 'CORDON_NFT'];
  const run = privateRun ? ['mount -t tmpfs -o mode=0755,size=1m cordon-run /run || exit 125'] : [];
  const script = [...run, 'ip link set lo up || exit 125', ...nft, 'echo ready', 'read _ || true'].join('\n');
  return ['unshare', '--user', '--map-root-user', '--net', ...(privateRun ? ['--mount'] : []), '--', 'sh', '-c', script, 'cordon-holder'];
}

export interface PastaOptions {
  /** The interface inside the sandbox. */
  readonly ifname: string;
  /** TCP ports published on the host's 127.0.0.1. */
  readonly publish: readonly number[];
  /** The resolver's port on the user's loopback, forwarded from the sandbox's 127.0.0.1:53 (filtered mode with names). */
  readonly resolverPort: number | undefined;
}

/** pasta's command line, without the holder's PID (the last argument, added at run time). */
export function pastaArgv(o: PastaOptions): string[] {
  const inbound = o.publish.length > 0 ? o.publish.map((p) => `127.0.0.1/${p}`).join(',') : 'none';
  return [
    'pasta',
    '--config-net',
    '--quiet',
    // In the foreground, as cordon's child: setpriv --pdeathsig ends it with cordon, kill -9 included.
    '--foreground',
    '--no-map-gw',
    '--ipv4-only',
    '--tcp-ports',
    inbound,
    '--udp-ports',
    'none',
    '--tcp-ns',
    'none',
    '--udp-ns',
    o.resolverPort !== undefined ? `53:${o.resolverPort}` : 'none',
    '--ns-ifname',
    o.ifname,
  ];
}

/** Whether /proc/PID/net/route (the holder's namespace) has the default route on `ifname`: pasta is done configuring. */
export function hasDefaultRoute(procNetRoute: string, ifname: string): boolean {
  return procNetRoute.split('\n').some((l) => {
    const f = l.split('\t');
    return f[0] === ifname && f[1] === '00000000';
  });
}

/**
 * The error for a pasta that could not start, with what to do: the usual cause is a /dev/net/tun
 * the user cannot open (some systems ship it 0600; Debian's default is 0666).
 */
export function pastaFailure(stderr: string): string {
  const text = stderr.trim().split('\n').slice(0, 4).join('\n');
  if (/tun/i.test(text))
    return `pasta could not open /dev/net/tun (${text}): the user-mode network needs the TUN device readable and writable by you; Debian's default is mode 0666 (as root: chmod 0666 /dev/net/tun, or a udev rule KERNEL=="tun", MODE="0666")`;
  if (/root/i.test(text)) return `pasta refuses to run as root (${text}): as root, use --host-netns NS or --i-mean-the-host`;
  return `pasta (user-mode networking) failed: ${text || 'no message'}`;
}

/**
 * The error for a user namespace that could not be made, naming the setting: the distribution's
 * switch (kernel.unprivileged_userns_clone), the count limit (user.max_user_namespaces) or
 * AppArmor's restriction (kernel.apparmor_restrict_unprivileged_userns).
 */
export function usernsFailure(stderr: string, sysctl: (key: string) => string | undefined): string {
  const text = stderr.trim().split('\n')[0] ?? '';
  const clone = sysctl('kernel/unprivileged_userns_clone');
  const max = sysctl('user/max_user_namespaces');
  const aa = sysctl('kernel/apparmor_restrict_unprivileged_userns');
  const why =
    clone === '0'
      ? 'unprivileged user namespaces are disabled: sysctl kernel.unprivileged_userns_clone=0 (as root: sysctl -w kernel.unprivileged_userns_clone=1)'
      : max === '0'
        ? 'user namespaces are disabled: sysctl user.max_user_namespaces=0 (as root: sysctl -w user.max_user_namespaces=15000)'
        : aa === '1'
          ? 'AppArmor restricts unprivileged user namespaces: sysctl kernel.apparmor_restrict_unprivileged_userns=1 (as root: set it to 0, or give bwrap and cordon an AppArmor profile with userns)'
          : 'check sysctl kernel.unprivileged_userns_clone and user.max_user_namespaces';
  return `cannot make a user namespace as an ordinary user (${text || 'unshare failed'}): ${why}; or run cordon as root with --host-netns NS`;
}
