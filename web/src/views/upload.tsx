/**
 * Paste, upload or edit a spec; a new name makes a spec, an existing name a new version. When the
 * server refuses it, every diagnostic is shown under its own line of the text (as `cordon check`'s
 * code frames do), and the list of problems moves the cursor to each one.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, call, versionPath, type Diagnostic } from '../api';
import type { SpecRef } from '../main';
import { ErrorBox } from '../ui';

interface Uploaded {
  spec: { id: number; name: string };
  version: { version: number };
  warnings: Diagnostic[];
}

/** Character offset of the start of 1-based `line` in `text`. */
function offsetOfLine(text: string, line: number): number {
  let off = 0;
  for (let l = 1; l < line; l++) {
    const nl = text.indexOf('\n', off);
    if (nl < 0) return text.length;
    off = nl + 1;
  }
  return off;
}

function Annotated({ text, diags }: { text: string; diags: readonly Diagnostic[] }) {
  const byLine = new Map<number, Diagnostic[]>();
  for (const d of diags) byLine.set(d.line, [...(byLine.get(d.line) ?? []), d]);
  const lines = text.split('\n');
  const width = String(lines.length).length;
  return (
    <pre class="annotated" tabIndex={0} aria-label="The spec with each problem under its line">
      {lines.map((l, i) => {
        const ds = byLine.get(i + 1);
        return (
          <span key={i} class={ds ? 'line has-diag' : 'line'} data-line={i + 1}>
            <span class="lineno" aria-hidden="true">
              {String(i + 1).padStart(width)}{' '}
            </span>
            {l}
            {'\n'}
            {ds?.map((d, k) => (
              <span key={k} class={`diag ${d.severity}`} role="note">
                {' '.repeat(width + 1 + Math.max(0, d.col - 1))}^ {d.code} {d.severity}: {d.message}
                {d.hint ? ` (${d.hint})` : ''}
                {'\n'}
              </span>
            ))}
          </span>
        );
      })}
      {diags
        .filter((d) => d.line === 0 || d.line > lines.length)
        .map((d, k) => (
          <span key={`x${k}`} class={`diag ${d.severity}`} role="note">
            {d.code} {d.severity}: {d.message}
            {'\n'}
          </span>
        ))}
    </pre>
  );
}

export function UploadView({ current, onUploaded }: { current: SpecRef | undefined; onUploaded: (specId: number) => void }) {
  const [name, setName] = useState('');
  const [text, setText] = useState('');
  const [error, setError] = useState<unknown>();
  const [diags, setDiags] = useState<Diagnostic[]>([]);
  const [shownText, setShownText] = useState('');
  const [done, setDone] = useState<Uploaded | undefined>();
  const [busy, setBusy] = useState(false);
  const area = useRef<HTMLTextAreaElement>(null);

  const readFile = async (f: File | undefined) => {
    if (!f) return;
    setText(await f.text());
    if (!name) setName(f.name.replace(/[^A-Za-z0-9._-]/g, '_'));
  };

  const loadCurrent = async () => {
    if (!current) return;
    const v = await call<{ text: string }>('GET', versionPath(current.id, current.version));
    setName(current.name);
    setText(v.text);
  };

  const upload = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    setDiags([]);
    setDone(undefined);
    try {
      const r = await call<Uploaded>('POST', '/api/specs', { name, text });
      setDone(r);
      setDiags(r.warnings);
      setShownText(text);
      onUploaded(r.spec.id);
    } catch (err) {
      setError(err);
      if (err instanceof ApiError) {
        setDiags([...err.diagnostics]);
        setShownText(text);
      }
    } finally {
      setBusy(false);
    }
  };

  // After a refusal, bring the first problem's line into view.
  useEffect(() => {
    if (diags.length && error) document.querySelector('.annotated .has-diag')?.scrollIntoView({ block: 'center' });
  }, [diags, error]);

  const jump = (d: Diagnostic) => {
    const a = area.current;
    if (!a || d.line < 1) return;
    const start = offsetOfLine(text, d.line) + Math.max(0, d.col - 1);
    const end = text.indexOf('\n', start);
    a.focus();
    a.setSelectionRange(start, end < 0 ? text.length : end);
  };

  return (
    <div class="upload">
      <form onSubmit={(e) => void upload(e)}>
        <div class="row">
          <label>
            Name{' '}
            <input
              name="name"
              required
              pattern="[A-Za-z0-9][A-Za-z0-9._\-]{0,99}"
              title="letters, digits, dot, dash and underscore, starting with a letter or digit"
              value={name}
              onInput={(e) => setName((e.target as HTMLInputElement).value)}
            />
          </label>
          <label>
            File <input type="file" accept=".yaml,.yml,text/yaml" onChange={(e) => void readFile((e.target as HTMLInputElement).files?.[0])} />
          </label>
          {current && (
            <button type="button" onClick={() => void loadCurrent()}>
              Edit {current.name} v{current.version}
            </button>
          )}
        </div>
        <label class="block">
          Spec (YAML)
          <textarea
            ref={area}
            name="text"
            required
            rows={18}
            spellcheck={false}
            value={text}
            onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
          />
        </label>
        <button type="submit" disabled={busy}>
          Check and store
        </button>
      </form>
      {done && (
        <p role="status" class="ok">
          Stored {done.spec.name} as version {done.version.version}
          {done.warnings.length ? ` with ${done.warnings.length} warning${done.warnings.length === 1 ? '' : 's'}` : ''}.
        </p>
      )}
      <ErrorBox error={error && diags.length ? new Error((error as Error).message) : error} />
      {diags.length > 0 && (
        <section aria-labelledby="problems">
          <h2 id="problems">Problems</h2>
          <ul class="problems">
            {diags.map((d, i) => (
              <li key={i}>
                <button type="button" class="link" onClick={() => jump(d)}>
                  line {d.line}:{d.col}
                </button>{' '}
                <span class={`sev ${d.severity}`}>{d.severity}</span> {d.code} {d.message} <span class="muted">({d.path})</span>
              </li>
            ))}
          </ul>
          <Annotated text={shownText} diags={diags} />
        </section>
      )}
    </div>
  );
}
