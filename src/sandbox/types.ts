/**
 * `cordon run`'s types: what a library caller passes (SandboxInput), the options with every default
 * resolved (SandboxOptions, options.ts makes them), the pure plan (plan.ts) and the result.
 */
import type { Cidr } from '../util/ip.js';
import type { DomainRule } from './dns.js';
import type { EnvPass } from './env.js';
import type { WgClient } from './wireguard.js';
import type { VaultOptions } from '../vault/index.js';

export const MODES = ['isolated', 'filtered', 'vpn-only', 'open'] as const;
export type SandboxMode = (typeof MODES)[number];

/**
 * One allow or deny entry: a CIDR (a bare IP is a /32), optionally a port or port range, and
 * optionally a protocol. Without a protocol a port means tcp and udp, and no port means every
 * protocol; `icmp` never has ports.
 */
export interface NetRule {
  readonly cidr: Cidr;
  readonly port: number | undefined;
  /** Last port of a range `port-portHi`; undefined = the single port. */
  readonly portHi?: number | undefined;
  readonly proto?: 'tcp' | 'udp' | 'icmp' | undefined;
  /** As the user wrote it, for messages and events. */
  readonly text: string;
}

/** Resolved sandbox options: every default filled in. */
export interface SandboxOptions {
  readonly mode: SandboxMode;
  /** Filtered mode only. An empty allowlist allows nothing (same as isolated, plus a route out). */
  readonly allow: readonly NetRule[];
  /** Filtered mode: names the in-sandbox resolver answers; their answers are added to nft sets. */
  readonly allowDomains: readonly DomainRule[];
  /** Checked before the allowlist. */
  readonly deny: readonly NetRule[];
  /** Upstream DNS server `IP[:PORT]` for allowlisted names (reached from the host namespace). */
  readonly dnsUpstream: string | undefined;
  /** Bytes; undefined = no limit. */
  readonly memoryBytes: number | undefined;
  /** Fraction of one CPU; undefined = no limit. */
  readonly cpus: number | undefined;
  readonly pids: number | undefined;
  /** Wall-clock milliseconds; undefined = none. */
  readonly timeoutMs: number | undefined;
  readonly ro: readonly string[];
  readonly rw: readonly string[];
  /** Bound read-write and the command's working directory. */
  readonly workdir: string;
  /**
   * Paths hidden behind an empty read-only tmpfs (directories) or /dev/null (files, sockets); only
   * existing ones: cordon's own state and the secrets not passed back with --show (hidden.ts).
   */
  readonly hide: readonly { readonly path: string; readonly dir: boolean }[];
  /** The seccomp filter's architecture (libseccomp's name: x86_64, aarch64). */
  readonly arch: string;
  /** Let the command make user namespaces (the filter refuses clone/unshare with CLONE_NEWUSER otherwise). */
  readonly allowUserns: boolean;
  /** The command's environment (env.ts): the allowlist plus --env; never printed. */
  readonly env: Readonly<Record<string, string>>;
  /** How many variables were passed and withheld (for the summary). */
  readonly envCounts: { readonly passed: number; readonly withheld: number };
  /** The namespace that plays the host for veth + NAT; undefined = the machine's own namespace. */
  readonly hostNetns: string | undefined;
  /**
   * The rootless path (rootless.ts): an ordinary user's run, with no --host-netns; the sandbox's
   * user + network namespace is connected through pasta. False for root (veth + NAT).
   */
  readonly rootless: boolean;
  /** Filtered mode: TCP ports of the sandbox reachable on the host namespace's 127.0.0.1 (socat). */
  readonly publish: readonly number[];
  /** vpn-only mode: the tunnel (a parsed wg-quick client config); undefined in every other mode. */
  readonly wireguard: WgClient | undefined;
  /** A decrypted vault session's directory, bound read-only at /tmp/vault ($CORDON_VAULT; inside the sandbox's own /tmp, as the root is read-only); undefined = none. */
  readonly vaultDir: string | undefined;
  readonly command: readonly string[];
  /** vpn-only with PersistentKeepalive: how long to wait for the first handshake (ms). Default 5000. */
  readonly tunnelWaitMs: number;
}

