/**
 * `cordon import --from iptables`: iptables-save output (or a script of iptables commands) → the
 * host's input, output and forward chains as hand-written `firewalls:` of a cordon spec.
 *
 * The filter table is flattened per built-in chain (flatten.ts); each emitted rule names the
 * line that decides it. A rule with a match cordon cannot express (source ports, ICMP types,
 * owner, negated interfaces…) is taken the way that keeps "what may this allow?" honest: an
 * ACCEPT (or a jump) is widened to match without it, a DROP or REJECT is left out; either way a
 * located CORDON044 says so. The nat table is read for what it means to reachability: port
 * forwards (DNAT, REDIRECT) are warnings, since the matrix does not follow translated
 * destinations; source NAT is a note. IPv6 (ip6tables, rules.v6) is a CORDON046 warning.
 * Files that are `ipset save` output provide the sets `-m set` refers to.
 */
import { basename, dirname } from 'node:path';
import { diag, type Diagnostic } from '../../diag/diagnostic.js';
import { Code } from '../../diag/codes.js';
import * as R from '../../util/rangeset.js';
import type { RangeSet } from '../../util/rangeset.js';
import { boxToRule, unexpressible } from '../common/box.js';
import type { ImportRequest, ImportResult, Importer } from '../common/contract.js';
import { posText, type DraftFirewall, type DraftRule } from '../common/spec-writer.js';
import { flattenChain, type Effective } from './flatten.js';
import { parseIpsetSave, parseRule, type ParsedRule } from './match.js';
import { parseIptables, type IptDoc, type IptRule, type IptTable } from './parse.js';
import { isForwarder, rulesetImportSpec } from '../common/ruleset-spec.js';

/** Targets that only record or count: the packet goes on, nothing changes. */
const RECORDING = new Set(['LOG', 'NFLOG', 'ULOG', 'TRACE', 'AUDIT']);
const DEST_NAT = new Set(['DNAT', 'REDIRECT', 'NETMAP']);
const SRC_NAT = new Set(['SNAT', 'MASQUERADE']);

export interface FileHost {
  readonly file: string;
  readonly host: string;
}

/** Which host each file is: `HOST=FILE`, else --host, else its folder's name when that is a topology host, else the topology's only managed host. */
export function hostsOfFiles(req: ImportRequest): { files: FileHost[]; diagnostics: Diagnostic[] } {
  const ds: Diagnostic[] = [];
  const topoHosts = req.topology?.spec.hosts ?? {};
  const managed = Object.entries(topoHosts).filter(([, h]) => h.managed ?? ['hypervisor', 'router', 'server'].includes(h.kind));
  const files: FileHost[] = [];
  for (const p of req.paths) {
    const eq = /^([A-Za-z0-9][A-Za-z0-9_-]*)=(.+)$/.exec(p);
    if (eq) {
      files.push({ host: eq[1]!, file: eq[2]! });
      continue;
    }
    const dir = basename(dirname(p));
    const host = req.host ?? (dir in topoHosts ? dir : managed.length === 1 ? managed[0]![0] : req.topology ? undefined : 'host');
    if (host === undefined) {
      ds.push(
        diag(
          Code.IMPORT_SYNTAX,
          'error',
          `which host is ${p} from? the topology has ${managed.length} managed hosts`,
          { file: p },
          'name it with --host HOST, or give the file as HOST=FILE',
        ),
      );
      continue;
    }
    files.push({ host, file: p });
  }
  return { files, diagnostics: ds };
}

function isV6File(doc: IptDoc, file: string): boolean {
  return /\.v6$|ip6tables/.test(basename(file)) || (doc.v6Lines.length > 0 && doc.tables.size === 0);
}

