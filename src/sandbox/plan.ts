/**
 * `cordon run`, the pure half: sandbox options → a list of steps (namespaces, links, nft rule
 * sets, cgroup limits, the bwrap command line) that run.ts executes and `--dry-run` prints.
 * No I/O, no clock, no randomness: the run id, the /30 and the home directory come in as inputs.
 *
 * Names: the sandbox namespace is `cs<id>` (id = 6 hex digits), its veth pair `cs<id>s` (inside
 * the sandbox) and `cs<id>h` (inside the host namespace), the host's NAT table `ip cordon_<id>`,
 * the sandbox's egress table `inet cordon_sbx`, cgroups `cordon-<id>`. Everything cordon creates
 * carries the id, so teardown can tell its own objects from everything else.
 */
import type { DomainRule } from './dns.js';
import { seccompFilter } from './seccomp/bpf.js';
import { redacted, WG_FWMARK, type WgClient } from './wireguard.js';
import { formatCidr, formatIPv4, inRange, cidrRange, networkOf, parseCidr, rangesOverlap, type Cidr } from '../util/ip.js';

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
  /** Filtered mode: TCP ports of the sandbox reachable on the host namespace's 127.0.0.1 (socat). */
  readonly publish: readonly number[];
  /** vpn-only mode: the tunnel (a parsed wg-quick client config); undefined in every other mode. */
  readonly wireguard: WgClient | undefined;
  /** A decrypted vault session's directory, bound read-only at /tmp/vault ($CORDON_VAULT; inside the sandbox's own /tmp, as the root is read-only); undefined = none. */
  readonly vaultDir: string | undefined;
  readonly command: readonly string[];
}

/** Link-local and cloud metadata: denied ahead of the allowlist unless an allow entry lies inside. */
export const ALWAYS_DENY: readonly string[] = ['169.254.0.0/16', '100.100.100.200/32'];

export type Step =
  | { readonly kind: 'netns-add'; readonly ns: string }
  | { readonly kind: 'ip'; readonly ns: string | undefined; readonly cmd: string }
  | { readonly kind: 'sysctl'; readonly ns: string; readonly key: string; readonly value: string }
  | { readonly kind: 'nft'; readonly ns: string; readonly table: string; readonly text: string }
  | { readonly kind: 'cgroup'; readonly controller: string; readonly path: string; readonly file: string; readonly value: string }
  | { readonly kind: 'resolver'; readonly ns: string | undefined; readonly listen: string; readonly upstream: string; readonly names: readonly string[] }
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

/** The descriptor bwrap reads the seccomp filter from (0-2 are stdio, 3 and 4 the inline script's). */
export const SECCOMP_FD = 5;

/**
 * Put in front of the command line: the first process cordon starts gets SIGKILL when cordon dies
 * (kill -9 included). Every later stage execs in that same process (sh, prlimit, unshare, ip netns
 * exec), so it is bwrap's parent or bwrap itself, and bwrap's --die-with-parent takes the command
 * down with it: nothing outlives cordon, and so nothing outlives its --timeout.
 */
export const DIE_WITH_CORDON = ['setpriv', '--pdeathsig', 'KILL', '--'];

export const SBX_TABLE = 'cordon_sbx';

/** Where a vault session appears inside the sandbox (the root is read-only; /tmp is the sandbox's own). */
export const VAULT_PATH = '/tmp/vault';

export function nsName(id: string): string {
  return `cs${id}`;
}

/**
 * Parses `IP[/LEN][:PORT[-PORT]][/tcp|/udp]` (also `IP[/LEN]/icmp`); a domain or a bad port is an
 * error (message).
 */
