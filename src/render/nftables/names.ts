/** nft object names for cordon's tables, sets and port marks: deterministic and collision-free. */
import { shortHash } from '../../model/names.js';

/** Prefix of every table cordon owns; `apply` replaces only tables with this prefix. */
export const TABLE_PREFIX = 'cordon_';

/** Marks carry the bridge port a packet entered by; the high half says "cordon's". */
export const MARK_BASE = 0x0c0d0000;

export function tableName(point: string): string {
  const clean = point.replace(/[^A-Za-z0-9]/g, '_');
  // Two points could clean to the same text (a-1 vs a_1): a short hash of the original keeps them apart.
  return clean === point.replace(/:/g, '_') ? `${TABLE_PREFIX}${clean}` : `${TABLE_PREFIX}${clean}_${shortHash(point, 4)}`;
}

export function portsTableName(host: string): string {
  return tableName(`${host}:ports`);
}

export function markOf(index: number): string {
  return `0x${(MARK_BASE + index + 1).toString(16).padStart(8, '0')}`;
}
