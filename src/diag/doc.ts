/**
 * The code table as documents: docs/DIAGNOSTICS.md (Markdown, generated from codes.ts and kept equal
 * to it by test/diag-codes.test.ts) and one entry as plain text for `cordon explain-code`.
 */
import { DIAG_CODES, RETIRED, type CodeInfo, type DiagCode } from './codes.js';

/** A Markdown table cell: no line break, no unescaped pipe. */
function cell(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|');
}

/** Inline code that holds backticks of its own. */
function code(s: string): string {
  const ticks = s.includes('`') ? '``' : '`';
  const pad = s.startsWith('`') || s.endsWith('`') ? ' ' : '';
  return `${ticks}${pad}${s}${pad}${ticks}`;
}

export function diagnosticsMarkdown(): string {
  const rows = (Object.entries(DIAG_CODES) as [DiagCode, CodeInfo][]).map(
    ([c, e]) =>
      `| <a id="${c.toLowerCase()}"></a>${c} | ${e.severities.join(', ')} | ${cell(e.title)} | ${cell(e.meaning)} | ${cell(e.fix)} | ${cell(code(e.example))} |`,
  );
  return `# Diagnostic codes

<!-- Generated from src/diag/codes.ts; test/diag-codes.test.ts fails when the two differ.
     Edit codes.ts, then run: UPDATE_GOLDEN=1 node --import tsx --test test/diag-codes.test.ts -->

Every problem cordon reports is a diagnostic: \`FILE:LINE:COL: SEVERITY CODE: message\`, the JSON
path, a code frame and often a hint (\`cordon check --json\` gives the same as values). The code is
stable: tests, scripts and this table can cite it. \`cordon explain-code CODE\` prints one entry.

Severity: an **error** stops the command (exit 2 for a spec, 1 for a target that cannot render
it); a **warning** is printed and, in \`cordon lint\`, makes it exit 1; an **info** is only said.
Where a code has several severities, the message says which case it is.

| code | severity | title | meaning | typical fix | example message |
| --- | --- | --- | --- | --- | --- |
${rows.join('\n')}

Retired numbers, never to be reused: ${RETIRED.join(', ')}.
`;
}

/** One entry for a terminal, as `cordon explain-code` prints it. */
export function codeToText(c: DiagCode): string {
  const e = DIAG_CODES[c];
  return `${c} (${e.severities.join(', ')}): ${e.title}

${e.meaning}

fix: ${e.fix}
example: ${e.example}
`;
}