export function parseNetRule(text: string): NetRule | string {
  const full = /^([^:]+?)(?::(\d{1,5})(?:-(\d{1,5}))?)?(?:\/(tcp|udp|icmp))?$/.exec(text.trim());
  const m = full && (full[4] !== 'icmp' || full[2] === undefined) ? full : null;
  if (!m) return `'${text}' is not IP[/LEN][:PORT[-PORT]][/tcp|/udp] or IP[/LEN]/icmp`;
  const addr = m[1]!;
  const cidr = parseCidr(addr.includes('/') ? addr : `${addr}/32`, false);
  if (!cidr) {
    if (/^[A-Za-z0-9*.-]+$/.test(addr)) return `'${text}' is a name; only --allow takes names (the sandbox's resolver answers them), --deny takes addresses`;
    return `'${text}' is not IP[/LEN][:PORT]`;
  }
  const port = m[2] === undefined ? undefined : Number(m[2]);
  const portHi = m[3] === undefined ? undefined : Number(m[3]);
  for (const p of [port, portHi]) if (p !== undefined && (p < 1 || p > 65535)) return `'${text}': port ${p} is out of range 1-65535`;
  if (port !== undefined && portHi !== undefined && portHi < port) return `'${text}': the port range ${port}-${portHi} is reversed`;
  const proto = m[4] as NetRule['proto'];
  return { cidr, port, ...(portHi !== undefined && portHi !== port ? { portHi } : {}), ...(proto ? { proto } : {}), text };
}

/** Parses `512m`, `1g`, `65536` (bytes). */
export function parseBytes(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)b?$/i.exec(text.trim());
  if (!m) return undefined;
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.floor(Number(m[1]) * mult);
}

/** Parses `30s`, `500ms`, `2m`, `1h`, `10` (seconds). */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) return undefined;
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(m[1]) * mult);
}

export function formatBytes(n: number): string {
  for (const [u, f] of [['g', 1024 ** 3], ['m', 1024 ** 2], ['k', 1024]] as const) if (n >= f && n % f === 0) return `${n / f}${u}`;
  return String(n);
}

function dstOf(r: NetRule): string {
  return r.cidr.len === 32 ? formatIPv4(r.cidr.addr) : formatCidr(r.cidr);
}

/** The protocol and port part of a rule's match ('' = every protocol). */
function l4Of(r: NetRule): string {
  const ports = r.port === undefined ? undefined : r.portHi !== undefined ? `${r.port}-${r.portHi}` : String(r.port);
  if (r.proto === 'icmp') return 'meta l4proto icmp';
  if (r.proto !== undefined) return ports === undefined ? `meta l4proto ${r.proto}` : `${r.proto} dport ${ports}`;
  return ports === undefined ? '' : `meta l4proto { tcp, udp } th dport ${ports}`;
}

function match(r: NetRule): string {
  return [`ip daddr ${dstOf(r)}`, l4Of(r)].filter((x) => x !== '').join(' ');
}

/**
 * Allow rules as nft matches: rules with the same protocol and ports share one rule with an
 * anonymous set of destinations (nft merges overlapping prefixes in it), so a spec host's
 * hundreds of internet prefixes (`--as`) cost one lookup per port, not one rule per prefix.
 */
function allowMatches(rules: readonly NetRule[]): string[] {
  const byL4 = new Map<string, string[]>();
  for (const r of rules) byL4.set(l4Of(r), [...(byL4.get(l4Of(r)) ?? []), dstOf(r)]);
  return [...byL4].map(([l4, dsts]) => {
    const uniqDsts = [...new Set(dsts)];
    const dst = uniqDsts.length === 1 ? uniqDsts[0]! : `{ ${uniqDsts.join(', ')} }`;
    return [`ip daddr ${dst}`, l4].filter((x) => x !== '').join(' ');
  });
}

/**
 * How long a denied destination stays in the `denied` set. Elements are added once (`add`, which
 * does not refresh the timeout) and keep counting, so `timeout - expires` at exit says when the
 * first attempt was made: a per-attempt time without any logging.
 */
export const DENIED_TIMEOUT_S = 7 * 24 * 3600;

const RECORD = [
  'meta l4proto { tcp, udp } add @denied { ip daddr . meta l4proto . th dport } counter name denied drop',
  'meta nfproto ipv4 add @denied { ip daddr . meta l4proto . 0 } counter name denied drop',
  'counter name denied drop',
];

