/**
 * `cordon import --from wireguard HOST=wg0.conf…`: wg-quick configurations as the tunnels,
 * addresses and routes of a cordon spec (no firewall rules: WireGuard itself filters nothing but
 * what its peers may send from, which cordon's tunnels model already).
 *
 * - The tunnel is named after the file (`wg0.conf` → `wg0`); the config with a `ListenPort` is
 *   the server, its `Address` gives the tunnel's prefix; a client's `[Peer] Endpoint` (an IPv4
 *   literal) is where members connect to.
 * - Each `[Peer]` of the server is a member at the one address of its `AllowedIPs` inside the
 *   tunnel, named by a comment just above it (`# alice`, `# Name = alice`) or `<tunnel>-peerN`,
 *   with its public key; a client config given too (HOST=FILE) is the same member when its
 *   `Address` is that address.
 * - A client's `AllowedIPs` outside the tunnel are routes through it (0.0.0.0/0: all traffic).
 * - Keys: `PrivateKey` and `PresharedKey` are secrets; they are never copied into the spec, a
 *   diagnostic or a comment. `PreUp`/`PostUp`… run commands cordon does not read (a warning: give
 *   the firewall they set up with --from iptables); IPv6 addresses are CORDON046.
 * With --topology, its hosts and networks are kept and the tunnels are added to them.
 */
import { basename } from 'node:path';
import { diag, sortDiagnostics, type Diagnostic, type SourcePos } from '../../diag/diagnostic.js';
import { Code } from '../../diag/codes.js';
import type { HostSpecT, Spec, TunnelSpecT } from '../../spec/schema.js';
import { NAME_RE } from '../../spec/identifiers.js';
import { formatIPv4, parseIPv4 } from '../../util/ip.js';
import type { ImportRequest, ImportResult, Importer } from '../common/contract.js';
import { writeSpec } from '../common/spec-writer.js';
import { importBase } from '../common/topology.js';

interface Entry {
  readonly key: string;
  readonly value: string;
  readonly at: SourcePos;
}
interface Section {
  readonly kind: 'Interface' | 'Peer';
  readonly at: SourcePos;
  /** The comment line just above the section header, if any. */
  readonly label: string | undefined;
  readonly entries: Entry[];
}

const SECRET = new Set(['privatekey', 'presharedkey']);
const COMMANDS = new Set(['preup', 'postup', 'predown', 'postdown']);
const KNOWN = new Set([
  'address',
  'listenport',
  'dns',
  'mtu',
  'table',
  'saveconfig',
  'fwmark',
  'publickey',
  'allowedips',
  'endpoint',
  'persistentkeepalive',
  ...SECRET,
  ...COMMANDS,
]);

