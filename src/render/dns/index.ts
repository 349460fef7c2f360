/**
 * dns target: the internal zone of seed 003 ("every service name resolves to the gateway") for the
 * host that serves it, in the two forms people run:
 *
 *   dns/<server>/dnsmasq.conf      dnsmasq answering only on the server's own addresses
 *   dns/<server>/db.<domain>       a BIND zone file (SOA, NS, A)
 *   dns/<server>/named.conf.local  the BIND zone declaration that loads it
 *
 * The SOA serial comes from the spec hash, never from the clock, so rendering twice gives the same
 * bytes; it changes whenever the spec does.
 */
import { diag, type Diagnostic } from '../../diag/diagnostic.js';
import { Code } from '../../diag/codes.js';
import type { Ir } from '../../ir/types.js';
import type { Dns, Model, Network } from '../../model/types.js';
import { formatCidr, formatIPv4 } from '../../util/ip.js';
import { commented, Emitter, headerLines } from '../emit.js';
import { confPath, dnsName } from '../escape.js';
import type { Renderer, RenderOptions, RenderResult, RenderedFile } from '../types.js';

/** Where BIND finds the zone file; `-p zone-dir=…` changes it. */
export const DEFAULT_ZONE_DIR = '/etc/bind';

export const dnsRenderer: Renderer = {
  name: 'dns',
  description: 'the internal DNS zone: dnsmasq.conf, a BIND zone file and its named.conf.local declaration',
  params: [{ name: 'zone-dir', description: 'directory named.conf.local names for the zone file', default: DEFAULT_ZONE_DIR }],
  render(ir: Ir, opts: RenderOptions): RenderResult {
    const ds: Diagnostic[] = [];
    const dns = ir.model.dns;
    if (!dns) {
      if (opts.host !== undefined)
        ds.push(
          diag(
            Code.UNKNOWN_NAME,
            'error',
            `the spec declares no dns: section, so host '${opts.host}' gets no DNS files`,
            { file: ir.model.file },
            'add dns: { domain, server, records }',
          ),
        );
      return { files: [], diagnostics: ds };
    }
    if (opts.host !== undefined && opts.host !== dns.server) {
      ds.push(
        diag(
          Code.UNKNOWN_NAME,
          'error',
          `host '${opts.host}' does not serve DNS, so it gets no DNS files`,
          { file: ir.model.file },
          `the DNS server is '${dns.server}'`,
        ),
      );
      return { files: [], diagnostics: ds };
    }
    const zoneDir = confPath((opts.params.get('zone-dir') ?? DEFAULT_ZONE_DIR).replace(/\/+$/, '') || '/');
    // Names are checked at the spec boundary; here they are refused rather than written if that ever fails.
    for (const r of zoneRecords(dns)) dnsName(fqdn(r.name, dns));
    const dir = `dns/${dns.server}`;
    const files: RenderedFile[] = [
      { path: `${dir}/dnsmasq.conf`, content: renderDnsmasq(ir.model, dns), secret: false },
      { path: `${dir}/${zoneFileName(dns)}`, content: renderZone(ir.model, dns), secret: false },
      { path: `${dir}/named.conf.local`, content: renderNamedConf(ir.model, dns, zoneDir), secret: false },
    ];
    return { files, diagnostics: ds };
  },
};

export function zoneFileName(dns: Dns): string {
  return `db.${dnsName(dns.domain)}`;
}

/** The server's own name in the zone: its host name, made a valid hostname label. */
export function serverLabel(dns: Dns): string {
  return dns.server.toLowerCase().replace(/_/g, '-');
}

/** Every A record of the zone, sorted by name: the declared ones plus the server's own name unless declared. */
export function zoneRecords(dns: Dns): { name: string; address: number }[] {
  const own = serverLabel(dns);
  const out = dns.records.map((r) => ({ name: r.name, address: r.address }));
  if (!dns.records.some((r) => r.name === own)) out.push(...dns.listen.map((address) => ({ name: own, address })));
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.address - b.address));
}