/** vpn-only: the tunnel interface and the VPN servers' transport endpoints (out of the veth). */
export interface TunnelEgress {
  readonly ifname: string;
  readonly endpoints: readonly { readonly addr: number; readonly port: number }[];
}

const ANY: NetRule = { cidr: { addr: 0, len: 0 }, port: undefined, text: 'everything through the tunnel' };

/**
 * The sandbox's own egress policy: default drop; loopback and replies pass; deny entries, then
 * link-local/metadata, then allow entries; every dropped packet lands in the dynamic set
 * `denied` (destination . proto . port, with packet and byte counters and its first-seen time),
 * which run.ts reads at exit — per-destination denied attempts without any logging
 * infrastructure.
 *
 * vpn-only: only the tunnel interface carries traffic (all of it, or the allowlist's part); the
 * veth carries only the tunnel's own UDP to its endpoints, recognised by the fwmark wireguard-go
 * sets (the command cannot set marks). Replies are accepted per interface, so a connection that
 * began in the tunnel cannot continue outside it if the tunnel goes away: fail closed.
 */
export function sandboxRuleset(
  opts: Pick<SandboxOptions, 'mode' | 'allow' | 'deny'> & { readonly publish?: readonly number[] },
  resolver?: string,
  veth?: string,
  tunnel?: TunnelEgress,
): string {
  const out: string[] = [];
  const vpn = opts.mode === 'vpn-only' && tunnel !== undefined;
  out.push(`table inet ${SBX_TABLE} {`);
  out.push('  counter tx {}', '  counter rx {}', '  counter denied {}');
  out.push(`  set denied { type ipv4_addr . inet_proto . inet_service; flags dynamic,timeout; timeout ${DENIED_TIMEOUT_S}s; size 65536; counter; }`);
  if (resolver !== undefined) out.push('  set dom4 { type ipv4_addr; }', '  set dom4p { type ipv4_addr . inet_service; }');
  out.push('  chain output {', '    type filter hook output priority 0; policy drop;');
  // Isolated: the default route points at lo (inlineNetwork), so only loopback addresses may pass it.
  if (opts.mode === 'isolated') out.push('    oifname "lo" ip daddr 127.0.0.0/8 accept', '    oifname "lo" ip6 daddr ::1 accept');
  else out.push('    oifname "lo" accept');
  if (vpn) {
    out.push(`    oifname "${tunnel.ifname}" ct state established,related counter name tx accept`);
    for (const e of tunnel.endpoints) {
      out.push(`    oifname "${veth}" meta mark 0x${WG_FWMARK.toString(16)} ip daddr ${formatIPv4(e.addr)} udp dport ${e.port} counter name tx accept`);
    }
  } else out.push('    ct state established,related counter name tx accept');
  for (const d of opts.deny) out.push(`    ${match(d)} add @denied { ip daddr . meta l4proto . 0 } counter name denied drop`);
  if (opts.mode === 'filtered' || vpn) {
    const allow = vpn && opts.allow.length === 0 ? [ANY] : opts.allow;
    const allowed = allow.map((a) => cidrRange(a.cidr));
    for (const text of ALWAYS_DENY) {
      const c = parseCidr(text, false)!;
      const r = cidrRange(c);
      if (allowed.some((a) => inRange(a.lo, r) && inRange(a.hi, r))) continue;
      if (!allowed.some((a) => rangesOverlap(a, r))) continue;
      out.push(`    ip daddr ${formatCidr(c)} add @denied { ip daddr . meta l4proto . 0 } counter name denied drop`);
    }
    const via = vpn ? `oifname "${tunnel.ifname}"` : '';
    const matches = allow.includes(ANY) ? [''] : allowMatches(allow);
    for (const m of matches) out.push(`    ${[via, m, 'counter name tx accept'].filter((x) => x !== '').join(' ')}`);
    if (resolver !== undefined) {
      out.push(`    ip daddr ${resolver} meta l4proto { tcp, udp } th dport 53 counter name tx accept`);
      out.push('    ip daddr @dom4 counter name tx accept', '    meta l4proto { tcp, udp } ip daddr . th dport @dom4p counter name tx accept');
    }
  }
  for (const r of RECORD) out.push(`    ${r}`);
  out.push('  }');
  out.push('  chain input {', '    type filter hook input priority 0; policy drop;', '    iifname "lo" accept', '    ct state established,related counter name rx accept');
  if (veth !== undefined && opts.publish !== undefined && opts.publish.length > 0) out.push(`    iifname "${veth}" tcp dport { ${opts.publish.join(', ')} } counter name rx accept`);
  out.push('  }');
  out.push('}');
  return `${out.join('\n')}\n`;
}

