/**
 * `cordon audit`: an imported spec through the normal pipeline (model → IR → lint, invariants,
 * expectations, matrix), with every finding shown at the original file and line.
 *
 * Findings on the spec's own lines are moved to the source line the importer recorded for them.
 * A failed invariant or expectation becomes a CORDON048 located at the imported rule that decides
 * the witness flow (the accepting rule for a leak, the dropping rule or policy for a blocked
 * flow); a tunnel that cannot come up (CORDON037) moves from the tunnel's declaration to the rule
 * that drops its transport. Each says how to fix it in the source's own terms.
 */
import { diag, sortDiagnostics, type Diagnostic, type SourcePos } from '../../diag/diagnostic.js';
import { Code } from '../../diag/codes.js';
import { compile } from '../../ir/compile.js';
import type { Ir } from '../../ir/types.js';
import { loadModelFromText } from '../../model/load.js';
import type { Origin } from '../../model/types.js';
import { runChecks, type CheckResult } from '../../verify/checks.js';
import { Engine } from '../../verify/engine.js';
import { explain, type Decision, type Explanation, type HopExplanation } from '../../verify/explain.js';
import { lint } from '../../verify/lint.js';
import type { ImportResult } from './contract.js';

export interface AuditResult {
  /** Every finding, located at the original files where the importer recorded a source. */
  readonly diagnostics: readonly Diagnostic[];
  /** Every check that ran (expectations of the topology, cordon's invariants). */
  readonly checks: readonly CheckResult[];
  /** The compiled imported configuration; undefined when the input was bad. */
  readonly ir: Ir | undefined;
  readonly engine: Engine | undefined;
}

/** Where the topology's own values are: what the spec took from it (hosts, expectations) is shown there. */
export interface TopologyLocator {
  readonly file: string;
  pos(path: readonly (string | number)[]): { line: number; col: number };
}

/** `expect[0].from` → ['expect', 0, 'from']. */
function pathSegs(path: string): (string | number)[] {
  return [...path.matchAll(/\[(\d+)\]|"([^"]*)"|([^.[\]"]+)/g)].map((m) => (m[1] !== undefined ? Number(m[1]) : (m[2] ?? m[3]!)));
}

/**
 * A diagnostic on the imported spec moved to where its line came from: the source line the
 * importer recorded, else the same value in the topology file. Positions of the spec quoted in its
 * message (`imported.yaml:12`) are moved too.
 */
export function relocate(d: Diagnostic, specFile: string, origins: ReadonlyMap<number, SourcePos>, topology?: TopologyLocator): Diagnostic {
  if (d.file !== specFile) return d;
  const message = d.message.replace(new RegExp(`${specFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:(\\d+)`, 'g'), (all, n: string) => {
    const src = origins.get(Number(n));
    return src ? `${src.file}:${src.line}` : all;
  });
  const src = origins.get(d.line);
  if (src) return { ...d, message, file: src.file, line: src.line, col: src.col };
  if (topology && d.path !== '') {
    const p = topology.pos(pathSegs(d.path));
    if (p.line > 0) return { ...d, message, file: topology.file, line: p.line, col: p.col };
  }
  return { ...d, message };
}

function sourceOf(o: Origin, specFile: string, origins: ReadonlyMap<number, SourcePos>): SourcePos | undefined {
  return o.file === specFile ? origins.get(o.line) : undefined;
}

function decisionOrigin(d: Decision): Origin | undefined {
  return d.kind === 'rule' || d.kind === 'default' ? d.origin : undefined;
}

function decisionText(h: HopExplanation): string {
  const d = h.decision;
  if (d.kind === 'rule') return `${d.action.toUpperCase()} at ${h.point}`;
  if (d.kind === 'default') return `policy ${d.policy.toUpperCase()} of ${h.point}`;
  return h.point;
}

/** The hop that decides a witness: for an allowed flow the last accepting imported rule, for a denied one the dropping hop. */
function decidingHop(w: Explanation, specFile: string, origins: ReadonlyMap<number, SourcePos>): { hop: HopExplanation; src: SourcePos } | undefined {
  const hops = w.path?.hops ?? [];
  const pick = w.verdict === 'allow' ? hops.filter((h) => h.verdict === 'accept') : hops.filter((h) => h.verdict === 'drop');
  // Prefer a rule over a policy: a rule is what to change; then the hop nearest the source.
  const located = pick
    .map((hop) => {
      const o = decisionOrigin(hop.decision);
      const src = o ? sourceOf(o, specFile, origins) : undefined;
      return src ? { hop, src } : undefined;
    })
    .filter((x) => x !== undefined);
  return located.find((x) => x.hop.decision.kind === 'rule') ?? located[0];
}

/** Set when the only thing between the two ends is a firewall inside the (compromised) guest. */
function inGuestOnly(w: Explanation): string | undefined {
  const hops = w.path?.hops ?? [];
  const ignored = hops.find((h) => h.decision.kind === 'ignored-in-guest');
  return ignored && w.assume === 'compromised'
    ? `only ${ignored.point}, a firewall inside the guest, stands in the way, and a compromised guest removes it: enforce this outside the guest (its hypervisor or router)`
    : undefined;
}

