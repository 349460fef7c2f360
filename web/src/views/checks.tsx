/**
 * `cordon test` and `cordon lint` for the chosen version: every expectation and invariant with
 * PASS/FAIL and its origin (a failure shows its witness flow), and every lint finding at its location.
 */
import { call, versionPath, type Diagnostic, type TestJson } from '../api';
import type { SpecRef } from '../main';
import { ErrorBox, Loading, OriginRef, useLoad } from '../ui';

export function ChecksView({ spec }: { spec: SpecRef }) {
  const base = versionPath(spec.id, spec.version);
  const tests = useLoad(() => call<TestJson>('GET', `${base}/test`), [base]);
  const lint = useLoad(() => call<Diagnostic[]>('GET', `${base}/lint`), [base]);
  const checks = tests.data?.files.flatMap((f) => f.checks) ?? [];
  return (
    <div class="checks">
      <h2>Expectations and invariants</h2>
      <ErrorBox error={tests.error} />
      {!tests.data && !tests.error && <Loading />}
      {tests.data && (
        <>
          <p role="status">
            <span class={`badge ${tests.data.failed ? 'fail' : 'pass'}`}>{tests.data.failed ? 'FAIL' : 'PASS'}</span> {tests.data.passed} passed,{' '}
            {tests.data.failed} failed
          </p>
          <table>
            <thead>
              <tr>
                <th scope="col">Result</th>
                <th scope="col">Kind</th>
                <th scope="col">Check</th>
                <th scope="col">Guests</th>
                <th scope="col">Where</th>
              </tr>
            </thead>
            <tbody>
              {checks.map((c, i) => (
                <tr key={i} data-ok={c.ok ? 'true' : 'false'}>
                  <td class={c.ok ? 'pass' : 'fail'}>{c.ok ? 'PASS' : 'FAIL'}</td>
                  <td>{c.kind}</td>
                  <td>
                    {c.name}
                    {!c.ok && (
                      <>
                        <br />
                        <span>{c.message}</span>
                        {c.witness && (
                          <>
                            <br />
                            <span class="muted">{c.witness.summary}</span>
                          </>
                        )}
                      </>
                    )}
                  </td>
                  <td>{c.assume}</td>
                  <td>
                    <OriginRef origin={c.origin} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      <h2>Lint</h2>
      <ErrorBox error={lint.error} />
      {!lint.data && !lint.error && <Loading />}
      {lint.data &&
        (lint.data.length === 0 ? (
          <p>No findings.</p>
        ) : (
          <table class="lint">
            <thead>
              <tr>
                <th scope="col">Severity</th>
                <th scope="col">Code</th>
                <th scope="col">Finding</th>
                <th scope="col">Where</th>
              </tr>
            </thead>
            <tbody>
              {lint.data.map((d, i) => (
                <tr key={i}>
                  <td class={`sev ${d.severity}`}>{d.severity}</td>
                  <td>
                    <code>{d.code}</code>
                  </td>
                  <td>
                    {d.message}
                    {d.hint && <span class="muted"> — {d.hint}</span>}
                  </td>
                  <td>
                    <code class="origin">
                      {d.file}:{d.line}:{d.col}
                    </code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ))}
    </div>
  );
}
