/**
 * The dashboard's shell: the session (log in / out), the spec and version every view works on, and
 * the views, one per `#/name` (hash routing: the server serves only `/`). Views get what they need
 * as props and fetch their own data.
 */
import { render } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiError, call, setCsrf, type Session, type SpecSummary, type SpecVersionMeta } from './api';
import './app.css';
import { Login } from './login';
import { AuditView } from './views/audit';
import { ChecksView } from './views/checks';
import { DiffView } from './views/diff';
import { LiveView } from './views/live';
import { MatrixView } from './views/matrix';
import { PeersView } from './views/peers';
import { TopologyView } from './views/topology';
import { UploadView } from './views/upload';

const VIEWS = [
  ['topology', 'Topology'],
  ['matrix', 'Matrix'],
  ['checks', 'Checks'],
  ['diff', 'Diff'],
  ['peers', 'Peers'],
  ['live', 'Live'],
  ['audit', 'Audit'],
  ['upload', 'Upload'],
] as const;
type ViewName = (typeof VIEWS)[number][0];

function viewFromHash(): ViewName {
  const name = location.hash.replace(/^#\/?/, '');
  return VIEWS.find(([v]) => v === name)?.[0] ?? 'matrix';
}

/** What a spec-bound view is given: the spec, its chosen version and how many it has. */
export interface SpecRef {
  readonly id: number;
  readonly name: string;
  readonly version: number;
  readonly versions: readonly SpecVersionMeta[];
}

function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [view, setView] = useState<ViewName>(viewFromHash());
  const [specs, setSpecs] = useState<SpecSummary[]>([]);
  const [specId, setSpecId] = useState<number | undefined>(undefined);
  const [versions, setVersions] = useState<SpecVersionMeta[]>([]);
  const [version, setVersion] = useState<number | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);

  useEffect(() => {
    const onHash = () => setView(viewFromHash());
    addEventListener('hashchange', onHash);
    call<Session>('GET', '/api/auth/session')
      .then((s) => {
        setCsrf(s.csrfToken);
        setSession(s);
      })
      .catch(() => setSession(null));
    return () => removeEventListener('hashchange', onHash);
  }, []);

  const loadSpecs = useCallback(
    async (select?: number) => {
      try {
        const list = await call<SpecSummary[]>('GET', '/api/specs');
        setSpecs(list);
        // The spec chosen last time (kept across reloads), else the newest.
        const stored = Number(localStorage.getItem('cordon.spec'));
        const want = select ?? specId ?? list.find((s) => s.id === stored)?.id ?? list[list.length - 1]?.id;
        if (want !== undefined) await chooseSpec(want);
      } catch (e) {
        setError((e as Error).message);
      }
    },
    [specId],
  );

  const chooseSpec = async (id: number, v?: number) => {
    const d = await call<{ spec: SpecSummary; versions: SpecVersionMeta[] }>('GET', `/api/specs/${id}`);
    setSpecId(id);
    localStorage.setItem('cordon.spec', String(id));
    setVersions(d.versions);
    setVersion(v ?? d.spec.latestVersion);
  };

  useEffect(() => {
    if (session) void loadSpecs();
  }, [session]);

  // Move focus to the view's heading on navigation, so keyboard and screen-reader users land in it.
  useEffect(() => {
    document.getElementById('view-heading')?.focus();
    document.title = `${VIEWS.find(([v]) => v === view)?.[1] ?? ''} · cordon`;
  }, [view]);

  if (session === undefined) return <p class="loading">Loading…</p>;
  if (session === null)
    return (
      <Login
        onLogin={(s) => {
          setCsrf(s.csrfToken);
          setSession(s);
        }}
      />
    );

  const logout = async () => {
    try {
      await call('POST', '/api/auth/logout');
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 401) setError((e as Error).message);
    }
    setCsrf(undefined);
    setSession(null);
  };

  const spec = specs.find((s) => s.id === specId);
  const ref: SpecRef | undefined = spec && version !== undefined ? { id: spec.id, name: spec.name, version, versions } : undefined;
  const label = VIEWS.find(([v]) => v === view)![1];

  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">cordon</span>
        <nav aria-label="Views">
          <ul>
            {VIEWS.map(([v, l]) => (
              <li key={v}>
                <a href={`#/${v}`} aria-current={v === view ? 'page' : undefined}>
                  {l}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="spec-pick">
          <label for="spec-pick">Spec</label>
          <select
            id="spec-pick"
            value={specId ?? ''}
            onChange={(e) => void chooseSpec(Number((e.target as HTMLSelectElement).value))}
            disabled={specs.length === 0}
          >
            {specs.length === 0 && <option value="">none yet</option>}
            {specs.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </select>
          <label for="version-pick">Version</label>
          <select
            id="version-pick"
            value={version ?? ''}
            onChange={(e) => setVersion(Number((e.target as HTMLSelectElement).value))}
            disabled={versions.length === 0}
          >
            {versions.map((v) => (
              <option key={v.version} value={v.version}>
                v{v.version}
              </option>
            ))}
          </select>
        </div>
        <span class="who">
          {session.user.name}{' '}
          <button type="button" onClick={() => void logout()}>
            Log out
          </button>
        </span>
      </header>
      <main id="main">
        <h1 id="view-heading" tabIndex={-1}>
          {label}
          {ref && view !== 'upload' && view !== 'audit' && view !== 'live' ? (
            <span class="sub">
              {' '}
              — {ref.name} v{ref.version}
            </span>
          ) : null}
        </h1>
        {error && (
          <p role="alert" class="err-box">
            {error}
          </p>
        )}
        {view === 'upload' ? (
          <UploadView
            current={ref}
            onUploaded={(id) => {
              void loadSpecs(id).then(() => (location.hash = '#/matrix'));
            }}
          />
        ) : view === 'audit' ? (
          <AuditView />
        ) : view === 'live' ? (
          <LiveView />
        ) : !ref ? (
          <p>
            No spec yet: <a href="#/upload">upload one</a>.
          </p>
        ) : view === 'matrix' ? (
          <MatrixView spec={ref} />
        ) : view === 'topology' ? (
          <TopologyView spec={ref} />
        ) : view === 'checks' ? (
          <ChecksView spec={ref} />
        ) : view === 'diff' ? (
          <DiffView spec={ref} />
        ) : (
          <PeersView spec={ref} />
        )}
      </main>
    </div>
  );
}

render(<App />, document.getElementById('app')!);
