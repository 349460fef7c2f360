/**
 * A fast reader for the plain subset of YAML that cordon files are written in: block mappings and
 * lists, one-line flow mappings and lists (`{ a: 1 }`, `[ a, b ]`), one-line plain, single- and
 * double-quoted scalars, and comments. It gives the same values as the YAML library (core schema,
 * YAML 1.2) and the same source positions its document would, about ten times faster and without
 * building a node per value: on a 7 MB generated spec the library's token tree, nodes and
 * positions were most of `cordon check`.
 *
 * It answers only when it is sure. Anything outside the subset, and anything the library would
 * report (a duplicate key, an empty value, a tab, a multi-line scalar, anchors, tags, directives,
 * several documents, deep nesting), makes it decline, and the caller reads the file with the
 * library as before: what a broken or unusual file gets told never depends on this reader.
 */

/**
 * The document as plain data, with where its collections, keys and items are. Positions live in
 * one Int32Array (`locs`) instead of an object and three arrays per collection: on a 10,000-rule
 * spec those were half the objects the reader made, all kept alive until the end of the run.
 *
 * A collection is a record at some index r of `locs`: `[kind, at, count, items…]` where kind is
 * MAP or SEQ and `at` the offset where it starts (its first key, its first `-`, or its `{` / `[`).
 * A mapping's items are `keyOffset, valueOffset, child`; a list's are `valueOffset, child`. `child` is the record of an item that is itself a collection, or -1.
 * Records are written when their collection ends, so children come before their parents and the
 * root is the last one.
 */
export interface FastYaml {
  readonly data: unknown;
  /** Record index of the top-level mapping. */
  readonly root: number;
  readonly locs: Int32Array;
  /**
   * The text read: a mapping's keys are read again from it (at their offsets) when the mapping is
   * first looked into. Few are (the top level, hosts, the rule list), so the reader keeps no list
   * of the ~4 % of a spec's words that are keys.
   */
  readonly text: string;
  /** Per mapping record: key → item index, built on the first lookup (most mappings are never looked into). */
  readonly index: Map<number, Map<string, number>>;
}

const MAP = 0;
const SEQ = 1;
/** Ints per item in a record. */
const MAP_ITEM = 3;
const SEQ_ITEM = 2;

/** Nesting accepted here; deeper documents go to the library path, which refuses past MAX_DEPTH. */
const MAX_FAST_DEPTH = 32;
/** Longest key accepted here (YAML limits implicit keys to 1024 characters). */
const MAX_KEY = 1000;
/**
 * Keys JavaScript orders before all others in an object (array indices): a mapping with one
 * would not list its keys in source order, so such files go to the library.
 */
const ARRAY_INDEX = /^(?:0|[1-9][0-9]*)$/;
/** Slots of the cache of plain texts (a power of two), and the longest text it keeps. */
const SEEN_SIZE = 4096;
const MAX_SEEN = 64;

function grow(a: Int32Array, need: number): Int32Array {
  const b = new Int32Array(Math.max(need, a.length * 2));
  b.set(a);
  return b;
}

/**
 * Thrown to give up; caught in readFastYaml. One Error made once at load: throwing it again builds
 * no new stack trace, so declining stays cheap.
 */
const DECLINE = new Error('the fast YAML reader declines this text');

/**
 * Characters that make the whole file go to the library: tabs and carriage returns (indentation
 * and line-break rules this reader does not model), other control characters, a byte-order mark,
 * and the Unicode line breaks.
 */
const UNSUPPORTED = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\ufeff]/;

const SP = 0x20;
const NL = 0x0a;
const HASH = 0x23;
const COLON = 0x3a;
const DASH = 0x2d;
const DQ = 0x22;
const SQ = 0x27;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const COMMA = 0x2c;
const BACKSLASH = 0x5c;

/** The document as plain data with the positions of its collections, or undefined to decline. */
export function readFastYaml(text: string): FastYaml | undefined {
  if (text.length === 0 || UNSUPPORTED.test(text)) return undefined;
  try {
    return new Reader(text).document();
  } catch (e) {
    if (e === DECLINE) return undefined;
    throw e;
  }
}

