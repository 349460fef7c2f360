/**
 * Retrieval over a session's documents without a model: the text is cut into chunks of about
 * 800 characters (paragraphs packed together, long ones split with a 200-character overlap),
 * tokenised (lower case, Unicode letters and digits, a small English and Swedish stop-word list)
 * and ranked with Okapi BM25 (k1 = 1.2, b = 0.75). Pure: no I/O, deterministic ties (by name, offset).
 */

export const CHUNK_CHARS = 800;
export const CHUNK_OVERLAP = 200;
const K1 = 1.2;
const B = 0.75;

const STOP_WORDS = new Set(
  // English
  (
    'a an and are as at be been but by can do does for from had has have he her his how i if in into is it its ' +
    'me my no not of on or our she so than that the their them then there these they this those to us was we were ' +
    'what when where which who why will with you your ' +
    // Swedish
    'alla att av blev bli de dem den denna deras dess det detta dig din ditt du där efter ej eller en er ett från för ' +
    'har hade han hans hon honom hur här i icke inte jag kan man med mig min mitt mot my nu när och om oss på sig sin ' +
    'sitt sina skall ska som så till under upp ut vad var vara vi vid vilka vilken vill är än åt över'
  ).split(' '),
);

export function tokenize(text: string): string[] {
  const words =
    text
      .normalize('NFKC')
      .toLowerCase()
      .match(/[\p{L}\p{N}]+/gu) ?? [];
  return words.filter((w) => !STOP_WORDS.has(w));
}

export interface Chunk {
  name: string;
  /** Character offset of the chunk in its document. */
  offset: number;
  text: string;
}

/** Splits one document into chunks of at most about `size` characters. */
export function chunkText(name: string, text: string, size = CHUNK_CHARS, overlap = CHUNK_OVERLAP): Chunk[] {
  const chunks: Chunk[] = [];
  const paras: { offset: number; text: string }[] = [];
  const re = /\S[\s\S]*?(?=\n\s*\n|$)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) paras.push({ offset: m.index, text: m[0].trimEnd() });
  let cur: { offset: number; text: string } | undefined;
  const flush = (): void => {
    if (cur && cur.text.trim()) chunks.push({ name, offset: cur.offset, text: cur.text });
    cur = undefined;
  };
  for (const p of paras) {
    if (p.text.length > size) {
      flush();
      for (let start = 0; start < p.text.length;) {
        let end = Math.min(p.text.length, start + size);
        if (end < p.text.length) {
          const sp = p.text.lastIndexOf(' ', end);
          if (sp > start + size / 2) end = sp;
        }
        chunks.push({ name, offset: p.offset + start, text: p.text.slice(start, end).trim() });
        if (end >= p.text.length) break;
        let next = Math.max(start + 1, end - overlap);
        const sp = p.text.indexOf(' ', next);
        if (sp !== -1 && sp < end) next = sp + 1;
        start = next;
      }
    } else if (cur && cur.text.length + 2 + p.text.length <= size) {
      cur.text += `\n\n${p.text}`;
    } else {
      flush();
      cur = { offset: p.offset, text: p.text };
    }
  }
  flush();
  return chunks;
}

export interface ContextHit extends Chunk {
  score: number;
}

export interface ContextDoc {
  name: string;
  text: string;
}

/** The `k` chunks most relevant to `query` (score > 0 only), best first. */
export function rank(docs: readonly ContextDoc[], query: string, k = 5): ContextHit[] {
  const chunks = docs.flatMap((d) => chunkText(d.name, d.text));
  const terms = [...new Set(tokenize(query))];
  if (chunks.length === 0 || terms.length === 0) return [];
  // the document name counts as part of every chunk of it
  const tfs = chunks.map((c) => {
    const tf = new Map<string, number>();
    const toks = tokenize(`${c.name.replace(/[._/-]+/g, ' ')} ${c.text}`);
    for (const t of toks) tf.set(t, (tf.get(t) ?? 0) + 1);
    return { tf, len: toks.length };
  });
  const avg = tfs.reduce((n, t) => n + t.len, 0) / tfs.length || 1;
  const df = new Map<string, number>();
  for (const t of terms) df.set(t, tfs.filter((x) => x.tf.has(t)).length);
  const n = chunks.length;
  const hits: ContextHit[] = chunks.map((c, i) => {
    const { tf, len } = tfs[i]!;
    let score = 0;
    for (const t of terms) {
      const f = tf.get(t) ?? 0;
      if (f === 0) continue;
      const d = df.get(t) ?? 0;
      const idf = Math.log(1 + (n - d + 0.5) / (d + 0.5));
      score += (idf * f * (K1 + 1)) / (f + K1 * (1 - B + (B * len) / avg));
    }
    return { ...c, score };
  });
  return hits
    .filter((h) => h.score > 0)
    .sort((a, b) => b.score - a.score || (a.name < b.name ? -1 : a.name > b.name ? 1 : a.offset - b.offset))
    .slice(0, k);
}

/** Text documents only: a file with a NUL byte or invalid UTF-8 is skipped. */
export function asText(data: Buffer): string | undefined {
  if (data.includes(0)) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch {
    return undefined;
  }
}
