/**
 * A Proxmox node's topology from its own files, for `import --from proxmox ROOT` without
 * --topology: the bridges of etc/network/interfaces are the networks (the node's address on
 * each), the guests are etc/pve/qemu-server/<vmid>.conf (`vm<vmid>`) and etc/pve/lxc/<vmid>.conf
 * (`ct<vmid>`) with a NIC per `netN: …,bridge=vmbrX` line, the node is named by etc/hostname.
 *
 * A guest's address is what its config says: a container's `ip=A/len` on its `netN` line, a VM's
 * cloud-init `ipconfigN: ip=A/len`, else a one-address `[IPSET ipfilter-netN]` in its .fw file.
 * DHCP or nothing: the NIC has no address cordon can check, which is a located warning and the NIC
 * is left out. A bridge with a physical port (`bridge-ports enp1s0`) reaches what is beyond that
 * port (taken as the internet, through the node as its gateway: a per-guest firewall at the
 * bridge port is what filters either way); a bridge without one is isolated unless the file
 * masquerades its prefix (`post-up iptables -t nat … MASQUERADE`).
 */
import { diag, type Diagnostic, type SourcePos } from '../../diag/diagnostic.js';
import { Code } from '../../diag/codes.js';
import type { HostSpecT, NetworkSpecT, Spec } from '../../spec/schema.js';
import { NAME_RE } from '../../spec/identifiers.js';
import { formatIPv4, parseIPv4 } from '../../util/ip.js';
import type { SourceTree } from '../common/contract.js';
import { stanzasToHost } from '../ifupdown/host.js';
import { readInterfaces as readIfupdown } from '../ifupdown/parse.js';

interface Bridge {
  readonly name: string;
  readonly file: string;
  readonly line: number;
  address: number | undefined;
  len: number | undefined;
  ports: string[];
  masquerade: boolean;
}

function prefixOf(addr: number, len: number): string {
  const size = 2 ** (32 - len);
  return `${formatIPv4(Math.floor(addr / size) * size)}/${len}`;
}

function addrLen(text: string): { addr: number; len: number } | undefined {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(text.trim());
  if (!m) return undefined;
  const addr = parseIPv4(m[1]!);
  const len = Number(m[2]);
  return addr === undefined || len > 32 ? undefined : { addr, len };
}

/**
 * The bridges of etc/network/interfaces, read by the ifupdown importer's reader (so `source`
 * lines, continuations and every option mean the same as for `--from ifupdown`); `root` is the
 * node's tree, under which sourced paths are read.
 */
export function readInterfaces(file: string, tree: SourceTree, root: string, ds: Diagnostic[]): Bridge[] {
  const doc = readIfupdown(file, { tree, root }, ds);
  const host = stanzasToHost('node', [...doc.files], doc.stanzas, ds);
  return host.ifaces
    .filter((i) => i.bridgePorts !== undefined)
    .map((i) => ({
      name: i.name,
      line: i.at.line,
      file: i.at.file,
      address: i.addrs[0]?.addr,
      len: i.addrs[0]?.len,
      ports: i.bridgePorts ?? [],
      masquerade: i.masquerade,
    }));
}

/** `key=value` items of a `netN:` line. */
function items(v: string): Map<string, string> {
  const m = new Map<string, string>();
  v.split(',').forEach((kv, i) => {
    const eq = kv.indexOf('=');
    if (eq > 0) m.set(kv.slice(0, eq).trim(), kv.slice(eq + 1).trim());
    else if (i === 0) m.set('model', kv.trim());
  });
  return m;
}

export interface GuestConf {
  readonly vmid: number;
  readonly kind: 'vm' | 'container';
  readonly file: string;
  readonly text: string;
}

/**
 * The topology as a cordon spec. `ipfilterAddr(vmid, n)` gives the one address of a guest's
 * `ipfilter-netN` set, when it has exactly one.
 */
