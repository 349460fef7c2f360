/**
 * `cordon run`, the pure half: resolved sandbox options → a list of steps (namespaces, links, nft
 * rule sets, cgroup limits, the bwrap command line) that the stages (stages/) execute and
 * `--dry-run` prints. No I/O, no clock, no randomness: the run id, the /30 and the home directory
 * come in as inputs.
 *
 * Names: the sandbox namespace is `cs<id>` (id = 6 hex digits), its veth pair `cs<id>s` (inside
 * the sandbox) and `cs<id>h` (inside the host namespace), the host's NAT table `ip cordon_<id>`,
 * the sandbox's egress table `inet cordon_sbx`, cgroups `cordon-<id>`. Everything cordon creates
 * carries the id, so teardown can tell its own objects from everything else.
 */
import { seccompFilter } from './seccomp/bpf.js';
import { redacted, WG_FWMARK, type WgClient } from './wireguard.js';
import { cidrRange, formatCidr, formatIPv4, networkOf, parseCidr, rangesOverlap, type Cidr } from '../util/ip.js';
import { hostRuleset, sandboxRuleset, SBX_TABLE, type TunnelEgress } from './ruleset.js';
import type { SandboxOptions, SandboxPlan, Step } from './types.js';
import { ISOLATED_LINK, sandboxNames } from '../model/names.js';
import { holderArgv, HOLDER_NS, HOLDER_PID, nsenterArgv, pastaArgv, resolverPort, ROOTLESS_RESOLVER, TUNNEL_TABLE } from './rootless.js';

// Re-exported where callers (tests, bench, the CLI) have always found them.
export { MODES, type NetRule, type SandboxMode, type SandboxOptions, type SandboxPlan, type Step } from './types.js';
export { formatBytes, parseBytes, parseDuration, parseNetRule } from './values.js';
export { ALWAYS_DENY, DENIED_TIMEOUT_S, hostRuleset, sandboxRuleset, SBX_TABLE, type TunnelEgress } from './ruleset.js';

/** The descriptor bwrap reads the seccomp filter from (0-2 are stdio, 3 and 4 the inline script's). */
export const SECCOMP_FD = 5;

/**
 * Put in front of the command line: the first process cordon starts gets SIGKILL when cordon dies
 * (kill -9 included). Every later stage execs in that same process (sh, prlimit, unshare, ip netns
 * exec), so it is bwrap's parent or bwrap itself, and bwrap's --die-with-parent takes the command
 * down with it: nothing outlives cordon, and so nothing outlives its --timeout.
 */
export const DIE_WITH_CORDON = ['setpriv', '--pdeathsig', 'KILL', '--'];

/** Where a vault session appears inside the sandbox (the root is read-only; /tmp is the sandbox's own). */
export const VAULT_PATH = '/tmp/vault';

export function nsName(id: string): string {
  return sandboxNames(id).netns;
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
  return sandboxNames(id).wireguard;
}

/**
 * `resolvConf`: the file bound over /etc/resolv.conf when the sandbox has its own (chosen by the caller).
 */
