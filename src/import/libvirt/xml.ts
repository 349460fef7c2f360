/**
 * A small, strict XML reader for libvirt's documents (network, nwfilter, domain XML): elements and
 * attributes with the line and column they start at, and their own text. libvirt's files are plain XML
 * without a DTD, so this reader refuses `<!DOCTYPE`/`<!ENTITY` instead of expanding anything (no
 * entity tricks from a hostile file), knows only the five predefined entities and character
 * references, and bounds nesting depth. Every refusal is an error at its line.
 */

export interface XmlAttr {
  readonly value: string;
  readonly line: number;
  readonly col: number;
}

export interface XmlElement {
  readonly name: string;
  readonly attrs: ReadonlyMap<string, XmlAttr>;
  readonly children: readonly XmlElement[];
  /** The element's own text (not its children's), entities resolved, trimmed. */
  readonly text: string;
  readonly line: number;
  readonly col: number;
}

export type XmlResult = { ok: true; root: XmlElement } | { ok: false; error: string; line: number; col: number };

const MAX_DEPTH = 64;
const NAME = /[A-Za-z_][A-Za-z0-9_.:-]*/y;

const ENTITIES: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

class Fail extends Error {
  constructor(
    readonly why: string,
    readonly at: number,
  ) {
    super(why);
  }
}

interface Building {
  name: string;
  attrs: Map<string, XmlAttr>;
  children: XmlElement[];
  text: string;
  line: number;
  col: number;
}

