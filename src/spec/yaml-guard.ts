/**
 * Limits on what a YAML file may make cordon do, checked before anything walks the data:
 * nesting depth (every later stage recurses over the value), aliases (a few lines of anchors can
 * stand for a billion nodes) and duplicate keys (the YAML library's own check compares every key
 * with every earlier one: quadratic, 5 s at 16k keys).
 *
 * Two passes, both without recursion on user data: `cstDepth` over the parser's token tree,
 * before the composer (which recurses) sees it; `checkDocument` over the composed document,
 * one set of keys per mapping, with the size and depth of every anchored value counted once.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, type Alias, type CST, type Document, type Node } from 'yaml';

/** One step of a path into a YAML document: a mapping key or a list index (parse.ts re-exports it). */
export type PathSeg = string | number;

/** Deepest nesting of mappings and lists accepted; cordon's own files are under ten levels deep. */
export const MAX_DEPTH = 64;
/** Aliases (`*name`) accepted per document. */
export const MAX_ALIASES = 1000;
/**
 * Values that aliases may add to a document, beyond the ones written out: plenty for repeating a
 * few port lists, and it keeps a file of anchors from standing for a billion values.
 */
export const MAX_ALIAS_EXPANSION = 100_000;

/** The first collection in the token tree nested deeper than `max`: its offset, or undefined. */
export function cstDepth(tokens: readonly CST.Token[], max = MAX_DEPTH): { offset: number; depth: number } | undefined {
  // Two parallel stacks (token, its depth): no object per token on a walk over every token.
  const toks: CST.Token[] = [];
  const depths: number[] = [];
  for (let i = tokens.length - 1; i >= 0; i--) {
    toks.push(tokens[i]!);
    depths.push(0);
  }
  while (toks.length) {
    const token = toks.pop()!;
    const depth = depths.pop()!;
    switch (token.type) {
      case 'document':
        if (token.value) {
          toks.push(token.value);
          depths.push(depth);
        }
        break;
      case 'block-map':
      case 'block-seq':
      case 'flow-collection': {
        const d = depth + 1;
        if (d > max) return { offset: token.type === 'flow-collection' ? token.start.offset : token.offset, depth: d };
        const items = token.items as CST.CollectionItem[];
        for (let k = items.length - 1; k >= 0; k--) {
          const it = items[k]!;
          if (it.value && (it.value.type === 'block-map' || it.value.type === 'block-seq' || it.value.type === 'flow-collection')) {
            toks.push(it.value);
            depths.push(d);
          }
          if (it.key && (it.key.type === 'block-map' || it.key.type === 'block-seq' || it.key.type === 'flow-collection')) {
            toks.push(it.key);
            depths.push(d);
          }
        }
        break;
      }
      default:
        break;
    }
  }
  return undefined;
}

export type GuardProblem =
  | { readonly kind: 'duplicate-key'; readonly offset: number; readonly firstOffset: number; readonly key: string; readonly path: readonly PathSeg[] }
  | { readonly kind: 'aliases'; readonly offset: number; readonly path: readonly PathSeg[]; readonly message: string; readonly hint: string };

/** Size (values, once every alias is expanded) and depth of a node. */
interface Extent {
  readonly size: number;
  readonly depth: number;
}

const SCALAR: Extent = { size: 1, depth: 0 };

/**
 * Duplicate keys (every one, with where the first was), and aliases past the limits (the first
 * one that goes over, at its own location). Keys are equal as the YAML library compares them:
 * same scalar value, type included (`1` and `"1"` differ).
 */