/**
 * The offset of the value at `path[0, n)` (of its key, with `wantKey`, when the last step is a
 * mapping key), or undefined when there is no such value: what the library's document gives as
 * the node's `range[0]`.
 */
export function fastOffsetAt(yaml: FastYaml, path: readonly (string | number)[], n: number, wantKey: boolean): number | undefined {
  const L = yaml.locs;
  let r = yaml.root;
  let off = L[r + 1]!;
  for (let i = 0; i < n; i++) {
    if (r < 0) return undefined; // a scalar has no children
    const seg = path[i]!;
    const count = L[r + 2]!;
    if (L[r] === MAP) {
      const k = indexOf(yaml, r, String(seg));
      if (k === undefined) return undefined;
      const item = r + 3 + k * MAP_ITEM;
      if (wantKey && i === n - 1) return L[item];
      off = L[item + 1]!;
      r = L[item + 2]!;
    } else {
      if (typeof seg !== 'number' || !(seg >= 0 && seg < count) || !Number.isInteger(seg)) return undefined;
      const item = r + 3 + seg * SEQ_ITEM;
      off = L[item]!;
      r = L[item + 1]!;
    }
  }
  return off;
}

function indexOf(yaml: FastYaml, r: number, key: string): number | undefined {
  let index = yaml.index.get(r);
  if (!index) {
    index = new Map();
    const L = yaml.locs;
    const count = L[r + 2]!;
    for (let k = 0; k < count; k++) index.set(keyAt(yaml.text, L[r + 3 + k * MAP_ITEM]!), k);
    yaml.index.set(r, index);
  }
  return index.get(key);
}

/**
 * The text of the mapping key the reader accepted at `off`: a quoted key unquoted, a plain one up
 * to the first `:` followed by a space, a line break or the end (blockKey and flowMap stop there
 * too), without the spaces before it. Plain keys are their own text (typed ones were declined).
 */
function keyAt(s: string, off: number): string {
  const c = s.charCodeAt(off);
  if (c === DQ || c === SQ) return unquote(s, off, quotedEnd(s, off));
  let j = off;
  for (; j < s.length; j++) {
    if (s.charCodeAt(j) === COLON) {
      const d = s.charCodeAt(j + 1);
      if (d === SP || d === NL || j + 1 >= s.length) break;
    }
  }
  let end = j;
  while (s.charCodeAt(end - 1) === SP) end--;
  return s.slice(off, end);
}

/** Offset just past the closing quote of the one-line quoted scalar at `from`. */
function quotedEnd(s: string, from: number): number {
  const q = s.charCodeAt(from);
  for (let j = from + 1; j < s.length; j++) {
    const d = s.charCodeAt(j);
    if (d === NL) throw DECLINE; // multi-line quoted scalars fold lines: left to the library
    if (q === DQ && d === BACKSLASH) j++;
    else if (d === q) {
      if (q === SQ && s.charCodeAt(j + 1) === SQ) j++;
      else return j + 1;
    }
  }
  throw DECLINE;
}

/** The value of the quoted scalar `s[start, end)` (quotes included). */
function unquote(s: string, start: number, end: number): string {
  const body = s.slice(start + 1, end - 1);
  if (s.charCodeAt(start) === SQ) return body.includes("''") ? body.replaceAll("''", "'") : body;
  if (!body.includes('\\')) return body;
  let out = '';
  for (let j = 0; j < body.length; j++) {
    const ch = body[j]!;
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    const e = body[++j];
    if (e === undefined) throw DECLINE;
    const simple = ESCAPES[e];
    if (simple !== undefined) {
      out += simple;
      continue;
    }
    const len = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
    const hex = body.substr(j + 1, len);
    if (len === 0 || hex.length !== len || !/^[0-9a-fA-F]+$/.test(hex)) throw DECLINE;
    const cp = parseInt(hex, 16);
    if (cp > 0x10ffff) throw DECLINE;
    out += String.fromCodePoint(cp);
    j += len;
  }
  return out;
}

/**
 * A plain scalar's value as the YAML 1.2 core schema resolves it: null, booleans, integers
 * (decimal, 0o octal, 0x hex), floats (.inf, .nan, exponents), else the text itself.
 */
