/**
 * A fast path for zod's parse of a spec that is valid: the same walk zod does (objects, records,
 * lists, unions, optional fields, strings, numbers, booleans, literals and enums) with the same
 * checks (regexes, lengths, bounds, whole numbers, the identifier rules of
 * src/spec/identifiers.ts). It builds the same value zod would (objects with their fields in the
 * schema's order, records and lists in input order), without zod's per-value result objects.
 *
 * It walks a table (src/spec/schema-table.ts), not zod's schema objects: the table is made from
 * the zod schema by `describeSchema` and checked equal to it by test/fast-schema.test.ts, so a
 * valid spec is parsed without loading zod at all (importing zod and building the schema was
 * ~0.13 s of every command's start-up). zod stays the only source of truth: this answers only
 * when the document is certainly valid, and otherwise says nothing, so zod itself (loaded then)
 * parses and every error message comes from zod as before. A check it cannot judge for sure (a
 * refinement it has no copy of, a string length near its bound counted in code points) makes it
 * unsure, which also goes to zod.
 */
import { pointProblem, refProblem } from './identifiers.js';

/** One check of a schema node, as the table holds it. */
export type CheckDesc =
  | { readonly k: 'regex'; readonly source: string; readonly flags: string }
  | { readonly k: 'max'; readonly n: number }
  | { readonly k: 'min'; readonly n: number }
  | { readonly k: 'int' }
  | { readonly k: 'gt'; readonly n: number; readonly inclusive: boolean }
  | { readonly k: 'lt'; readonly n: number; readonly inclusive: boolean }
  | { readonly k: 'rule'; readonly rule: RuleName; readonly subject: string }
  | { readonly k: 'unsure' };

/** One schema node; children are indices into the table. */
export type NodeDesc = { readonly checks?: readonly CheckDesc[] } & (
  | { readonly t: 'string' | 'number' | 'boolean' }
  | { readonly t: 'literal' | 'enum'; readonly values: readonly (string | number | boolean | null)[] }
  | { readonly t: 'optional'; readonly inner: number }
  | { readonly t: 'array'; readonly element: number }
  | { readonly t: 'record'; readonly key: number; readonly value: number }
  | { readonly t: 'object'; readonly keys: readonly string[]; readonly fields: readonly number[] }
  | { readonly t: 'union'; readonly options: readonly number[] }
);

/** A schema as a table: node 0 is the root. */
export type SchemaTable = readonly NodeDesc[];

/**
 * The refinements the schema runs through `superRefine` that this walk has a copy of, by name
 * (src/spec/schema.ts registers each with its name): a string for the problem, or undefined.
 */
export const RULES = {
  ref: (text: string, subject: string) => refProblem(text, subject),
  point: (text: string) => pointProblem(text),
} as const;
export type RuleName = keyof typeof RULES;

/** The value is certainly not of this schema (zod reports an issue): a union tries its next option. */
const FAIL: unique symbol = Symbol('fail');
/** This walk cannot tell (an unusual object, a check it cannot judge): zod must decide. */
const UNSURE: unique symbol = Symbol('unsure');
type Result = unknown;
type Parse = (value: unknown) => Result;

/** One check: FAIL, UNSURE, or undefined when the value passes. */
type Check = (value: unknown) => typeof FAIL | typeof UNSURE | undefined;

