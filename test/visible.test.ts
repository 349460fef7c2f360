/**
 * visible() against the global replace it skips when its quick test finds nothing: the same text
 * for strings of every edge of the invisible class, surrogates (paired and lone) and tabs.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { INVISIBLE, visible } from '../src/util/visible.js';
import { assertProperty } from './support/seed.js';

const EDGES = [
  0x00, 0x09, 0x0a, 0x1f, 0x20, 0x7e, 0x7f, 0x9f, 0xa0, 0xac, 0xad, 0xae, 0x61b, 0x61c, 0x61d, 0x180d, 0x180e, 0x180f, 0x200a, 0x200b, 0x200f, 0x2010, 0x2027,
  0x2028, 0x202e, 0x202f, 0x205f, 0x2060, 0x2069, 0x206a, 0xd83d, 0xde00, 0xfefe, 0xfeff, 0xff00, 0xfff8, 0xfff9, 0xfffb, 0xfffc,
].map((c) => String.fromCharCode(c));

function replaced(text: string): string {
  return text.replace(INVISIBLE, (c) => (c === '\t' ? c : `\\u{${c.codePointAt(0)!.toString(16)}}`));
}

describe('visible', () => {
  it('gives what the replace gives, for every edge of the class', () => {
    for (const c of EDGES) assert.equal(visible(`a${c}b`), replaced(`a${c}b`), c.charCodeAt(0).toString(16));
    assert.equal(visible('a😀b'), 'a😀b');
    assert.equal(visible('a\u202eb'), 'a\\u{202e}b');
  });
  it('on random strings of those characters', () => {
    assertProperty(
      fc.property(fc.array(fc.constantFrom(...EDGES, 'a', 'é'), { maxLength: 12 }), (cs) => {
        const s = cs.join('');
        assert.equal(visible(s), replaced(s));
      }),
      { numRuns: 2000 },
      1101,
    );
  });
});