/** SOA serial: the first 32 bits of the spec hash (never 0). Deterministic; not monotonic. */
export function zoneSerial(model: Model): number {
  const n = Number.parseInt(model.hash.slice(0, 8), 16);
  return Number.isFinite(n) && n > 0 ? n : 1;
}

function fqdn(name: string, dns: Dns): string {
  return `${name}.${dns.domain}`;
}

/** The prefixes of the networks the server answers on (for BIND's allow-query). */
function clientNets(model: Model, dns: Dns): string[] {
  const server = model.hosts.get(dns.server);
  const out: string[] = [];
  for (const n of server?.nics ?? []) {
    const seg = model.networks.get(n.segment) ?? model.tunnels.get(n.segment);
    if (!seg || !dns.listen.includes(n.address)) continue;
    const c = formatCidr(seg.cidr);
    if (!out.includes(c)) out.push(c);
  }
  return out;
}

function renderDnsmasq(model: Model, dns: Dns): string {
  const e = new Emitter();
  e.lines_(commented(headerLines(model, `dnsmasq configuration for the zone ${dns.domain} on ${dns.server}.`), '# '));
  e.gap();
  e.line(`# Answer only on ${dns.server}'s own addresses on its networks, never on an internet-facing one.`);
  for (const a of dns.listen) e.line(`listen-address=${formatIPv4(a)}`);
  e.line('bind-interfaces');
  e.gap();
  e.line('# Only what this file says: no /etc/hosts, no /etc/resolv.conf.');
  e.line('no-hosts');
  e.line('no-resolv');
  if (dns.upstream.length === 0) {
    e.line('# No upstream is declared: names outside the zone are not resolved at all.');
  } else {
    e.line('# Names outside the zone go to the declared upstream resolvers, and only to them.');
    for (const u of dns.upstream) e.line(`server=${formatIPv4(u)}`);
  }
  e.line('domain-needed');
  e.line('bogus-priv');
  e.gap();
  e.line(`# The zone: answered from here, never forwarded.`);
  e.line(`domain=${dns.domain}`);
  e.line(`local=/${dns.domain}/`);
  e.line(`local-ttl=${dns.ttl}`);
  e.gap();
  for (const r of zoneRecords(dns)) e.line(`host-record=${fqdn(r.name, dns)},${formatIPv4(r.address)}`);
  for (const p of dhcpPools(model, dns)) {
    e.gap();
    e.line(`# DHCP on ${p.network.name} (${formatCidr(p.network.cidr)}) for guests the spec does not declare; declared ones keep their static addresses.`);
    e.line(`dhcp-range=${formatIPv4(p.network.dhcp.start)},${formatIPv4(p.network.dhcp.end)},${netmaskText(p.network.cidr.len)},12h`);
    if (p.network.gateway !== undefined) e.line(`dhcp-option=option:router,${formatIPv4(p.network.gateway)}`);
    else {
      e.line('# The network has no gateway: an empty router option, so DHCP clients get no default route.');
      e.line('dhcp-option=option:router');
    }
    e.line(`dhcp-option=option:dns-server,${formatIPv4(p.address)}`);
  }
  return e.toString();
}

/**
 * The DHCP pools this dnsmasq serves: those of the networks the DNS server has an address on,
 * except libvirt's own (bridge virbr*), where libvirt's dnsmasq serves the <dhcp> of the network
 * definition (the libvirt target): two DHCP servers on one segment would answer each other's clients.
 */
export function dhcpPools(model: Model, dns: Dns): { network: Network & { dhcp: NonNullable<Network['dhcp']> }; address: number }[] {
  const server = model.hosts.get(dns.server);
  const out: { network: Network & { dhcp: NonNullable<Network['dhcp']> }; address: number }[] = [];
  for (const n of server?.nics ?? []) {
    const net = model.networks.get(n.segment);
    if (!net || net.dhcp === undefined || /^virbr/.test(net.bridge) || !dns.listen.includes(n.address)) continue;
    out.push({ network: net as Network & { dhcp: NonNullable<Network['dhcp']> }, address: n.address });
  }
  return out;
}

function netmaskText(len: number): string {
  const m = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return [24, 16, 8, 0].map((sh) => (m >>> sh) & 255).join('.');
}