export type Step =
  | { readonly kind: 'netns-add'; readonly ns: string }
  | { readonly kind: 'ip'; readonly ns: string | undefined; readonly cmd: string }
  | { readonly kind: 'sysctl'; readonly ns: string; readonly key: string; readonly value: string }
  | { readonly kind: 'nft'; readonly ns: string; readonly table: string; readonly text: string }
  | { readonly kind: 'cgroup'; readonly controller: string; readonly path: string; readonly file: string; readonly value: string }
  | {
      readonly kind: 'resolver';
      readonly ns: string | undefined;
      readonly listen: string;
      readonly upstream: string;
      readonly names: readonly string[];
      /** Rootless: the port on the user's 127.0.0.1 (pasta forwards the sandbox's 127.0.0.1:53 there); default 53. */
      readonly port?: number;
    }
  /** Rootless: the process that makes and holds the sandbox's user + network namespace (rootless.ts holderArgv). */
  | { readonly kind: 'holder'; readonly argv: readonly string[] }
  /** Rootless: pasta connects the holder's namespace to the user's network (the holder's PID is added last). */
  | { readonly kind: 'pasta'; readonly argv: readonly string[] }
  | { readonly kind: 'publish'; readonly ns: string | undefined; readonly port: number; readonly to: string }
  /** wireguard-go creates IFNAME inside NS; then `wg setconf` (keys on stdin). */
  | { readonly kind: 'wireguard'; readonly ns: string; readonly ifname: string; readonly client: WgClient }
  | { readonly kind: 'exec'; readonly argv: readonly string[] };

export interface SandboxPlan {
  readonly id: string;
  /** The sandbox's named network namespace (filtered, vpn-only). */
  readonly ns: string | undefined;
  /**
   * Isolated mode: the command line itself makes the namespace (unshare), sets it up, runs the
   * command and writes the egress table's JSON to fd 3 (setup errors to fd 4) — one process
   * start instead of six, and nothing that could outlive the command.
   */
  readonly inline: boolean;
  readonly hostNetns: string | undefined;
  /** Rootless egress/open: the holder and pasta steps are in `steps`; `argv` enters the holder's namespaces with nsenter. */
  readonly rootless: boolean;
  readonly vethSandbox: string | undefined;
  readonly vethHost: string | undefined;
  readonly hostTable: string | undefined;
  readonly subnet: Cidr | undefined;
  readonly cgroupName: string;
  readonly steps: readonly Step[];
  /** The command line run (after cgroup placement): ip netns exec … bwrap … -- CMD. */
  readonly argv: readonly string[];
  /** Used when no cgroup controller can be written. */
  readonly prlimitArgs: readonly string[];
  /** The compiled seccomp filter, handed to bwrap on fd SECCOMP_FD. */
  readonly seccomp: Buffer;
}

