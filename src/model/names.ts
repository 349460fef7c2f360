/**
 * Every kernel-visible name cordon generates comes from here: interface and port names, the lab's
 * namespaces, WireGuard interfaces and tables, nftables tables and marks, iptables chains and LOG
 * prefixes. One module, so IFNAMSIZ and the other kernel limits, the readable-prefix-plus-short-
 * hash rule and determinism are enforced in one place.
 *
 * Why here, in model/, and not in system/: the renderers need these names (nft table names,
 * iptables chains, guest port names) and renderers are pure and sit below system/ (DESIGN.md's
 * floors), so the one module has to sit at or below their floor. model/ is the lowest floor that
 * knows the vocabulary (hooks, hosts); nothing here does I/O, so the runtime (lab, sandbox, apply,
 * system) imports the same functions from above. A name that cannot be made is a diagnostic
 * (CORDON017), never a throw.
 */
import { createHash } from 'node:crypto';
import { diag, type Diagnostic } from '../diag/diagnostic.js';
import { Code } from '../diag/codes.js';
import { IFNAME_MAX_BYTES, ifnameProblem } from '../spec/identifiers.js';
import { assertNever } from '../util/assert.js';
import type { Hook } from './types.js';

// ---------------------------------------------------------------------------------------------
// The rules every name follows

/** The longest interface name in bytes (the kernel's IFNAMSIZ minus the final NUL). */
export const IFNAMSIZ = IFNAME_MAX_BYTES;

/** The first `len` hex digits of SHA-256: what keeps a shortened or cleaned name apart from others. */
export function shortHash(text: string, len = 6): string {
  return createHash('sha256').update(text).digest('hex').slice(0, len);
}

/** A generated name, or why it cannot be made (CORDON017, at the spec position that asked for it). */
export type NameResult = { readonly ok: true; readonly name: string } | { readonly ok: false; readonly diagnostic: Diagnostic };

/** Where a name was asked for, for the diagnostic when it cannot be made. */
export interface NameAt {
  readonly file: string;
  readonly line?: number;
  readonly col?: number;
  readonly path?: string;
}

/** `name` as an interface name, or CORDON017 saying why the kernel would refuse it. */
export function checkedIfname(name: string, at: NameAt, hint?: string): NameResult {
  const problem = ifnameProblem(name);
  return problem === undefined ? { ok: true, name } : { ok: false, diagnostic: diag(Code.KERNEL_NAME, 'error', problem, at, hint) };
}

/**
 * Why `name` cannot be an interface name (1–15 bytes of letters, digits, "_", ".", "@", "-"; not
 * `.` or `..`), or undefined.
 */
export function validIfname(name: string): string | undefined {
  return ifnameProblem(name);
}

/** Whether the characters are the problem (CORDON018) rather than only the length (CORDON017). */
export function ifnameHasUnsafeChars(name: string): boolean {
  return !/^[A-Za-z0-9_.@-]*$/.test(name) || name === '.' || name === '..';
}

/** How one kind of name is made: its length limit, how raw text is cleaned, which names are taken by the system. */
export interface NameRule {
  readonly max: number;
  /** Raw text made valid (characters replaced, a required first character added); lossy is fine. */
  readonly clean: (raw: string) => string;
  /** Names the target gives a meaning of its own. */
  readonly reserved?: (name: string) => boolean;
  /** The raw text as the target compares names (e.g. lowercased where names are case-insensitive); default: as it is. */
  readonly fold?: (raw: string) => string;
}

/**
 * Unique names under one rule, handed out in order: the cleaned text when nothing was lost, it
 * fits and is free, else a readable prefix plus a 4-hex hash of the raw text (rehashed on a clash).
 */
export class NameAllocator {
  private readonly used = new Set<string>();

  constructor(private readonly rule: NameRule) {}

  take(raw: string): string {
    const { max } = this.rule;
    const base = this.rule.clean(raw);
    const clean = base === (this.rule.fold?.(raw) ?? raw) && base.length <= max && !(this.rule.reserved?.(base) ?? false) && !this.used.has(base);
    let name = clean ? base : `${base.slice(0, max - 5)}-${shortHash(raw, 4)}`;
    for (let n = 1; this.used.has(name); n++) name = `${base.slice(0, max - 5)}-${shortHash(`${raw}#${n}`, 4)}`;
    this.used.add(name);
    return name;
  }
}

// ---------------------------------------------------------------------------------------------
// Guest ports (renderers and the lab)

