/**
 * How text from the spec is written into each target's syntax, in one place. The spec boundary
 * already restricts identifiers (src/spec/identifiers.ts); this is the second wall: free text
 * (hand-written rule comments, the spec's file name, origin texts) is made inert for the syntax it
 * lands in, and an identifier that is not safe as it is gets refused with `UnsafeOutput` (turned
 * into a CORDON018 diagnostic by the registry), never quoted into something else.
 *
 * Per syntax:
 * - every line comment (nft, iptables-restore, shell, ini, YAML, Proxmox .fw, zone, named.conf):
 *   `inert` — one line, no control, bidi or zero-width character raw;
 * - nft and iptables-restore double-quoted strings: `quotedText` (no `"` inside; nft has no escape);
 * - shell words: `shWord` (single quotes; control characters refused);
 * - XML: src/render/libvirt/xml.ts, built on `inert`;
 * - interface names anywhere: `ifname` (refused unless 1–15 bytes of the safe set).
 */
import { ifnameProblem } from '../spec/identifiers.js';
import { visible } from '../util/visible.js';

/** A value a target cannot carry without changing the file's meaning; the renderer refuses it. */
export class UnsafeOutput extends Error {
  constructor(readonly what: string) {
    super(what);
    this.name = 'UnsafeOutput';
  }
}

/** Text for a comment or a free-text field: one line, every invisible character written as \u{…}. */
export function inert(text: string): string {
  return visible(text).replace(/\t/g, '\\u{9}');
}

/** Text inside "…" in nft or iptables-restore: inert, and `"` (which nft cannot escape) becomes `'`. */
export function quotedText(text: string): string {
  return inert(text).replace(/"/g, "'");
}

/** An interface name as it is, or refused: it is written unquoted into iptables, ifupdown, file names. */
export function ifname(name: string): string {
  const problem = ifnameProblem(name);
  if (problem !== undefined) throw new UnsafeOutput(problem);
  return name;
}

/** A DNS name (zone, label or FQDN) as it is, or refused: it is written bare into zone files, dnsmasq and named.conf. */
export function dnsName(name: string): string {
  const labels = name.replace(/\.$/, '').split('.');
  const ok = name.length <= 253 && labels.every((l) => /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l));
  if (!ok) throw new UnsafeOutput(`${JSON.stringify(name)} is not a DNS name (labels of at most 63 letters, digits and "-", at most 253 in all)`);
  return name;
}

/** A path inside "…" in named.conf (a target parameter): refused when it holds a quote, backslash, ';' or a control character. */
export function confPath(text: string): string {
  if (!/^[A-Za-z0-9_./@+-]+$/.test(text)) throw new UnsafeOutput(`${JSON.stringify(text)} cannot be written into named.conf: use letters, digits and "_./@+-"`);
  return text;
}

/** One shell word: bare when it holds only safe characters, else in single quotes; control characters are refused. */
export function shWord(text: string): string {
  if (/^[A-Za-z0-9_./:@%+=-]+$/.test(text)) return text;
  if (inert(text) !== text) throw new UnsafeOutput(`the shell word ${JSON.stringify(text)} holds control or invisible characters`);
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * A path of a rendered file, relative to the output directory: segments of safe characters, no
 * `.`/`..`, nothing absolute. Names in it come from the spec, so this is checked for every file.
 */
export function safeRelativePath(path: string): string | undefined {
  const segs = path.split('/');
  if (path.startsWith('/') || segs.some((s) => s === '' || s === '.' || s === '..' || !/^[A-Za-z0-9_.@-]+$/.test(s))) {
    return `rendered file path ${JSON.stringify(path)} would not stay a plain file under the output directory`;
  }
  return undefined;
}