export function planSandbox(opts: SandboxOptions, id: string, subnet: Cidr | undefined, cgroup: 'v1' | 'v2' | 'none', resolvConf?: string): SandboxPlan {
  const steps: Step[] = [];
  const egress = opts.mode === 'filtered' || opts.mode === 'vpn-only';
  // Isolated mode needs no name: its namespace is made by `unshare --net` for the command alone
  // and vanishes with it (inlineNetwork), even after kill -9. The others need one, to put the
  // veth's other end in the host namespace.
  // Rootless (an ordinary user): no named namespace, no veth, no NAT — a holder process and
  // pasta instead (rootless.ts), for every mode but isolated (which stays inline, in a user namespace).
  const holder = opts.rootless && opts.mode !== 'isolated';
  const ns = egress && !opts.rootless ? nsName(id) : undefined;
  const wg = opts.mode === 'vpn-only' ? opts.wireguard : undefined;
  const vethS = egress && !opts.rootless ? sandboxNames(id).vethSandbox : undefined;
  const vethH = egress && !opts.rootless ? sandboxNames(id).vethHost : undefined;
  const hostTable = egress && !opts.rootless ? sandboxNames(id).hostTable : undefined;
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
  const resolver = needsResolver(opts) ? (holder ? ROOTLESS_RESOLVER : subnet ? formatIPv4(subnet.addr + 1) : undefined) : undefined;
  const tunnel = wg
    ? {
        ifname: wgName(id),
        endpoints: uniqBy(
          wg.peers.map((p) => p.endpoint),
          (e) => `${e.addr}:${e.port}`,
        ),
      }
    : undefined;
  if (holder) steps.push(...rootlessSteps(opts, id, resolver, tunnel));
  if (ns) steps.push({ kind: 'nft', ns, table: `inet ${SBX_TABLE}`, text: sandboxRuleset(opts, resolver, vethS, tunnel) });
  if (ns && wg && tunnel) steps.push(...tunnelSteps(wg, tunnel.ifname, ns, false));
  if (holder && wg && tunnel) steps.push(...tunnelSteps(wg, tunnel.ifname, HOLDER_NS, true));
  if (subnet && opts.mode === 'filtered') {
    for (const port of opts.publish) steps.push({ kind: 'publish', ns: opts.hostNetns, port, to: formatIPv4(subnet.addr + 2) });
  }
  if (resolver !== undefined)
    steps.push({
      kind: 'resolver',
      ns: opts.hostNetns,
      listen: resolver,
      upstream: opts.dnsUpstream ?? '',
      names: opts.allowDomains.map((d) => d.text),
      ...(holder ? { port: resolverPort(id) } : {}),
    });
  const cg = sandboxNames(id).cgroup;
  if (cgroup === 'v1') {
    if (opts.memoryBytes !== undefined) {
      steps.push({ kind: 'cgroup', controller: 'memory', path: `memory/${cg}`, file: 'memory.limit_in_bytes', value: String(opts.memoryBytes) });
    }
    if (opts.pids !== undefined) steps.push({ kind: 'cgroup', controller: 'pids', path: `pids/${cg}`, file: 'pids.max', value: String(opts.pids) });
    if (opts.cpus !== undefined) {
      steps.push({ kind: 'cgroup', controller: 'cpu', path: `cpu/${cg}`, file: 'cpu.cfs_period_us', value: '100000' });
      steps.push({
        kind: 'cgroup',
        controller: 'cpu',
        path: `cpu/${cg}`,
        file: 'cpu.cfs_quota_us',
        value: String(Math.max(1000, Math.round(opts.cpus * 100000))),
      });
    }
  } else if (cgroup === 'v2') {
    if (opts.memoryBytes !== undefined) {
      steps.push({ kind: 'cgroup', controller: 'memory', path: cg, file: 'memory.max', value: String(opts.memoryBytes) });
      steps.push({ kind: 'cgroup', controller: 'memory', path: cg, file: 'memory.swap.max', value: '0' });
    }
    if (opts.pids !== undefined) steps.push({ kind: 'cgroup', controller: 'pids', path: cg, file: 'pids.max', value: String(opts.pids) });
    if (opts.cpus !== undefined)
      steps.push({ kind: 'cgroup', controller: 'cpu', path: cg, file: 'cpu.max', value: `${Math.max(1000, Math.round(opts.cpus * 100000))} 100000` });
  }
  const prlimitArgs: string[] = [];
  if (cgroup === 'none') {
    if (opts.memoryBytes !== undefined) prlimitArgs.push(`--as=${opts.memoryBytes}`);
    if (opts.pids !== undefined) prlimitArgs.push(`--nproc=${opts.pids}`);
  }
  const inner = bwrapArgs(opts, needsResolvConf(opts) ? resolvConf : undefined);
  const inline = opts.mode === 'isolated' ? inlineNetwork(sandboxRuleset(opts), opts.rootless) : [];
  const argv = [
    ...DIE_WITH_CORDON,
    ...(prlimitArgs.length > 0 ? ['prlimit', ...prlimitArgs, '--'] : []),
    ...(ns ? ['ip', 'netns', 'exec', ns] : []),
    ...(holder ? nsenterArgv(HOLDER_PID) : []),
    ...inline,
    ...inner,
  ];
  steps.push({ kind: 'exec', argv });
  const seccomp = seccompFilter({ arch: opts.arch, allowUserns: opts.allowUserns });
  return {
    id,
    ns,
    inline: inline.length > 0,
    hostNetns: opts.hostNetns,
    rootless: holder,
    vethSandbox: vethS,
    vethHost: vethH,
    hostTable,
    subnet,
    cgroupName: cg,
    steps,
    argv,
    prlimitArgs,
    seccomp,
  };
}