/**
 * Proxmox-style port name for a guest's nth interface (tap101i0 for a VM, veth101i0 for a
 * container), else a readable prefix plus a short hash.
 */
export function guestPortName(host: string, id: number | undefined, nicIndex: number, kind: 'vm' | 'container' | 'other' = 'vm'): string {
  if (id !== undefined) {
    const tap = `${kind === 'container' ? 'veth' : 'tap'}${id}i${nicIndex}`;
    if (tap.length <= IFNAMSIZ) return tap;
  }
  const base = host.replace(/[^A-Za-z0-9]/g, '').slice(0, 6);
  return `vp${base}${shortHash(`${host}/${nicIndex}`, 5)}`.slice(0, IFNAMSIZ);
}

/**
 * The IFB device that shapes what a guest sends through `port` (tc cannot shape a port's ingress
 * itself, so it is redirected there): `ifb` plus a hash of the port, unique per port, 11 characters.
 */
export function ifbName(port: string): string {
  return `ifb${shortHash(port, 8)}`;
}

// ---------------------------------------------------------------------------------------------
// nftables: tables and marks

/** Prefix of every table cordon owns; `apply` replaces only tables with this prefix. */
export const TABLE_PREFIX = 'cordon_';

/** Marks carry the bridge port a packet entered by; the high half says "cordon's". */
export const MARK_BASE = 0x0c0d0000;

/** The table of an enforcement point (`pve:forward` → `cordon_pve_forward`). */
export function tableName(point: string): string {
  const clean = point.replace(/[^A-Za-z0-9]/g, '_');
  // Two points could clean to the same text (a-1 vs a_1): a short hash of the original keeps them apart.
  return clean === point.replace(/:/g, '_') ? `${TABLE_PREFIX}${clean}` : `${TABLE_PREFIX}${clean}_${shortHash(point, 4)}`;
}

/** The bridge-family table that marks packets by the guest port they came in by. */
export function portsTableName(host: string): string {
  return tableName(`${host}:ports`);
}

/** The mark of the `index`th guest port. */
export function markOf(index: number): string {
  return `0x${(MARK_BASE + index + 1).toString(16).padStart(8, '0')}`;
}

// ---------------------------------------------------------------------------------------------
// iptables: user chains (at most 28 characters, the xtables limit) and LOG prefixes (at most 29;
// longer ones are silently cut by the kernel). A short hash keeps lossy ones apart.

/** xtables' XT_EXTENSION_MAXNAMELEN is 29 including the terminating NUL. */
export const MAX_CHAIN_NAME = 28;
/** The LOG target keeps at most 29 characters of a prefix (iptables truncates without a word). */
export const MAX_LOG_PREFIX = 29;

/** Prefix of every chain cordon owns. */
export const CHAIN_PREFIX = 'CORDON-';

/**
 * A point's chain name leaves room for the suffixes of its helper chains: `-LD` (log and drop)
 * and `-R<rule index>` / `-K<rule index>` (a rule's exclusion chain and the continuation after it,
 * up to index 999).
 */
const LOG_DROP_SUFFIX = '-LD';
const MAX_POINT_CHAIN = MAX_CHAIN_NAME - 5;

export function hookAbbrev(hook: Hook): string {
  switch (hook) {
    case 'input':
      return 'IN';
    case 'output':
      return 'OUT';
    case 'forward':
      return 'FWD';
    case 'guest-in':
      return 'GIN';
    case 'guest-out':
      return 'GOUT';
    default:
      return assertNever(hook, 'hook');
  }
}

/**
 * `CORDON-<HOST>-<HOOK>`, e.g. `CORDON-PVE-FWD`, at most 23 characters. Host names that are not plain lowercase letters,
 * digits and dashes, or too long, get cut and a 4-hex hash of the point instead.
 */
export function chainName(host: string, hook: Hook): string {
  const abbr = hookAbbrev(hook);
  const upper = host.toUpperCase().replace(/[^A-Z0-9-]/g, '-');
  const lossless = /^[a-z0-9][a-z0-9-]*$/.test(host);
  const plain = `${CHAIN_PREFIX}${upper}-${abbr}`;
  if (lossless && plain.length <= MAX_POINT_CHAIN) return plain;
  const hash = shortHash(`${host}:${hook}`, 4).toUpperCase();
  const room = MAX_POINT_CHAIN - CHAIN_PREFIX.length - abbr.length - hash.length - 2;
  return `${CHAIN_PREFIX}${upper.slice(0, room).replace(/-+$/, '')}-${hash}-${abbr}`;
}