export function plainValue(s: string): unknown {
  const c = s.charCodeAt(0);
  // Most scalars are names and addresses: only these first characters can start a non-string.
  if (!(
    (c >= 0x30 && c <= 0x39) ||
    c === 0x2b ||
    c === DASH ||
    c === 0x2e ||
    c === 0x7e ||
    c === 0x6e ||
    c === 0x4e ||
    c === 0x74 ||
    c === 0x54 ||
    c === 0x66 ||
    c === 0x46
  ))
    return s;
  if (c >= 0x41) {
    // A letter (n, N, t, T, f, F) or `~`: only the words of null and the booleans are not strings.
    if (s.length > 5) return s;
    if (/^(?:~|[Nn]ull|NULL)$/.test(s)) return null;
    if (/^(?:[Tt]rue|TRUE)$/.test(s)) return true;
    if (/^(?:[Ff]alse|FALSE)$/.test(s)) return false;
    return s;
  }
  if (!mayBeNumber(s)) return s;
  if (/^0o[0-7]+$/.test(s)) return parseInt(s.substring(2), 8);
  if (/^[-+]?[0-9]+$/.test(s)) return parseInt(s, 10);
  if (/^0x[0-9a-fA-F]+$/.test(s)) return parseInt(s.substring(2), 16);
  if (/^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/.test(s))
    return s.slice(-3).toLowerCase() === 'nan' ? NaN : s[0] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  if (/^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/.test(s)) return parseFloat(s);
  if (/^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/.test(s)) return parseFloat(s);
  return s;
}

/**
 * Whether `s` is made only of characters a core-schema number can hold (digits, letters, `+`, `-`)
 * with at most one `.`: addresses and prefixes (`10.0.0.1`, `10.0.0.0/24`), most of the scalars
 * starting with a digit, are strings without six regular expressions tried on each.
 */
function mayBeNumber(s: string): boolean {
  let dots = 0;
  for (let j = 0; j < s.length; j++) {
    const d = s.charCodeAt(j);
    if (d === 0x2e) {
      if (++dots > 1) return false;
    } else if (!((d >= 0x30 && d <= 0x39) || ((d | 0x20) >= 0x61 && (d | 0x20) <= 0x7a) || d === 0x2b || d === DASH)) return false;
  }
  return true;
}

/** Escapes of double-quoted YAML strings with a one-character meaning. */
const ESCAPES: Record<string, string> = {
  '0': '\0',
  a: '\x07',
  b: '\b',
  e: '\x1b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  N: '\u0085',
  _: '\u00a0',
  L: '\u2028',
  P: '\u2029',
  ' ': ' ',
  '"': '"',
  '/': '/',
  '\\': '\\',
};

/**
 * Whether a plain scalar may start with this character: letters, digits and a few safe marks.
 * Indicators (`- ? : , [ ] { } # & * ! | > ' " % @ \``) and anything unusual decline.
 */
function plainStart(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x5f ||
    c === 0x2e ||
    c === 0x2f ||
    c === 0x2b ||
    c === 0x7e ||
    c >= 0x80
  );
}

/** Whether a plain scalar may start at `j`: a safe first character, or `-` before one (`-1`, `--task`). */
function plainAt(s: string, j: number): boolean {
  const c = s.charCodeAt(j);
  if (c !== DASH) return plainStart(c);
  const d = s.charCodeAt(j + 1);
  return plainStart(d) || d === DASH;
}

class Reader {
  private i = 0;
  /** Offset where the line holding `i` starts. */
  private ls = 0;
  private depth = 0;
  /** The record of the value just read when it is a collection, else -1: a second result of the read methods. */
  private kid = -1;
  private readonly n: number;
  /** Finished records (see FastYaml). */
  private locs: Int32Array;
  private used = 0;
  /** Items of the collections still open, innermost last; each collection copies its own out when it ends. */
  private stack: Int32Array;
  private sp = 0;
  /**
   * Plain scalars and keys already read, by a hash of their text: a spec names the same hosts,
   * ports and keys thousands of times, and one string per name (instead of a copy per use) is
   * less to allocate, to internalise as a property name and to keep alive.
   */
  private readonly seenText: (string | undefined)[] = new Array<string | undefined>(SEEN_SIZE);
  private readonly seenValue: unknown[] = new Array<unknown>(SEEN_SIZE);

