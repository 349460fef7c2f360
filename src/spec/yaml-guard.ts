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
import type { PathSeg } from './parse.js';

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
  const stack: { token: CST.Token; depth: number }[] = [];
  for (let i = tokens.length - 1; i >= 0; i--) stack.push({ token: tokens[i]!, depth: 0 });
  while (stack.length) {
    const { token, depth } = stack.pop()!;
    switch (token.type) {
      case 'document':
        if (token.value) stack.push({ token: token.value, depth });
        break;
      case 'block-map':
      case 'block-seq':
      case 'flow-collection': {
        const d = depth + 1;
        if (d > max) return { offset: token.type === 'flow-collection' ? token.start.offset : token.offset, depth: d };
        const items = token.items as CST.CollectionItem[];
        for (let k = items.length - 1; k >= 0; k--) {
          const it = items[k]!;
          if (it.value) stack.push({ token: it.value, depth: d });
          if (it.key) stack.push({ token: it.key, depth: d });
        }
        break;
      }
      case 'block-scalar':
        for (const p of token.props) stack.push({ token: p, depth });
        break;
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
  size: number;
  depth: number;
}

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

  type Frame = { node: Node; extent: Extent; children: { node: unknown; seg: PathSeg | undefined }[]; next: number; seg: PathSeg | undefined };
  const stack: Frame[] = [];

  /** Size and depth of a leaf (scalar or alias), or undefined for a collection to descend into. */
  const leaf = (node: unknown, seg: PathSeg | undefined): Extent | undefined => {
    if (isAlias(node)) return aliasExtent(node, seg);
    if (isMap(node) || isSeq(node)) return undefined;
    return { size: 1, depth: 0 };
  };

  const aliasExtent = (a: Alias, seg: PathSeg | undefined): Extent => {
    aliases++;
    const target = anchors.get(a.source);
    const ext = target ? extents.get(target) : undefined;
    const offset = a.range?.[0] ?? 0;
    if (aliasFailed) return { size: 1, depth: 0 };
    const fail = (message: string, hint: string): Extent => {
      aliasFailed = true;
      problems.push({ kind: 'aliases', offset, path: seg === undefined ? [...path] : [...path, seg], message, hint });
      return { size: 1, depth: 0 };
    };
    if (aliases > limits.aliases) return fail(`more than ${limits.aliases} aliases in one file`, 'write the values out, or use fewer `*name` references');
    // An anchor whose value is still being read is an ancestor of this alias: a value that contains itself.
    if (target && !ext) return fail(`alias *${a.source} refers to a value that contains it`, 'a cordon file is a tree: an alias may only repeat a value that is complete before it');
    if (!ext) return { size: 1, depth: 0 }; // unknown anchor: the YAML library reports it
    added += ext.size;
    if (added > limits.expansion) {
      return fail(`aliases expand this file by more than ${limits.expansion.toLocaleString('en')} values (here *${a.source}, which stands for ${ext.size.toLocaleString('en')})`, 'anchors that refer to anchors multiply: write the values out, or nest fewer aliases');
    }
    return ext;
  };

  const open = (node: Node, seg: PathSeg | undefined): void => {
    if (node.anchor) anchors.set(node.anchor, node);
    const children: Frame['children'] = [];
    if (isMap(node)) {
      const seen = new Map<string, number>();
      for (const p of node.items) {
        if (!isPair(p)) continue;
        const k = p.key as unknown;
        const id = keyId(k);
        const at = (k as Node | null)?.range?.[0];
        if (id !== undefined && at !== undefined) {
          const first = seen.get(id);
          if (first === undefined) seen.set(id, at);
          else problems.push({ kind: 'duplicate-key', offset: at, firstOffset: first, key: String((k as { value: unknown }).value), path: [...path, ...(seg === undefined ? [] : [seg]), String((k as { value: unknown }).value)] });
        }
        if (k !== null && k !== undefined) children.push({ node: k, seg: undefined });
        if (p.value !== null && p.value !== undefined) children.push({ node: p.value, seg: isScalar(k) ? String(k.value) : undefined });
      }
    } else if (isSeq(node)) {
      node.items.forEach((it, i) => {
        if (it !== null && it !== undefined) children.push({ node: it, seg: i });
      });
    }
    stack.push({ node, extent: { size: 1, depth: 1 }, children, next: 0, seg });
    if (seg !== undefined) path.push(seg);
  };

  const root = doc.contents as unknown;
  if (root === null || root === undefined) return problems;
  const rootLeaf = leaf(root, undefined);
  if (rootLeaf) return problems;
  // The path of a frame's own children: the root frame has no segment of its own.
  open(root as Node, undefined);
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    if (top.next < top.children.length) {
      const c = top.children[top.next++]!;
      const ext = leaf(c.node, c.seg);
      if (ext) {
        top.extent.size += ext.size;
        top.extent.depth = Math.max(top.extent.depth, ext.depth + 1);
      } else {
        open(c.node as Node, c.seg);
      }
      if (aliasFailed) return problems;
      continue;
    }
    stack.pop();
    if (top.seg !== undefined) path.pop();
    extents.set(top.node, top.extent);
    if (top.extent.depth > limits.depth) {
      // Only an alias can take a value this deep (the token tree was checked): say where.
      problems.push({ kind: 'aliases', offset: top.node.range?.[0] ?? 0, path: [...path, ...(top.seg === undefined ? [] : [top.seg])], message: `aliases nest this value deeper than ${limits.depth} levels`, hint: 'write the values out, or nest fewer aliases' });
      return problems;
    }
    const parent = stack[stack.length - 1];
    if (parent) {
      parent.extent.size += top.extent.size;
      parent.extent.depth = Math.max(parent.extent.depth, top.extent.depth + 1);
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
  return `${typeof v}:${String(v)}`;
}
