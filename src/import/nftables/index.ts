/**
 * `cordon import --from nftables`: the JSON of `nft -j list ruleset` → the host's input, output
 * and forward hooks as hand-written `firewalls:` of a cordon spec, each rule commented with the
 * JSON path of the nft rule that decides it (`rules.json: $.nftables[12].rule`).
 *
 * The document is read with the nft-json reader apply uses (ruleset.ts, values.ts); each nft
 * table of family ip or inet becomes a table of chains that the iptables flattener walks (jumps,
 * gotos, returns), one rule per alternative of a set lookup. Several base chains on one hook run
 * in priority order (lowest first): a drop in any is final, an accept ends only its own chain and
 * the packet goes on to the next base chain (nftables wiki, "Configuring chains", base chain
 * priority: drops are immediate, an accept is not final for the hook). The imported point
 * is their composition, one first-match list. ip6, bridge, arp and netdev tables, other hooks,
 * NAT chains, maps and every expression cordon cannot express are located warnings, as the
 * iptables importer makes them (an ACCEPT widened, a DROP left out).
 */
import { diag, type Diagnostic, type SourcePos } from '../../diag/diagnostic.js';
import { Code } from '../../diag/codes.js';
import { ANY_BOX, boxToRule, intersectBox, unexpressible, type Box } from '../common/box.js';
import type { ImportRequest, ImportResult, Importer } from '../common/contract.js';
import { posText, type DraftFirewall, type DraftRule } from '../common/spec-writer.js';
import { flattenChain, MAX_RULES, type Effective } from '../iptables/flatten.js';
import { hostsOfFiles } from '../iptables/index.js';
import type { ParsedRule } from '../iptables/match.js';
import type { IptChain, IptRule, IptTable } from '../iptables/parse.js';
import { parseRuleset, tableKey, type NftChain, type NftRule, type NftSet } from '../nft-json/ruleset.js';
import { describeValue } from '../nft-json/values.js';
import { jsonErrorOffset } from './json-pos.js';
import { expandVmap, parseNftRule } from './match.js';
import { isForwarder, rulesetImportSpec } from '../common/ruleset-spec.js';

const HOOKS = ['input', 'forward', 'output'] as const;
type Hook = (typeof HOOKS)[number];

/** Where a position in the JSON text is, for a parse error. */
function lineCol(text: string, pos: number): { line: number; col: number } {
  const before = text.slice(0, pos).split('\n');
  return { line: before.length, col: (before[before.length - 1]?.length ?? 0) + 1 };
}

function jsonError(file: string, text: string, e: unknown): Diagnostic {
  const msg = e instanceof Error ? e.message : String(e);
  const m = /position (\d+)/.exec(msg);
  const off = m ? Number(m[1]) : jsonErrorOffset(text);
  const at = off !== undefined ? lineCol(text, off) : { line: 1, col: 1 };
  return diag(
    Code.IMPORT_MALFORMED,
    'error',
    `not JSON: ${msg.replace(/\s+/g, ' ').slice(0, 160)}`,
    { file, ...at },
    'give the output of `nft -j list ruleset` as it is',
  );
}

/** One combined rule of a hook: the packets, what happens to them, and the nft object that decides it. */
interface Decided {
  readonly box: Box;
  readonly action: 'accept' | 'drop' | 'reject';
  readonly index: number | undefined;
  readonly what: string;
  /** The JSON path of `index`, for the text of composed entries. */
  readonly where: string;
  /** The nft rule's own comment, kept in the imported rule's comment (JSON-quoted there). */
  readonly note: string | undefined;
}

const ANY_JSON = JSON.stringify(ANY_BOX);

class TooMany extends Error {}

/** The rule as nft printed it, without counters (their numbers change with every listing). */
function exprText(r: NftRule): string {
  return r.expr
    .filter((e) => !(typeof e === 'object' && e !== null && 'counter' in e))
    .map((e) => describeValue(e))
    .join(' ');
}