  constructor(private readonly s: string) {
    this.n = s.length;
    // Both arrays are sized so that they are rarely grown: growing costs more than its copy, since
    // the optimised readers were compiled without that branch (and with the array as a constant
    // field) and all deoptimise when it is taken. Records: generated specs take ~0.33 ints per
    // character, hand-written ones (comments, long names) less. The stack holds the items of the
    // open collections: the longest is usually the rule list, two ints per line of ~30-70 characters.
    this.locs = new Int32Array(Math.max(1024, s.length >> 1));
    this.stack = new Int32Array(Math.max(1024, s.length >> 4));
  }

  document(): FastYaml {
    this.skipBlank();
    if (this.i >= this.n || this.i !== this.ls) throw DECLINE; // empty, or a top level that is not a mapping at column 0
    const data = this.blockMap(0);
    const root = this.kid;
    if (this.i < this.n) throw DECLINE;
    return { data, root, locs: this.locs, text: this.s, index: new Map() };
  }

  /** Pushes one item's ints for the collection being read. */
  private push2(a: number, b: number): void {
    if (this.sp + 2 > this.stack.length) this.stack = grow(this.stack, this.sp + 2);
    this.stack[this.sp++] = a;
    this.stack[this.sp++] = b;
  }

  private push3(a: number, b: number, c: number): void {
    if (this.sp + 3 > this.stack.length) this.stack = grow(this.stack, this.sp + 3);
    const st = this.stack;
    const p = this.sp;
    st[p] = a;
    st[p + 1] = b;
    st[p + 2] = c;
    this.sp = p + 3;
  }

  /** Ends a collection whose items start at `base` on the stack: writes its record, returns its index. */
  private record(kind: number, at: number, base: number, width: number): number {
    const size = this.sp - base;
    const r = this.used;
    if (r + 3 + size > this.locs.length) this.locs = grow(this.locs, r + 3 + size);
    const L = this.locs;
    L[r] = kind;
    L[r + 1] = at;
    L[r + 2] = size / width;
    // A loop, not `set(subarray(…))`: a view object per collection cost more than the copy.
    const st = this.stack;
    for (let k = 0; k < size; k++) L[r + 3 + k] = st[base + k]!;
    this.used = r + 3 + size;
    this.sp = base;
    return r;
  }

  /**
   * The plain scalar `s[start, end)` with its core-schema value: `[text, value]` through the
   * cache of texts already read. Returns the value; the text is left in `lastText`.
   */
  private lastText = '';

  private plain(start: number, end: number): unknown {
    const len = end - start;
    if (len > MAX_SEEN) {
      const t = this.s.slice(start, end);
      this.lastText = t;
      return plainValue(t);
    }
    const s = this.s;
    let h = len;
    for (let j = start; j < end; j++) h = (Math.imul(h, 31) + s.charCodeAt(j)) | 0;
    const slot = (h ^ (h >>> 15)) & (SEEN_SIZE - 1);
    const seen = this.seenText[slot];
    if (seen !== undefined && seen.length === len && s.startsWith(seen, start)) {
      this.lastText = seen;
      return this.seenValue[slot];
    }
    const t = s.slice(start, end);
    const v = plainValue(t);
    this.seenText[slot] = t;
    this.seenValue[slot] = v;
    this.lastText = t;
    return v;
  }

  private enter(): void {
    if (++this.depth > MAX_FAST_DEPTH) throw DECLINE;
  }

  /**
   * From the start of a line: past blank and comment-only lines, to the first character of the
   * next line with content (or the end). A document marker (`---`, `...`) declines.
   */
  private skipBlank(): void {
    const s = this.s;
    for (;;) {
      let j = this.i;
      while (j < this.n && s.charCodeAt(j) === SP) j++;
      if (j >= this.n) {
        this.i = j;
        return;
      }
      const c = s.charCodeAt(j);
      if (c === HASH) {
        const nl = s.indexOf('\n', j);
        if (nl < 0) {
          this.i = this.n;
          return;
        }
        this.i = this.ls = nl + 1;
        continue;
      }
      if (c === NL) {
        this.i = this.ls = j + 1;
        continue;
      }
      if (j === this.ls && (s.startsWith('---', j) || s.startsWith('...', j))) throw DECLINE;
      this.i = j;
      return;
    }
  }

