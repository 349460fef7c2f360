/**
 * One small text emitter shared by the text backends: indentation, blocks, a header naming the
 * spec and its hash, and exactly one final newline.
 */
import type { Model } from '../model/types.js';
import { INVISIBLE } from '../util/visible.js';
import { ByteOut, collectChunks } from './bytes.js';
import { inert, UnsafeOutput } from './escape.js';

/** INVISIBLE without the tab used for indentation, tested in place (no copy per line: renderers emit millions). */
const INVISIBLE_NO_TAB = new RegExp(INVISIBLE.source.replace('\\u0000-\\u001f', '\\u0000-\\u0008\\u000a-\\u001f'), 'u');

/** Anything that ends a line or hides what it says, except the tab used for indentation. */
function hasRawInvisible(text: string): boolean {
  return INVISIBLE_NO_TAB.test(text);
}

/** What `generated` blocks may hold: printable ASCII, tab and newline. */
const GENERATED = /^[\t\n\x20-\x7e]*$/;

export class Emitter {
  private readonly lines: string[] = [];
  private depth = 0;
  /** The indentation of each depth, made once (a line per call made its own). */
  private readonly indents: string[] = [''];
  private readonly indentUnit: string;
  private readonly indentUnsafe: boolean;
  /**
   * Byte mode: every line goes to `out` as it is made and nothing is kept. A blank line waits
   * until a line follows it (the text form drops trailing blank lines), so the bytes are exactly
   * those of `toString()` in text mode.
   */
  private readonly out: ByteOut | undefined;
  private pendingBlanks = 0;
  /** Byte mode: whether any line (blank or not) came yet, and whether the last one was blank (what `gap` asks). */
  private started = false;
  private lastBlank = false;
  /** Byte mode: whether a line that is not blank was written. */
  private wroteText = false;

  /** `out`: write to these bytes as lines come (byte mode) instead of keeping them for `toString`; `end()` finishes the file. */
  constructor(indentUnit = '  ', out?: ByteOut) {
    this.indentUnit = indentUnit;
    this.indentUnsafe = hasRawInvisible(indentUnit);
    this.out = out;
  }

  /** One line. A raw newline, control or bidi character in it is refused: text from the spec must be escaped first (escape.ts). */
  line(text = ''): this {
    if (hasRawInvisible(text) || this.indentUnsafe)
      throw new UnsafeOutput(`a rendered line would carry a raw control or invisible character: ${JSON.stringify(text.slice(0, 60))}`);
    if (this.out !== undefined) {
      if (text === '') this.blank();
      else {
        this.beginLine(this.out);
        if (this.depth > 0) this.out.text((this.indents[this.depth] ??= this.indentUnit.repeat(this.depth)));
        this.out.text(text);
        this.out.byte(NL);
      }
    } else if (text === '' || this.depth === 0) this.lines.push(text);
    else this.lines.push((this.indents[this.depth] ??= this.indentUnit.repeat(this.depth)) + text);
    return this;
  }

  /**
   * Many lines of generated text at once (set elements: numbers, addresses, protocol names; no
   * text from the spec), already indented by the caller, without its final newline. Checked once
   * as a whole: only printable ASCII, tabs and newlines; anything else is refused like a raw
   * control character in `line`. Renderers with millions of such lines skip a string per line.
   */
  generated(text: string): this {
    if (!GENERATED.test(text))
      throw new UnsafeOutput(`a generated block would carry a character outside printable ASCII: ${JSON.stringify(text.slice(0, 60))}`);
    if (this.out === undefined) this.lines.push(text);
    else if (text === '') this.blank();
    else {
      this.beginLine(this.out);
      this.out.ascii(text);
      this.out.byte(NL);
    }
    return this;
  }

  /**
   * Like `generated`, but `write` puts the block's bytes straight into a ByteOut (no string is
   * made): in byte mode the emitter's own, so a block of millions of set elements streams to the
   * file. Checked the same way (printable ASCII, tab, newline), before any of it leaves the
   * buffer. A block that writes nothing adds no line.
   */
  generatedBytes(write: (out: ByteOut) => void): this {
    const out = this.out;
    if (out !== undefined && this.pendingBlanks === 0) {
      const start = out.total;
      out.beginChecked();
      write(out);
      out.endChecked();
      if (out.total > start) {
        this.beginLine(out);
        out.byte(NL);
      }
      return this;
    }
    // Text mode (or blank lines waiting, which only a non-empty block may write): made aside.
    const kept = collectChunks();
    const aside = new ByteOut(kept.sink);
    aside.beginChecked();
    write(aside);
    aside.endChecked();
    aside.flush();
    const bytes = kept.bytes();
    if (bytes.length === 0) return this;
    if (out === undefined) this.lines.push(bytes.toString('latin1'));
    else {
      this.beginLine(out);
      out.bytes(bytes);
      out.byte(NL);
    }
    return this;
  }

