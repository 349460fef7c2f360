/**
 * Invisible characters and how to show them: for everything that prints text it did not write
 * (diagnostics, code frames, comments in rendered files). At the bottom (util/) because diag/
 * needs it too, and diag/ imports nothing above util/.
 */

/**
 * Characters that change how a line reads without being visible, or end it: C0/C1 controls
 * (newline, NUL, escape), DEL, Unicode line/paragraph separators, bidi embeddings, overrides and
 * isolates (the "Trojan Source" set), zero-width characters and the BOM.
 */
export const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]/gu;

/**
 * INVISIBLE without the global flag (`test` keeps no state between calls) and without the unicode
 * one: every character of the class is in the BMP, so code units and code points find the same
 * (a surrogate, paired or not, is in neither), and the plain pattern is quicker on the thousands
 * of texts lint prints.
 */
const ANY_INVISIBLE = new RegExp(INVISIBLE.source);

/**
 * `text` with every invisible character except tab written as \u{…}: for terminals (a message or
 * a code frame must not carry an escape sequence or a bidi override from the spec) and for comments.
 */
export function visible(text: string): string {
  // Most texts have none (every origin of every rule passes through here): a test is cheaper
  // than a global replace that finds nothing.
  if (!ANY_INVISIBLE.test(text)) return text;
  return text.replace(INVISIBLE, (c) => (c === '\t' ? c : `\\u{${c.codePointAt(0)!.toString(16)}}`));
}