export function checkDocument(doc: Document, limits = { depth: MAX_DEPTH, aliases: MAX_ALIASES, expansion: MAX_ALIAS_EXPANSION }): GuardProblem[] {
  const problems: GuardProblem[] = [];
  const anchors = new Map<string, Node>();
  const extents = new Map<Node, Extent>();
  let aliases = 0;
  let added = 0;
  let aliasFailed = false;
  const path: PathSeg[] = [];

  /** Size and depth of a leaf (scalar or alias), or undefined for a collection to descend into. */
  const leaf = (node: unknown, seg: PathSeg | undefined): Extent | undefined => {
    if (isAlias(node)) return aliasExtent(node, seg);
    if (isMap(node) || isSeq(node)) return undefined;
    return SCALAR;
  };

  const aliasExtent = (a: Alias, seg: PathSeg | undefined): Extent => {
    aliases++;
    const target = anchors.get(a.source);
    const ext = target ? extents.get(target) : undefined;
    const offset = a.range?.[0] ?? 0;
    if (aliasFailed) return SCALAR;
    const fail = (message: string, hint: string): Extent => {
      aliasFailed = true;
      problems.push({ kind: 'aliases', offset, path: seg === undefined ? [...path] : [...path, seg], message, hint });
      return SCALAR;
    };
    if (aliases > limits.aliases) return fail(`more than ${limits.aliases} aliases in one file`, 'write the values out, or use fewer `*name` references');
    // An anchor whose value is still being read is an ancestor of this alias: a value that contains itself.
    if (target && !ext)
      return fail(
        `alias *${a.source} refers to a value that contains it`,
        'a cordon file is a tree: an alias may only repeat a value that is complete before it',
      );
    if (!ext) return SCALAR; // unknown anchor: the YAML library reports it
    added += ext.size;
    if (added > limits.expansion) {
      return fail(
        `aliases expand this file by more than ${limits.expansion.toLocaleString('en')} values (here *${a.source}, which stands for ${ext.size.toLocaleString('en')})`,
        'anchors that refer to anchors multiply: write the values out, or nest fewer aliases',
      );
    }
    return ext;
  };

  /** A mapping or list being walked: `i` is the next item, `phase` 0 its key, 1 its value. */
  interface Frame {
    readonly node: Node;
    readonly items: readonly unknown[];
    readonly isMap: boolean;
    readonly seen: Map<string, number> | undefined;
    readonly seg: PathSeg | undefined;
    readonly extent: { size: number; depth: number };
    i: number;
    phase: 0 | 1;
  }
  const stack: Frame[] = [];

  const open = (node: Node, seg: PathSeg | undefined): void => {
    if (node.anchor) anchors.set(node.anchor, node);
    const isM = isMap(node);
    stack.push({
      node,
      items: isM || isSeq(node) ? node.items : [],
      isMap: isM,
      seen: isM ? new Map() : undefined,
      seg,
      extent: { size: 1, depth: 1 },
      i: 0,
      phase: 0,
    });
    if (seg !== undefined) path.push(seg);
  };

  /** Adds a child to the frame: a leaf at once, a collection by opening a frame for it. */
  const visit = (top: Frame, child: unknown, seg: PathSeg | undefined): void => {
    if (child === null || child === undefined) return;
    const ext = leaf(child, seg);
    if (ext) {
      top.extent.size += ext.size;
      if (ext.depth + 1 > top.extent.depth) top.extent.depth = ext.depth + 1;
    } else open(child as Node, seg);
  };

  const root = doc.contents as unknown;
  if (root === null || root === undefined) return problems;
  if (leaf(root, undefined)) return problems;
  // The root frame has no path segment of its own.
  open(root as Node, undefined);
  while (stack.length) {
    if (aliasFailed) return problems;
    const top = stack[stack.length - 1]!;
    if (top.i < top.items.length) {
      const it = top.items[top.i];
      if (!top.isMap) {
        top.i++;
        visit(top, it, top.i - 1);
        continue;
      }
      if (!isPair(it)) {
        top.i++;
        continue;
      }
      const k = it.key;
      if (top.phase === 0) {
        top.phase = 1;
        const id = keyId(k);
        const at = (k as Node | null)?.range?.[0];
        if (id !== undefined && at !== undefined) {
          const first = top.seen!.get(id);
          if (first === undefined) top.seen!.set(id, at);
          else
            problems.push({
              kind: 'duplicate-key',
              offset: at,
              firstOffset: first,
              key: String((k as { value: unknown }).value),
              path: [...path, String((k as { value: unknown }).value)],
            });
        }
        visit(top, k, undefined);
      } else {
        top.phase = 0;
        top.i++;
        visit(top, it.value, isScalar(k) ? String(k.value) : undefined);
      }
      continue;
    }
    stack.pop();
    if (top.seg !== undefined) path.pop();
    if (top.node.anchor) extents.set(top.node, top.extent);
    if (top.extent.depth > limits.depth) {
      // Only an alias can take a value this deep (the token tree was checked): say where.
      problems.push({
        kind: 'aliases',
        offset: top.node.range?.[0] ?? 0,
        path: [...path, ...(top.seg === undefined ? [] : [top.seg])],
        message: `aliases nest this value deeper than ${limits.depth} levels`,
        hint: 'write the values out, or nest fewer aliases',
      });
      return problems;
    }
    const parent = stack[stack.length - 1];
    if (parent) {
      parent.extent.size += top.extent.size;
      if (top.extent.depth + 1 > parent.extent.depth) parent.extent.depth = top.extent.depth + 1;
    }
  }
  return problems;
}

/** How the YAML library tells keys apart: scalar value with its type; other keys are never equal. */
function keyId(k: unknown): string | undefined {
  if (k === null || k === undefined) return 'null';
  if (!isScalar(k)) return undefined;
  const v = k.value;
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number' && Number.isNaN(v)) return undefined;
  if (typeof v === 'object') return undefined;
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- objects returned above: v is a scalar
  return `${typeof v}:${String(v)}`;
}