function makeCheck(c: CheckDesc): Check {
  switch (c.k) {
    case 'regex': {
      const re = new RegExp(c.source, c.flags);
      return (v) => {
        re.lastIndex = 0;
        return re.test(v as string) ? undefined : FAIL;
      };
    }
    case 'max':
      // zod counts a string in code points: a string within the bound in UTF-16 units is within
      // it in code points; above it, only zod's count can tell.
      return (v) => ((v as { length: number }).length <= c.n ? undefined : typeof v === 'string' ? UNSURE : FAIL);
    case 'min':
      // A code point is one or two units: twice the bound in units always clears it.
      return (v) => {
        const len = (v as { length: number }).length;
        if (typeof v !== 'string') return len >= c.n ? undefined : FAIL;
        return len >= 2 * c.n ? undefined : len < c.n ? FAIL : UNSURE;
      };
    case 'int':
      return (v) => (Number.isSafeInteger(v) ? undefined : FAIL);
    case 'gt':
      return (v) => ((c.inclusive ? (v as number) >= c.n : (v as number) > c.n) ? undefined : FAIL);
    case 'lt':
      return (v) => ((c.inclusive ? (v as number) <= c.n : (v as number) < c.n) ? undefined : FAIL);
    case 'rule': {
      const rule = RULES[c.rule];
      const subject = c.subject;
      return (v) => (rule(v as string, subject) === undefined ? undefined : FAIL);
    }
    case 'unsure':
      return () => UNSURE;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Objects as the YAML readers make them; anything else (a class instance) is left to zod. */
function isPlain(v: Record<string, unknown>): boolean {
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * Per checked string node, the texts that passed all its checks during the current parse: a spec
 * names the same hosts and references thousands of times (21,000 references, 3,000 distinct texts
 * in a 10,000-rule spec). Emptied after each parse, so a long-lived process keeps none.
 */
type Passed = Set<string>[];

function build(table: SchemaTable, index: number, made: Map<number, Parse>, passed: Passed): Parse {
  const have = made.get(index);
  if (have) return have;
  // A placeholder first: a schema that refers to itself gets the finished parser through it.
  let parse: Parse | undefined;
  made.set(index, (v) => parse!(v));
  parse = buildNode(table, table[index]!, made, passed);
  made.set(index, parse);
  return parse;
}

function buildNode(table: SchemaTable, node: NodeDesc, made: Map<number, Parse>, passed: Passed): Parse {
  const checks = node.checks?.map(makeCheck) ?? [];
  const checked = (p: Parse): Parse =>
    checks.length === 0
      ? p
      : (v) => {
          const r = p(v);
          if (r === FAIL || r === UNSURE) return r;
          // Index loops here and below: these run once per value of the spec, mostly before
          // they are optimised, where `for … of` allocates an iterator result per step.
          for (let i = 0; i < checks.length; i++) {
            const bad = checks[i]!(r);
            if (bad !== undefined) return bad;
          }
          return r;
        };
  const sub = (i: number): Parse => build(table, i, made, passed);
  switch (node.t) {
    case 'string': {
      if (checks.length === 0) return (v) => (typeof v === 'string' ? v : FAIL);
      // Every check is a function of the text alone (a regex, a length, an identifier rule), so
      // a text that passed them all passes again; failures and unsure answers are not kept.
      const ok = new Set<string>();
      passed.push(ok);
      return (v) => {
        if (typeof v !== 'string') return FAIL;
        if (ok.has(v)) return v;
        for (let i = 0; i < checks.length; i++) {
          const bad = checks[i]!(v);
          if (bad !== undefined) return bad;
        }
        ok.add(v);
        return v;
      };
    }
    case 'number':
      return checked((v) => (typeof v === 'number' && Number.isFinite(v) ? v : FAIL));
    case 'boolean':
      return checked((v) => (typeof v === 'boolean' ? v : FAIL));
    case 'literal':
    case 'enum': {
      const values = new Set<unknown>(node.values);
      return checked((v) => (values.has(v) ? v : FAIL));
    }
    case 'optional': {
      const inner = sub(node.inner);
      return checked((v) => (v === undefined ? undefined : inner(v)));
    }
    case 'array': {
      const element = sub(node.element);
      return checked((value) => {
        if (!Array.isArray(value)) return FAIL;
        const v = value as unknown[];
        // The list itself when every item comes back as it is (see `tableParser`); a copy from
        // the first item that does not.
        let out: unknown[] | undefined;
        for (let i = 0; i < v.length; i++) {
          const r = element(v[i]);
          if (r === FAIL || r === UNSURE) return r;
          if (out) out[i] = r;
          else if (r !== v[i]) {
            out = v.slice(0, i);
            out.length = v.length;
            out[i] = r;
          }
        }
        return out ?? v;
      });
    }
    case 'record': {
      const key = sub(node.key);
      const value = sub(node.value);
      return checked((v) => {
        if (!isObject(v)) return FAIL;
        if (!isPlain(v)) return UNSURE;
        const keys = Object.keys(v);
        let out: Record<string, unknown> | undefined = Object.getPrototypeOf(v) === Object.prototype ? undefined : {};
        for (let i = 0; i < keys.length; i++) {
          const k = keys[i]!;
          if (k === '__proto__') return UNSURE;
          const kr = key(k);
          if (kr === FAIL || kr === UNSURE) return kr;
          const given = v[k];
          const r = value(given);
          if (r === FAIL || r === UNSURE) return r;
          if (out) out[k] = r;
          else if (r !== given) {
            out = {};
            for (let j = 0; j < i; j++) out[keys[j]!] = v[keys[j]!];
            out[k] = r;
          }
        }
        return out ?? v;
      });
    }
    case 'object': {
      // Only strict objects (unknown keys are an issue): describeSchema refuses any other.
      const keys = node.keys;
      const fields = node.fields.map(sub);
      const optional = node.fields.map((i) => table[i]!.t === 'optional');
      const position = new Map(keys.map((k, i) => [k, i]));
      return checked((v) => {
        if (!isObject(v)) return FAIL;
        if (!isPlain(v)) return UNSURE;
        // zod's value lists the fields in the schema's order: the given object can be that value
        // only when its keys already are in that order (and it is an ordinary object).
        let inOrder = Object.getPrototypeOf(v) === Object.prototype;
        let last = -1;
        for (const k in v) {
          if (!Object.prototype.hasOwnProperty.call(v, k)) return UNSURE;
          const at = position.get(k);
          if (at === undefined) return FAIL; // strict: zod reports the unknown key
          if (v[k] === undefined) return UNSURE; // zod keeps a key given as undefined
          if (at < last) inOrder = false;
          last = at;
        }
        let out: Record<string, unknown> | undefined = inOrder ? undefined : {};
        for (let i = 0; i < keys.length; i++) {
          const k = keys[i]!;
          const given = v[k];
          if (given === undefined) {
            // A required field missing: zod reports it; left to zod all the same (a field type
            // that takes undefined would be zod's to judge).
            if (!optional[i]) return UNSURE;
            continue;
          }
          const r = fields[i]!(given);
          if (r === FAIL || r === UNSURE) return r;
          if (out) out[k] = r;
          else if (r !== given) {
            out = {};
            for (let j = 0; j < i; j++) if (v[keys[j]!] !== undefined) out[keys[j]!] = v[keys[j]!];
            out[k] = r;
          }
        }
        return out ?? v;
      });
    }
    case 'union': {
      const options = node.options.map(sub);
      // zod returns the first option that parses without issues.
      return checked((v) => {
        for (let i = 0; i < options.length; i++) {
          const r = options[i]!(v);
          if (r === UNSURE) return r;
          if (r !== FAIL) return r;
        }
        return FAIL;
      });
    }
  }
}

/**
 * A parse function for the schema `table` describes: the value zod's `parse` would give, or
 * undefined when the value is not valid or this walk cannot be sure (then ask zod).
 *
 * Unlike zod, it does not copy what is already that value: a list, record or object whose parts
 * all come back unchanged (and an object whose keys are in the schema's order) is returned as it
 * is, so a valid spec read by the fast YAML reader is not copied a second time. The caller must
 * not change the input afterwards (parseSpecText hands it on and keeps no other use of it).
 */
export function tableParser(table: SchemaTable): (value: unknown) => unknown {
  const passed: Passed = [];
  const parse = build(table, 0, new Map(), passed);
  return (value) => {
    try {
      const r = parse(value);
      return r === FAIL || r === UNSURE ? undefined : r;
    } finally {
      for (let i = 0; i < passed.length; i++) passed[i]!.clear();
    }
  };
}
