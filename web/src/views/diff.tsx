/** Two versions of the spec side by side: which flows the change adds and removes (`cordon diff`). */
import { useState } from 'preact/hooks';
import { call, type DiffJson } from '../api';
import type { SpecRef } from '../main';
import { ErrorBox, Loading, useLoad } from '../ui';

export function DiffView({ spec }: { spec: SpecRef }) {
  const newest = spec.versions[spec.versions.length - 1]?.version ?? spec.version;
  const [from, setFrom] = useState(Math.max(1, newest - 1));
  const [to, setTo] = useState(newest);
  const [assume, setAssume] = useState<'configured' | 'compromised' | 'both'>('configured');
  const { data, error } = useLoad(
    () => (from === to ? Promise.resolve(undefined) : call<DiffJson>('GET', `/api/specs/${spec.id}/diff?from=${from}&to=${to}&assume=${assume}`)),
    [spec.id, from, to, assume],
  );
  const pick = (label: string, value: number, set: (v: number) => void) => (
    <label>
      {label}{' '}
      <select value={value} onChange={(e) => set(Number((e.target as HTMLSelectElement).value))}>
        {spec.versions.map((v) => (
          <option key={v.version} value={v.version}>
            v{v.version} ({v.createdBy}, {v.createdAt.slice(0, 16).replace('T', ' ')})
          </option>
        ))}
      </select>
    </label>
  );
  return (
    <div class="diff">
      <div class="form-row">
        {pick('Old', from, setFrom)}
        {pick('New', to, setTo)}
        <label>
          Guests{' '}
          <select value={assume} onChange={(e) => setAssume((e.target as HTMLSelectElement).value as typeof assume)}>
            <option value="configured">as configured</option>
            <option value="compromised">compromised</option>
            <option value="both">both</option>
          </select>
        </label>
      </div>
      {spec.versions.length < 2 && <p>This spec has one version: upload a changed text under the same name to compare.</p>}
      {from === to && spec.versions.length >= 2 && <p>Choose two different versions.</p>}
      <ErrorBox error={error} />
      {from !== to && !data && !error && <Loading />}
      {data && (
        <>
          <p role="status">{data.changed ? `v${from} → v${to}: flows changed` : `v${from} → v${to}: no flow changed`}</p>
          {data.views.map((v) => (
            <section key={v.assume} aria-label={`Changes, ${v.assume}`}>
              <h2>{v.assume}</h2>
              {v.endpointsAdded.length > 0 && <p class="added">hosts added: {v.endpointsAdded.map((e) => e.name).join(', ')}</p>}
              {v.endpointsRemoved.length > 0 && <p class="removed">hosts removed: {v.endpointsRemoved.map((e) => e.name).join(', ')}</p>}
              {v.changes.length === 0 ? (
                <p>No flow changed.</p>
              ) : (
                <table>
                  <thead>
                    <tr>
                      <th scope="col">From</th>
                      <th scope="col">To</th>
                      <th scope="col">Added</th>
                      <th scope="col">Removed</th>
                    </tr>
                  </thead>
                  <tbody>
                    {v.changes.map((c, i) => (
                      <tr key={i}>
                        <td>{c.from}</td>
                        <td>{c.to}</td>
                        <td class="added">{c.addedText === '-' ? '' : `+ ${c.addedText}`}</td>
                        <td class="removed">{c.removedText === '-' ? '' : `− ${c.removedText}`}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </section>
          ))}
        </>
      )}
    </div>
  );
}
