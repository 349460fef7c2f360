/**
 * A fast path for zod's parse of a spec that is valid: the same walk zod does (objects, records,
 * lists, unions, optional fields, strings, numbers, booleans, literals and enums), built once from
 * the zod schema's own definitions, with every refinement (regexes, lengths, bounds, the identifier
 * rules of src/spec/identifiers.ts) run by zod's own check functions. It builds the same value zod
 * would (objects with their fields in the schema's order, records and lists in input order),
 * without zod's per-value result objects: on a 10,000-rule spec that was most of zod's time and a
 * copy of the spec's garbage.
 *
 * The schema stays the only source of truth: this answers only when the document is valid, and
 * otherwise says nothing, so zod itself parses and every error message comes from zod as before.
 * A schema node of a kind this walk does not know (a transform, a default, a pipe…) switches the
 * fast path off entirely. test/fast-schema.test.ts compares the two on specs and mutations of them.
 */
import type { z } from 'zod';

/** What a schema node looks like from outside: its definition and, for literals and enums, its values. */
interface SchemaNode {
  readonly _zod: {
    readonly def: { readonly type: string; readonly checks?: readonly CheckNode[]; readonly [k: string]: unknown };
    readonly values?: ReadonlySet<unknown>;
  };
}

interface CheckNode {
  readonly _zod: {
    readonly def: { readonly check: string; readonly when?: (payload: Payload) => boolean };
    check(payload: Payload): unknown;
  };
}

interface Payload {
  value: unknown;
  issues: unknown[];
}

/** The value is certainly not of this schema (zod reports an issue): a union tries its next option. */
const FAIL: unique symbol = Symbol('fail');
/** This walk cannot tell (an unusual object, a check that rewrites or is async): zod must decide. */
const UNSURE: unique symbol = Symbol('unsure');
type Result = unknown;
type Parse = (value: unknown) => Result;

/** Thrown while building: the schema has a node this walk does not model. */
class Unsupported extends Error {}

/**
 * Zod's checks of one node, run as zod's runChecks runs them on a value without issues: each in
 * turn (those with a `when` only when it says so), stopping at the first issue.
 */
function checker(checks: readonly CheckNode[] | undefined): ((value: unknown) => Result) | undefined {
  if (!checks || checks.length === 0) return undefined;
  const payload: Payload = { value: undefined, issues: [] };
  return (value) => {
    for (const c of checks) {
      payload.value = value;
      payload.issues.length = 0;
      const when = c._zod.def.when;
      if (when && !when(payload)) continue;
      const r = c._zod.check(payload);
      if (r instanceof Promise || payload.value !== value) return UNSURE;
      if (payload.issues.length > 0) return FAIL;
    }
    return value;
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Objects as the YAML readers make them; anything else (a class instance) is left to zod. */
function isPlain(v: Record<string, unknown>): boolean {
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function build(node: SchemaNode): Parse {
  const def = node._zod.def;
  const check = checker(def.checks);
  const checked = (p: Parse): Parse =>
    check
      ? (v) => {
          const r = p(v);
          return r === FAIL || r === UNSURE ? r : check(r);
        }
      : p;
  switch (def.type) {
    case 'string':
      return checked((v) => (typeof v === 'string' ? v : FAIL));
    case 'number':
      return checked((v) => (typeof v === 'number' && Number.isFinite(v) ? v : FAIL));
    case 'boolean':
      return checked((v) => (typeof v === 'boolean' ? v : FAIL));
    case 'literal':
    case 'enum': {
      const values = node._zod.values;
      if (!values) throw new Unsupported(def.type);
      return checked((v) => (values.has(v) ? v : FAIL));
    }
    case 'optional': {
      const inner = build(def.innerType as SchemaNode);
      return checked((v) => (v === undefined ? undefined : inner(v)));
    }
    case 'array': {
      const element = build(def.element as SchemaNode);
      return checked((v) => {
        if (!Array.isArray(v)) return FAIL;
        const out: unknown[] = new Array<unknown>(v.length);
        for (let i = 0; i < v.length; i++) {
          const r = element(v[i]);
          if (r === FAIL || r === UNSURE) return r;
          out[i] = r;
        }
        return out;
      });
    }
    case 'record': {
      const keyType = def.keyType as SchemaNode;
      if (keyType._zod.def.type !== 'string') throw new Unsupported('record key');
      const key = build(keyType);
      const value = build(def.valueType as SchemaNode);
      return checked((v) => {
        if (!isObject(v)) return FAIL;
        if (!isPlain(v)) return UNSURE;
        const out: Record<string, unknown> = {};
        for (const k of Object.keys(v)) {
          if (k === '__proto__') return UNSURE;
          const kr = key(k);
          if (kr === FAIL || kr === UNSURE) return kr;
          const r = value(v[k]);
          if (r === FAIL || r === UNSURE) return r;
          out[k] = r;
        }
        return out;
      });
    }
    case 'object': {
      const catchall = def.catchall as SchemaNode | undefined;
      // Only strict objects (unknown keys are an issue), as every object of the spec schema is.
      if (!catchall || catchall._zod.def.type !== 'never') throw new Unsupported('non-strict object');
      const shape = def.shape as Record<string, SchemaNode>;
      const keys = Object.keys(shape);
      const fields = keys.map((k) => build(shape[k]!));
      const optional = keys.map((k) => shape[k]!._zod.def.type === 'optional');
      const known = new Set(keys);
      return checked((v) => {
        if (!isObject(v)) return FAIL;
        if (!isPlain(v)) return UNSURE;
        for (const k in v) {
          if (!Object.prototype.hasOwnProperty.call(v, k)) return UNSURE;
          if (!known.has(k)) return FAIL; // strict: zod reports the unknown key
          if (v[k] === undefined) return UNSURE; // zod keeps a key given as undefined
        }
        const out: Record<string, unknown> = {};
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
          out[k] = r;
        }
        return out;
      });
    }
    case 'union': {
      const options = (def.options as SchemaNode[]).map(build);
      // zod returns the first option that parses without issues.
      return checked((v) => {
        for (const o of options) {
          const r = o(v);
          if (r === UNSURE) return r;
          if (r !== FAIL) return r;
        }
        return FAIL;
      });
    }
    default:
      throw new Unsupported(def.type);
  }
}

/**
 * A parse function for `schema`: the value zod's `parse` would give, or undefined when the value
 * is not valid or this walk cannot be sure (then ask zod). Undefined when the schema has a node
 * this walk does not model: then every value goes to zod.
 */
export function fastParser<T extends z.ZodType>(schema: T): ((value: unknown) => z.output<T> | undefined) | undefined {
  let parse: Parse;
  try {
    parse = build(schema as unknown as SchemaNode);
  } catch (e) {
    if (e instanceof Unsupported) return undefined;
    throw e;
  }
  return (value) => {
    const r = parse(value);
    return r === FAIL || r === UNSURE ? undefined : (r as z.output<T>);
  };
}
