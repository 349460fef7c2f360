/**
 * The imported spec as YAML text: the topology part (networks, hosts, tunnels…) as the `yaml`
 * package writes it, then the imported chains under `firewalls:`, one rule per line, each after a
 * comment that quotes the source line it came from. The writer records which line of its text came
 * from which source line, so findings on the spec can be shown at the original file.
 */
import type { SourcePos } from '../../diag/diagnostic.js';
import type { FirewallRuleSpecT, Spec } from '../../spec/schema.js';
import { yamlLib } from '../../spec/yaml-lib.js';

/** One imported rule and where it came from. */
export interface DraftRule {
  readonly rule: FirewallRuleSpecT;
  readonly source: SourcePos;
  /** The source construct as written, quoted in the comment above the rule. */
  readonly sourceText: string;
}

/** One imported chain: an enforcement point `HOST:HOOK`. */
export interface DraftFirewall {
  readonly point: string;
  readonly policy: 'accept' | 'drop';
  readonly policySource: SourcePos | undefined;
  readonly policyText: string;
  readonly rules: readonly DraftRule[];
}

export interface SpecDraft {
  /** Comment lines at the top of the file (without `# `). */
  readonly header: readonly string[];
  /** Everything but `firewalls:` (and without `policy:`: the imported rules are the policy). */
  readonly base: Omit<Spec, 'firewalls'>;
  /** Hand-written chains kept from the topology, as they were. */
  readonly keptFirewalls: NonNullable<Spec['firewalls']>;
  readonly firewalls: readonly DraftFirewall[];
}

/** Text safe on one comment line: no line breaks, no control or bidi-override characters, bounded. */
export function commentText(s: string, max = 160): string {
  const flat = s.replace(/[\p{Cc}\p{Cf}\u2028\u2029]/gu, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

export function posText(p: SourcePos): string {
  return p.line > 0 ? `${p.file}:${p.line}` : p.file;
}

export function writeSpec(draft: SpecDraft): { text: string; origins: Map<number, SourcePos> } {
  const lines: string[] = [];
  const origins = new Map<number, SourcePos>();
  for (const h of draft.header) lines.push(h === '' ? '#' : `# ${commentText(h, 200)}`);
  const yaml = yamlLib();
  // Plain objects only (no anchors): a topology that shared a map through a YAML alias is written out in full.
  const base = yaml.stringify(draft.base, { aliasDuplicateObjects: false, lineWidth: 0 }).trimEnd();
  lines.push(...base.split('\n'));
  const kept = Object.keys(draft.keptFirewalls);
  if (draft.firewalls.length > 0 || kept.length > 0) {
    lines.push('', 'firewalls:');
    if (kept.length > 0) {
      const keptText = yaml.stringify(draft.keptFirewalls, { aliasDuplicateObjects: false, lineWidth: 0 }).trimEnd();
      lines.push('  # kept from the topology file: chains of hosts whose configuration was not imported');
      lines.push(...keptText.split('\n').map((l) => `  ${l}`));
    }
    for (const fw of draft.firewalls) {
      lines.push(`  ${JSON.stringify(fw.point)}:`);
      if (fw.policySource) lines.push(`    # ${commentText(posText(fw.policySource), 200)}: ${commentText(fw.policyText)}`);
      else lines.push(`    # ${commentText(fw.policyText)}`);
      lines.push(`    policy: ${fw.policy}`);
      if (fw.policySource) origins.set(lines.length, fw.policySource);
      if (fw.rules.length === 0) {
        lines.push('    rules: []');
        continue;
      }
      lines.push('    rules:');
      for (const r of fw.rules) {
        lines.push(`      # ${commentText(posText(r.source), 200)}: ${commentText(r.sourceText)}`);
        lines.push(`      - ${JSON.stringify(r.rule)}`);
        origins.set(lines.length, r.source);
      }
    }
  }
  return { text: `${lines.join('\n')}\n`, origins };
}