function effectiveRules(doc: IptDoc, table: IptTable, sets: ReadonlyMap<string, RangeSet>, ds: Diagnostic[]): Map<IptRule, Effective> {
  const out = new Map<IptRule, Effective>();
  for (const chain of table.chains.values()) {
    for (const r of chain.rules) {
      const at = { file: doc.file, line: r.line, col: 1 };
      const p = parseRule(r.args, sets);
      if (p.errors.length > 0) {
        ds.push(diag(Code.IMPORT_SYNTAX, 'error', p.errors.join('; '), at));
        out.set(r, undefined);
        continue;
      }
      if (p.v6) {
        ds.push(diag(Code.IMPORT_IPV6, 'warning', 'IPv6 rule not modelled: cordon verifies IPv4 only', at));
        out.set(r, undefined);
        continue;
      }
      const t = p.target;
      const isChain = t.kind === 'jump' && table.chains.has(t.chain);
      if (t.kind === 'jump' && !isChain) {
        if (!(RECORDING.has(t.chain) || DEST_NAT.has(t.chain) || SRC_NAT.has(t.chain) || /^[A-Z][A-Z0-9_]*$/.test(t.chain))) {
          ds.push(
            diag(Code.IMPORT_SYNTAX, 'error', `no chain '${t.chain.slice(0, 40)}' in table ${table.name}`, at, 'declare it (:CHAIN - or iptables -N CHAIN)'),
          );
          out.set(r, undefined);
          continue;
        }
        if (!RECORDING.has(t.chain) && table.name === 'filter')
          ds.push(diag(Code.IMPORT_UNSUPPORTED, 'warning', `target ${t.chain}: not modelled; the packet is taken to go on to the next rule`, at));
        out.set(r, p);
        continue;
      }
      const widen = t.kind !== 'verdict' || t.verdict === 'accept';
      const limits = p.limited && t.kind === 'verdict' ? ['-m limit (the rule matches only up to a rate)'] : [];
      const unknown = [...p.unknown, ...limits];
      if (unknown.length > 0) {
        ds.push(unexpressible(unknown, widen, t.kind === 'verdict' ? (widen ? 'ACCEPT' : t.verdict.toUpperCase()) : 'the jump', at));
        if (!widen) {
          out.set(r, undefined);
          continue;
        }
      }
      out.set(r, p);
    }
  }
  return out;
}

/** The nat table's meaning for reachability, one diagnostic per translating rule. */
function natFindings(doc: IptDoc, table: IptTable, ds: Diagnostic[]): void {
  for (const chain of table.chains.values()) {
    for (const r of chain.rules) {
      const p: ParsedRule = parseRule(r.args, new Map());
      const at = { file: doc.file, line: r.line, col: 1 };
      if (p.target.kind !== 'jump' || table.chains.has(p.target.chain) || RECORDING.has(p.target.chain)) continue;
      const name = p.target.chain;
      if (DEST_NAT.has(name))
        ds.push(
          diag(
            Code.IMPORT_UNSUPPORTED,
            'warning',
            `nat ${chain.name} ${name}: a port forward; cordon does not follow translated destinations, so flows it opens are not in the matrix`,
            at,
            'declare the forwarded service on the host it reaches and an allow rule for it in the topology',
          ),
        );
      else if (SRC_NAT.has(name)) ds.push(diag(Code.IMPORT_NOTE, 'info', `nat ${chain.name} ${name}: source NAT, does not change which flows are allowed`, at));
      else ds.push(diag(Code.IMPORT_UNSUPPORTED, 'warning', `nat ${chain.name} target ${name}: not modelled`, at));
    }
  }
}

const HOOK_OF: Readonly<Record<string, 'input' | 'output' | 'forward'>> = { INPUT: 'input', OUTPUT: 'output', FORWARD: 'forward' };

function viaText(via: readonly number[]): string {
  return via.length === 0 ? '' : ` (through the jump${via.length > 1 ? 's' : ''} at line${via.length > 1 ? 's' : ''} ${via.join(', ')})`;
}