export const nftablesImporter: Importer = {
  name: 'nftables',
  description: 'the JSON of `nft -j list ruleset` (tables ip and inet; base chains input, forward, output)',
  paths: 'FILE… (HOST=FILE names the host a file is from)',
  import(req: ImportRequest): ImportResult {
    const ds: Diagnostic[] = [];
    const { files, diagnostics } = hostsOfFiles(req);
    ds.push(...diagnostics);
    const firewalls: DraftFirewall[] = [];
    const imported = new Set<string>();
    const forwarding = new Set<string>();
    for (const fh of files) {
      const text = req.tree.read(fh.file);
      if (text === undefined) {
        ds.push(diag(Code.FILE_UNREADABLE, 'error', `cannot read ${fh.file}`, { file: fh.file }));
        continue;
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (e) {
        ds.push(jsonError(fh.file, text, e));
        continue;
      }
      const rs = parseRuleset(json);
      if (!rs.ok) {
        ds.push(diag(Code.IMPORT_MALFORMED, 'error', rs.error, { file: fh.file, path: '$' }, 'give the output of `nft -j list ruleset` as it is'));
        continue;
      }
      const items = (json as { nftables: unknown[] }).nftables;
      const paths = items.map((it, i) => `$.nftables[${i}].${Object.keys(it as object)[0] ?? ''}`);
      // parseRuleset keeps each kind in document order: the k-th rule is the k-th "rule" item.
      const indexOf = (kind: string): number[] =>
        items.flatMap((it, i) => (Object.keys(it as object)[0] === kind && typeof (it as Record<string, unknown>)[kind] === 'object' ? [i] : []));
      const ruleIdx = indexOf('rule');
      const chainIdx = indexOf('chain');
      const setIdx = indexOf('set');
      const tableIdx = indexOf('table');
      const at = (i: number): { file: string; path: string } => ({ file: fh.file, path: paths[i] ?? '$' });
      const src = (i: number): SourcePos => ({ file: `${fh.file}: ${paths[i] ?? '$'}`, line: 0, col: 0 });
      imported.add(fh.host);

      // Tables cordon does not model: located warnings.
      const modelled = new Set<string>();
      rs.value.tables.forEach((t, k) => {
        if (t.family === 'ip' || t.family === 'inet') modelled.add(tableKey(t.family, t.name));
        else if (t.family === 'ip6')
          ds.push(diag(Code.IMPORT_IPV6, 'warning', `table ip6 ${t.name.slice(0, 60)}: IPv6 only, not modelled (cordon verifies IPv4 only)`, at(tableIdx[k]!)));
        else
          ds.push(
            diag(
              Code.IMPORT_UNSUPPORTED,
              'warning',
              `table ${t.family.slice(0, 20)} ${t.name.slice(0, 60)}: ${t.family} tables are not modelled (their rules are not read)`,
              at(tableIdx[k]!),
            ),
          );
      });
      rs.value.other.forEach((o) => {
        const i = items.findIndex((it) => Object.keys(it as object)[0] === o.kind && (it as Record<string, { name?: unknown }>)[o.kind]?.name === o.name);
        if (o.table !== undefined && o.family !== undefined && !modelled.has(tableKey(o.family, o.table))) return;
        ds.push(
          diag(
            Code.IMPORT_UNSUPPORTED,
            'warning',
            `${o.kind.slice(0, 30)} ${(o.name ?? '').slice(0, 60)}: not modelled`,
            i >= 0 ? at(i) : { file: fh.file, path: '$' },
          ),
        );
      });

      // Per modelled table: its chains as the iptables flattener's input, one rule per alternative.
      const tables = new Map<string, IptTable>();
      const eff = new Map<IptRule, Effective>();
      const baseChains: { chain: NftChain; index: number; table: IptTable }[] = [];
      rs.value.chains.forEach((c, k) => {
        const key = tableKey(c.family, c.table);
        if (!modelled.has(key)) return;
        let t = tables.get(key);
        if (!t) {
          t = { name: key, chains: new Map(), line: 0 };
          tables.set(key, t);
        }
        const policy = c.policy === 'drop' ? 'DROP' : 'ACCEPT';
        const ipt: IptChain = {
          name: c.name,
          builtin: c.hook !== undefined,
          policy,
          policyLine: chainIdx[k]!,
          policyText: `chain ${c.name} hook ${c.hook ?? ''} priority ${c.prio ?? 0}; policy ${c.policy ?? 'accept'}`,
          rules: [],
        };
        t.chains.set(c.name, ipt);
        if (c.hook === undefined) return;
        const hook = c.hook as Hook;
        if ((c.type ?? 'filter') !== 'filter' || !HOOKS.includes(hook)) {
          ds.push(
            diag(
              Code.IMPORT_UNSUPPORTED,
              'warning',
              `chain ${c.name.slice(0, 60)} (type ${(c.type ?? 'filter').slice(0, 20)} hook ${c.hook.slice(0, 20)}): not modelled; cordon reads filter chains at input, forward and output`,
              at(chainIdx[k]!),
            ),
          );
          return;
        }
        baseChains.push({ chain: c, index: chainIdx[k]!, table: t });
      });
      const setsOf = new Map<string, Map<string, NftSet>>();
      rs.value.sets.forEach((s, k) => {
        const key = tableKey(s.family, s.table);
        if (!modelled.has(key)) return;
        if (!setsOf.has(key)) setsOf.set(key, new Map());
        setsOf.get(key)!.set(s.name, s);
        if (s.flags.includes('dynamic') || s.elem.length === 0)
          ds.push(diag(Code.IMPORT_NOTE, 'info', `set ${s.name.slice(0, 60)}: read with the elements it holds now`, at(setIdx[k]!)));
      });
      rs.value.rules.forEach((r, k) => {
        const key = tableKey(r.family, r.table);
        const i = ruleIdx[k]!;
        if (!modelled.has(key)) return;
        const t = tables.get(key);
        const chain = t?.chains.get(r.chain);
        if (!t || !chain) {
          ds.push(diag(Code.IMPORT_SYNTAX, 'error', `rule of chain ${r.chain.slice(0, 60)}, which table ${key.slice(0, 80)} does not declare`, at(i)));
          return;
        }
        for (const one of expandVmap(r)) addRule(one, t, chain, key, i);
      });
      function addRule(r: NftRule, t: IptTable, chain: IptChain, key: string, i: number): void {
        const p = parseNftRule(r, setsOf.get(key) ?? new Map());
        if (p.errors.length > 0) {
          ds.push(diag(Code.IMPORT_SYNTAX, 'error', p.errors.slice(0, 3).join('; '), at(i)));
          return;
        }
        if (p.notV4) {
          ds.push(diag(Code.IMPORT_NOTE, 'info', 'matches IPv6 packets only: left out (cordon verifies IPv4 only)', at(i)));
          return;
        }
        const tg = p.target;
        if (tg.kind === 'jump' && !t.chains.has(tg.chain)) {
          ds.push(
            diag(Code.IMPORT_SYNTAX, 'error', `${tg.goto ? 'goto' : 'jump'} to chain '${tg.chain.slice(0, 60)}', which table ${key} does not declare`, at(i)),
          );
          return;
        }
        // A rule of a base chain that is not read (NAT, another hook) was reported with its chain.
        const unread = chain.builtin && !baseChains.some((b) => b.table === t && b.chain.name === chain.name);
        if (p.effects.length > 0 && !unread)
          ds.push(
            diag(
              Code.IMPORT_UNSUPPORTED,
              'warning',
              `statement ${p.effects.join(', ').slice(0, 80)}: not modelled; the packet is taken to go on unchanged`,
              at(i),
            ),
          );
        const unknown = [...p.unknown, ...(p.limited && tg.kind !== 'none' ? ['limit (the rule matches only up to a rate)'] : [])];
        if (unknown.length > 0 && tg.kind !== 'none') {
          const widen = tg.kind !== 'verdict' || tg.verdict === 'accept';
          ds.push({
            ...unexpressible(unknown, widen, tg.kind === 'verdict' ? tg.verdict : 'the jump', { file: fh.file, line: 0, col: 0 }),
            path: paths[i] ?? '$',
          });
          if (!widen) return;
        }
        for (const box of p.alts) {
          const ir: IptRule = { line: i, text: `${r.family} ${r.table} ${r.chain}: ${exprText(r)}`, args: [] };
          const parsed: ParsedRule = { box, target: tg, unknown: [], v6: false, errors: [], comment: r.comment, limited: false };
          chain.rules.push(ir);
          eff.set(ir, parsed);
        }
      }

      // Each hook: its base chains flattened, composed in priority order.
      for (const hook of HOOKS) {
        const chains = baseChains.filter((b) => b.chain.hook === hook).sort((a, b) => (a.chain.prio ?? 0) - (b.chain.prio ?? 0));
        const point = `${fh.host}:${hook}`;
        if (chains.length === 0) {
          if (hook === 'forward' && !isForwarder(req, fh.host)) continue;
          if (hook === 'forward') forwarding.add(fh.host);
          firewalls.push({ point, policy: 'accept', policySource: undefined, policyText: `no base chain at hook ${hook}: it accepts everything`, rules: [] });
          continue;
        }
        if (hook === 'forward') forwarding.add(fh.host);
        let combined: Decided[] | undefined;
        try {
          for (const b of chains) {
            const policy = b.chain.policy === 'drop' ? 'drop' : 'accept';
            const flat = flattenChain(b.table, b.table.chains.get(b.chain.name)!, (r) => eff.get(r), policy, fh.file);
            ds.push(...flat.diagnostics.map((d) => ({ ...d, line: 0, col: 0, path: paths[d.line] ?? '$' })));
            const list: Decided[] = flat.rules.map((fr) => ({
              box: fr.box,
              action: fr.action,
              index: fr.rule ? fr.rule.line : b.index,
              where: paths[fr.rule ? fr.rule.line : b.index] ?? '$',
              note: fr.rule ? eff.get(fr.rule)?.comment : undefined,
              what: fr.rule
                ? `${fr.rule.text}${fr.via.length > 0 ? ` (through ${fr.via.map((v) => paths[v]).join(', ')})` : ''}`
                : `policy ${policy} of ${b.chain.name} for what a return sent back`,
            }));
            list.push({
              box: ANY_BOX,
              action: policy,
              index: b.index,
              note: undefined,
              where: paths[b.index] ?? '$',
              what: `policy ${policy} of base chain ${b.chain.table} ${b.chain.name}`,
            });
            combined = combined === undefined ? list : compose(combined, list);
          }
        } catch (e) {
          if (!(e instanceof TooMany)) throw e;
          ds.push(
            diag(
              Code.IMPORT_UNSUPPORTED,
              'error',
              `hook ${hook}: its base chains compose to more than ${MAX_RULES} rules`,
              at(chains[0]!.index),
              'fewer base chains on one hook, or fewer accepts in the earlier ones',
            ),
          );
          continue;
        }
        const all = combined ?? [];
        const last = all[all.length - 1];
        const endsAny = last !== undefined && JSON.stringify(last.box) === ANY_JSON && last.action !== 'reject';
        const policy = endsAny && last.action === 'accept' ? 'accept' : 'drop';
        const body = endsAny ? all.slice(0, -1) : all;
        const policySource = endsAny && last.index !== undefined ? src(last.index) : undefined;
        const rules: DraftRule[] = [];
        for (const d of body) {
          const source = d.index !== undefined ? src(d.index) : { file: fh.file, line: 0, col: 0 };
          const rule = boxToRule(d.box, d.action, `${posText(source)}${d.note !== undefined ? ` ${d.note}` : ''}`);
          if (rule === undefined) continue;
          rules.push({ rule, source, sourceText: d.what });
        }
        firewalls.push({ point, policy, policySource, policyText: endsAny ? last.what : 'every packet is decided by the rules above', rules });
      }
    }
    return rulesetImportSpec({
      req,
      files,
      imported,
      forwarding,
      firewalls,
      diagnostics: ds,
      format: 'nftables',
      sources: 'nftables rule sets (nft -j list ruleset)',
      citedBy: 'the file and the JSON path of the nft rule',
    });
  },
};

/**
 * Base chain `next` after the decided list `prev` of the earlier base chains on the same hook:
 * what they drop or reject stays so, what they accept is decided again by `next`, in its order.
 */
function compose(prev: readonly Decided[], next: readonly Decided[]): Decided[] {
  const out: Decided[] = [];
  for (const p of prev) {
    if (p.action !== 'accept') {
      out.push(p);
      continue;
    }
    for (const n of next) {
      const box = intersectBox(p.box, n.box);
      if (!box) continue;
      out.push({ ...n, box, what: `${n.what} (after the accept at ${p.where})` });
      if (out.length > MAX_RULES) throw new TooMany();
    }
    // An earlier entry that takes every packet leaves nothing for the entries after it.
    if (JSON.stringify(p.box) === ANY_JSON) break;
  }
  return out;
}