function renderZone(model: Model, dns: Dns): string {
  const e = new Emitter('\t');
  e.lines_(commented(headerLines(model, `BIND zone ${dns.domain}, primary on ${dns.server}.`), '; '));
  e.line('; The serial comes from the spec hash, not the clock: it changes whenever the spec does, but it');
  e.line('; does not only grow, so a secondary must be re-synced by hand (cordon renders the primary only).');
  e.gap();
  const ns = `${fqdn(serverLabel(dns), dns)}.`;
  e.line(`$ORIGIN ${dns.domain}.`);
  e.line(`$TTL ${dns.ttl}`);
  e.line(`@\tIN\tSOA\t${ns} hostmaster.${dns.domain}. (`);
  e.indent(() => {
    e.line(`${zoneSerial(model)}\t; serial (spec sha256 ${model.hash.slice(0, 8)})`);
    e.line('3600\t\t; refresh');
    e.line('900\t\t; retry');
    e.line('1209600\t\t; expire');
    e.line(`${dns.ttl} )\t\t; negative-answer TTL`);
  });
  e.line(`@  IN  NS  ${ns}`);
  e.gap();
  const records = zoneRecords(dns);
  const width = Math.max(...records.map((r) => r.name.length), 1);
  for (const r of records) e.line(`${r.name.padEnd(width)}  IN  A  ${formatIPv4(r.address)}`);
  return e.toString();
}

function renderNamedConf(model: Model, dns: Dns, zoneDir: string): string {
  const e = new Emitter('\t');
  e.lines_(commented(headerLines(model, `BIND zone declaration for ${dns.domain}; include it from named.conf.`), '// '));
  e.line(`// Let named listen on ${dns.listen.map(formatIPv4).join(', ')} only (options { listen-on { … }; }).`);
  e.gap();
  const file = `${zoneDir === '/' ? '' : zoneDir}/${zoneFileName(dns)}`;
  e.block(
    `zone "${dns.domain}" {`,
    () => {
      e.line('type primary;');
      e.line(`file "${file}";`);
      e.line(`allow-query { ${['localhost', ...clientNets(model, dns)].map((x) => `${x};`).join(' ')} };`);
      e.line('allow-transfer { none; };');
    },
    '};',
  );
  return e.toString();
}

/**
 * The resolver a host should use: the DNS server's address on the first network (in the host's
 * nic order) that both share, with the nic it is reached through. undefined when the spec declares
 * no zone, the host is the server itself, or they share no network.
 */
export function resolverFor(model: Model, host: string): { readonly segment: string; readonly address: number; readonly domain: string } | undefined {
  const dns = model.dns;
  const h = model.hosts.get(host);
  const server = dns ? model.hosts.get(dns.server) : undefined;
  if (!dns || !h || !server || host === dns.server) return undefined;
  for (const n of h.nics) {
    const s = server.nics.find((x) => x.segment === n.segment && x.segment !== 'internet' && dns.listen.includes(x.address));
    if (s) return { segment: n.segment, address: s.address, domain: dns.domain };
  }
  return undefined;
}

/**
 * The resolvers a host's own network config names, and on which of its networks' interfaces: the
 * host's declared `nameservers` (on the interface of its default route, else the resolver's, else
 * its first network), or else the zone's server where it serves the host; the zone's domain as the
 * search domain wherever the zone serves the host. Undefined: nothing to write.
 */
export function nameserversFor(
  model: Model,
  host: string,
): { readonly segment: string; readonly addresses: readonly number[]; readonly search: readonly string[] } | undefined {
  const h = model.hosts.get(host);
  if (!h) return undefined;
  const r = resolverFor(model, host);
  const search = r ? [r.domain] : [];
  if (h.nameservers.length === 0) return r ? { segment: r.segment, addresses: [r.address], search } : undefined;
  const segment =
    (h.defaultRoute.kind === 'gateway' ? h.defaultRoute.segment : undefined) ?? r?.segment ?? h.nics.find((n) => model.networks.has(n.segment))?.segment;
  return segment === undefined ? undefined : { segment, addresses: h.nameservers, search };
}