/** The host side: masquerade the sandbox's /30 out of any other interface, forward its traffic. */
export function hostRuleset(table: string, veth: string, subnet: Cidr): string {
  const net = formatCidr(subnet);
  return [
    `table ip ${table} {`,
    '  chain forward {',
    '    type filter hook forward priority -1; policy accept;',
    `    iifname "${veth}" ip saddr ${net} accept`,
    `    oifname "${veth}" ct state established,related accept`,
    `    oifname "${veth}" drop`,
    '  }',
    '  chain postrouting {',
    '    type nat hook postrouting priority 100; policy accept;',
    `    ip saddr ${net} oifname != "${veth}" masquerade`,
    '  }',
    '}',
    '',
  ].join('\n');
}

/**
 * First /30 in 10.213.0.0/16, searching from the `start`th, that overlaps none of `used`. The
 * caller starts at a place derived from the run id, so two sandboxes starting at the same moment
 * (each before the other's addresses exist) almost never pick the same one.
 */
export function pickSubnet(used: readonly Cidr[], start = 0): Cidr | undefined {
  const base = parseCidr('10.213.0.0/16', false)!.addr;
  const usedR = used.map(cidrRange);
  for (let k = 0; k < 16384; k++) {
    const i = (start + k) % 16384;
    const c: Cidr = { addr: (base + i * 4) >>> 0, len: 30 };
    const r = cidrRange(c);
    if (!usedR.some((u) => rangesOverlap(u, r))) return c;
  }
  return undefined;
}