function fixHint(c: CheckResult, w: Explanation, hop: HopExplanation): string {
  if (w.verdict === 'allow') {
    const d = hop.decision;
    return d.kind === 'rule'
      ? `this rule lets ${w.from} reach ${w.to} (${w.flow}): narrow its source or destination so it does not match that, or drop it in a rule before this one`
      : `the policy accepts what no rule drops: drop ${w.flow} from ${w.from} to ${w.to} before it, or make the policy DROP`;
  }
  return hop.decision.kind === 'rule'
    ? `this rule drops ${w.flow} from ${w.from} to ${w.to}: accept it in a rule before this one${c.kind === 'expect' ? ' (the topology expects it allowed)' : ''}`
    : `nothing accepts ${w.flow} from ${w.from} to ${w.to} before the DROP policy: add an ACCEPT for it`;
}

function checkDiagnostic(c: CheckResult, specFile: string, origins: ReadonlyMap<number, SourcePos>, topology: TopologyLocator | undefined): Diagnostic {
  const w = c.witness;
  const found = w ? decidingHop(w, specFile, origins) : undefined;
  const label = c.kind === 'invariant' ? `invariant ${c.name}` : `expectation '${c.name}'`;
  const view = c.assume === 'compromised' ? ' (guest compromised)' : '';
  const guestOnly = w ? inGuestOnly(w) : undefined;
  if (w && found && !guestOnly) {
    return diag(
      Code.AUDIT_CHECK_FAILED,
      'error',
      `${label}${view}: ${c.message}; decided by ${decisionText(found.hop)} (${w.flow})`,
      { file: found.src.file, line: found.src.line, col: found.src.col },
      fixHint(c, w, found.hop),
    );
  }
  const d = diag(
    Code.AUDIT_CHECK_FAILED,
    'error',
    `${label}${view}: ${c.message}`,
    { file: c.origin.file, line: c.origin.line, col: c.origin.col, path: c.origin.path },
    guestOnly,
  );
  return relocate(d, specFile, origins, topology);
}

/** CORDON037 at the rule or policy that drops the tunnel's transport, instead of the tunnel's declaration. */
function tunnelLocated(ir: Ir, engine: Engine, specFile: string, origins: ReadonlyMap<number, SourcePos>): Map<string, { src: SourcePos; what: string }> {
  const out = new Map<string, { src: SourcePos; what: string }>();
  for (const t of ir.model.tunnels.values()) {
    for (const m of ir.model.hosts.values()) {
      if (m.name === t.server || !m.nics.some((n) => n.segment === t.name)) continue;
      const check = engine.checkTransport({ tunnel: t.name, peer: m.name }, 'configured');
      if (check.ok || !check.reach) continue;
      const why = explain(ir, check.reach, { proto: 'udp', port: t.listen });
      const drop = why.path?.hops.find((h) => h.verdict === 'drop');
      const o = drop ? decisionOrigin(drop.decision) : undefined;
      const src = o ? sourceOf(o, specFile, origins) : undefined;
      if (drop && src) out.set(`'${t.name}' cannot come up for ${m.name}:`, { src, what: decisionText(drop) });
    }
  }
  return out;
}

/** Lint findings about the spec language itself, meaningless for an import (it has no policy to use them). */
const SPEC_ONLY: ReadonlySet<string> = new Set([Code.UNUSED_SERVICE, Code.UNUSED_GROUP]);

/**
 * A shadowed, redundant or overlap finding about a rule the source tool adds itself (pve-firewall's
 * established/loopback rules, libvirt's network rules and the reverses nwfilter adds): not the user's to remove. Importers mark such rules "built-in:" in
 * their comment, which lint quotes as the rule's name.
 */
function aboutBuiltin(d: Diagnostic): boolean {
  return (d.code === Code.SHADOWED_RULE || d.code === Code.REDUNDANT_RULE || d.code === Code.ALLOW_DENY_OVERLAP) && /^'[^']*built-in:/.test(d.message);
}

/** Audits an import. `specFile` is the name the imported spec is given in diagnostics. */
export function auditImport(imp: ImportResult, specFile: string, topology?: TopologyLocator): AuditResult {
  const importDs = [...imp.diagnostics];
  if (importDs.some((d) => d.severity === 'error')) return { diagnostics: sortDiagnostics(importDs), checks: [], ir: undefined, engine: undefined };
  const loaded = loadModelFromText(imp.text, specFile);
  const moved = (ds: readonly Diagnostic[]): Diagnostic[] =>
    ds.filter((d) => !SPEC_ONLY.has(d.code) && !aboutBuiltin(d)).map((d) => relocate(d, specFile, imp.origins, topology));
  if (!loaded.model) return { diagnostics: sortDiagnostics([...importDs, ...moved(loaded.diagnostics)]), checks: [], ir: undefined, engine: undefined };
  const ir = compile(loaded.model);
  const engine = new Engine(ir);
  const tunnels = tunnelLocated(ir, engine, specFile, imp.origins);
  const linted = lint(ir, { source: loaded.source }).map((d) => {
    if (d.code !== Code.TUNNEL_BLOCKED) return d;
    for (const [key, at] of tunnels)
      if (d.message.includes(key)) return { ...relocate(d, specFile, imp.origins), file: at.src.file, line: at.src.line, col: at.src.col, path: '' };
    return d;
  });
  const checks = runChecks(ir, engine);
  const failed = checks.filter((c) => !c.ok).map((c) => checkDiagnostic(c, specFile, imp.origins, topology));
  return {
    diagnostics: sortDiagnostics([...importDs, ...moved(loaded.diagnostics), ...moved(ir.diagnostics), ...moved(linted), ...failed]),
    checks,
    ir,
    engine,
  };
}
