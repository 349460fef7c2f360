/** Small pieces the views share: an error with its diagnostics, a rule's origin, a loading line. */
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, type Origin } from './api';

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const diags = error instanceof ApiError ? error.diagnostics : [];
  return (
    <div role="alert" class="err-box">
      <p>{(error as Error).message}</p>
      {diags.length > 0 && (
        <ul>
          {diags.map((d, i) => (
            <li key={i}>
              <code>
                {d.file}:{d.line}:{d.col}
              </code>{' '}
              {d.code} {d.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** `file:line` of a rule, as the CLI prints it after the rule's own words. */
export function OriginRef({ origin }: { origin: Origin }) {
  return (
    <code class="origin">
      {origin.file}:{origin.line}
    </code>
  );
}

/** Runs `load` whenever `deps` change; gives its result, its error, and a reload function. */
export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[]): { data: T | undefined; error: unknown; reload: () => void } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    setError(undefined);
    load().then(
      (d) => live && setData(d),
      (e: unknown) => live && setError(e),
    );
    return () => {
      live = false;
    };
  }, [...deps, n]);
  return { data, error, reload: () => setN((x) => x + 1) };
}

export function Loading({ children }: { children?: ComponentChildren }) {
  return <p class="loading">{children ?? 'Loading…'}</p>;
}