export function bwrapArgs(opts: SandboxOptions, resolvConf?: string): string[] {
  // bwrap started by root keeps every capability inside its user namespace unless told otherwise.
  const a = ['bwrap', '--unshare-user', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--die-with-parent', '--new-session', '--cap-drop', 'ALL'];
  a.push('--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp');
  for (const p of opts.ro) a.push('--ro-bind', p, p);
  for (const p of opts.rw) a.push('--bind', p, p);
  a.push('--bind', opts.workdir, opts.workdir);
  if (resolvConf !== undefined) a.push('--ro-bind', resolvConf, '/etc/resolv.conf');
  if (opts.vaultDir !== undefined) a.push('--ro-bind', opts.vaultDir, VAULT_PATH, '--setenv', 'CORDON_VAULT', VAULT_PATH);
  // Last, so no bind above can uncover a hidden path.
  for (const h of opts.hide) a.push(...(h.dir ? ['--tmpfs', h.path, '--remount-ro', h.path] : ['--ro-bind', '/dev/null', h.path]));
  a.push('--seccomp', String(SECCOMP_FD), '--chdir', opts.workdir, '--');
  return [...a, ...opts.command];
}

/** The sandbox needs the resolver: filtered mode with at least one allowed name. */
export function needsResolver(opts: Pick<SandboxOptions, 'mode' | 'allowDomains'>): boolean {
  return opts.mode === 'filtered' && opts.allowDomains.length > 0;
}

/** The sandbox gets its own /etc/resolv.conf: the resolver's (filtered with names) or the tunnel's DNS servers (vpn-only). */
export function needsResolvConf(opts: Pick<SandboxOptions, 'mode' | 'allowDomains' | 'wireguard'>): boolean {
  return needsResolver(opts) || (opts.mode === 'vpn-only' && (opts.wireguard?.dns.length ?? 0) > 0);
}

/** What that resolv.conf says; `resolver` is the address of the sandbox's resolver when it runs. */
export function resolvConfText(opts: Pick<SandboxOptions, 'mode' | 'wireguard'>, resolver: string | undefined): string {
  const servers = resolver !== undefined ? [resolver] : opts.mode === 'vpn-only' ? (opts.wireguard?.dns ?? []) : [];
  return `${servers.map((s) => `nameserver ${s}\n`).join('')}options timeout:2 attempts:2\n`;
}

/** The tunnel interface of a vpn-only sandbox. */
export function wgName(id: string): string {
  return `cs${id}w`;
}

/** `resolvConf`: the file bound over /etc/resolv.conf when the sandbox has its own (chosen by the caller). */
export function planSandbox(opts: SandboxOptions, id: string, subnet: Cidr | undefined, cgroup: 'v1' | 'v2' | 'none', resolvConf?: string): SandboxPlan {
  const steps: Step[] = [];
  const egress = opts.mode === 'filtered' || opts.mode === 'vpn-only';
  // Isolated mode needs no name: its namespace is made by `unshare --net` for the command alone
  // and vanishes with it (inlineNetwork), even after kill -9. The others need one, to put the
  // veth's other end in the host namespace.
  const ns = egress ? nsName(id) : undefined;
  const wg = opts.mode === 'vpn-only' ? opts.wireguard : undefined;
  const vethS = egress ? `cs${id}s` : undefined;
  const vethH = egress ? `cs${id}h` : undefined;
  const hostTable = egress ? `cordon_${id}` : undefined;
  if (ns) steps.push({ kind: 'netns-add', ns });
  if (ns && egress && vethS && vethH && subnet) {
    const h = formatIPv4(subnet.addr + 1);
    const s = formatIPv4(subnet.addr + 2);
    const hn = opts.hostNetns;
    steps.push({ kind: 'ip', ns: undefined, cmd: `link add ${vethS} netns ${ns} type veth peer name ${vethH}${hn ? ` netns ${hn}` : ''}` });
    steps.push({ kind: 'ip', ns: hn, cmd: `addr add ${h}/30 dev ${vethH}` });
    steps.push({ kind: 'ip', ns: hn, cmd: `link set ${vethH} up` });
    steps.push({ kind: 'ip', ns, cmd: 'link set lo up' });
    steps.push({ kind: 'ip', ns, cmd: `addr add ${s}/30 dev ${vethS}` });
    steps.push({ kind: 'ip', ns, cmd: `link set ${vethS} up` });
    if (wg) {
      // The veth is only the tunnel's transport: routes to the VPN servers, and a last-resort
      // default (metric 1000) so anything the tunnel does not carry reaches the egress chain and
      // is recorded as denied instead of failing silently with "network unreachable".
      for (const e of uniq(wg.peers.map((p) => p.endpoint.addr))) steps.push({ kind: 'ip', ns, cmd: `route add ${formatIPv4(e)}/32 via ${h}` });
      steps.push({ kind: 'ip', ns, cmd: `route add default via ${h} metric 1000` });
    } else steps.push({ kind: 'ip', ns, cmd: `route add default via ${h}` });
    steps.push({ kind: 'sysctl', ns: hn ?? '', key: 'net.ipv4.ip_forward', value: '1' });
    steps.push({ kind: 'nft', ns: hn ?? '', table: `ip ${hostTable}`, text: hostRuleset(hostTable!, vethH, subnet) });
  }
  const resolver = needsResolver(opts) && subnet ? formatIPv4(subnet.addr + 1) : undefined;
  const tunnel = wg ? { ifname: wgName(id), endpoints: uniqBy(wg.peers.map((p) => p.endpoint), (e) => `${e.addr}:${e.port}`) } : undefined;
  if (ns) steps.push({ kind: 'nft', ns, table: `inet ${SBX_TABLE}`, text: sandboxRuleset(opts, resolver, vethS, tunnel) });
  if (ns && wg && tunnel) {
    // The egress policy is in place before the tunnel exists.
    steps.push({ kind: 'wireguard', ns, ifname: tunnel.ifname, client: wg });
    for (const a of wg.addressTexts) steps.push({ kind: 'ip', ns, cmd: `addr add ${a} dev ${tunnel.ifname}` });
    steps.push({ kind: 'ip', ns, cmd: `link set ${tunnel.ifname}${wg.mtu !== undefined ? ` mtu ${wg.mtu}` : ''} up` });
    for (const c of uniqBy(wg.peers.flatMap((p) => p.allowedIps), formatCidr)) {
      // A connected prefix of the tunnel address already has its route.
      if (wg.addresses.some((a) => a.len === c.len && networkOf(a.addr, c.len) === c.addr)) continue;
      steps.push({ kind: 'ip', ns, cmd: `route add ${formatCidr(c)} dev ${tunnel.ifname}` });
    }
  }
  if (subnet && opts.mode === 'filtered') {
    for (const port of opts.publish) steps.push({ kind: 'publish', ns: opts.hostNetns, port, to: formatIPv4(subnet.addr + 2) });
  }
  if (resolver !== undefined) steps.push({ kind: 'resolver', ns: opts.hostNetns, listen: resolver, upstream: opts.dnsUpstream ?? '', names: opts.allowDomains.map((d) => d.text) });
  const cg = `cordon-${id}`;
  if (cgroup === 'v1') {
    if (opts.memoryBytes !== undefined) {
      steps.push({ kind: 'cgroup', controller: 'memory', path: `memory/${cg}`, file: 'memory.limit_in_bytes', value: String(opts.memoryBytes) });
    }
    if (opts.pids !== undefined) steps.push({ kind: 'cgroup', controller: 'pids', path: `pids/${cg}`, file: 'pids.max', value: String(opts.pids) });
    if (opts.cpus !== undefined) {
      steps.push({ kind: 'cgroup', controller: 'cpu', path: `cpu/${cg}`, file: 'cpu.cfs_period_us', value: '100000' });
      steps.push({ kind: 'cgroup', controller: 'cpu', path: `cpu/${cg}`, file: 'cpu.cfs_quota_us', value: String(Math.max(1000, Math.round(opts.cpus * 100000))) });
    }
  } else if (cgroup === 'v2') {
    if (opts.memoryBytes !== undefined) {
      steps.push({ kind: 'cgroup', controller: 'memory', path: cg, file: 'memory.max', value: String(opts.memoryBytes) });
      steps.push({ kind: 'cgroup', controller: 'memory', path: cg, file: 'memory.swap.max', value: '0' });
    }
    if (opts.pids !== undefined) steps.push({ kind: 'cgroup', controller: 'pids', path: cg, file: 'pids.max', value: String(opts.pids) });
    if (opts.cpus !== undefined) steps.push({ kind: 'cgroup', controller: 'cpu', path: cg, file: 'cpu.max', value: `${Math.max(1000, Math.round(opts.cpus * 100000))} 100000` });
  }
  const prlimitArgs: string[] = [];
  if (cgroup === 'none') {
    if (opts.memoryBytes !== undefined) prlimitArgs.push(`--as=${opts.memoryBytes}`);
    if (opts.pids !== undefined) prlimitArgs.push(`--nproc=${opts.pids}`);
  }
  const inner = bwrapArgs(opts, needsResolvConf(opts) ? resolvConf : undefined);
  const inline = opts.mode === 'isolated' ? inlineNetwork(sandboxRuleset(opts)) : [];
  const argv = [...DIE_WITH_CORDON, ...(prlimitArgs.length > 0 ? ['prlimit', ...prlimitArgs, '--'] : []), ...(ns ? ['ip', 'netns', 'exec', ns] : []), ...inline, ...inner];
  steps.push({ kind: 'exec', argv });
  const seccomp = seccompFilter({ arch: opts.arch, allowUserns: opts.allowUserns });
  return { id, ns, inline: inline.length > 0, hostNetns: opts.hostNetns, vethSandbox: vethS, vethHost: vethH, hostTable, subnet, cgroupName: cg, steps, argv, prlimitArgs, seccomp };
}

function uniq<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)];
}