  /** After a value: spaces, an optional comment (after a space), then the end of the line. */
  private endLine(): void {
    const s = this.s;
    const start = this.i;
    let j = start;
    while (j < this.n && s.charCodeAt(j) === SP) j++;
    if (j < this.n && s.charCodeAt(j) === HASH) {
      if (j === start) throw DECLINE; // `"x"#c`: not a comment
      const nl = s.indexOf('\n', j);
      j = nl < 0 ? this.n : nl;
    }
    if (j < this.n) {
      if (s.charCodeAt(j) !== NL) throw DECLINE;
      j++;
      this.ls = j;
    }
    this.i = j;
    this.skipBlank();
  }

  private col(): number {
    return this.i - this.ls;
  }

  /** `- ` (or `-` at the end of a line) at `i`: a list item. */
  private atDash(): boolean {
    if (this.s.charCodeAt(this.i) !== DASH) return false;
    const c = this.s.charCodeAt(this.i + 1);
    return c === SP || c === NL || Number.isNaN(c);
  }

  private blockMap(c: number): Record<string, unknown> {
    this.enter();
    const s = this.s;
    const obj: Record<string, unknown> = {};
    const at = this.i;
    const base = this.sp;
    for (;;) {
      const keyOff = this.i;
      const key = this.blockKey();
      if (Object.prototype.hasOwnProperty.call(obj, key)) throw DECLINE; // the library reports it
      let j = this.i;
      while (j < this.n && s.charCodeAt(j) === SP) j++;
      this.i = j;
      const ch = j < this.n ? s.charCodeAt(j) : NL;
      let value: unknown;
      let valOff: number;
      if (ch === NL || ch === HASH) {
        // The value starts on a later line: a deeper block, or a list at the key's own column.
        if (ch === HASH) {
          const nl = s.indexOf('\n', j);
          this.i = nl < 0 ? this.n : nl;
        }
        this.endLine();
        if (this.i >= this.n) throw DECLINE; // `key:` with nothing: null, left to the library
        const col = this.col();
        if (col > c) value = this.atDash() ? this.blockSeq(col) : this.blockMap(col);
        else if (col === c && this.atDash()) value = this.blockSeq(col);
        else throw DECLINE;
        valOff = this.locs[this.kid + 1]!;
      } else {
        valOff = j;
        value = this.inlineValue();
      }
      this.push3(keyOff, valOff, this.kid);
      obj[key] = value;
      if (this.i >= this.n) break;
      const col = this.col();
      if (col < c) break;
      if (col > c || this.atDash()) throw DECLINE;
    }
    this.depth--;
    this.kid = this.record(MAP, at, base, MAP_ITEM);
    return obj;
  }

  private blockSeq(c: number): unknown[] {
    this.enter();
    const s = this.s;
    const arr: unknown[] = [];
    const at = this.i;
    const base = this.sp;
    for (;;) {
      // At `- `: the item starts after the spaces.
      let j = this.i + 1;
      while (j < this.n && s.charCodeAt(j) === SP) j++;
      this.i = j;
      if (j >= this.n || this.atDash()) throw DECLINE;
      let value: unknown;
      let valOff = j;
      const ch = s.charCodeAt(j);
      if (ch === NL || ch === HASH) {
        // The item starts on a later line, deeper than its `-`.
        if (ch === HASH) {
          if (s.charCodeAt(j - 1) !== SP) throw DECLINE;
          const nl = s.indexOf('\n', j);
          this.i = nl < 0 ? this.n : nl;
        }
        this.endLine();
        if (this.i >= this.n || this.col() <= c) throw DECLINE; // `-` alone: null, left to the library
        value = this.atDash() ? this.blockSeq(this.col()) : this.blockMap(this.col());
        valOff = this.locs[this.kid + 1]!;
      } else {
        value = this.startsKey() ? this.blockMap(this.col()) : this.inlineValue();
      }
      this.push2(valOff, this.kid);
      arr.push(value);
      if (this.i >= this.n) break;
      const col = this.col();
      if (col === c && this.atDash()) continue;
      if (col <= c) break;
      throw DECLINE;
    }
    this.depth--;
    this.kid = this.record(SEQ, at, base, SEQ_ITEM);
    return arr;
  }