/** What the library caller passes; everything optional has a documented default. */
export interface SandboxInput {
  /** The command and its arguments. */
  readonly command: readonly string[];
  /**
   * Default (options.ts defaultMode, the CLI's too): `vpn-only` with a tunnel, `filtered` with an
   * allowlist (addresses or names), otherwise `isolated` (loopback only).
   */
  readonly mode?: SandboxMode;
  readonly allow?: readonly NetRule[];
  /** vpn-only mode: the tunnel, from a wg-quick client config (parseWgQuick). */
  readonly wireguard?: WgClient;
  /**
   * vpn-only mode with PersistentKeepalive (the tunnel then greets the server as it comes up):
   * wait up to this long for the first handshake before starting the command, so its first
   * connection does not stall. Default 5000. Not up by then: the command starts anyway and its
   * traffic waits for the tunnel (fail-closed).
   */
  readonly tunnelWaitMs?: number;
  /** Names the sandbox's resolver answers (filtered mode); see dns.ts. */
  readonly allowDomains?: readonly DomainRule[];
  /** Filtered mode: TCP ports of the sandbox published on the host namespace's 127.0.0.1 (socat). */
  readonly publish?: readonly number[];
  /** A vault session decrypted into a RAM-only mount (vault.vaultMount) and bound read-only at /tmp/vault ($CORDON_VAULT). */
  readonly vault?: { readonly session: string; readonly options?: VaultOptions };
  readonly deny?: readonly NetRule[];
  /** Upstream DNS `IP[:PORT]` for allowed names; default: the first nameserver of /etc/resolv.conf. */
  readonly dnsUpstream?: string;
  readonly memoryBytes?: number;
  readonly cpus?: number;
  readonly pids?: number;
  readonly timeoutMs?: number;
  readonly ro?: readonly string[];
  readonly rw?: readonly string[];
  /** Default: the current directory. */
  readonly workdir?: string;
  /**
   * Secrets hidden from the command. Default: secretCandidates (hidden.ts) — /etc/shadow, host keys,
   * control sockets, and per home shell histories and the credential stores of common tools. Replacing
   * the list does not uncover cordon's own state, which is always hidden.
   */
  readonly hide?: readonly string[];
  /** Paths of the secret list passed in after all (`--show`); cordon's own state cannot be. */
  readonly show?: readonly string[];
  /** Variables passed beyond the allowlist (env.ts ENV_ALLOW): the caller's value, or the one given. */
  readonly env?: readonly EnvPass[];
  /** Pass the caller's whole environment (a warning says so). Default false. */
  readonly envAll?: boolean;
  /** Let the command make user namespaces (the seccomp filter refuses them by default). */
  readonly allowUserns?: boolean;
  /** Namespace that plays the host (veth + NAT). Required for filtered mode unless iMeanTheHost. */
  readonly hostNetns?: string;
  /** Put the veth's host end and NAT in the machine's own network namespace. */
  readonly iMeanTheHost?: boolean;
  /** Default `inherit`: the command talks to this process's terminal. */
  readonly stdio?: 'inherit' | 'ignore';
  /**
   * Default true: on SIGINT/SIGTERM/SIGHUP, kill the command, remove everything and reject with
   * SandboxInterrupted (the CLI exits 130 on it; the library never exits the process). With false the caller handles signals; a sandbox left by a dead owner is removed by the next
   * sandbox() or by cleanupStale().
   */
  readonly handleSignals?: boolean;
  /** Called with one line per stage (stderr in the CLI). */
  readonly say?: (line: string) => void;
}

export interface DeniedAttempt {
  readonly time: string;
  readonly destination: string;
  readonly proto: string;
  readonly port: number | undefined;
  readonly packets: number;
  readonly bytes: number;
  readonly rule: string;
}

export interface Counters {
  readonly packetsOut: number;
  readonly bytesOut: number;
  readonly packetsIn: number;
  readonly bytesIn: number;
  readonly deniedPackets: number;
  readonly deniedBytes: number;
}

export interface TunnelState {
  readonly interface: string;
  readonly peers: readonly {
    readonly publicKey: string;
    readonly endpoint: string;
    /** ISO time of the last handshake; undefined = the tunnel never came up (nothing went through it). */
    readonly latestHandshake: string | undefined;
    readonly rxBytes: number;
    readonly txBytes: number;
  }[];
}

export type ExitReason = 'exited' | 'signal' | 'timeout' | 'memory' | 'pids';

export interface SandboxResult {
  readonly exitCode: number;
  readonly reason: ExitReason;
  /** Human-readable: `killed: memory limit 512m`, `timeout after 30s`, `exit 0`. */
  readonly message: string;
  readonly denied: readonly DeniedAttempt[];
  readonly counters: Counters;
  /** vpn-only: the tunnel as wg saw it at exit. */
  readonly tunnel?: TunnelState;
  readonly id: string;
  readonly ms: number;
  /** How many environment variables the command got, and how many of the caller's it did not. */
  readonly env: { readonly passed: number; readonly withheld: number };
  /** How many paths were hidden (cordon's state and secrets that exist on this machine). */
  readonly hidden: number;
}

export class SandboxError extends Error {}

/**
 * An interrupt (SIGINT, SIGTERM, SIGHUP) stopped the sandbox: the command was killed and everything
 * removed before this was thrown. The CLI turns it into exit 130; a library caller decides itself.
 */
export class SandboxInterrupted extends SandboxError {
  constructor(
    readonly signal: NodeJS.Signals,
    readonly id: string,
  ) {
    super(`${signal}: sandbox ${id} removed`);
    this.name = 'SandboxInterrupted';
  }
}

export type CgroupVersion = 'v1' | 'v2' | 'none';
