/** "Did you mean" hints for unknown names. */

export function editDistance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

/** The closest candidate within a small edit distance, if any. */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const limit = Math.max(2, Math.floor(name.length / 3));
  const lower = name.toLowerCase();
  for (const c of candidates) {
    // The distance is at least the difference in length: skip the O(n·m) table when that alone
    // is too far (a 10 MB name against short ones, or thousands of candidates).
    if (Math.abs(c.length - name.length) > Math.min(limit, bestD)) continue;
    const d = editDistance(lower, c.toLowerCase());
    if (d < bestD && d <= limit) {
      best = c;
      bestD = d;
    }
  }
  return best;
}

/** A hint sentence: did-you-mean when close, else the list of valid choices (shortened). */
export function unknownNameHint(name: string, candidates: readonly string[]): string {
  const near = closest(name, candidates);
  if (near) return `did you mean '${near}'?`;
  if (candidates.length === 0) return 'none are declared';
  const shown = [...candidates]
    .sort()
    .slice(0, 12)
    .map((c) => `'${c}'`);
  return `valid choices: ${shown.join(', ')}${candidates.length > 12 ? `, … (${candidates.length} in all)` : ''}`;
}
