/**
 * Proxmox VE firewall files (cluster.fw, host.fw, <vmid>.fw) → sections with line numbers, read
 * the way pve-firewall reads them (PVE/Firewall.pm parse_fw_rule and the section parsers; the
 * admin guide's "Proxmox VE Firewall" chapter): `[OPTIONS]`, `[RULES]`, `[ALIASES]`,
 * `[IPSET name]`, `[group name]`. A rule pve-firewall cannot parse (an option it does not know,
 * such as `-o`) is one it skips with a warning, so it is left out here too, with a located
 * warning; a FORWARD rule is read only by the nftables proxmox-firewall, so it is reported and left
 * out as well.
 */
import { diag, type Diagnostic } from '../../diag/diagnostic.js';
import { Code } from '../../diag/codes.js';

export type FwKind = 'cluster' | 'host' | 'vm';

export interface PveRule {
  readonly line: number;
  readonly text: string;
  readonly type: 'in' | 'out' | 'group';
  /** ACCEPT, DROP, REJECT; for a GROUP rule the group's name. */
  readonly action: string;
  readonly macro: string | undefined;
  readonly iface: string | undefined;
  readonly proto: string | undefined;
  readonly dport: string | undefined;
  readonly sport: string | undefined;
  readonly source: string | undefined;
  readonly dest: string | undefined;
  readonly icmpType: string | undefined;
  readonly comment: string | undefined;
}

export interface PveFile {
  readonly file: string;
  readonly options: ReadonlyMap<string, { value: string; line: number }>;
  /** Lower-case name → address text. */
  readonly aliases: ReadonlyMap<string, { value: string; line: number }>;
  /** Lower-case name → entries (`!` excludes). */
  readonly ipsets: ReadonlyMap<string, { entries: { value: string; not: boolean; line: number }[]; line: number }>;
  readonly groups: ReadonlyMap<string, { rules: PveRule[]; line: number }>;
  /** Enabled rules in order (disabled `|` rules are left out, as pve-firewall does). */
  readonly rules: readonly PveRule[];
}

const SECTIONS: Readonly<Record<FwKind, readonly string[]>> = {
  cluster: ['options', 'rules', 'aliases', 'ipset', 'group'],
  host: ['options', 'rules'],
  vm: ['options', 'rules', 'aliases', 'ipset'],
};

/** Options of a rule, as pve-firewall reads them (`-dport` and `--dport` alike, in current versions). */
const RULE_OPTS: Readonly<Record<string, keyof PveRule>> = {
  i: 'iface',
  p: 'proto',
  proto: 'proto',
  dport: 'dport',
  sport: 'sport',
  source: 'source',
  dest: 'dest',
  'icmp-type': 'icmpType',
};

function parseRuleLine(raw: string, line: number, file: string, inGroup: boolean, ds: Diagnostic[]): PveRule | undefined {
  const at = { file, line, col: 1 };
  let text = raw.trim();
  let comment: string | undefined;
  const hash = text.indexOf('#');
  if (hash >= 0) {
    comment = text.slice(hash + 1).trim();
    text = text.slice(0, hash).trim();
  }
  if (text.startsWith('|')) return undefined; // disabled
  const words = text.split(/\s+/);
  const [head = '', action = '', ...rest] = words;
  const type = head.toLowerCase();
  if (action === '') {
    ds.push(
      diag(Code.IMPORT_SYNTAX, 'error', `incomplete rule '${text.slice(0, 60)}'`, at, 'DIRECTION ACTION [OPTIONS], e.g. IN SSH(ACCEPT) -source 10.0.0.0/24'),
    );
    return undefined;
  }
  if (type === 'forward') {
    const from = /(?:^|\s)--?i\s+(\S+)/.exec(text)?.[1];
    const to = /(?:^|\s)--?o\s+(\S+)/.exec(text)?.[1];
    const oneWay = from && to ? `; and where FORWARD is read it would stop only ${from} → ${to}, never ${to} → ${from} (and -o is no rule option at all)` : '';
    ds.push(
      diag(
        Code.IMPORT_UNSUPPORTED,
        'warning',
        `FORWARD rule: the classic pve-firewall (iptables) does not accept this direction, only the nftables proxmox-firewall reads it; it is left out, so nothing filters what it names${oneWay}`,
        at,
        'filter traffic between bridges with per-guest IN/OUT rules (each VM/CT firewall), which pve-firewall applies on the bridge ports',
      ),
    );
    return undefined;
  }
  if (type !== 'in' && type !== 'out' && type !== 'group') {
    ds.push(diag(Code.IMPORT_SYNTAX, 'error', `unknown rule type '${head.slice(0, 20)}'`, at, 'IN, OUT or GROUP'));
    return undefined;
  }
  if (type === 'group' && inGroup) {
    ds.push(diag(Code.IMPORT_SYNTAX, 'error', 'a security group cannot hold a GROUP rule', at));
    return undefined;
  }
  let macro: string | undefined;
  let verdict = action;
  const mm = /^(\S+)\((ACCEPT|DROP|REJECT)\)$/.exec(action);
  if (type !== 'group') {
    if (mm) {
      macro = mm[1]!;
      verdict = mm[2]!;
    } else if (!/^(ACCEPT|DROP|REJECT)$/.test(action)) {
      ds.push(diag(Code.IMPORT_SYNTAX, 'error', `unknown action '${action.slice(0, 30)}'`, at, 'ACCEPT, DROP, REJECT or MACRO(ACTION)'));
      return undefined;
    }
  }
  const fields: Record<string, string> = {};
  for (let i = 0; i < rest.length; i += 2) {
    const m = /^--?([a-z-]+)$/.exec(rest[i]!);
    const key = m ? RULE_OPTS[m[1]!] : undefined;
    const value = rest[i + 1];
    if (key === undefined || value === undefined || (type === 'group' && key !== 'iface')) {
      ds.push(
        diag(
          Code.IMPORT_UNSUPPORTED,
          'warning',
          `pve-firewall cannot parse '${rest.slice(i).join(' ').slice(0, 60)}' ("unable to parse rule parameters") and skips the whole rule; so does the import`,
          at,
          'rule options are -i, -p, -dport, -sport, -source, -dest, -icmp-type (there is no -o)',
        ),
      );
      return undefined;
    }
    fields[key] = value;
  }
  return {
    line,
    text: raw.trim(),
    type,
    action: type === 'group' ? action : verdict,
    macro,
    iface: fields.iface,
    proto: fields.proto,
    dport: fields.dport,
    sport: fields.sport,
    source: fields.source,
    dest: fields.dest,
    icmpType: fields.icmpType,
    comment,
  };
}