function uniqBy<T>(xs: readonly T[], key: (x: T) => string): T[] {
  const seen = new Map<string, T>();
  for (const x of xs) if (!seen.has(key(x))) seen.set(key(x), x);
  return [...seen.values()];
}

/** Exit code of the inline script when the network setup failed (its reason is on fd 4). */
export const INLINE_SETUP_FAILED = 125;

/**
 * The isolated sandbox's network, made by the command line itself: `unshare --net` gives a
 * namespace nobody else can name; the script brings loopback up and points the default route at
 * it (so attempts reach the egress chain and are recorded — without a route, connect() fails
 * before any packet exists; the chain lets only loopback addresses out on lo), loads the egress
 * policy, runs the command with fds 3 and 4 closed, then
 * writes the table (counters, denied set) to fd 3. The script runs outside the command's PID and
 * user namespaces, so the command can neither see nor signal it.
 */
export function inlineNetwork(ruleset: string): string[] {
  const script = [
    `{ ip -batch - <<'CORDON_IP'`,
    'link set lo up',
    'route add default dev lo',
    'CORDON_IP',
    `} 2>&4 || exit ${INLINE_SETUP_FAILED}`,
    `nft -f - <<'CORDON_NFT' 2>&4 || exit ${INLINE_SETUP_FAILED}`,
    ruleset.trimEnd(),
    'CORDON_NFT',
    '"$@" 3>&- 4>&-',
    'rc=$?',
    `nft -j list table inet ${SBX_TABLE} >&3 2>/dev/null`,
    'exit $rc',
  ].join('\n');
  return ['unshare', '--net', '--', 'sh', '-c', script, 'cordon-sandbox'];
}