  /** Whether the line from `i` is `key: …` (a compact mapping in a list item). */
  private startsKey(): boolean {
    const s = this.s;
    const c = s.charCodeAt(this.i);
    let j: number;
    if (c === DQ || c === SQ) {
      j = quotedEnd(s, this.i);
    } else if (c === LBRACE || c === LBRACKET) {
      return false;
    } else {
      for (j = this.i; j < this.n; j++) {
        const d = s.charCodeAt(j);
        if (d === NL) return false;
        if (d === HASH && s.charCodeAt(j - 1) === SP) return false;
        if (d === COLON && this.sepAfter(j + 1)) return true;
      }
      return false;
    }
    while (s.charCodeAt(j) === SP) j++;
    return s.charCodeAt(j) === COLON && this.sepAfter(j + 1);
  }

  /** A space, a line break or the end at `j`: what must follow a `:` in block context. */
  private sepAfter(j: number): boolean {
    if (j >= this.n) return true;
    const c = this.s.charCodeAt(j);
    return c === SP || c === NL;
  }

  /** A mapping key at `i`, through its `:`; declines on anything but a short string key. */
  private blockKey(): string {
    const s = this.s;
    const start = this.i;
    const c = s.charCodeAt(start);
    let key: string;
    if (c === DQ || c === SQ) {
      key = this.quoted();
      if (ARRAY_INDEX.test(key)) throw DECLINE;
      this.spaces();
      if (s.charCodeAt(this.i) !== COLON || !this.sepAfter(this.i + 1)) throw DECLINE;
      this.i++;
    } else {
      if (!plainAt(s, this.i)) throw DECLINE;
      let j = start;
      for (;;) {
        if (j >= this.n) throw DECLINE;
        const d = s.charCodeAt(j);
        if (d === COLON && this.sepAfter(j + 1)) break;
        if (d === NL || d === HASH || d === LBRACE || d === RBRACE || d === LBRACKET || d === RBRACKET || d === COMMA || d === DQ || d === SQ) throw DECLINE;
        j++;
      }
      let end = j;
      while (s.charCodeAt(end - 1) === SP) end--;
      const v = this.plain(start, end);
      key = this.lastText;
      // `1:`, `true:`: keys the library types. Array indices are among them (a plain `0` or `12`
      // reads as a number), so only a quoted key needs the ARRAY_INDEX test.
      if (v !== key) throw DECLINE;
      this.i = j + 1;
    }
    if (key.length > MAX_KEY || key === '__proto__' || key === '<<') throw DECLINE;
    return key;
  }

  /** A value on the rest of the line: a flow collection, a quoted or a plain scalar; then the line's end. */
  private inlineValue(): unknown {
    const s = this.s;
    const c = s.charCodeAt(this.i);
    if (c === LBRACE || c === LBRACKET) {
      const r = c === LBRACE ? this.flowMap() : this.flowSeq();
      this.endLine();
      return r;
    }
    if (c === DQ || c === SQ) {
      const v = this.quoted();
      this.endLine();
      this.kid = -1;
      return v;
    }
    if (!plainAt(s, this.i)) throw DECLINE;
    const start = this.i;
    let j = start;
    let end = start;
    for (; j < this.n; j++) {
      const d = s.charCodeAt(j);
      if (d === NL) break;
      if (d === SP) continue;
      if (d === HASH && s.charCodeAt(j - 1) === SP) break;
      if (d === COLON && this.sepAfter(j + 1)) throw DECLINE; // `a: b: c`: the library refuses
      if (d === LBRACE || d === RBRACE || d === LBRACKET || d === RBRACKET) throw DECLINE;
      end = j + 1;
    }
    this.i = end;
    const v = this.plain(start, end);
    this.endLine();
    this.kid = -1;
    return v;
  }