export function parsePveFile(file: string, text: string, kind: FwKind): { fw: PveFile; diagnostics: Diagnostic[] } {
  const ds: Diagnostic[] = [];
  const options = new Map<string, { value: string; line: number }>();
  const aliases = new Map<string, { value: string; line: number }>();
  const ipsets = new Map<string, { entries: { value: string; not: boolean; line: number }[]; line: number }>();
  const groups = new Map<string, { rules: PveRule[]; line: number }>();
  const rules: PveRule[] = [];
  let section: { kind: string; name: string } | undefined;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const at = { file, line, col: 1 };
    const t = raw.trim();
    if (t === '' || t.startsWith('#')) return;
    if (t.startsWith('[')) {
      const h = /^\[(\w+)(?:\s+([A-Za-z][A-Za-z0-9_-]*))?\]\s*(?:#.*)?$/.exec(t);
      const word = h?.[1]?.toLowerCase();
      if (!h || word === undefined || !SECTIONS[kind].includes(word)) {
        ds.push(
          diag(
            Code.IMPORT_SYNTAX,
            'error',
            `section '${t.slice(0, 40)}' is not one a ${kind} file has`,
            at,
            `sections: ${SECTIONS[kind].map((s) => `[${s.toUpperCase()}]`).join(', ')}`,
          ),
        );
        section = undefined;
        return;
      }
      const name = (h[2] ?? '').toLowerCase();
      if ((word === 'ipset' || word === 'group') && name === '') {
        ds.push(diag(Code.IMPORT_SYNTAX, 'error', `[${h[1]}] needs a name`, at));
        section = undefined;
        return;
      }
      if (word === 'ipset') ipsets.set(name, { entries: [], line });
      if (word === 'group') groups.set(name, { rules: [], line });
      section = { kind: word, name };
      return;
    }
    if (!section) {
      ds.push(
        diag(
          Code.IMPORT_SYNTAX,
          'error',
          'line outside any section',
          at,
          'a .fw file is [OPTIONS], [RULES], [ALIASES], [IPSET name] and [group name] sections',
        ),
      );
      return;
    }
    switch (section.kind) {
      case 'options': {
        const m = /^([a-z_]+):\s*(\S+)\s*$/.exec(t);
        if (!m) ds.push(diag(Code.IMPORT_SYNTAX, 'error', `bad option line '${t.slice(0, 40)}'`, at, 'NAME: VALUE, e.g. enable: 1'));
        else options.set(m[1]!, { value: m[2]!, line });
        return;
      }
      case 'aliases': {
        const m = /^([A-Za-z][A-Za-z0-9_-]*)\s+(\S+)\s*(?:#.*)?$/.exec(t);
        if (!m) ds.push(diag(Code.IMPORT_SYNTAX, 'error', `bad alias line '${t.slice(0, 40)}'`, at, 'NAME ADDRESS'));
        else aliases.set(m[1]!.toLowerCase(), { value: m[2]!, line });
        return;
      }
      case 'ipset': {
        const m = /^(!)?\s*(\S+)\s*(?:#.*)?$/.exec(t);
        if (m) ipsets.get(section.name)!.entries.push({ value: m[2]!, not: m[1] === '!', line });
        return;
      }
      default: {
        const r = parseRuleLine(t, line, file, section.kind === 'group', ds);
        if (!r) return;
        if (section.kind === 'group') groups.get(section.name)!.rules.push(r);
        else rules.push(r);
      }
    }
  });
  return { fw: { file, options, aliases, ipsets, groups, rules }, diagnostics: ds };
}