/** The chain a point's logged drops jump to: one LOG (rate-limited) and one DROP. */
export function logDropChainName(pointChain: string): string {
  return `${pointChain}${LOG_DROP_SUFFIX}`;
}

/** A rule's exclusion chain; undefined when the index does not fit the name. */
export function ruleChainName(pointChain: string, index: number): string | undefined {
  const name = `${pointChain}-R${index}`;
  return name.length <= MAX_CHAIN_NAME ? name : undefined;
}

/** The chain holding a point's rules after rule `index`, reached by goto; undefined when too long. */
export function continuationChainName(pointChain: string, index: number): string | undefined {
  const name = `${pointChain}-K${index}`;
  return name.length <= MAX_CHAIN_NAME ? name : undefined;
}

/**
 * LOG prefix naming the verdict and the point: `cordon drop pve:forward `. When that does not fit
 * in 29 characters the verdict shrinks to its initial, then the point is cut and hashed.
 */
export function logPrefix(point: string, what: string): string {
  const full = `cordon ${what} ${point} `;
  if (full.length <= MAX_LOG_PREFIX) return full;
  const short = `cordon ${what.charAt(0).toUpperCase()} ${point} `;
  if (short.length <= MAX_LOG_PREFIX) return short;
  const hash = shortHash(point, 4);
  const head = `cordon ${what.charAt(0).toUpperCase()} `;
  const room = MAX_LOG_PREFIX - head.length - hash.length - 2;
  return `${head}${point.slice(0, room)}~${hash} `;
}

// ---------------------------------------------------------------------------------------------
// NFLOG: cordon's nftables drops are also logged to one netlink group, which the guard reads
// (through ulogd2). Groups are per network namespace, so one number serves every host.

/** The NFLOG group of cordon's drop logging; a number no common tool defaults to (ulogd's examples use 0-2). */
export const NFLOG_GROUP = 25455;

/**
 * The NFLOG prefix of a drop: `cordon <point id> <ref>`, where the point id is 8 hex digits of the
 * point's hash and ref is `p` for the chain default or `r<index>` for the IR rule that starts the
 * dropping run. Short whatever the names (the DESIGN's 64-byte budget), so it is never cut; the
 * guard maps it back to the rule's origin through the IR.
 */
export function nflogPrefix(point: string, ref: number | 'policy'): string {
  return `cordon ${shortHash(point, 8)} ${ref === 'policy' ? 'p' : `r${ref}`}`;
}

/** The parts of an NFLOG prefix made by `nflogPrefix`, or undefined for any other text. */
export function parseNflogPrefix(prefix: string): { readonly pointId: string; readonly ref: number | 'policy' } | undefined {
  const m = /^cordon ([0-9a-f]{8}) (p|r(\d+))$/.exec(prefix.trim());
  if (!m) return undefined;
  return { pointId: m[1]!, ref: m[2] === 'p' ? 'policy' : Number(m[3]) };
}

/**
 * The guard's kill switch table for a host (`cordon_<host>_killswitch`): a cordon table, so the
 * next `cordon apply` of the host removes it with the rest of cordon's old tables.
 */
export function killswitchTableName(host: string): string {
  return tableName(`${host}:killswitch`);
}

/** The point id `nflogPrefix` writes for a point. */
export function nflogPointId(point: string): string {
  return shortHash(point, 8);
}

// ---------------------------------------------------------------------------------------------
// The lab: every object it creates carries the run-unique prefix (`cl` + 4 hex digits), so two
// labs never collide and `lab down` can tell its own objects from everything else.
//
// Interfaces inside a lab namespace keep the spec's names (vmbr0, tap101i0, ens18): a namespace
// has its own interface list, so they cannot collide with the machine's. The exception is
// WireGuard: wireguard-go's control socket lives in the one shared /var/run/wireguard, so a tunnel
// interface is created under a lab-unique name and renamed to the spec's name afterwards (its
// socket keeps the unique name, which is what `wg` talks to).

/** `cl` + 4 lower-case hex digits. */
export const LAB_PREFIX_RE = /^cl[0-9a-f]{4}$/;
const LAB_NS_RE = /^(cl[0-9a-f]{4})[.-]/;

