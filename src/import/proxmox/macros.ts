/**
 * pve-firewall's macros (PVE/Firewall.pm, `$pve_fw_macros`) that stand for plain protocol and
 * destination-port sets, by name as the GUI writes them. Macros with source ports or ICMP types
 * (Ping, Traceroute…) are not here: a rule using one is reported as not imported exactly.
 * Shared by the Proxmox importer and the test-side checker of cordon's Proxmox output.
 */
export const MACROS: Readonly<Record<string, readonly { proto: string; dport: string }[]>> = {
  SSH: [{ proto: 'tcp', dport: '22' }],
  HTTP: [{ proto: 'tcp', dport: '80' }],
  HTTPS: [{ proto: 'tcp', dport: '443' }],
  Web: [
    { proto: 'tcp', dport: '80' },
    { proto: 'tcp', dport: '443' },
  ],
  DNS: [
    { proto: 'udp', dport: '53' },
    { proto: 'tcp', dport: '53' },
  ],
  SMTP: [{ proto: 'tcp', dport: '25' }],
  NTP: [{ proto: 'udp', dport: '123' }],
  MySQL: [{ proto: 'tcp', dport: '3306' }],
  PostgreSQL: [{ proto: 'tcp', dport: '5432' }],
  RDP: [{ proto: 'tcp', dport: '3389' }],
  Telnet: [{ proto: 'tcp', dport: '23' }],
};

/** The macro of that name, as pve-firewall looks it up (case-insensitively). */
export function findMacro(name: string): { name: string; flows: readonly { proto: string; dport: string }[] } | undefined {
  const key = Object.keys(MACROS).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : { name: key, flows: MACROS[key]! };
}