/** The forwarder of a published port: the host namespace's 127.0.0.1:PORT → the sandbox's PORT. */
export function publishArgv(port: number, to: string): string[] {
  return ['socat', `TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork`, `TCP:${to}:${port}`];
}

function q(s: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The plan as shell-like lines (`--dry-run`). */
export function planToText(p: SandboxPlan): string {
  const lines: string[] = [];
  for (const s of p.steps) {
    switch (s.kind) {
      case 'netns-add':
        lines.push(`ip netns add ${s.ns}`);
        break;
      case 'ip':
        lines.push(`ip${s.ns ? ` -n ${s.ns}` : ''} ${s.cmd}`);
        break;
      case 'sysctl':
        lines.push(`${s.ns ? `ip netns exec ${s.ns} ` : ''}sysctl -w ${s.key}=${s.value}`);
        break;
      case 'nft':
        lines.push(`${s.ns ? `ip netns exec ${s.ns} ` : ''}nft -f - <<'EOF'`, s.text.trimEnd(), 'EOF');
        break;
      case 'cgroup':
        lines.push(`echo ${q(s.value)} > /sys/fs/cgroup/${s.path}/${s.file}`);
        break;
      case 'resolver':
        lines.push(`${s.ns ? `ip netns exec ${s.ns} ` : ''}cordon-resolver --listen ${s.listen}:53 --upstream ${s.upstream || '?'} ${s.names.map(q).join(' ')} &`);
        break;
      case 'publish':
        lines.push(`${s.ns ? `ip netns exec ${s.ns} ` : ''}${publishArgv(s.port, s.to).join(' ')} &`);
        break;
      case 'wireguard':
        lines.push(`ip netns exec ${s.ns} wireguard-go -f ${s.ifname} &`, `wg setconf ${s.ifname} /dev/stdin <<'EOF'`, redacted(s.client).trimEnd(), 'EOF');
        break;
      case 'exec':
        lines.push(s.argv.map(q).join(' '));
        break;
      default: {
        const never: never = s;
        throw new Error(`unknown step ${JSON.stringify(never)}`);
      }
    }
  }
  return `${lines.join('\n')}\n`;
}
