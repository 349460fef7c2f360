/**
 * tc target: each host's `bandwidth:` as Linux traffic control on the host-side port of each of its
 * nics, run by the port's owner (the hypervisor whose bridge it is). Files, under `tc/<hypervisor>/`:
 *
 * - `bandwidth.sh`: the tc and ip commands, safe to re-run (it clears what it set before).
 * - `bandwidth-police.nft`: the fallback for a kernel without IFB devices or the mirred action: the
 *   outbound limits as nftables `limit rate over … drop` on each port's ingress hook (policing).
 *
 * Which does what:
 * - inbound (to the guest) leaves the hypervisor through the port: a TBF qdisc at the port's root
 *   shapes it (queues, never drops below the rate).
 * - outbound (from the guest) arrives on the port, where Linux cannot queue (an ingress qdisc has no
 *   classes). bandwidth.sh redirects it to an IFB device (`ifb` + hash, src/model/names.ts) and
 *   shapes it there with the same TBF. libvirt polices it instead (`tc filter … police … drop`, which
 *   needs act_police); where neither IFB nor police exists, bandwidth-police.nft drops what exceeds
 *   the rate: the sender's TCP backs off, less smooth than shaping.
 *
 * Why TBF and not HTB: libvirt's three numbers are a token bucket: `average` the long-term rate,
 * `burst` the bucket, `peak` the rate at which a full bucket may drain. TBF has exactly these
 * (`rate`, `burst`, `peakrate`). HTB's `ceil` means "may borrow up to" and only works below a
 * parent class; libvirt's single root HTB class can never borrow, so its peak changes nothing.
 *
 * Units are libvirt's, passed as libvirt passes them: `kbps` (tc: 1000 bytes/s) and `kb` (1024 bytes).
 * The lab (src/lab/plan.ts) runs the same commands, from `portLimits` and `shapingCommands`.
 */
import type { Ir } from '../../ir/types.js';
import { ifbName } from '../../model/names.js';
import { describeRate } from '../../model/bandwidth.js';
import type { Bandwidth, BandwidthRate, Model } from '../../model/types.js';
import { diag } from '../../diag/diagnostic.js';
import { Code } from '../../diag/codes.js';
import { commented, Emitter, headerLines } from '../emit.js';
import { ifname, quotedText, shWord } from '../escape.js';
import type { Renderer, RenderOptions, RenderResult, RenderedFile } from '../types.js';

/** One limited port: `host`'s nic on `segment`, whose port `port` sits on `owner`'s bridge. */
export interface PortLimit {
  readonly owner: string;
  readonly host: string;
  readonly segment: string;
  readonly port: string;
  readonly bandwidth: Bandwidth;
}

/** Largest frame on a 1500-byte MTU (TBF's peak bucket must hold one). */
const FRAME = 1514;

