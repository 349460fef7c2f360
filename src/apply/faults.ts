/**
 * Test-only failures for `cordon apply` (CORDON_APPLY_INJECT_FAULT), to show that a failed load
 * leaves the old rule set and that the read-back catches a rule set changed behind apply's back,
 * in every way that matters: a rule deleted, an `accept` added at the top of a base chain, a
 * verdict flipped, a match changed, an element added to a set, a base chain's policy changed.
 * Each tamper acts between the load and the read-back, in the target, on cordon's tables only.
 */
import { ruleTexts } from './content.js';
import { firstError } from '../system/exec.js';
import type { Target } from './target.js';
import { isCordonTable } from './shape.js';

export const FAULTS = ['load', 'tamper', 'tamper-accept', 'tamper-verdict', 'tamper-match', 'tamper-element', 'tamper-policy'] as const;
export type Fault = (typeof FAULTS)[number];

/** A table whose set elements overlap: nft accepts the text, the kernel refuses the transaction. */
export const FAULT_TABLE = `
# injected failure (CORDON_APPLY_INJECT_FAULT=load): the kernel refuses overlapping elements
table inet cordon_injected_fault {
	set overlap {
		type ipv4_addr . inet_proto
		flags interval
		elements = { 10.0.0.0/8 . 18-255, 10.0.0.1 . 47 }
	}
}
`;

interface Obj {
  family: string;
  table: string;
  name?: string;
  chain?: string;
  handle: number;
  hook?: string;
  policy?: string;
  type?: string | string[];
  flags?: string[];
}

/** Sample values of set element types, for an element no cordon rule set holds (TEST-NET-1, port 2222). */
const SAMPLE: Readonly<Record<string, string>> = { ipv4_addr: '192.0.2.66', inet_proto: 'tcp', inet_service: '2222', mark: '0x00c0ffee' };

/** Changes cordon's loaded tables in the target as `fault` says; returns what it did (or could not do). */
export async function tamper(target: Target, fault: Exclude<Fault, 'load'>): Promise<string> {
  const j = await target.exec(['nft', '-j', 'list', 'ruleset']);
  const a = await target.exec(['nft', '-s', '-a', 'list', 'ruleset']);
  const items = (JSON.parse(j.stdout) as { nftables: Record<string, Obj>[] }).nftables;
  const texts = ruleTexts(a.stdout);
  const mine = (kind: string): Obj[] => items.flatMap((o) => (o[kind] && o[kind].family === 'inet' && isCordonTable(o[kind].table) ? [o[kind]] : []));
  const rules = mine('rule').map((r) => ({ r, text: texts.get(`${r.family} ${r.table} ${r.chain} ${r.handle}`) ?? '' }));
  let argv: string[] | undefined;
  let what = '';
  switch (fault) {
    case 'tamper': {
      const v = rules[0];
      if (v)
        [argv, what] = [['delete', 'rule', 'inet', v.r.table, v.r.chain!, 'handle', String(v.r.handle)], `deleting '${v.text}' from ${v.r.table} ${v.r.chain}`];
      break;
    }
    case 'tamper-accept': {
      const c = mine('chain').find((x) => x.hook === 'forward') ?? mine('chain').find((x) => x.hook !== undefined);
      if (c)
        [argv, what] = [['insert', 'rule', 'inet', c.table, c.name!, 'counter', 'accept'], `inserting 'counter accept' at the top of ${c.table} ${c.name}`];
      break;
    }
    case 'tamper-verdict': {
      const v = rules.find((x) => / drop$/.test(x.text));
      if (v) {
        const flipped = v.text.replace(/ drop$/, ' accept');
        [argv, what] = [
          ['replace', 'rule', 'inet', v.r.table, v.r.chain!, 'handle', String(v.r.handle), flipped],
          `replacing '${v.text}' by '${flipped}' in ${v.r.table} ${v.r.chain}`,
        ];
      }
      break;
    }
    case 'tamper-match': {
      const v = rules.find((x) => /(?:iif|oif)name "[^"]+"|dport \d+/.test(x.text));
      if (v) {
        const changed = v.text.replace(/((?:iif|oif)name) "[^"]+"|dport (\d+)/, (_m, ifk: string | undefined, port: string | undefined) =>
          ifk ? `${ifk} "cordon-tampered"` : `dport ${Number(port) + 1}`,
        );
        [argv, what] = [
          ['replace', 'rule', 'inet', v.r.table, v.r.chain!, 'handle', String(v.r.handle), changed],
          `replacing '${v.text}' by '${changed}' in ${v.r.table} ${v.r.chain}`,
        ];
      }
      break;
    }
    case 'tamper-element': {
      const types = (s: Obj): string[] => (Array.isArray(s.type) ? s.type : [s.type ?? '']);
      const s =
        mine('set').find((x) => types(x).length > 1 && types(x).every((t) => SAMPLE[t] !== undefined)) ??
        mine('set').find((x) => types(x).every((t) => SAMPLE[t] !== undefined));
      if (s) {
        const elem = types(s)
          .map((t) => SAMPLE[t])
          .join(' . ');
        [argv, what] = [['add', 'element', 'inet', s.table, s.name!, `{ ${elem} }`], `adding element ${elem} to set ${s.name} of ${s.table}`];
      }
      break;
    }
    case 'tamper-policy': {
      const c = mine('chain').find((x) => x.hook !== undefined && x.policy === 'drop');
      if (c) [argv, what] = [['chain', 'inet', c.table, c.name!, '{ policy accept; }'], `setting the policy of ${c.table} ${c.name} from drop to accept`];
      break;
    }
  }
  if (!argv) return `injected failure (CORDON_APPLY_INJECT_FAULT=${fault}): found nothing to change`;
  const r = await target.exec(['nft', ...argv]);
  return `injected failure (CORDON_APPLY_INJECT_FAULT=${fault}): ${what} behind apply's back${r.code === 0 ? '' : ` — FAILED: ${firstError(r)}`}`;
}