/**
 * The rootless network's steps: the holder (namespaces, loopback and the policy — none in open
 * mode; vpn-only: with the tunnel's rules and a private /run for wireguard-go), then pasta (with
 * allowed names, the sandbox's 127.0.0.1:53 forwarded to the resolver).
 */
function rootlessSteps(opts: SandboxOptions, id: string, resolver: string | undefined, tunnel: TunnelEgress | undefined): Step[] {
  const ifname = sandboxNames(id).vethSandbox;
  const policy = opts.mode === 'open' ? undefined : sandboxRuleset(opts, resolver, ifname, tunnel);
  const port = resolver !== undefined ? resolverPort(id) : undefined;
  return [
    { kind: 'holder', argv: [...DIE_WITH_CORDON, ...holderArgv(policy, tunnel !== undefined)] },
    { kind: 'pasta', argv: [...DIE_WITH_CORDON, ...pastaArgv({ ifname, publish: opts.publish, resolverPort: port })] },
  ];
}

/**
 * The tunnel, the same for both paths once the egress policy is in place: wireguard-go makes the
 * interface in the sandbox's namespace (`ns`; HOLDER_NS rootless), `wg setconf` gives it the keys,
 * then its addresses, its MTU, and the allowed IPs routed into it. Root: in the main table (the
 * veth carries routes to the endpoints and a last-resort default, see planSandbox). Rootless: in
 * TUNNEL_TABLE, looked up by everything without wireguard-go's mark (pasta's default route stays
 * in main, for the transport only).
 */
function tunnelSteps(wg: WgClient, ifname: string, ns: string, policyRouting: boolean): Step[] {
  const steps: Step[] = [{ kind: 'wireguard', ns, ifname, client: wg }];
  for (const a of wg.addressTexts) steps.push({ kind: 'ip', ns, cmd: `addr add ${a} dev ${ifname}` });
  steps.push({ kind: 'ip', ns, cmd: `link set ${ifname}${wg.mtu !== undefined ? ` mtu ${wg.mtu}` : ''} up` });
  const table = policyRouting ? ` table ${TUNNEL_TABLE}` : '';
  for (const c of uniqBy(
    wg.peers.flatMap((p) => p.allowedIps),
    formatCidr,
  )) {
    // A connected prefix of the tunnel address already has its route (main; the policy lookup falls through to it).
    if (wg.addresses.some((a) => a.len === c.len && networkOf(a.addr, c.len) === c.addr)) continue;
    steps.push({ kind: 'ip', ns, cmd: `route add ${formatCidr(c)} dev ${ifname}${table}` });
  }
  if (policyRouting) steps.push({ kind: 'ip', ns, cmd: `rule add not fwmark 0x${WG_FWMARK.toString(16)} table ${TUNNEL_TABLE} priority 100` });
  return steps;
}

function uniq<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)];
}