/** Every port with a limit, sorted by owner, host and port. */
export function portLimits(model: Model): PortLimit[] {
  const out: PortLimit[] = [];
  for (const h of model.hosts.values()) {
    if (h.bandwidth === undefined) continue;
    for (const nic of h.nics) {
      const owner = model.networks.get(nic.segment)?.owner;
      if (nic.port === undefined || owner === undefined) continue;
      out.push({ owner, host: h.name, segment: nic.segment, port: nic.port, bandwidth: h.bandwidth });
    }
  }
  const key = (l: PortLimit): string => `${l.owner}\u0000${l.host}\u0000${l.port}`;
  return out.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** argv of a command line whose words are all safe names and numbers (interface names went through `ifname`). */
function argv(line: string): string[] {
  return line.split(' ');
}

function tbf(dev: string, r: BandwidthRate): string[] {
  const peak = r.peak !== undefined && r.peak > r.average ? ` peakrate ${r.peak}kbps mtu ${FRAME}` : '';
  // latency bounds the queue: what would wait longer than 50 ms behind the burst is dropped.
  return argv(`tc qdisc replace dev ${dev} root handle 1: tbf rate ${r.average}kbps burst ${r.burst}kb${peak} latency 50ms`);
}

/**
 * The commands that set a port's limit, as argv lists starting with `tc` or `ip`, for the
 * hypervisor's own namespace (the lab inserts `-n NS`). Run after `clearCommands`.
 */
export function shapingCommands(l: PortLimit): string[][] {
  const port = ifname(l.port);
  const out: string[][] = [];
  if (l.bandwidth.inbound) out.push(tbf(port, l.bandwidth.inbound));
  if (l.bandwidth.outbound) {
    const ifb = ifname(ifbName(l.port));
    out.push(
      argv(`ip link add ${ifb} type ifb`),
      argv(`ip link set ${ifb} up`),
      argv(`tc qdisc add dev ${port} handle ffff: ingress`),
      argv(`tc filter add dev ${port} parent ffff: protocol all u32 match u32 0 0 action mirred egress redirect dev ${ifb}`),
      tbf(ifb, l.bandwidth.outbound),
    );
  }
  return out;
}

/** What removes a port's limit (each may fail when there is nothing to remove). */
export function clearCommands(l: PortLimit): string[][] {
  const port = ifname(l.port);
  return [argv(`tc qdisc del dev ${port} root`), argv(`tc qdisc del dev ${port} ingress`), argv(`ip link del ${ifname(ifbName(l.port))}`)];
}

function origin(model: Model, l: PortLimit): string {
  const o = l.bandwidth.origin;
  return `${model.file.split('/').pop() ?? model.file} line ${o.line}, ${o.path}`;
}

function script(model: Model, owner: string, limits: readonly PortLimit[]): string {
  const e = new Emitter('');
  e.line('#!/bin/sh');
  e.lines_(
    commented(
      [
        ...headerLines(model, `bandwidth limits on ${owner}'s guest ports: run on ${owner} as root (tc and ip from iproute2).`),
        'Inbound (to the guest): TBF at the port root. Outbound (from the guest): redirected from the',
        'port ingress to an IFB device and shaped there by the same TBF. Rates in kbps = 1000 bytes/s,',
        'bursts in kb = 1024 bytes, as libvirt passes its <bandwidth> to tc. Safe to re-run.',
      ],
      '# ',
    ),
  );
  e.line('set -eu');
  for (const l of limits) {
    e.gap();
    e.lines_(commented([`${l.host} on ${l.segment}, port ${l.port}: ${origin(model, l)}`], '# '));
    if (l.bandwidth.inbound) e.lines_(commented([`inbound ${describeRate(l.bandwidth.inbound)}`], '# '));
    if (l.bandwidth.outbound) e.lines_(commented([`outbound ${describeRate(l.bandwidth.outbound)}`], '# '));
    for (const c of clearCommands(l)) e.line(`${c.map(shWord).join(' ')} 2>/dev/null || true`);
    for (const c of shapingCommands(l)) e.line(c.map(shWord).join(' '));
  }
  return e.toString();
}

/** The netdev table of the policing fallback: one chain per port with an outbound limit. */
export const POLICE_TABLE = 'cordon_bandwidth';

function policeNft(model: Model, owner: string, limits: readonly PortLimit[]): string {
  const e = new Emitter('\t');
  e.lines_(
    commented(
      [
        ...headerLines(model, `bandwidth policing on ${owner}: nft -f FILE, after the guests' ports exist.`),
        "The fallback for bandwidth.sh's outbound shaping on a kernel without IFB or tc's mirred action:",
        'what a guest sends above its rate is dropped at the port (policing), so TCP backs off.',
        'Inbound limits need a qdisc: run the TBF lines of bandwidth.sh for them.',
      ],
      '# ',
    ),
  );
  e.line(`table netdev ${POLICE_TABLE} {}`);
  e.line(`delete table netdev ${POLICE_TABLE}`);
  e.block(`table netdev ${POLICE_TABLE} {`, () => {
    for (const l of limits) {
      const r = l.bandwidth.outbound!;
      const port = ifname(l.port);
      e.block(`chain out_${port.replace(/[^A-Za-z0-9_]/g, '_')} {`, () => {
        e.line(`type filter hook ingress device "${port}" priority 0; policy accept;`);
        e.line(
          `limit rate over ${r.average * 1000} bytes/second burst ${r.burst * 1024} bytes drop comment "${quotedText(`${l.host} outbound ${r.average} kB/s`)}"`,
        );
      });
    }
  });
  return e.toString();
}

export const tcRenderer: Renderer = {
  name: 'tc',
  description: "bandwidth limits (spec bandwidth:) as tc commands on each guest's host-side port, plus an nftables policing fallback, per hypervisor",
  params: [],
  render(ir: Ir, opts: RenderOptions): RenderResult {
    const model = ir.model;
    const all = portLimits(model).filter((l) => opts.host === undefined || l.owner === opts.host || l.host === opts.host);
    const files: RenderedFile[] = [];
    const owners = [...new Set(all.map((l) => l.owner))];
    for (const owner of owners) {
      const limits = all.filter((l) => l.owner === owner);
      files.push({ path: `tc/${owner}/bandwidth.sh`, content: script(model, owner, limits), secret: false, executable: true });
      const police = limits.filter((l) => l.bandwidth.outbound !== undefined);
      if (police.length) files.push({ path: `tc/${owner}/bandwidth-police.nft`, content: policeNft(model, owner, police), secret: false });
    }
    const diagnostics =
      opts.host !== undefined && files.length === 0
        ? [
            diag(
              Code.UNKNOWN_NAME,
              'error',
              `host '${opts.host}' has no bandwidth limit and enforces none`,
              { file: model.file },
              'bandwidth: on a guest gives it one; its hypervisor enforces it',
            ),
          ]
        : [];
    return { files, diagnostics };
  },
};