export function parseXml(text: string): XmlResult {
  // Line starts, for turning offsets into positions only when needed.
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts.push(i + 1);
  const pos = (at: number): { line: number; col: number } => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= at) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: at - starts[lo]! + 1 };
  };
  const unescape = (raw: string, at: number): string =>
    raw.replace(/&([^;&\s]{0,10});?/g, (all, name: string) => {
      if (!all.endsWith(';')) throw new Fail(`'&' must start an entity such as &amp;`, at);
      if (name in ENTITIES) return ENTITIES[name]!;
      const num = /^#(?:x([0-9A-Fa-f]{1,6})|([0-9]{1,7}))$/.exec(name);
      const code = num ? (num[1] !== undefined ? parseInt(num[1], 16) : Number(num[2])) : NaN;
      if (!Number.isInteger(code) || code === 0 || code > 0x10ffff) throw new Fail(`unknown entity &${name};`, at);
      return String.fromCodePoint(code);
    });
  let i = 0;
  const stack: Building[] = [];
  let root: XmlElement | undefined;
  const close = (b: Building): void => {
    const el: XmlElement = { name: b.name, attrs: b.attrs, children: b.children, text: b.text.trim(), line: b.line, col: b.col };
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(el);
    else if (root) throw new Fail('a second root element: an XML document has exactly one', text.lastIndexOf('<', i));
    else root = el;
  };
  try {
    while (i < text.length) {
      const lt = text.indexOf('<', i);
      if (lt < 0) {
        if (text.slice(i).trim() !== '' && stack.length === 0) throw new Fail('text outside the root element', i);
        break;
      }
      if (stack.length === 0 && text.slice(i, lt).trim() !== '') throw new Fail('text outside the root element', i);
      const top = stack[stack.length - 1];
      if (top && lt > i) top.text += unescape(text.slice(i, lt), i);
      i = lt;
      if (text.startsWith('<!--', i)) {
        const end = text.indexOf('-->', i + 4);
        if (end < 0) throw new Fail('unclosed comment (<!-- without -->)', i);
        i = end + 3;
        continue;
      }
      if (text.startsWith('<?', i)) {
        const end = text.indexOf('?>', i + 2);
        if (end < 0) throw new Fail('unclosed processing instruction (<? without ?>)', i);
        i = end + 2;
        continue;
      }
      if (text.startsWith('<![CDATA[', i)) {
        const end = text.indexOf(']]>', i);
        if (end < 0 || stack.length === 0) throw new Fail('CDATA outside an element or unclosed', i);
        i = end + 3;
        continue;
      }
      if (text.startsWith('<!', i)) throw new Fail('DOCTYPE and entity declarations are not read (libvirt XML has none)', i);
      if (text.startsWith('</', i)) {
        NAME.lastIndex = i + 2;
        const m = NAME.exec(text);
        const open = stack.pop();
        if (!m) throw new Fail('a closing tag without a name', i);
        if (!open) throw new Fail(`</${m[0]}> closes nothing`, i);
        if (open.name !== m[0]) throw new Fail(`</${m[0]}> closes <${open.name}> (line ${open.line})`, i);
        const gt = text.indexOf('>', NAME.lastIndex);
        if (gt < 0 || text.slice(NAME.lastIndex, gt).trim() !== '') throw new Fail(`</${m[0]}: expected '>'`, i);
        close(open);
        i = gt + 1;
        continue;
      }
      NAME.lastIndex = i + 1;
      const m = NAME.exec(text);
      if (!m) throw new Fail("'<' must start a tag", i);
      const at = pos(i);
      const b: Building = { name: m[0], attrs: new Map(), children: [], text: '', line: at.line, col: at.col };
      let j = NAME.lastIndex;
      for (;;) {
        while (j < text.length && /\s/.test(text[j]!)) j++;
        if (text.startsWith('/>', j)) {
          if (stack.length >= MAX_DEPTH) throw new Fail(`nested deeper than ${MAX_DEPTH} elements`, i);
          close(b);
          j += 2;
          break;
        }
        if (text[j] === '>') {
          if (stack.length >= MAX_DEPTH) throw new Fail(`nested deeper than ${MAX_DEPTH} elements`, i);
          stack.push(b);
          j += 1;
          break;
        }
        NAME.lastIndex = j;
        const an = NAME.exec(text);
        if (!an) throw new Fail(`<${b.name}>: expected an attribute, '>' or '/>'`, j);
        const aStart = j;
        j = NAME.lastIndex;
        while (j < text.length && /\s/.test(text[j]!)) j++;
        if (text[j] !== '=') throw new Fail(`<${b.name}> attribute ${an[0]}: expected '='`, j);
        j++;
        while (j < text.length && /\s/.test(text[j]!)) j++;
        const q = text[j];
        if (q !== '"' && q !== "'") throw new Fail(`<${b.name}> attribute ${an[0]}: the value must be quoted`, j);
        const end = text.indexOf(q, j + 1);
        if (end < 0) throw new Fail(`<${b.name}> attribute ${an[0]}: unclosed quote`, j);
        const raw = text.slice(j + 1, end);
        if (raw.includes('<')) throw new Fail(`<${b.name}> attribute ${an[0]}: '<' in a value`, j);
        if (b.attrs.has(an[0])) throw new Fail(`<${b.name}> has attribute ${an[0]} twice`, aStart);
        const ap = pos(aStart);
        b.attrs.set(an[0], { value: unescape(raw, aStart), line: ap.line, col: ap.col });
        j = end + 1;
      }
      i = j;
    }
    const open = stack.pop();
    if (open) return { ok: false, error: `<${open.name}> is never closed`, line: open.line, col: open.col };
    if (!root) return { ok: false, error: 'no root element: not an XML document', line: 1, col: 1 };
    return { ok: true, root };
  } catch (e) {
    if (!(e instanceof Fail)) throw e;
    const p = pos(Math.max(0, Math.min(e.at, text.length)));
    return { ok: false, error: e.why, ...p };
  }
}

/** The children of `el` named `name`. */
export function kids(el: XmlElement, name: string): XmlElement[] {
  return el.children.filter((c) => c.name === name);
}

export function attr(el: XmlElement, name: string): string | undefined {
  return el.attrs.get(name)?.value;
}