function uniqBy<T>(xs: readonly T[], key: (x: T) => string): T[] {
  const seen = new Map<string, T>();
  for (const x of xs) if (!seen.has(key(x))) seen.set(key(x), x);
  return [...seen.values()];
}

/** The environment variable that brings cordon's PID to the inline script (inlineNetwork). */
export const OWNER_ENV = 'CORDON_OWNER_PID';

/** Exit code of the inline script when the network setup failed (its reason is on fd 4). */
export const INLINE_SETUP_FAILED = 125;

/**
 * The isolated sandbox's network, made by the command line itself: `unshare --net` gives a
 * namespace nobody else can name; the script brings loopback up and points the default route at
 * a veth pair whose both ends stay inside it (ISOLATED_LINK: so attempts reach the egress chain
 * and are recorded and rejected — without a route, connect() fails before any packet exists; over
 * lo, the ICMP reject would have no source address), loads the egress policy, runs the command
 * with fds 3 and 4 closed, then
 * writes the table (counters, denied set) to fd 3. The script runs outside the command's PID and
 * user namespaces, so the command can neither see nor signal it.
 */
export function inlineNetwork(ruleset: string, userns = false): string[] {
  const script = [
    // cordon gone before setpriv could ask for its death signal: the parent is no longer cordon
    // (OWNER_ENV is cordon's PID; unset when the line is run by hand), so nothing starts that
    // would outlive it. After this check, cordon's death kills this process (setpriv's signal).
    `[ -z "\${${OWNER_ENV}-}" ] || [ "$PPID" = "$${OWNER_ENV}" ] || exit ${INLINE_SETUP_FAILED}`,
    `unset ${OWNER_ENV}`,
    `{ ip -batch - <<'CORDON_IP'`,
    'link set lo up',
    `link add ${ISOLATED_LINK.ifname} type veth peer name ${ISOLATED_LINK.peer}`,
    `addr add ${ISOLATED_LINK.address}/32 dev ${ISOLATED_LINK.ifname}`,
    `link set ${ISOLATED_LINK.peer} up`,
    `link set ${ISOLATED_LINK.ifname} up`,
    `route add default dev ${ISOLATED_LINK.ifname}`,
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
  // Rootless: the network namespace belongs to a user namespace of the run's own, in which the
  // script is root (and so may load the policy); bwrap then drops every capability for the command.
  return ['unshare', ...(userns ? ['--user', '--map-root-user'] : []), '--net', '--', 'sh', '-c', script, 'cordon-sandbox'];
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
        lines.push(s.ns === HOLDER_NS ? `${nsenterArgv(HOLDER_PID).join(' ')} ip ${s.cmd}` : `ip${s.ns ? ` -n ${s.ns}` : ''} ${s.cmd}`);
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
      case 'holder':
        lines.push(`${s.argv.map(q).join(' ')} &`);
        break;
      case 'pasta':
        lines.push(`${s.argv.map(q).join(' ')} ${HOLDER_PID}`);
        break;
      case 'resolver':
        lines.push(
          `${s.ns ? `ip netns exec ${s.ns} ` : ''}cordon-resolver --listen ${s.listen}:${s.port ?? 53} --upstream ${s.upstream || '?'} ${s.names.map(q).join(' ')} &`,
        );
        break;
      case 'publish':
        lines.push(`${s.ns ? `ip netns exec ${s.ns} ` : ''}${publishArgv(s.port, s.to).join(' ')} &`);
        break;
      case 'wireguard': {
        const inside = s.ns === HOLDER_NS ? `${nsenterArgv(HOLDER_PID, true).join(' ')} ` : '';
        lines.push(
          `${inside || `ip netns exec ${s.ns} `}wireguard-go -f ${s.ifname} &`,
          `${inside}wg setconf ${s.ifname} /dev/stdin <<'EOF'`,
          redacted(s.client).trimEnd(),
          'EOF',
        );
        break;
      }
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
