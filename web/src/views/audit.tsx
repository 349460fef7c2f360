/** The audit log: who changed what and when, newest first, with the changed fields; paged backwards. */
import { useEffect, useState } from 'preact/hooks';
import { call, type AuditEntry } from '../api';
import { ErrorBox, Loading } from '../ui';

const fields = (x: unknown) => (x === null || x === undefined ? '' : JSON.stringify(x));

export function AuditView() {
  const [entries, setEntries] = useState<AuditEntry[] | undefined>();
  const [next, setNext] = useState<number | undefined>();
  const [error, setError] = useState<unknown>();
  const page = async (before?: number) => {
    try {
      const r = await call<{ entries: AuditEntry[]; next?: number }>('GET', `/api/audit?limit=50${before ? `&before=${before}` : ''}`);
      setEntries((old) => [...(before ? (old ?? []) : []), ...r.entries]);
      setNext(r.next);
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => {
    void page();
  }, []);
  if (error) return <ErrorBox error={error} />;
  if (!entries) return <Loading />;
  return (
    <div class="audit">
      <table>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Who</th>
            <th scope="col">Action</th>
            <th scope="col">Target</th>
            <th scope="col">Before</th>
            <th scope="col">After</th>
          </tr>
        </thead>
        <tbody>
          {entries.map((e) => (
            <tr key={e.id}>
              <td>{e.at.replace('T', ' ').slice(0, 19)}</td>
              <td>{e.actor}</td>
              <td>
                <code>{e.action}</code>
              </td>
              <td>{e.target}</td>
              <td>
                <code>{fields(e.before)}</code>
              </td>
              <td>
                <code>{fields(e.after)}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {next !== undefined && (
        <button type="button" onClick={() => void page(next)}>
          Older entries
        </button>
      )}
    </div>
  );
}
