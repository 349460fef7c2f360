/**
 * The rules for every identifier a spec hands to a kernel or writes into a config file, in one
 * place, so the schema (spec boundary), the resolver (names it derives) and the renderers
 * (defence in depth) agree. Each rule returns a sentence saying what is wrong and which characters
 * are allowed, or undefined when the value is fine. The sets are deliberately small: every
 * character in them is inert in nft, iptables-restore, shell, XML, YAML, ini and zone-file syntax,
 * so no target ever needs to quote an identifier to keep its meaning.
 */
import { INVISIBLE } from '../util/visible.js';

/** IFNAMSIZ - 1: the kernel keeps interface names in 16 bytes including the final NUL. */
export const IFNAME_MAX_BYTES = 15;

/** Characters of an interface name cordon accepts (the kernel allows more, but nft/iptables/shell would need quoting). */
export const IFNAME_CHARS_TEXT = 'letters, digits, "_", ".", "@" and "-"';
const IFNAME_RE = /^[A-Za-z0-9_.@-]+$/;

/** Characters of a spec name (network, host, tunnel, group, service): they become file, set, chain and object names. */
export const NAME_CHARS_TEXT = 'a letter, then letters, digits, "-" or "_"';
export const NAME_RE = /^[A-Za-z][A-Za-z0-9_-]*$/;
/** Longer names would not fit a DNS label, a libvirt or Kubernetes object name, or a readable file name. */
export const NAME_MAX = 63;

/** Characters of a reference (host, host.service, network, group, CIDR, built-in); ':' only so IPv6 gets its own message. */
export const REF_CHARS_TEXT = 'letters, digits, "_", "-", "." and "/" (a name, host.service or CIDR)';
const REF_RE = /^[A-Za-z0-9_.:/-]+$/;
export const REF_MAX = 253;

/** Printable form of a value inside a message: control, bidi and other invisible characters shown as \u{…}. */
export function shown(text: string): string {
  const cut = [...text].length > 40 ? `${[...text].slice(0, 40).join('')}…` : text;
  return `'${cut.replace(INVISIBLE, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`)}'`;
}

function offending(text: string, allowed: RegExp): string {
  const bad = [...new Set([...text].filter((c) => !allowed.test(c)))];
  const one = (c: string): string => (c.match(INVISIBLE) || c === ' ' ? `\\u{${c.codePointAt(0)!.toString(16)}}` : c);
  return bad.map((c) => (c === "'" ? `"'"` : `'${one(c)}'`)).join(', ');
}

/** A Linux interface name: 1–15 bytes from the safe set, not `.` or `..`. */
export function ifnameProblem(name: string, subject?: string): string | undefined {
  if (name.length === 0) return 'an interface name cannot be empty';
  // A good name (every one a renderer writes, per rule) builds no message: the default subject
  // quotes the name through `shown`, which was most of this check's cost.
  if (name.length <= IFNAME_MAX_BYTES && IFNAME_RE.test(name) && name !== '.' && name !== '..') return undefined;
  return ifnameMessage(name, subject ?? `interface name ${shown(name)}`);
}

/** What is wrong with an interface name that failed the quick test (undefined: nothing after all). */
function ifnameMessage(name: string, subject: string): string | undefined {
  const bytes = Buffer.byteLength(name, 'utf8');
  const chars = [...name].length;
  const tooLong = bytes > IFNAME_MAX_BYTES;
  const size = bytes === chars ? `${chars} characters` : `${chars} characters (${bytes} bytes in UTF-8)`;
  if (!IFNAME_RE.test(name)) {
    return `${subject} contains ${offending(name, /[A-Za-z0-9_.@-]/)}${tooLong ? ` and has ${size}` : ''}: an interface name is at most ${IFNAME_MAX_BYTES} bytes of ${IFNAME_CHARS_TEXT}`;
  }
  if (tooLong) return `${subject} has ${size}; the kernel allows at most ${IFNAME_MAX_BYTES}`;
  if (name === '.' || name === '..') return `${subject} is reserved by the kernel`;
  return undefined;
}

/** A spec name: the safe set, at most NAME_MAX characters. */
export function nameProblem(name: string): string | undefined {
  if (!NAME_RE.test(name)) return `${shown(name)} is not a name: expected ${NAME_CHARS_TEXT}`;
  if (name.length > NAME_MAX) return `name ${shown(name)} has ${name.length} characters; at most ${NAME_MAX}`;
  return undefined;
}

/** A reference: only characters a name, host.service, CIDR or address can hold. */
export function refProblem(ref: string, subject = shown(ref)): string | undefined {
  if (ref.length === 0) return 'a reference cannot be empty';
  if (!REF_RE.test(ref)) return `${subject} contains ${offending(ref, /[A-Za-z0-9_.:/-]/)}: a reference is made of ${REF_CHARS_TEXT}`;
  if (ref.length > REF_MAX) return `${subject} has ${ref.length} characters; at most ${REF_MAX}`;
  return undefined;
}

/** An enforcement point key, HOST:HOOK (the hook is checked against the list of hooks by the resolver). */
export function pointProblem(key: string): string | undefined {
  const [host, hook, ...rest] = key.split(':');
  if (host === undefined || hook === undefined || rest.length > 0 || nameProblem(host) !== undefined || !/^[a-z][a-z-]*$/.test(hook)) {
    return `${shown(key)} is not an enforcement point: expected HOST:HOOK, HOST being ${NAME_CHARS_TEXT}`;
  }
  return undefined;
}