  /** `{ key: value, … }` on one line. */
  private flowMap(): Record<string, unknown> {
    this.enter();
    const s = this.s;
    const obj: Record<string, unknown> = {};
    const at = this.i;
    const base = this.sp;
    this.i++;
    this.spaces();
    if (s.charCodeAt(this.i) === RBRACE) {
      this.i++;
    } else {
      for (;;) {
        const keyOff = this.i;
        const c = s.charCodeAt(keyOff);
        let key: string;
        if (c === DQ || c === SQ) {
          key = this.quoted();
          if (ARRAY_INDEX.test(key)) throw DECLINE;
        } else {
          const v = this.flowPlain();
          key = this.lastText;
          if (v !== key) throw DECLINE; // typed keys, array indices among them (see blockKey)
        }
        if (key.length > MAX_KEY || key === '__proto__' || key === '<<' || Object.prototype.hasOwnProperty.call(obj, key)) throw DECLINE;
        if (s.charCodeAt(this.i) !== COLON || s.charCodeAt(this.i + 1) !== SP) throw DECLINE;
        this.i += 2;
        this.spaces();
        const valOff = this.i;
        const value = this.flowNode();
        this.push3(keyOff, valOff, this.kid);
        obj[key] = value;
        this.spaces();
        const d = s.charCodeAt(this.i);
        this.i++;
        if (d === RBRACE) break;
        if (d !== COMMA) throw DECLINE;
        this.spaces();
        if (s.charCodeAt(this.i) === RBRACE) throw DECLINE; // a trailing comma: left to the library
      }
    }
    this.depth--;
    this.kid = this.record(MAP, at, base, MAP_ITEM);
    return obj;
  }

  /** `[ item, … ]` on one line. */
  private flowSeq(): unknown[] {
    this.enter();
    const s = this.s;
    const arr: unknown[] = [];
    const at = this.i;
    const base = this.sp;
    this.i++;
    this.spaces();
    if (s.charCodeAt(this.i) === RBRACKET) {
      this.i++;
    } else {
      for (;;) {
        const valOff = this.i;
        const value = this.flowNode();
        this.push2(valOff, this.kid);
        arr.push(value);
        this.spaces();
        const d = s.charCodeAt(this.i);
        this.i++;
        if (d === RBRACKET) break;
        if (d !== COMMA) throw DECLINE; // `[a: b]` (a pair in a list) among others
        this.spaces();
        if (s.charCodeAt(this.i) === RBRACKET) throw DECLINE;
      }
    }
    this.depth--;
    this.kid = this.record(SEQ, at, base, SEQ_ITEM);
    return arr;
  }

  private flowNode(): unknown {
    const c = this.s.charCodeAt(this.i);
    if (c === LBRACE) return this.flowMap();
    if (c === LBRACKET) return this.flowSeq();
    this.kid = -1;
    if (c === DQ || c === SQ) return this.quoted();
    return this.flowPlain();
  }

  /** A plain scalar inside brackets, up to `,` `[` `]` `{` `}` or a `:` followed by a space: its value (its text in `lastText`). */
  private flowPlain(): unknown {
    const s = this.s;
    const start = this.i;
    if (!plainAt(s, start)) throw DECLINE;
    let j = start;
    let end = start;
    for (; j < this.n; j++) {
      const d = s.charCodeAt(j);
      if (d === SP) continue;
      if (d === COMMA || d === RBRACE || d === RBRACKET) break;
      if (d === NL || d === HASH || d === LBRACE || d === LBRACKET || d === DQ || d === SQ) throw DECLINE;
      if (d === COLON) {
        const e = s.charCodeAt(j + 1);
        if (e === SP) break;
        throw DECLINE; // `a:b`, `fd00::1` and `{a:}`: left to the library
      }
      end = j + 1;
    }
    if (j >= this.n) throw DECLINE;
    this.i = end;
    return this.plain(start, end);
  }

  private spaces(): void {
    while (this.i < this.n && this.s.charCodeAt(this.i) === SP) this.i++;
  }

  /** The quoted scalar at `i`, on one line; `i` ends past its closing quote. */
  private quoted(): string {
    const start = this.i;
    const end = quotedEnd(this.s, start);
    this.i = end;
    return unquote(this.s, start, end);
  }
}
