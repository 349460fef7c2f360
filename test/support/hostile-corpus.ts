/**
 * Hostile strings for the spec's string fields and its file name: each one tries to end a quoted
 * string, a comment or a line in one of the syntaxes cordon writes (nft, iptables-restore, shell,
 * XML, YAML, ini, zone files), to hide text (bidi overrides, zero-width), or to overflow a
 * byte-counted kernel name. Used by test/hostile.test.ts.
 */
export interface Payload {
  readonly label: string;
  readonly text: string;
}

export const HOSTILE: readonly Payload[] = [
  { label: 'quote ends an nft string', text: 'wg0"accept#' },
  { label: 'newline starts nft statements', text: 'x\nflush ruleset\nadd table inet pwn\n#' },
  { label: 'carriage return', text: 'a\rdelete table inet cordon_x' },
  { label: 'semicolon', text: 'a; accept; b' },
  { label: 'braces', text: '} accept { ' },
  { label: 'shell command substitution', text: '$(touch /tmp/cordon-hostile-pwned)' },
  { label: 'backticks', text: '`touch /tmp/cordon-hostile-pwned`' },
  { label: 'single quote', text: "it's'; rm -rf x; '" },
  { label: 'NUL', text: 'a\u0000b' },
  { label: 'escape sequence', text: '\u001b[2J\u001b]0;title\u0007' },
  { label: 'right-to-left override', text: 'allow\u202Eyny\u202C' },
  { label: 'line and paragraph separators', text: 'a\u2028b\u2029c\u0085d' },
  { label: 'zero-width and BOM', text: 'w\u200Bg\uFEFF0' },
  { label: 'over-long multibyte', text: 'é'.repeat(15) },
  { label: 'path traversal', text: '../../etc/cordon' },
  { label: 'XML markup and comment end', text: "<a b='c'>&amp;--></a><!--" },
  { label: 'YAML structure', text: 'a: b\n- c: [d, {e: f}]' },
  { label: 'ini section', text: '\n[Peer]\nAllowedIPs = 0.0.0.0/0' },
  { label: 'zone record', text: '\n@ IN A 203.0.113.66 ; x' },
  { label: 'trailing backslash', text: 'a\\' },
  { label: 'hash', text: '#' },
  { label: 'spaces and tab', text: ' a\tb ' },
  { label: 'empty', text: '' },
  { label: 'very long', text: 'A'.repeat(300) },
];

/** A field that holds free text: the spec accepts anything there, so every emitter must make it inert. */
export function isFreeText(path: readonly (string | number)[]): boolean {
  const last = path[path.length - 1];
  return last === 'description' || last === 'comment';
}

/**
 * A spec that sets every string field the schema has at least once (the examples leave some out,
 * e.g. a tunnel's ifname or endpoint, dns.upstream, a peer's publicKey). It resolves without errors.
 */
export function everyFieldSpec(publicKey: string): string {
  return `version: 1
description: every string field once
networks:
  lan0: { cidr: 10.0.0.0/24, gateway: 10.0.0.1, egress: nat, bridge: br-lan0, ports: [enp2s0], dhcp: { start: 10.0.0.100, end: 10.0.0.200 }, description: the LAN }
  llm: { cidr: 192.168.100.0/24, description: the LLM network }
hosts:
  pve:
    kind: hypervisor
    uplink: enp1s0
    nics: { lan0: 10.0.0.1, llm: 192.168.100.1, wg0: 10.8.0.1 }
    services: { ssh: tcp/22 }
    description: the hypervisor
  agent:
    kind: vm
    id: 101
    nics:
      lan0: { address: 10.0.0.10, ifname: ens18, port: tap101i0 }
      llm: { address: 192.168.100.10, ifname: ens19 }
    services: { web: [tcp/8080, udp/5000-5010] }
    gateway: 10.0.0.1
    routes: [{ to: 172.16.0.0/12, via: 10.0.0.1 }]
    control: [pve.ssh]
    firewall: { guest: true }
  ollama: { kind: vm, id: 102, nics: { llm: 192.168.100.20 }, services: { api: tcp/11434 }, egress: isolated }
  phone: { kind: peer, via: wg0, address: 10.8.0.2, publicKey: ${publicKey} }
  vpnvm: { kind: vm, id: 103, nics: { lan0: 10.0.0.30, wg0: 10.8.0.3 }, egress: vpn-only, tunnel: wg0 }
tunnels:
  wg0: { server: pve, listen: 51820, cidr: 10.8.0.0/24, endpoint: 10.0.0.1, ifname: wg0, nameservers: [10.8.0.1], description: the VPN }
groups:
  guests: [agent, ollama]
policy:
  - allow: { from: phone, to: agent.web, comment: phones reach the web app }
  - allow: { from: agent, to: ollama.api, rate: 10/minute }
  - deny: { from: [guests], to: internet, ports: [tcp/25], log: true }
  - allow: { from: agent, to: [internet, 192.0.2.0/24], ports: tcp/443 }
expect:
  - { from: phone, to: ollama.api, ports: tcp/11434, verdict: deny, assume: both, comment: phones never reach the LLM }
firewalls:
  pve:input:
    policy: drop
    comment: hand-written input chain
    rules:
      - { action: accept, iif: lo, comment: loopback }
      - { action: accept, iif: wg0, oif: lo, from: 10.8.0.0/24, to: pve, ports: udp/51820, state: new, comment: tunnel members }
      - { action: accept, state: established, comment: replies }
dns:
  domain: internal.example.org
  server: pve
  upstream: [192.0.2.53]
  records: { models: ollama, web: 192.168.100.10 }
  description: the internal zone
`;
}

/**
 * The corpus in a few groups, each concatenated into one string, for the (slower) render checks.
 * The long payload stays alone: targets that cut comments short must still see the others.
 */
export function payloadGroups(size = 5): Payload[] {
  const long = HOSTILE.filter((p) => p.text.length > 100);
  const short = HOSTILE.filter((p) => p.text.length <= 100);
  const out: Payload[] = long.map((p) => ({ ...p }));
  for (let i = 0; i < short.length; i += size) {
    const g = short.slice(i, i + size);
    out.push({ label: g.map((p) => p.label).join(' + '), text: g.map((p) => p.text).join('') });
  }
  return out;
}
