/**
 * Every diagnostic code cordon emits, in one table: its constant name, the severities it comes
 * with, a one-line title, what it means and how to fix it, and an example message. Emitters use the
 * named constants (`Code.IPV6_UNSUPPORTED`), never a bare string; docs/DIAGNOSTICS.md is generated
 * from this table and a test keeps the two equal (test/diag-codes.test.ts).
 *
 * Numbers are stable: add a new code after the highest, never renumber or reuse one (RETIRED
 * lists the numbers that once meant something and must stay unused).
 */
/** How bad a finding is (defined here, beside the codes, so the code table needs nothing from diagnostic.ts). */
export type Severity = 'error' | 'warning' | 'info';

export interface CodeInfo {
  /** The constant's name in `Code`: upper snake case, says the kind of problem. */
  readonly name: string;
  /** Every severity the code is emitted with; the first is the usual one. */
  readonly severities: readonly [Severity, ...Severity[]];
  /** One line, lower case, no full stop. */
  readonly title: string;
  readonly meaning: string;
  readonly fix: string;
  /** A message as cordon prints it (without file and position). */
  readonly example: string;
}

export const DIAG_CODES = {
  CORDON001: {
    name: 'FILE_UNREADABLE',
    severities: ['error'],
    title: 'file cannot be read',
    meaning: 'The spec or sandbox config file does not exist, is a directory, or cannot be opened.',
    fix: 'Check the path and its permissions.',
    example: 'cannot read spec: no such file',
  },
  CORDON002: {
    name: 'YAML_SYNTAX',
    severities: ['error', 'info'],
    title: 'YAML syntax error',
    meaning:
      'The file is not well-formed YAML (bad indentation, tabs, unclosed brackets, duplicate keys, nesting too deep). The info says how many further YAML errors were not shown.',
    fix: 'Fix the first error shown; the others often follow from it.',
    example: 'YAML syntax error: Tabs are not allowed as indentation',
  },
  CORDON003: {
    name: 'SCHEMA',
    severities: ['error'],
    title: 'value does not fit the schema',
    meaning: 'A field is unknown, missing or of the wrong type, or a value has none of the allowed forms.',
    fix: 'Follow the hint; `cordon schema` prints every field with its description.',
    example: "missing required field 'version'",
  },
  CORDON004: {
    name: 'UNKNOWN_NAME',
    severities: ['error'],
    title: 'unknown name',
    meaning: 'A reference names no declared host, service, network, tunnel or group (or a renderer option names an unknown host).',
    fix: 'Correct the spelling (the message lists the valid choices) or declare the name.',
    example: "unknown name 'olama': not a host, network, tunnel, group or built-in",
  },
  CORDON005: {
    name: 'ADDRESS_OUTSIDE_NETWORK',
    severities: ['error'],
    title: 'address is not inside its network',
    meaning: 'A nic address, gateway or route lies outside the CIDR of the network it is declared on.',
    fix: "Use an address inside the network's CIDR, or correct the CIDR.",
    example: "address 192.168.10.20 of host 'ollama' is not inside network 'vmbr1' (192.168.100.0/24)",
  },
  CORDON006: {
    name: 'DUPLICATE_ADDRESS',
    severities: ['error'],
    title: 'duplicate address',
    meaning: 'Two nics on the same network have the same address.',
    fix: 'Give each host its own address.',
    example: "address 192.168.100.20 of host 'ollama' is already used by host 'agentfarm'",
  },
  CORDON007: {
    name: 'OVERLAPPING_NETWORKS',
    severities: ['error'],
    title: 'overlapping networks',
    meaning: 'Two networks have overlapping CIDRs, so an address would not say which network it is on.',
    fix: 'Make the CIDRs disjoint.',
    example: "'vmbr1' (10.0.5.0/24) overlaps 'vmbr0' (10.0.0.0/16)",
  },
  CORDON008: {
    name: 'BAD_PORT',
    severities: ['error'],
    title: 'port out of range or malformed',
    meaning: 'A port is outside 1–65535, a range runs backwards, or a port item is not `proto/port[-port]`.',
    fix: 'Write ports as tcp/80, udp/5000-5010, tcp, udp, icmp or any.',
    example: 'port 70000 in "tcp/70000" is out of range: ports run from 1 to 65535',
  },
  CORDON009: {
    name: 'GROUP_CYCLE',
    severities: ['error'],
    title: 'cycle in groups',
    meaning: 'A group contains itself, directly or through other groups.',
    fix: 'Remove one of the memberships on the cycle the message prints.',
    example: 'groups form a cycle: a → b → a',
  },
  CORDON010: {
    name: 'BAD_ADDRESS',
    severities: ['error'],
    title: 'invalid address or CIDR',
    meaning: 'A value is not an IPv4 address or prefix where one is expected, or a prefix has host bits set.',
    fix: 'Write an address like 192.168.100.20 or a prefix like 192.168.100.0/24.',
    example: "'192.168.100.1/24' has host bits set",
  },
  CORDON011: {
    name: 'NAME_CLASH',
    severities: ['error'],
    title: 'name clash',
    meaning: 'A name is declared twice (networks, tunnels, hosts and groups share one namespace), is a built-in, or two DNS names differ only in case.',
    fix: 'Rename one of them.',
    example: "'internet' is a built-in endpoint and cannot be declared in hosts",
  },
  CORDON012: {
    name: 'TARGET_CANNOT_EXPRESS',
    severities: ['error', 'warning', 'info'],
    title: 'the render target cannot express this',
    meaning:
      "The spec is valid and verified, but the chosen render target (Proxmox, libvirt nwfilter, Kubernetes, WireGuard kill switch) cannot say part of it. An error means the target's output would not enforce the verified policy, so nothing is rendered; a warning says what was rendered differently (without a rate limit, by source address, leaving flows out); an info says what is left to another target.",
    fix: 'Follow the hint: render that part with another target (usually -t nftables or -t iptables --host H), set a target parameter (-p), or change the spec so the target can express it.',
    example:
      "proxmox: guest 'secure-vm' has no id, and a Proxmox guest firewall file is named by its vmid (/etc/pve/firewall/<vmid>.fw); secure-vm:guest-out and secure-vm:guest-in cannot be rendered",
  },
  CORDON013: {
    name: 'UNSUPPORTED_VERSION',
    severities: ['error'],
    title: 'unsupported version',
    meaning: 'The spec says a `version` this cordon does not read.',
    fix: 'Write `version: 1` (a number, not a string).',
    example: 'unsupported spec version 2: this cordon reads version 1',
  },
  CORDON014: {
    name: 'TUNNEL_INCONSISTENT',
    severities: ['error', 'warning'],
    title: 'inconsistent tunnel',
    meaning:
      'A tunnel, a peer or a vpn-only host does not fit together: a peer without an address in the tunnel, a vpn-only host on no tunnel, a tunnel without members.',
    fix: 'Give the host a nic (or via: and address) on the tunnel, or change its egress mode.',
    example: "host 'agent-vm' is vpn-only but is on no tunnel",
  },
  CORDON015: {
    name: 'WRONG_REFERENCE_KIND',
    severities: ['error'],
    title: 'invalid reference kind',
    meaning: 'A reference names something of a kind that is not allowed there, such as a group on one side of an expectation.',
    fix: 'Name one host, service, network or built-in; write one expectation per group member.',
    example: 'an expectation takes one host, service, network or built-in on each side, not a group',
  },
  CORDON016: {
    name: 'ROUTING',
    severities: ['error', 'warning'],
    title: 'routing problem',
    meaning: "A gateway or route cannot be reached from the host's networks, or a network's gateway belongs to no declared host.",
    fix: 'Put the gateway on one of the host’s networks, or declare the router that holds it.',
    example: "gateway 192.168.100.99 of network 'vmbr1' belongs to no declared host",
  },
  CORDON017: {
    name: 'KERNEL_NAME',
    severities: ['error'],
    title: 'kernel name cannot be generated',
    meaning: 'An interface, chain or namespace name is longer than the kernel allows, or no short name can be derived from the spec names.',
    fix: 'Set a shorter name (bridge, ifname) or shorten the host or network name.',
    example: "interface name 'llm-internal-network' has 20 characters; the kernel allows at most 15",
  },
  CORDON018: {
    name: 'UNSAFE_TEXT',
    severities: ['error'],
    title: 'unsafe identifier or text: characters a kernel or a rendered file cannot carry as they are',
    meaning:
      'A name or text from the spec contains characters (quotes, #, control or non-ASCII characters) that could change the meaning of a rendered file or are not valid in a kernel name.',
    fix: 'Use letters, digits, "_", "." and "-" in names; drop the quoted characters from comments.',
    example: 'interface name \'wg0"accept#\' contains \'"\', \'#\': an interface name is at most 15 bytes of letters, digits, "_", ".", "@" and "-"',
  },
  CORDON030: {
    name: 'SHADOWED_RULE',
    severities: ['warning'],
    title: 'shadowed rule',
    meaning: 'Earlier rules take all of the traffic of a rule, so it never matches (`cordon lint`). The message names a small set of the earlier rules.',
    fix: 'Move the rule above the rules that cover it if it should win, or delete it.',
    example:
      "'allow agent → ollama tcp/11434' is redundant and never matches (dead rule): 'allow agent → ollama tcp/11434' (line 15) allows all of its traffic first (pve:forward)",
  },
  CORDON031: {
    name: 'REDUNDANT_RULE',
    severities: ['warning'],
    title: 'redundant rule',
    meaning: 'Removing the rule changes no verdict (`cordon lint`).',
    fix: 'Delete it, or narrow the rule that makes it redundant.',
    example:
      "'allow pve → pve tcp/1' is redundant: removing it changes no verdict: its traffic falls to the chain default (cordon default for pve:output: accept (egress: open)), which allows it as well, with no rule of another action in between (pve:output)",
  },
  CORDON032: {
    name: 'ALLOW_DENY_OVERLAP',
    severities: ['info'],
    title: 'allow/deny overlap',
    meaning: 'An allow and a deny overlap in part; the message says where and which one wins (`cordon lint`).',
    fix: 'Nothing if the order is intended; otherwise reorder or narrow one of them.',
    example:
      "'allow wg-client → agentfarm.web' and the earlier 'deny wg0 → vmbr1' (line 47) overlap on tcp/8080 from wg-client (10.8.0.2) to agentfarm (192.168.100.10) in on wg0: there the earlier one denies (pve:forward)",
  },
  CORDON033: {
    name: 'UNUSED_GROUP',
    severities: ['warning'],
    title: 'unused group',
    meaning: 'A group is never referenced by a rule, an expectation or another group (`cordon lint`).',
    fix: 'Use it or remove it.',
    example: "group 'agents' is never used (it holds agent)",
  },
  CORDON034: {
    name: 'UNUSED_SERVICE',
    severities: ['warning'],
    title: 'unused service',
    meaning: 'A service is never referenced by a rule or an expectation (`cordon lint`).',
    fix: 'Use it or remove it.',
    example: "service 'ollama.api' (tcp/11434) is never used: no rule, expectation or control channel names it",
  },
  CORDON035: {
    name: 'PORT_TO_ANY',
    severities: ['warning'],
    title: 'port allowed to any destination',
    meaning:
      'A rule allows ports to any address, which also opens them towards other guests and the hypervisor, where a narrower target was probably meant (`cordon lint`).',
    fix: 'Allow to internet (or the intended hosts) instead of any.',
    example:
      "'allow agent → any tcp/22' allows tcp/22 to any address, not only to the internet, so it also reaches ollama (vm), pve (hypervisor) (VM-to-VM and VM-to-host)",
  },
  CORDON036: {
    name: 'TUNNEL_BLOCKED',
    severities: ['warning'],
    title: 'tunnel cannot come up',
    meaning: "The policy or a kill switch blocks the tunnel's own transport (its UDP to the server), so the VPN never comes up.",
    fix: 'Allow udp/LISTEN from the member to the tunnel server.',
    example: "tunnel 'wg0' cannot come up for workload-vm: its UDP transport to 203.0.113.1:51820 is dropped at workload-vm:output by the chain default drop",
  },
  CORDON037: {
    name: 'RULE_APPLIES_NOWHERE',
    severities: ['warning'],
    title: 'rule can never apply on any path',
    meaning: 'No path between the rule’s sources and destinations crosses an enforcement point, so it compiles into no chain (`cordon lint`).',
    fix: 'Check the from/to of the rule; the hosts may not share a network or enforcing host.',
    example: "'allow pve → pve tcp/22' never applies: no enforcement point cordon manages sees this traffic",
  },
  CORDON038: {
    name: 'IPV6_UNSUPPORTED',
    severities: ['error', 'warning'],
    title: 'IPv6 is not modelled yet',
    meaning:
      'An address or prefix is IPv6; cordon verifies and renders IPv4 only, so it refuses rather than leave IPv6 traffic unverified. The warning: guests sit on a network no managed host bridges, so the IPv6 drop every rendered rule set carries does not reach them there.',
    fix: 'Use IPv4 addresses and prefixes. For the warning: give the network an owner, or switch IPv6 off on the segment.',
    example: "'fd00::20' looks like IPv6, which cordon does not model yet",
  },
  CORDON039: {
    name: 'CHAIN_OFF_PATH',
    severities: ['warning'],
    title: 'hand-written chain is on no modelled path',
    meaning: 'A `firewalls:` entry names an enforcement point no modelled packet path crosses, so its rules decide nothing cordon verifies.',
    fix: 'Name an existing point (host:forward, host:input, guest:guest-out…), or give the host the firewall that creates it.',
    example: "hand-written chain 'pve:output' is not on any path cordon models",
  },
  CORDON040: {
    name: 'PORT_NOT_ON_HOST',
    severities: ['error'],
    title: 'rule matches a bridge port the host does not have',
    meaning:
      'A rule at an enforcement point matches traffic by a bridge port that is not on a bridge of the enforcing host, so the rendered rule could never match as verified; the target refuses it.',
    fix: 'Match by a port of a network this host owns, or move the rule to the host that owns the port.',
    example: 'pve:forward: rule from "allow agentfarm → ollama" matches bridge port tap999i0, which is not on a bridge of pve',
  },
  CORDON041: {
    name: 'NOT_IMPORTABLE',
    severities: ['error', 'warning'],
    title: 'imported rule set has what cordon cannot express',
    meaning:
      "A rule, expression, object or table read from a live rule set (`nft -j list ruleset`) has no equivalent in cordon's IR; it is left out or approximated, as the message says.",
    fix: 'Nothing to fix in the spec: the difference is reported so you know the import is partial; remove the construct from the rule set if the import must be exact.',
    example: 'inet cordon_pve_forward chain forward handle 4: not imported: masquerade',
  },
  CORDON042: {
    name: 'IMPORT_MALFORMED',
    severities: ['error'],
    title: 'not an nft JSON rule set',
    meaning: 'The document to import is not the JSON of `nft -j list ruleset`.',
    fix: 'Import the output of `nft -j list ruleset` as it is.',
    example: 'not an nft JSON document: expected {"nftables": [...]}, got a string',
  },
  CORDON043: {
    name: 'LINT_UNDECIDED',
    severities: ['info'],
    title: 'lint could not decide within its work limit',
    meaning: "Deciding whether a rule is shadowed would take more than lint's work limit; that rule is left unjudged rather than reported wrongly.",
    fix: 'Nothing is wrong; splitting very broad rules or groups makes the question smaller.',
    example: 'lint could not decide within its work limit whether "allow agents → internet" is shadowed in pve:forward',
  },
  CORDON044: {
    name: 'IMPORT_UNSUPPORTED',
    severities: ['warning', 'error'],
    title: 'imported configuration has what the importer does not understand',
    meaning:
      'A line of an imported configuration file (iptables, Proxmox .fw …) uses a construct the importer does not read, or one cordon cannot express exactly; the message says whether it was left out or widened. With --strict it is an error.',
    fix: 'Read the message: the imported spec is partial there. Rewrite the construct in a form cordon reads, or model it by hand in the spec.',
    example: '-m owner: not imported; the rule is treated as matching more than it does (ACCEPT widened)',
  },
  CORDON045: {
    name: 'IMPORT_SYNTAX',
    severities: ['error'],
    title: 'imported configuration file is malformed',
    meaning:
      'A configuration file given to `cordon import` or `cordon audit` is not well-formed in its own format (an unclosed quote, a rule outside a table, an unknown chain).',
    fix: 'Fix the file at the line shown; the tool that reads it (iptables-restore, pve-firewall) would refuse it too.',
    example: "no chain 'FOO' in table filter",
  },
  CORDON046: {
    name: 'IMPORT_IPV6',
    severities: ['warning', 'error'],
    title: 'imported IPv6 rules are not modelled',
    meaning: 'The imported configuration has IPv6 rules (ip6tables, an IPv6 address); cordon verifies IPv4 only, so they are left out of the imported spec.',
    fix: 'Nothing to fix in the file; check IPv6 separately, or drop IPv6 on the segment.',
    example: 'ip6tables rule not modelled: cordon verifies IPv4 only',
  },
  CORDON047: {
    name: 'IMPORT_NOTE',
    severities: ['info'],
    title: 'imported construct read but outside the reachability model',
    meaning:
      'A construct was understood but does not change which flows the filter allows (source NAT, logging), or is taken in a documented way (a rule-set default, a built-in rule of the source tool).',
    fix: 'Nothing to fix; the note says how the construct was taken.',
    example: 'nat POSTROUTING MASQUERADE: source NAT, does not change which flows are allowed',
  },
  CORDON048: {
    name: 'AUDIT_CHECK_FAILED',
    severities: ['error'],
    title: 'an invariant or expectation fails on the imported configuration',
    meaning:
      "`cordon audit` ran the topology's expectations and cordon's built-in invariants on what the imported files allow, and one fails; the location is the rule that lets the flow through (or the policy that drops it).",
    fix: 'Change the rule at the location shown; the hint suggests how.',
    example: 'invariant no-vm-to-host: agent-1 → kvm-host is allowed for tcp/22',
  },
  CORDON049: {
    name: 'IMPORT_RULE_INERT',
    severities: ['warning'],
    title: 'imported rule can never match the traffic it names',
    meaning:
      "A rule read from an existing configuration names traffic its enforcement point never sees, e.g. a Proxmox host (cluster.fw / host.fw) rule about a guest's address: the host firewall filters only the node's own traffic, bridged guest traffic never passes it.",
    fix: "Move the rule to where the traffic passes: for a Proxmox guest, the guest's own <vmid>.fw.",
    example: "IN rule names ct101's address 10.0.0.153, but host rules see only pve's own traffic: it never matches bridged traffic",
  },
  CORDON050: {
    name: 'BAD_BANDWIDTH',
    severities: ['error'],
    title: 'bandwidth limit cannot be enforced as written',
    meaning:
      "A host's `bandwidth:` has no direction, a peak below its average, or belongs to a host with no host-side port: limits are enforced outside the guest, on its port on a managed hypervisor's bridge.",
    fix: "Give inbound and/or outbound an average (kilobytes per second, libvirt's unit), a peak not below it, and limit only guests on a managed bridge.",
    example: "inbound peak 5000 of host 'agent-1' is below its average 10240",
  },
  CORDON055: {
    name: 'BRIDGED_LAN',
    severities: ['warning'],
    title: "a bridge's physical port puts guests on a LAN the policy separates them from",
    meaning:
      "A network lists physical ports (`ports: [enp1s0]`, ifupdown's bridge-ports), so the LAN beyond them shares the segment with the guests on it. Traffic between them is bridged, not routed: only bridge-level filtering stops it — the owner's forward rules through br_netfilter (net.bridge.bridge-nf-call-iptables=1) or a per-guest firewall — and frames that are not IPv4 pass a br_netfilter forward chain unfiltered (cordon's nftables bridge table drops all but IPv4 and ARP on guest ports; ARP always passes). The policy separates the guest from the LAN, and the guest has no per-guest firewall, so that separation rests on one sysctl of the owner.",
    fix: 'Give the guest a per-guest firewall (firewall: { guest: true }), or keep guests that must not meet the LAN on a bridge without a physical port and let the hypervisor route and filter between them.',
    example:
      "network 'vmbr0' bridges enp1s0: the LAN beyond it shares the segment with guest 'agentfarm', which the policy separates from it (lan → agentfarm: nothing; agentfarm → lan: nothing)",
  },
} as const satisfies Record<`CORDON${number}`, CodeInfo>;

