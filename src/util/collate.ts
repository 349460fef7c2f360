/**
 * `a.localeCompare(b)` (the default collation) without loading ICU's collation data for names
 * made of a–z, 0–9, `-` and `:` (host names, enforcement points): loading it costs ~16 ms, the
 * first time, in a process that may compare nothing else. For those characters the collation
 * orders `-`, then `:`, then digits, then letters, each apart at the primary level, with no
 * contractions: a comparison by that rank, character by character, then by length, gives its
 * order. Any other character goes to the collator.
 */

/** localeCompare's collator (ECMA-402: localeCompare is a default Intl.Collator's compare), made at its first use. */
let collator: ((a: string, b: string) => number) | undefined;

/** The place of a plain character in the collation, or -1 for any other. */
function rank(c: number): number {
  if (c >= 0x61 && c <= 0x7a) return c - 0x61 + 12;
  if (c >= 0x30 && c <= 0x39) return c - 0x30 + 2;
  if (c === 0x2d) return 0;
  if (c === 0x3a) return 1;
  return -1;
}

function plain(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (rank(s.charCodeAt(i)) < 0) return false;
  return true;
}

/** The sign of `a.localeCompare(b)`, as a number of that sign. */
export function localeOrder(a: string, b: string): number {
  if (!plain(a) || !plain(b)) return (collator ??= new Intl.Collator().compare)(a, b);
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return rank(x) - rank(y);
  }
  return a.length - b.length;
}

/**
 * `items` sorted by `localeOrder` of their names, in place (stably, as `sort` is). When every
 * name is plain, each is read once into a key whose code units order as the collation does, and
 * keys are compared natively: lint sorts a thousand hosts several times, and localeOrder checks
 * both names for other characters at every comparison.
 */
export function sortByName<T>(items: T[], nameOf: (x: T) => string): T[] {
  const keyed: { key: string; item: T }[] = [];
  for (const item of items) {
    const key = plainKey(nameOf(item));
    if (key === undefined) return items.sort((a, b) => localeOrder(nameOf(a), nameOf(b)));
    keyed.push({ key, item });
  }
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (let k = 0; k < keyed.length; k++) items[k] = keyed[k]!.item;
  return items;
}

/** One code unit per rank, in rank order. */
const RANKED = Array.from({ length: 38 }, (_, r) => String.fromCharCode(0x41 + r));

/** The name with each character as its rank; undefined when one is not plain. */
function plainKey(s: string): string | undefined {
  let key = '';
  for (let i = 0; i < s.length; i++) {
    const r = rank(s.charCodeAt(i));
    if (r < 0) return undefined;
    key += RANKED[r]!;
  }
  return key;
}
