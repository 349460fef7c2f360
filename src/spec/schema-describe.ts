/**
 * Turns a zod schema into the table the fast walk (src/spec/fast-schema.ts) reads, from zod's own
 * definitions: node kinds, fields in the schema's order, and every check with its bound or
 * pattern. Used by test/fast-schema.test.ts to keep src/spec/schema-table.ts equal to the schema
 * (UPDATE_GOLDEN=1 rewrites it), and by `fastParser` for other schemas. It never imports zod: it
 * only reads the schema objects it is given.
 */
import type { CheckDesc, NodeDesc, RuleName, SchemaTable } from './fast-schema.js';
import { tableParser } from './fast-schema.js';

/** What a schema node looks like from outside: its definition and, for literals and enums, its values. */
interface SchemaNode {
  readonly _zod: {
    readonly def: { readonly type: string; readonly checks?: readonly CheckNode[]; readonly [k: string]: unknown };
    readonly values?: ReadonlySet<unknown>;
  };
}

interface CheckNode {
  readonly _zod: { readonly def: { readonly check: string; readonly [k: string]: unknown } };
}

/** The refinements a schema registered by name (src/spec/schema.ts `SCHEMA_RULES`): check object → rule. */
export type RuleRegistry = WeakMap<object, { readonly rule: RuleName; readonly subject: string }>;

/** Thrown while describing: the schema has a node or a check the walk does not model. */
export class Unsupported extends Error {}

function describeCheck(c: CheckNode, rules: RuleRegistry | undefined): CheckDesc {
  const def = c._zod.def;
  switch (def.check) {
    case 'string_format':
      if (def.format !== 'regex' || !(def.pattern instanceof RegExp)) throw new Unsupported(`string format ${String(def.format)}`);
      return { k: 'regex', source: def.pattern.source, flags: def.pattern.flags };
    case 'max_length':
      return { k: 'max', n: def.maximum as number };
    case 'min_length':
      return { k: 'min', n: def.minimum as number };
    case 'number_format':
      if (def.format !== 'safeint') throw new Unsupported(`number format ${String(def.format)}`);
      return { k: 'int' };
    case 'greater_than':
      return { k: 'gt', n: def.value as number, inclusive: def.inclusive === true };
    case 'less_than':
      return { k: 'lt', n: def.value as number, inclusive: def.inclusive === true };
    case 'custom': {
      // A refinement: the walk runs its own copy when the schema registered it by name; any other
      // leaves the value to zod.
      const r = rules?.get(c);
      return r ? { k: 'rule', rule: r.rule, subject: r.subject } : { k: 'unsure' };
    }
    default:
      throw new Unsupported(`check ${def.check}`);
  }
}

/** The table of `schema`: node 0 is the schema itself; a node used in several places is one entry. */
export function describeSchema(schema: unknown, rules?: RuleRegistry): SchemaTable {
  const table: NodeDesc[] = [];
  const index = new Map<SchemaNode, number>();
  const visit = (node: SchemaNode): number => {
    const have = index.get(node);
    if (have !== undefined) return have;
    const i = table.length;
    index.set(node, i);
    table.push({ t: 'string' }); // a placeholder until its children are numbered
    const def = node._zod.def;
    const checks = def.checks && def.checks.length > 0 ? def.checks.map((c) => describeCheck(c, rules)) : undefined;
    const withChecks = <T extends NodeDesc>(d: T): NodeDesc => (checks ? { ...d, checks } : d);
    switch (def.type) {
      case 'string':
      case 'number':
      case 'boolean':
        table[i] = withChecks({ t: def.type });
        break;
      case 'literal':
      case 'enum': {
        const values = node._zod.values;
        if (!values) throw new Unsupported(def.type);
        table[i] = withChecks({ t: def.type, values: [...values] as (string | number | boolean | null)[] });
        break;
      }
      case 'optional':
        table[i] = withChecks({ t: 'optional', inner: visit(def.innerType as SchemaNode) });
        break;
      case 'array':
        table[i] = withChecks({ t: 'array', element: visit(def.element as SchemaNode) });
        break;
      case 'record': {
        const keyType = def.keyType as SchemaNode;
        if (keyType._zod.def.type !== 'string') throw new Unsupported('record key');
        table[i] = withChecks({ t: 'record', key: visit(keyType), value: visit(def.valueType as SchemaNode) });
        break;
      }
      case 'object': {
        const catchall = def.catchall as SchemaNode | undefined;
        // Only strict objects (unknown keys are an issue), as every object of the spec schema is.
        if (!catchall || catchall._zod.def.type !== 'never') throw new Unsupported('non-strict object');
        const shape = def.shape as Record<string, SchemaNode>;
        const keys = Object.keys(shape);
        table[i] = withChecks({ t: 'object', keys, fields: keys.map((k) => visit(shape[k]!)) });
        break;
      }
      case 'union':
        table[i] = withChecks({ t: 'union', options: (def.options as SchemaNode[]).map(visit) });
        break;
      default:
        throw new Unsupported(def.type);
    }
    return i;
  };
  visit(schema as SchemaNode);
  return table;
}

/**
 * A parse function for a zod `schema`: the value zod's `parse` would give, or undefined when the
 * value is not valid or the walk cannot be sure (then ask zod). Undefined when the schema has a
 * node or check the walk does not model: then every value goes to zod.
 */
export function fastParser<T>(schema: T, rules?: RuleRegistry): ((value: unknown) => unknown) | undefined {
  let table: SchemaTable;
  try {
    table = describeSchema(schema, rules);
  } catch (e) {
    if (e instanceof Unsupported) return undefined;
    throw e;
  }
  return tableParser(table);
}

/** The source of src/spec/schema-table.ts for `table`: one JSON string, so the file is what prettier keeps. */
export function schemaTableModule(table: SchemaTable): string {
  const json = JSON.stringify(table).replaceAll('\\', '\\\\').replaceAll("'", "\\'");
  return `/**
 * The spec schema (src/spec/schema.ts) as the table the fast walk reads (src/spec/fast-schema.ts),
 * so that a valid spec is parsed without importing zod. Generated from the zod schema by
 * \`describeSchema\`: test/fast-schema.test.ts fails when it differs (UPDATE_GOLDEN=1 rewrites it).
 * Do not edit by hand.
 */
import type { SchemaTable } from './fast-schema.js';

export const SPEC_TABLE: SchemaTable = JSON.parse(
  '${json}',
) as SchemaTable;
`;
}
