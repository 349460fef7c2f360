/**
 * nwfilter XML (`<filter name chain priority>` with `<rule>`s and `<filterref>`s) read into
 * entries, each with the file and line it came from. What the entries mean for a guest's port is
 * instantiate.ts's job; which filters libvirt itself ships is shipped.ts's.
 */
import { diag, type Diagnostic, type SourcePos } from '../../diag/diagnostic.js';
import { Code } from '../../diag/codes.js';
import { attr, kids, type XmlElement } from './xml.js';

export type Direction = 'in' | 'out' | 'inout';
export type NwAction = 'accept' | 'drop' | 'reject' | 'return' | 'continue';

export interface NwRule {
  readonly kind: 'rule';
  readonly action: NwAction;
  readonly direction: Direction;
  /** -1000…1000; lower runs first; 500 when not given. */
  readonly priority: number;
  /** statematch='false' turns off libvirt's automatic connection-state matching. */
  readonly statematch: boolean;
  /** The protocol element (`<tcp …/>`, `<all/>`, `<ip …/>`…); undefined for a rule without one (matches everything). */
  readonly match: XmlElement | undefined;
  readonly at: SourcePos;
  /** The rule as a short text, for the comment above the imported rule. */
  readonly text: string;
}

export interface NwRef {
  readonly kind: 'ref';
  readonly filter: string;
  readonly params: ReadonlyMap<string, readonly string[]>;
  readonly at: SourcePos;
}

export type NwEntry = NwRule | NwRef;

export interface NwFilter {
  readonly name: string;
  /** root, mac, stp, vlan, arp, rarp, ipv4, ipv6, or one of those with a `-suffix`. */
  readonly chain: string;
  /** The chain's priority when it is a sub-chain jumped to from root; undefined = the chain type's default. */
  readonly priority: number | undefined;
  readonly entries: readonly NwEntry[];
  readonly at: SourcePos;
  /** Shipped with libvirt (no file of the user's): its meaning comes from shipped.ts. */
  readonly shipped: boolean;
}

const ACTIONS: ReadonlySet<string> = new Set(['accept', 'drop', 'reject', 'return', 'continue']);
const DIRECTIONS: ReadonlySet<string> = new Set(['in', 'out', 'inout']);
const CHAIN_RE = /^(root|mac|stp|vlan|arp|rarp|ipv4|ipv6)(-[A-Za-z0-9_.:-]{1,40})?$/;

/** Default priority of a sub-chain by its type (libvirt's formatnwfilter "Filter chain priorities"). */
export const CHAIN_PRIORITY: Readonly<Record<string, number>> = { stp: -810, mac: -800, vlan: -750, ipv4: -700, ipv6: -600, arp: -500, rarp: -400 };

/** `<parameter name value>` children: values of one name form a list, as libvirt allows. */
export function paramsOf(el: XmlElement): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const p of kids(el, 'parameter')) {
    const n = attr(p, 'name');
    const v = attr(p, 'value');
    if (n === undefined || v === undefined) continue;
    out.set(n, [...(out.get(n) ?? []), v]);
  }
  return out;
}

function describe(el: XmlElement | undefined): string {
  if (!el) return 'any';
  const parts = [...el.attrs].filter(([k]) => k !== 'comment').map(([k, v]) => `${k}=${v.value}`);
  return parts.length > 0 ? `${el.name} ${parts.join(' ')}` : el.name;
}

function int(text: string | undefined, lo: number, hi: number): number | undefined {
  if (text === undefined || !/^-?\d{1,5}$/.test(text.trim())) return undefined;
  const n = Number(text);
  return n >= lo && n <= hi ? n : undefined;
}

/** One `<filter>` document; errors (bad action, direction, priority) are located and the rule is left out. */
export function readFilter(root: XmlElement, file: string, ds: Diagnostic[]): NwFilter | undefined {
  const at = (el: XmlElement): SourcePos => ({ file, line: el.line, col: el.col });
  const name = attr(root, 'name');
  if (name === undefined || !/^[A-Za-z0-9_.:-]{1,100}$/.test(name)) {
    ds.push(diag(Code.IMPORT_SYNTAX, 'error', `<filter> needs a name of letters, digits, '_', '.', ':' or '-'; got ${JSON.stringify(name ?? '')}`, at(root)));
    return undefined;
  }
  const chain = attr(root, 'chain') ?? 'root';
  if (!CHAIN_RE.test(chain)) {
    ds.push(
      diag(
        Code.IMPORT_SYNTAX,
        'error',
        `filter '${name}': chain '${chain.slice(0, 40)}' is none of root, mac, stp, vlan, arp, rarp, ipv4, ipv6 (optionally with a -suffix)`,
        at(root),
      ),
    );
    return undefined;
  }
  const prioText = attr(root, 'priority');
  const priority = prioText === undefined ? undefined : int(prioText, -1000, 1000);
  if (prioText !== undefined && priority === undefined)
    ds.push(diag(Code.IMPORT_SYNTAX, 'error', `filter '${name}': priority '${prioText.slice(0, 20)}' is not a number from -1000 to 1000`, at(root)));
  const entries: NwEntry[] = [];
  for (const el of root.children) {
    if (el.name === 'uuid') continue;
    if (el.name === 'filterref') {
      const f = attr(el, 'filter');
      if (f === undefined) {
        ds.push(diag(Code.IMPORT_SYNTAX, 'error', '<filterref> without filter=', at(el)));
        continue;
      }
      entries.push({ kind: 'ref', filter: f, params: paramsOf(el), at: at(el) });
      continue;
    }
    if (el.name !== 'rule') {
      ds.push(diag(Code.IMPORT_UNSUPPORTED, 'warning', `<${el.name}> in a filter: not read (a filter holds <rule> and <filterref>)`, at(el)));
      continue;
    }
    const action = attr(el, 'action') ?? '';
    const direction = attr(el, 'direction') ?? '';
    const rp = attr(el, 'priority');
    const rulePriority = rp === undefined ? 500 : int(rp, -1000, 1000);
    const problems: string[] = [];
    if (!ACTIONS.has(action)) problems.push(`action '${action.slice(0, 20)}' is none of accept, drop, reject, return, continue`);
    if (!DIRECTIONS.has(direction)) problems.push(`direction '${direction.slice(0, 20)}' is none of in, out, inout`);
    if (rulePriority === undefined) problems.push(`priority '${(rp ?? '').slice(0, 20)}' is not a number from -1000 to 1000`);
    const sm = attr(el, 'statematch');
    if (sm !== undefined && !['true', 'false', '0', '1'].includes(sm)) problems.push(`statematch '${sm.slice(0, 20)}' is neither true nor false`);
    const protos = el.children;
    if (protos.length > 1) problems.push(`a rule has one protocol element; this one has ${protos.length} (${protos.map((p) => p.name).join(', ')})`);
    if (problems.length > 0) {
      ds.push(diag(Code.IMPORT_SYNTAX, 'error', `filter '${name}': ${problems.join('; ')}`, at(el)));
      continue;
    }
    const match = protos[0];
    entries.push({
      kind: 'rule',
      action: action as NwAction,
      direction: direction as Direction,
      priority: rulePriority!,
      statematch: sm === undefined || sm === 'true' || sm === '1',
      match,
      at: at(el),
      text: `<rule action='${action}' direction='${direction}'${rp !== undefined ? ` priority='${rp}'` : ''}> ${describe(match)}${
        match?.attrs.get('comment') ? ` (${match.attrs.get('comment')!.value})` : ''
      }`,
    });
  }
  return { name, chain, priority, entries, at: at(root), shipped: false };
}