  /**
   * A second emitter at this one's depth (plus `deeper`) and indentation whose lines wait aside until `insert`:
   * for lines made while other text is being written here (a chain's rule lines, made with its
   * sets). In byte mode they wait as bytes, not as a string per line kept alive until then.
   * Each line is checked by the aside emitter's `line`, as it would be here.
   */
  aside(deeper = 0): Emitter {
    const kept = this.out === undefined ? undefined : collectChunks();
    const a = new Emitter(this.indentUnit, kept && new ByteOut(kept.sink));
    a.depth = this.depth + deeper;
    a.kept = kept;
    return a;
  }

  /** The lines of `aside` (made by `aside()` of this emitter), here; blank lines at its end are dropped. */
  insert(aside: Emitter): this {
    if (this.out === undefined) {
      let end = aside.lines.length;
      while (end > 0 && aside.lines[end - 1] === '') end--;
      for (let i = 0; i < end; i++) this.lines.push(aside.lines[i]!);
      return this;
    }
    if (aside.out === undefined || aside.kept === undefined) throw new Error('insert takes an emitter made by aside() of this one');
    aside.out.flush();
    const bytes = aside.kept.bytes();
    if (bytes.length === 0) return this;
    // Blank lines waiting here come first; the aside's own leading ones are in its bytes.
    this.beginLine(this.out);
    this.out.bytes(bytes);
    return this;
  }

  /** Byte mode of an aside emitter: where its bytes are kept. */
  private kept: ReturnType<typeof collectChunks> | undefined;

  lines_(texts: readonly string[]): this {
    for (const t of texts) this.line(t);
    return this;
  }

  /** `open` line, indented body, `close` line. */
  block(open: string, body: () => void, close = '}'): this {
    this.line(open);
    this.depth++;
    body();
    this.depth--;
    if (close !== '') this.line(close);
    return this;
  }

  indent(body: () => void): this {
    this.depth++;
    body();
    this.depth--;
    return this;
  }

  /** A blank line, but never two in a row and never at the start. */
  gap(): this {
    if (this.out !== undefined) {
      if (this.started && !this.lastBlank) this.blank();
    } else if (this.lines.length > 0 && this.lines[this.lines.length - 1] !== '') this.lines.push('');
    return this;
  }

  toString(): string {
    if (this.out !== undefined) throw new Error('an Emitter in byte mode wrote its text to its ByteOut: call end()');
    let end = this.lines.length;
    while (end > 0 && this.lines[end - 1] === '') end--;
    return `${this.lines.slice(0, end).join('\n')}\n`;
  }

  /** Byte mode: finishes the file as `toString` would (trailing blank lines dropped, one final newline) and flushes it. */
  end(): void {
    const out = this.out;
    if (out === undefined) throw new Error('end() is for an Emitter in byte mode');
    // The text form of blank lines only (or of none) is one newline.
    if (!this.wroteText) out.byte(NL);
    this.pendingBlanks = 0;
    out.flush();
  }

  private blank(): void {
    this.pendingBlanks++;
    this.started = true;
    this.lastBlank = true;
  }

  /** Byte mode: the blank lines waiting before a line that is not blank. */
  private beginLine(out: ByteOut): void {
    for (; this.pendingBlanks > 0; this.pendingBlanks--) out.byte(NL);
    this.started = true;
    this.lastBlank = false;
    this.wroteText = true;
  }
}

const NL = 0x0a;

/** Header lines (without comment markers) that every generated file carries. The spec's file name is any text the user's file system allows: inert. */
export function headerLines(model: Model, what: string): string[] {
  const spec = inert(model.file.split('/').pop() ?? model.file);
  return [`${what}`, `Generated by cordon from ${spec} (spec sha256 ${model.hash}). Do not edit: change the spec and render again.`];
}

/** Line comments in any syntax whose comments run to the end of the line (#, ;, //): each line made inert. */
export function commented(lines: readonly string[], marker: string): string[] {
  return lines.map((l) => (l === '' ? marker.trimEnd() : `${marker}${inert(l)}`));
}
