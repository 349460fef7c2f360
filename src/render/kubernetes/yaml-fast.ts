/**
 * A fast writer for the YAML the kubernetes target emits, byte-identical to src/render/yaml.ts.
 *
 * At 1000 hosts the two policy files are tens of megabytes, and the `yaml` library (which builds a
 * node tree per document and then stringifies it) took nine tenths of the render. The documents
 * here are only block maps and sequences of maps and scalars, so this writes the block structure
 * itself and asks the library only how each distinct scalar and key is written (cached), which
 * keeps the quoting decisions (YAML 1.1: "443", "yes", "on") exactly the library's. Anything else —
 * a sequence in a sequence, null, a multi-line or explicit-key scalar, a non-plain object — falls
 * back to the library for that whole document, so the output never depends on which path ran.
 */
import { stringify } from 'yaml';
import { YAML_OPTIONS, yamlLines } from '../yaml.js';

/** The options of src/render/yaml.ts: the library must decide each scalar as it would there. */
const OPTS = YAML_OPTIONS;

class Unsupported extends Error {}

type Scalar = string | number | boolean;

// Caches of the library's answers; cleared when large, so a long-running server does not grow them forever.
const CACHE_LIMIT = 100_000;
const keyCache = new Map<string, string>();
const valueCache = new Map<string, string>();
const itemCache = new Map<string, string>();

function remember(cache: Map<string, string>, key: string, s: string): void {
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(key, s);
}

function isScalar(v: unknown): v is Scalar {
  return typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean';
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** The library's text for `v` between `prefix` and the final newline of `doc`, or Unsupported. */
function cut(doc: string, prefix: string, suffix: string): string {
  if (!doc.startsWith(prefix) || !doc.endsWith(`${suffix}\n`)) throw new Unsupported();
  const s = doc.slice(prefix.length, doc.length - suffix.length - 1);
  if (s.includes('\n')) throw new Unsupported();
  return s;
}

function scalarKey(v: Scalar): string {
  return `${typeof v}:${String(v)}`;
}

function keyText(k: string): string {
  let s = keyCache.get(k);
  if (s === undefined) {
    s = cut(stringify({ [k]: 0 }, OPTS), '', ': 0');
    remember(keyCache, k, s);
  }
  return s;
}

function valueText(v: Scalar): string {
  const key = scalarKey(v);
  let s = valueCache.get(key);
  if (s === undefined) {
    s = cut(stringify({ a: v }, OPTS), 'a: ', '');
    remember(valueCache, key, s);
  }
  return s;
}

function itemText(v: Scalar): string {
  const key = scalarKey(v);
  let s = itemCache.get(key);
  if (s === undefined) {
    s = cut(stringify([v], OPTS), '- ', '');
    remember(itemCache, key, s);
  }
  return s;
}

/** A non-empty map: its first line starts with `first`, the others with `indent`. */
function writeMap(o: Record<string, unknown>, indent: string, first: string, out: string[]): void {
  let pre = first;
  for (const k of Object.keys(o)) {
    const v = o[k];
    const key = keyText(k);
    if (isScalar(v)) out.push(`${pre}${key}: ${valueText(v)}`);
    else if (Array.isArray(v)) {
      if (v.length === 0) out.push(`${pre}${key}: []`);
      else {
        out.push(`${pre}${key}:`);
        writeSeq(v, `${indent}  `, out);
      }
    } else if (isPlainObject(v)) {
      if (Object.keys(v).length === 0) out.push(`${pre}${key}: {}`);
      else {
        out.push(`${pre}${key}:`);
        writeMap(v, `${indent}  `, `${indent}  `, out);
      }
    } else throw new Unsupported();
    pre = indent;
  }
}

function writeSeq(a: readonly unknown[], indent: string, out: string[]): void {
  for (const v of a) {
    if (isScalar(v)) out.push(`${indent}- ${itemText(v)}`);
    else if (isPlainObject(v)) {
      if (Object.keys(v).length === 0) out.push(`${indent}- {}`);
      else writeMap(v, `${indent}  `, `${indent}- `, out);
    } else throw new Unsupported();
  }
}

/** One YAML document as lines (no `---`, no trailing newline), as yamlLines() writes it. */
export function fastYamlLines(value: unknown): string[] {
  if (!isPlainObject(value) || Object.keys(value).length === 0) return yamlLines(value);
  const out: string[] = [];
  try {
    writeMap(value, '', '', out);
  } catch (e) {
    if (e instanceof Unsupported) return yamlLines(value);
    throw e;
  }
  return out;
}
