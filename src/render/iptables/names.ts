/**
 * Kernel-visible names of the iptables target: user chains (at most 28 characters, the xtables
 * limit) and LOG prefixes (at most 29 characters; longer ones are silently cut by the kernel).
 * Deterministic: the same point always gives the same name, a short hash keeps lossy ones apart.
 */
import { shortHash } from '../../model/names.js';
import type { Hook } from '../../model/types.js';
import { assertNever } from '../../util/assert.js';

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