/** A namespace name belongs to a lab with this prefix (any lab when no prefix is given). */
export function isLabNamespace(ns: string, prefix?: string): boolean {
  const m = LAB_NS_RE.exec(ns);
  return m !== null && (prefix === undefined || m[1] === prefix);
}

/** The lab prefix a namespace name carries, or undefined. */
export function prefixOfNamespace(ns: string): string | undefined {
  return LAB_NS_RE.exec(ns)?.[1];
}

/** A namespace name without its lab prefix (`cl3f9a.net-lan` → `net-lan`), for file names. */
export function namespaceTag(ns: string): string {
  return ns.replace(LAB_NS_RE, '');
}

/** A fresh lab prefix from 16 random bits (the caller checks it is not in use). */
export function newLabPrefix(random: () => number): string {
  return `cl${Math.floor(random() * 0x10000)
    .toString(16)
    .padStart(4, '0')}`;
}

function slug(name: string): string {
  const s = name.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 48);
  return s === name ? s : `${s}_${shortHash(name, 4)}`;
}

/** The namespace of a host: `cl3f9a-pve`. */
export function hostNamespace(prefix: string, host: string): string {
  return `${prefix}-${slug(host)}`;
}

/** The namespace holding the bridge of a network nobody in the spec owns: `cl3f9a.net-lan`. */
export function networkNamespace(prefix: string, network: string): string {
  return `${prefix}.net-${slug(network)}`;
}

/** The internet: TEST-NET services, roaming peers' underlay, hosts placed on the internet. */
export function internetNamespace(prefix: string): string {
  return `${prefix}.internet`;
}

/** What lies behind hosts' uplinks: the owner's LAN and the way on to the internet. */
export function upstreamNamespace(prefix: string): string {
  return `${prefix}.upstream`;
}

/** The kernel name a tunnel interface is created under (and its wireguard-go socket keeps); CORDON017 when it does not fit. */
export function wireguardKernelName(prefix: string, index: number, at: NameAt): NameResult {
  return checkedIfname(
    `${prefix}w${index}`,
    at,
    `the lab names its tunnel interfaces ${prefix}w0, ${prefix}w1, …: this spec has more tunnel ends than fit in ${IFNAMSIZ} characters`,
  );
}

/** nft tables the lab adds beside the rendered ones (NAT, the upstream's SNAT). */
export function labTableName(prefix: string, what: string): string {
  return `${prefix}_${what.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

/** A sandbox run's id: 6 lowercase hex digits (`freshId` in sandbox/host.ts draws it). */
export const SANDBOX_ID = /^[0-9a-f]{6}$/;

/** Names of everything one sandbox run creates, all derived from its id so teardown can find leftovers. */
export interface SandboxNames {
  /** Its network namespace (filtered and vpn-only; isolated mode's is anonymous). */
  readonly netns: string;
  /** The veth end inside the sandbox, and the one in the host namespace. */
  readonly vethSandbox: string;
  readonly vethHost: string;
  /** The tunnel interface of a vpn-only run. */
  readonly wireguard: string;
  /** The host namespace's masquerade table (`ip` family). */
  readonly hostTable: string;
  /** Its cgroup, under the v1 controllers or the v2 root. */
  readonly cgroup: string;
}

/** `cs<id>`, `cs<id>s`/`cs<id>h`/`cs<id>w` (9 bytes, well under IFNAMSIZ), `cordon_<id>`, `cordon-<id>`. */
export function sandboxNames(id: string): SandboxNames {
  return {
    netns: `cs${id}`,
    vethSandbox: `cs${id}s`,
    vethHost: `cs${id}h`,
    wireguard: `cs${id}w`,
    hostTable: `${TABLE_PREFIX}${id}`,
    cgroup: `cordon-${id}`,
  };
}

/**
 * The isolated sandbox's dead-end link: a veth pair with both ends inside its anonymous namespace,
 * the default route out of `ifname` with a TEST-NET source address. Nothing lies beyond it; it
 * exists so that denied packets leave by a non-loopback interface, where the kernel can answer
 * them with ICMP (over lo, a reject has no valid source address and stays silent).
 */
export const ISOLATED_LINK = { ifname: 'sbx0', peer: 'sbx1', address: '192.0.2.1' } as const;

/** The id of a sandbox namespace name (`cs<id>`), or undefined when it is not one. */
export function sandboxIdOfNetns(name: string): string | undefined {
  const id = name.startsWith('cs') ? name.slice(2) : '';
  return SANDBOX_ID.test(id) ? id : undefined;
}
