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