export const iptablesImporter: Importer = {
  name: 'iptables',
  description: 'iptables-save output (rules.v4) or a script of iptables commands; ipset save files for -m set',
  paths: 'FILE… (HOST=FILE names the host a file is from; ipset save files are recognised by their content)',
  import(req: ImportRequest): ImportResult {
    const ds: Diagnostic[] = [];
    const { files, diagnostics } = hostsOfFiles(req);
    ds.push(...diagnostics);
    const texts: { fh: (typeof files)[number]; text: string }[] = [];
    const sets = new Map<string, RangeSet>();
    for (const fh of files) {
      const text = req.tree.read(fh.file);
      if (text === undefined) {
        ds.push(diag(Code.FILE_UNREADABLE, 'error', `cannot read ${fh.file}`, { file: fh.file }));
        continue;
      }
      const ipsets = parseIpsetSave(text);
      if (ipsets) for (const [k, v] of ipsets.sets) sets.set(k, R.union(sets.get(k) ?? R.EMPTY, v));
      else texts.push({ fh, text });
    }
    const firewalls: DraftFirewall[] = [];
    const imported = new Set<string>();
    const forwarding = new Set<string>();
    for (const { fh, text } of texts) {
      const doc = parseIptables(fh.file, text);
      ds.push(...doc.diagnostics);
      if (isV6File(doc, fh.file)) {
        ds.push(
          diag(Code.IMPORT_IPV6, 'warning', `${basename(fh.file)} is an IPv6 rule set: not modelled, cordon verifies IPv4 only`, {
            file: fh.file,
            line: doc.v6Lines[0] ?? 1,
            col: 1,
          }),
        );
        continue;
      }
      if (doc.v6Lines.length > 0)
        ds.push(
          diag(
            Code.IMPORT_IPV6,
            'warning',
            `${doc.v6Lines.length} ip6tables line${doc.v6Lines.length === 1 ? '' : 's'} not modelled: cordon verifies IPv4 only`,
            {
              file: fh.file,
              line: doc.v6Lines[0]!,
              col: 1,
            },
          ),
        );
      for (const t of doc.tables.values()) {
        if (t.name === 'nat') natFindings(doc, t, ds);
        else if (t.name !== 'filter' && [...t.chains.values()].some((c) => c.rules.length > 0))
          ds.push(diag(Code.IMPORT_UNSUPPORTED, 'warning', `table ${t.name}: not modelled (its rules are not read)`, { file: fh.file, line: t.line, col: 1 }));
      }
      const filter = doc.tables.get('filter');
      imported.add(fh.host);
      const eff = filter ? effectiveRules(doc, filter, sets, ds) : new Map<IptRule, Effective>();
      for (const builtin of ['INPUT', 'FORWARD', 'OUTPUT']) {
        const chain = filter?.chains.get(builtin);
        const policy = chain?.policy === 'DROP' ? 'drop' : 'accept';
        const point = `${fh.host}:${HOOK_OF[builtin]!}`;
        const policySource = chain && chain.policyLine > 0 ? { file: fh.file, line: chain.policyLine, col: 1 } : undefined;
        const policyText = policySource ? chain!.policyText : `${builtin} has no policy line: ACCEPT, as the kernel starts`;
        if (!chain) {
          if (builtin !== 'FORWARD')
            firewalls.push({
              point,
              policy: 'accept',
              policySource: undefined,
              policyText: `${fh.file} has no filter table: ${builtin} accepts everything`,
              rules: [],
            });
          continue;
        }
        const flat = flattenChain(filter!, chain, (r) => eff.get(r), policy, fh.file);
        ds.push(...flat.diagnostics);
        if (builtin === 'FORWARD') {
          if (flat.rules.length === 0 && policy === 'accept' && !isForwarder(req, fh.host)) continue;
          forwarding.add(fh.host);
        }
        const rules: DraftRule[] = [];
        for (const fr of flat.rules) {
          const source = fr.rule ? { file: fh.file, line: fr.rule.line, col: 1 } : (policySource ?? { file: fh.file, line: 0, col: 0 });
          const what = fr.rule ? fr.rule.text : `policy ${policy.toUpperCase()} of ${builtin} for what a RETURN sent back`;
          const comment = `${posText(source)}${fr.rule && eff.get(fr.rule)?.comment ? ` ${eff.get(fr.rule)!.comment}` : ''}`;
          const rule = boxToRule(fr.box, fr.action, comment);
          if (rule === undefined) continue;
          rules.push({ rule, source, sourceText: `${what}${viaText(fr.via)}` });
        }
        firewalls.push({ point, policy, policySource, policyText, rules });
      }
    }
    return rulesetImportSpec({
      req,
      files,
      imported,
      forwarding,
      firewalls,
      diagnostics: ds,
      format: 'iptables',
      sources: 'iptables rule sets',
      citedBy: 'the file and line',
    });
  },
};
