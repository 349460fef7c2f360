/**
 * `cordon run --spec FILE`: `--allow HOST[:PORT]` and `--deny HOST[:PORT]` where HOST is a host of
 * the spec stand for every address of its nics (one /32 each, same port).
 */
import type { Model } from '../model/types.js';
import { formatIPv4 } from '../util/ip.js';
import type { NetRule } from './plan.js';

/** The rules for `HOST[:PORT]` when HOST names a spec host; undefined when it does not. */
export function specHostRules(model: Model, text: string): NetRule[] | undefined {
  const m = /^([A-Za-z0-9_.-]+?)(?::(\d{1,5}))?$/.exec(text.trim());
  if (!m) return undefined;
  const host = model.hosts.get(m[1]!);
  if (!host) return undefined;
  const port = m[2] === undefined ? undefined : Number(m[2]);
  return [...new Set(host.nics.map((n) => n.address))]
    .sort((a, b) => a - b)
    .map((addr) => ({ cidr: { addr, len: 32 }, port, text: `${text} (${formatIPv4(addr)})` }));
}
