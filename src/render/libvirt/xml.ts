/**
 * Tiny XML helpers for the libvirt target: attributes in libvirt's own style (single quotes),
 * comments. The one place XML is escaped: XML 1.0 cannot carry most control characters at all,
 * not even as character references, so text is made inert (escape.ts) before the markup is escaped.
 */
import { inert } from '../escape.js';

/** Escapes text for an attribute value in single quotes or for element text. */
export function xmlEscape(text: string): string {
  return inert(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;').replace(/"/g, '&quot;');
}

/** ` a='1' b='2'` from pairs, skipping undefined values; order is the caller's. */
export function attrs(pairs: readonly (readonly [string, string | number | undefined])[]): string {
  return pairs
    .filter((p): p is readonly [string, string | number] => p[1] !== undefined)
    .map(([k, v]) => ` ${k}='${xmlEscape(String(v))}'`)
    .join('');
}

/** One XML comment line. `--` may not appear inside a comment, nor may it end in `-`. */
export function xmlComment(text: string): string {
  const safe = inert(text)
    .replace(/-(?=-)/g, '- ')
    .replace(/-$/, '- ');
  return `<!-- ${safe} -->`;
}
