/**
 * Bandwidth limits in words, for every view that shows a host (render comments, `cordon explain`):
 * libvirt's kilobytes per second are tc's `kbps`, 1000 bytes/s, so 10240 is 81.92 Mbit/s.
 */
import type { BandwidthRate, Model } from './types.js';

/** `average 10240 kB/s (81.92 Mbit/s), peak …, burst 1000 KiB`. */
export function describeRate(r: BandwidthRate): string {
  const mbit = (kB: number): string => `${+((kB * 8) / 1000).toFixed(2)} Mbit/s`;
  return `average ${r.average} kB/s (${mbit(r.average)})${r.peak !== undefined ? `, peak ${r.peak} kB/s (${mbit(r.peak)})` : ''}, burst ${r.burst} KiB`;
}

/**
 * What limits a flow from `from` to `to` (host names; anything else has no limit): the source's
 * outbound and the destination's inbound, each with where the spec says it.
 */
export function flowLimits(model: Model, from: string, to: string): string[] {
  const out: string[] = [];
  const src = model.hosts.get(from)?.bandwidth;
  const dst = model.hosts.get(to)?.bandwidth;
  if (src?.outbound) out.push(`${from} outbound ${describeRate(src.outbound)} (${src.origin.file}:${src.origin.line})`);
  if (dst?.inbound) out.push(`${to} inbound ${describeRate(dst.inbound)} (${dst.origin.file}:${dst.origin.line})`);
  return out;
}