export function buildTopology(
  node: string,
  ifaces: { file: string; bridges: readonly Bridge[] } | undefined,
  guests: readonly GuestConf[],
  ipfilterAddr: (vmid: number, n: number) => number | undefined,
  ds: Diagnostic[],
): Spec {
  const networks: Record<string, NetworkSpecT> = {};
  const nodeNics: Record<string, string> = {};
  let uplink: string | undefined;
  for (const b of ifaces?.bridges ?? []) {
    const at: SourcePos = { file: b.file, line: b.line, col: 1 };
    if (!NAME_RE.test(b.name) || b.name.length > 15) {
      ds.push(diag(Code.IMPORT_SYNTAX, 'error', `bridge '${b.name.slice(0, 40)}' is not an interface name cordon accepts`, at));
      continue;
    }
    if (b.address === undefined || b.len === undefined) {
      ds.push(
        diag(
          Code.IMPORT_UNSUPPORTED,
          'warning',
          `bridge ${b.name} has no static IPv4 address and prefix on the node: its prefix is unknown, so it is not imported`,
          at,
        ),
      );
      continue;
    }
    const out = b.ports.length > 0;
    if (out) uplink ??= b.ports[0];
    networks[b.name] = {
      cidr: prefixOf(b.address, b.len),
      ...(out || b.masquerade ? { gateway: formatIPv4(b.address), egress: 'nat' as const } : { egress: 'none' as const }),
      description: out
        ? `bridge with physical port ${b.ports.join(', ')}: what is beyond it is taken as the internet`
        : b.masquerade
          ? 'bridge without a physical port, masqueraded by the node'
          : 'bridge without a physical port',
    };
    nodeNics[b.name] = formatIPv4(b.address);
  }
  const hosts: Record<string, HostSpecT> = {
    [node]: { kind: 'hypervisor', ...(uplink ? { uplink } : {}), nics: nodeNics, description: 'the Proxmox node (etc/network/interfaces)' },
  };
  for (const g of guests) {
    const name = `${g.kind === 'vm' ? 'vm' : 'ct'}${g.vmid}`;
    const nics: NonNullable<HostSpecT['nics']> = {};
    // [snapshot] sections repeat old settings: only the current config (before the first section) counts.
    const all = g.text.split('\n');
    const cut = all.findIndex((l) => l.trim().startsWith('['));
    const lines = cut < 0 ? all : all.slice(0, cut);
    const ipconfig = new Map<number, string>();
    lines.forEach((l) => {
      const m = /^ipconfig(\d+):\s*(.*)$/.exec(l.trim());
      if (m) {
        const ip = items(m[2]!).get('ip');
        if (ip) ipconfig.set(Number(m[1]), ip);
      }
    });
    lines.forEach((l, i) => {
      const m = /^net(\d+):\s*(.*)$/.exec(l.trim());
      if (!m) return;
      const n = Number(m[1]);
      const it = items(m[2]!);
      const at = { file: g.file, line: i + 1, col: 1 };
      const bridge = it.get('bridge');
      if (bridge === undefined || !(bridge in networks)) {
        ds.push(diag(Code.IMPORT_NOTE, 'info', `${name} net${n}: on ${bridge ? `bridge ${bridge}, which is not imported` : 'no bridge'}; left out`, at));
        return;
      }
      const ipText = g.kind === 'container' ? it.get('ip') : ipconfig.get(n);
      const parsed = ipText ? addrLen(ipText) : undefined;
      const addr = parsed?.addr ?? ipfilterAddr(g.vmid, n);
      if (addr === undefined) {
        ds.push(
          diag(
            Code.IMPORT_UNSUPPORTED,
            'warning',
            `${name} net${n}: no static address (${ipText ?? 'none'}${g.kind === 'vm' ? ', no ipconfig' : ''}, no one-address ipfilter-net${n} set): this NIC is left out`,
            at,
            g.kind === 'vm' ? `give it with ipconfig${n}: ip=A/LEN, or pass --topology` : 'give it as ip=A/LEN on the line, or pass --topology',
          ),
        );
        return;
      }
      if (bridge in nics) {
        ds.push(diag(Code.IMPORT_UNSUPPORTED, 'warning', `${name} net${n}: a second NIC on ${bridge}; cordon models one per network, so it is left out`, at));
        return;
      }
      nics[bridge] = {
        address: formatIPv4(addr),
        port: `${g.kind === 'vm' ? 'tap' : 'veth'}${g.vmid}i${n}`,
        ...(it.get('name') ? { ifname: it.get('name')! } : {}),
      };
    });
    if (Object.keys(nics).length > 0) hosts[name] = { kind: g.kind, id: g.vmid, nics, description: `Proxmox guest ${g.vmid} (${g.file})` };
  }
  return { version: 1, networks, hosts };
}