export type DiagCode = keyof typeof DIAG_CODES;

/**
 * Numbers that once had a meaning and are never to be given a new one: 020 (expectation failed)
 * and 021 (invariant violated) were reserved while `cordon test` reported its results as values of
 * their own, never as diagnostics.
 */
export const RETIRED: readonly string[] = ['CORDON020', 'CORDON021'];

type Entry = { [K in DiagCode]: { readonly code: K; readonly name: (typeof DIAG_CODES)[K]['name'] } }[DiagCode];

/** Code by constant name: `Code.TARGET_CANNOT_EXPRESS === 'CORDON012'`. */
export const Code = Object.fromEntries(Object.entries(DIAG_CODES).map(([code, info]) => [info.name, code])) as {
  readonly [E in Entry as E['name']]: E['code'];
};

/** The entry for a code, or undefined when `text` is no code cordon emits (case-insensitive, `12` and `012` accepted). */
export function lookupCode(text: string): (CodeInfo & { readonly code: DiagCode }) | undefined {
  const m = /^(?:cordon)?0*(\d{1,3})$/i.exec(text.trim());
  if (!m) return undefined;
  const code = `CORDON${m[1]!.padStart(3, '0')}`;
  return Object.hasOwn(DIAG_CODES, code) ? { code: code as DiagCode, ...DIAG_CODES[code as DiagCode] } : undefined;
}