function parseConf(file: string, text: string, ds: Diagnostic[]): Section[] {
  const out: Section[] = [];
  let prevComment: string | undefined;
  text.split('\n').forEach((raw, i) => {
    const at = { file, line: i + 1, col: 1 };
    const line = raw.trim();
    if (line === '') {
      prevComment = undefined;
      return;
    }
    if (line.startsWith('#')) {
      prevComment = line.replace(/^#+\s*/, '').replace(/^(name|client|peer)\s*[=:]?\s*/i, '');
      return;
    }
    const sec = /^\[(Interface|Peer)\]$/i.exec(line);
    if (sec) {
      out.push({ kind: sec[1]!.toLowerCase() === 'peer' ? 'Peer' : 'Interface', at, label: prevComment, entries: [] });
      prevComment = undefined;
      return;
    }
    prevComment = undefined;
    const kv = /^([A-Za-z]+)\s*=\s*(.*)$/.exec(line);
    const cur = out[out.length - 1];
    if (!kv || !cur) {
      // Never echo the line: it may be a key.
      ds.push(diag(Code.IMPORT_SYNTAX, 'error', cur ? 'expected KEY = VALUE' : 'expected [Interface] or [Peer] before this line', at));
      return;
    }
    const key = kv[1]!.toLowerCase();
    if (!KNOWN.has(key)) ds.push(diag(Code.IMPORT_UNSUPPORTED, 'warning', `${kv[1]!.slice(0, 30)}: not a wg-quick key cordon reads`, at));
    else if (COMMANDS.has(key))
      ds.push(
        diag(
          Code.IMPORT_UNSUPPORTED,
          'warning',
          `${kv[1]}: the commands it runs are not read`,
          at,
          'if they set up a firewall (a kill switch, NAT), import that with --from iptables',
        ),
      );
    cur.entries.push({ key, value: SECRET.has(key) ? '' : kv[2]!.replace(/\s+#.*$/, '').trim(), at });
  });
  return out;
}

function get(s: Section, key: string): Entry | undefined {
  return s.entries.find((e) => e.key === key);
}

/** `10.8.0.1/24, fd00::1/64` → the IPv4 ones as [address, length]; IPv6 is a warning. */
function addrList(e: Entry, ds: Diagnostic[]): { addr: number; len: number }[] {
  const out: { addr: number; len: number }[] = [];
  for (const part of e.value
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '')) {
    if (part.includes(':')) {
      ds.push(diag(Code.IMPORT_IPV6, 'warning', `${part.slice(0, 45)}: IPv6 is not modelled: cordon verifies IPv4 only`, e.at));
      continue;
    }
    const m = /^([\d.]+)(?:\/(\d{1,2}))?$/.exec(part);
    const addr = m ? parseIPv4(m[1]!) : undefined;
    const len = m?.[2] === undefined ? 32 : Number(m[2]);
    if (addr === undefined || len > 32) ds.push(diag(Code.IMPORT_SYNTAX, 'error', `'${part.slice(0, 45)}' is not an IPv4 address or prefix`, e.at));
    else out.push({ addr, len });
  }
  return out;
}

function prefixText(addr: number, len: number): string {
  const size = 2 ** (32 - len);
  return `${formatIPv4(Math.floor(addr / size) * size)}/${len}`;
}

function inside(addr: number, net: { addr: number; len: number }): boolean {
  const size = 2 ** (32 - net.len);
  return Math.floor(addr / size) === Math.floor(net.addr / size);
}

export const wireguardImporter: Importer = {
  name: 'wireguard',
  description: 'wg-quick configurations (wg0.conf): tunnels, members, addresses and routes; keys are never copied',
  paths: 'HOST=FILE… (the host each config is on; the file name is the tunnel name)',
  import(req: ImportRequest): ImportResult {
    const ds: Diagnostic[] = [];
    const confs: { host: string; file: string; tunnel: string; sections: Section[] }[] = [];
    for (const p of req.paths) {
      const eq = /^([A-Za-z0-9][A-Za-z0-9_-]*)=(.+)$/.exec(p);
      const file = eq ? eq[2]! : p;
      const host = eq ? eq[1]! : req.paths.length === 1 ? req.host : undefined;
      const text = req.tree.read(file);
      if (text === undefined) {
        ds.push(diag(Code.FILE_UNREADABLE, 'error', `cannot read ${file}`, { file }));
        continue;
      }
      if (host === undefined || !NAME_RE.test(host)) {
        ds.push(diag(Code.IMPORT_SYNTAX, 'error', `which host is ${file} on?`, { file }, `give it as HOST=${file} (or --host for a single file)`));
        continue;
      }
      const tunnel = basename(file).replace(/\.conf$/, '');
      if (!NAME_RE.test(tunnel) || tunnel.length > 15) {
        ds.push(
          diag(Code.IMPORT_SYNTAX, 'error', `the file name '${tunnel.slice(0, 40)}' is no interface name (wg-quick names the interface after the file)`, {
            file,
          }),
        );
        continue;
      }
      const sections = parseConf(file, text, ds);
      if (!sections.some((s) => s.kind === 'Interface')) ds.push(diag(Code.IMPORT_SYNTAX, 'error', 'no [Interface] section', { file, line: 1, col: 1 }));
      confs.push({ host, file, tunnel, sections });
    }
    if (ds.some((d) => d.severity === 'error')) return { text: '', origins: new Map(), diagnostics: sortDiagnostics(ds) };

    const spec: Spec = req.topology ? structuredClone(req.topology.spec) : { version: 1 };
    const hosts: Record<string, HostSpecT> = spec.hosts ?? {};
    const tunnels: Record<string, TunnelSpecT> = spec.tunnels ?? {};
    const addNic = (host: string, tunnel: string, addr: number, peer: boolean, publicKey?: string): void => {
      const h = hosts[host];
      if (h) {
        if (h.kind === 'peer' && h.via === undefined && !(h.nics && tunnel in h.nics)) {
          h.via = tunnel;
          h.address = formatIPv4(addr);
        } else if (h.via !== tunnel) h.nics = { ...(h.nics ?? {}), [tunnel]: formatIPv4(addr) };
        if (publicKey && h.publicKey === undefined) h.publicKey = publicKey;
        return;
      }
      hosts[host] = peer
        ? { kind: 'peer', via: tunnel, address: formatIPv4(addr), ...(publicKey ? { publicKey } : {}), description: 'WireGuard member' }
        : { kind: 'server', nics: { [tunnel]: formatIPv4(addr) }, description: 'WireGuard server' };
    };
    for (const t of new Set(confs.map((c) => c.tunnel))) {
      const mine = confs.filter((c) => c.tunnel === t);
      const servers = mine.filter((c) => c.sections.some((s) => s.kind === 'Interface' && get(s, 'listenport')));
      const server = servers[0];
      if (servers.length > 1)
        ds.push(
          diag(Code.IMPORT_UNSUPPORTED, 'warning', `${servers.length} configs of ${t} listen: ${server!.host}'s is taken as the server`, {
            file: servers[1]!.file,
          }),
        );
      // Clients: their own address, and where they connect to.
      const clientAddr = new Map<number, string>();
      let endpoint: string | undefined;
      for (const c of mine.filter((x) => x !== server)) {
        const iface = c.sections.find((s) => s.kind === 'Interface')!;
        const a = get(iface, 'address');
        const own = a ? addrList(a, ds)[0] : undefined;
        if (!own) {
          ds.push(diag(Code.IMPORT_SYNTAX, 'error', 'the [Interface] has no IPv4 Address', iface.at));
          continue;
        }
        clientAddr.set(own.addr, c.host);
        addNic(c.host, t, own.addr, true);
        for (const p of c.sections.filter((s) => s.kind === 'Peer')) {
          const ep = get(p, 'endpoint');
          const m = ep ? /^([\d.]+):(\d+)$/.exec(ep.value) : null;
          if (ep && m && parseIPv4(m[1]!) !== undefined) endpoint ??= m[1];
          else if (ep)
            ds.push(
              diag(
                Code.IMPORT_UNSUPPORTED,
                'warning',
                `Endpoint '${ep.value.slice(0, 60)}': only an IPv4 literal is read (a name resolves at run time)`,
                ep.at,
              ),
            );
          const routes: { to: string; via: string }[] = [];
          for (const r of get(p, 'allowedips') ? addrList(get(p, 'allowedips')!, ds) : [])
            if (!(r.len === 32 && r.addr === own.addr)) routes.push({ to: prefixText(r.addr, r.len), via: t });
          const h = hosts[c.host]!;
          const wanted = routes.filter((r) => !inside(parseIPv4(r.to.split('/')[0]!)!, { addr: own.addr, len: own.len }) || r.to === '0.0.0.0/0');
          if (wanted.length > 0) h.routes = [...(h.routes ?? []).filter((x) => x.via !== t), ...wanted];
        }
      }
      if (!server) {
        ds.push(
          diag(Code.IMPORT_UNSUPPORTED, 'warning', `no config of ${t} has a ListenPort: the tunnel's server is unknown, so it is not imported`, {
            file: mine[0]!.file,
          }),
        );
        continue;
      }
      const iface = server.sections.find((s) => s.kind === 'Interface')!;
      const a = get(iface, 'address');
      const net = a ? addrList(a, ds)[0] : undefined;
      const lp = get(iface, 'listenport');
      const listen = lp && /^\d{1,5}$/.test(lp.value) && Number(lp.value) >= 1 && Number(lp.value) <= 65535 ? Number(lp.value) : undefined;
      if (!net || listen === undefined) {
        ds.push(
          diag(
            Code.IMPORT_SYNTAX,
            'error',
            !net ? 'the [Interface] has no IPv4 Address' : `ListenPort '${lp!.value.slice(0, 10)}' is not a port`,
            (!net ? iface : lp!).at,
          ),
        );
        continue;
      }
      const fromTopology = server.host in hosts;
      addNic(server.host, t, net.addr, false);
      if (endpoint !== undefined) {
        const sh = hosts[server.host]!;
        const has = Object.values(sh.nics ?? {}).some((n) => (typeof n === 'string' ? n : n.address) === endpoint);
        // A server only the configs describe is where its clients send to: on the internet at the endpoint.
        if (!has && !fromTopology) sh.nics = { ...(sh.nics ?? {}), internet: endpoint };
        else if (!has) {
          ds.push(
            diag(
              Code.IMPORT_NOTE,
              'info',
              `the clients' Endpoint ${endpoint} is no address of ${server.host} in the topology: the tunnel keeps the topology's endpoint`,
              {
                file: server.file,
              },
            ),
          );
          endpoint = undefined;
        }
      }
      const cidr = prefixText(net.addr, net.len);
      tunnels[t] = { ...(tunnels[t] ?? {}), server: server.host, listen, cidr, ...(endpoint && !tunnels[t]?.endpoint ? { endpoint } : {}) };
      server.sections
        .filter((s) => s.kind === 'Peer')
        .forEach((p, i) => {
          const allowed = get(p, 'allowedips') ? addrList(get(p, 'allowedips')!, ds) : [];
          const own = allowed.find((x) => x.len === 32 && inside(x.addr, net));
          if (!own) {
            ds.push(diag(Code.IMPORT_UNSUPPORTED, 'warning', `this peer has no AllowedIPs address inside ${cidr}: not imported`, p.at));
            return;
          }
          for (const x of allowed.filter((y) => y !== own))
            ds.push(
              diag(
                Code.IMPORT_UNSUPPORTED,
                'warning',
                `AllowedIPs ${prefixText(x.addr, x.len)}: a network behind this peer is not modelled (only its own address is)`,
                get(p, 'allowedips')!.at,
              ),
            );
          const key = get(p, 'publickey')?.value;
          const label = p.label && NAME_RE.test(p.label) ? p.label : undefined;
          const name = clientAddr.get(own.addr) ?? label ?? `${t}-peer${i + 1}`;
          addNic(name, t, own.addr, true, key && /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/.test(key) ? key : undefined);
        });
    }
    if (ds.some((d) => d.severity === 'error')) return { text: '', origins: new Map(), diagnostics: sortDiagnostics(ds) };
    spec.hosts = hosts;
    spec.tunnels = tunnels;
    const { base, keptFirewalls } = importBase(spec, new Set(), {}, `imported from WireGuard configs: ${req.paths.join(', ')}`);
    const header = [
      `Imported by cordon from wg-quick configurations: ${confs.map((c) => `${c.host} = ${c.file}`).join(', ')}.`,
      'Tunnels, members, addresses and routes only (no keys: they stay in the configs). No firewall was imported, so nothing filters here.',
      '',
    ];
    const { text, origins } = writeSpec({ header, base, keptFirewalls, firewalls: [] });
    return { text, origins, diagnostics: sortDiagnostics(ds) };
  },
};
