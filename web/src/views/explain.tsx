/**
 * One flow explained, as `cordon explain` prints it: the verdict, the deciding path hop by hop,
 * and at each hop the rule (or chain default) that decided, with its origin file:line.
 */
import { useEffect, useState } from 'preact/hooks';
import { call, versionPath, type Assume, type Decision, type Explanation, type PathExplanation } from '../api';
import { ErrorBox, Loading, OriginRef } from '../ui';

/** What to ask about: a service (`to` = host.service, its own protocol and port) or an explicit flow. */
export interface FlowAsk {
  readonly from: string;
  readonly to: string;
  readonly proto?: 'tcp' | 'udp' | 'icmp' | 'other';
  readonly port?: number;
}

function DecisionText({ d }: { d: Decision }) {
  switch (d.kind) {
    case 'rule':
      return (
        <>
          {d.action}: “{d.origin.text}” <OriginRef origin={d.origin} />
        </>
      );
    case 'default':
      return (
        <>
          default {d.policy}: “{d.origin.text}” <OriginRef origin={d.origin} />
        </>
      );
    case 'no-firewall':
      return <>accept: no firewall at this point</>;
    case 'ignored-in-guest':
      return <>accept: the guest's own firewall does not count when it is compromised</>;
  }
}

function PathView({ p }: { p: PathExplanation }) {
  return (
    <div class="path">
      <p>
        path: {p.nodes.join(' → ')}
        {p.choice ? <span class="muted"> [{p.choice}]</span> : null}
      </p>
      <ol class="hops">
        {p.hops.map((h, i) => (
          <li key={i} class={h.verdict === 'accept' ? 'hop ok' : 'hop bad'}>
            <span class="mark" aria-hidden="true">
              {h.verdict === 'accept' ? '✓' : '✗'}
            </span>
            <span class="sr-only">{h.verdict === 'accept' ? 'passes' : 'stopped'} at </span>
            <strong>{h.point}</strong>{' '}
            <span class="muted">
              ({[h.iif && `in ${h.iif}`, h.inPort && `port ${h.inPort}`, h.oif && `out ${h.oif}`, `src ${h.src}`].filter(Boolean).join(', ')})
            </span>
            : <DecisionText d={h.decision} />
          </li>
        ))}
      </ol>
      {p.notes.length > 0 && (
        <ul class="notes">
          {p.notes.map((n, i) => (
            <li key={i}>{n}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** The deciding rule of an explanation: the first dropping hop of a denied path, else the last hop's. */
export function decidingHop(x: Explanation) {
  const hops = x.path?.hops ?? [];
  return x.verdict === 'deny' ? hops.find((h) => h.verdict === 'drop') : hops[hops.length - 1];
}

export function ExplainPanel({
  specId,
  version,
  assume,
  ask,
  onClose,
}: {
  specId: number;
  version: number;
  assume: Assume;
  ask: FlowAsk;
  onClose: () => void;
}) {
  const [proto, setProto] = useState<string>(ask.proto ?? 'service');
  const [port, setPort] = useState<string>(ask.port !== undefined ? String(ask.port) : '');
  const [result, setResult] = useState<Explanation | undefined>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const service = ask.proto === undefined ? ask.to : undefined;

  const run = async (p: string, portText: string) => {
    setBusy(true);
    setError(undefined);
    try {
      const body =
        p === 'service'
          ? { from: ask.from, to: ask.to, assume }
          : {
              from: ask.from,
              to: service ? service.split('.')[0] : ask.to,
              proto: p,
              ...((p === 'tcp' || p === 'udp') && portText !== '' ? { port: Number(portText) } : {}),
              assume,
            };
      setResult(await call<Explanation>('POST', `${versionPath(specId, version)}/explain`, body));
    } catch (e) {
      setResult(undefined);
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  useEffect(() => {
    setProto(ask.proto ?? 'service');
    setPort(ask.port !== undefined ? String(ask.port) : '');
    void run(ask.proto ?? 'service', ask.port !== undefined ? String(ask.port) : '');
    // Re-asked whenever the cell or the view changes.
  }, [specId, version, assume, ask.from, ask.to, ask.proto, ask.port]);

  const d = result && decidingHop(result);
  return (
    <section class="explain" aria-labelledby="explain-title">
      <div class="explain-head">
        <h2 id="explain-title">
          {ask.from} → {service ?? ask.to}
        </h2>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
      <form
        class="flow-form"
        onSubmit={(e) => {
          e.preventDefault();
          void run(proto, port);
        }}
      >
        <label>
          Protocol{' '}
          <select value={proto} onChange={(e) => setProto((e.target as HTMLSelectElement).value)}>
            {service && <option value="service">the service's own</option>}
            <option value="tcp">tcp</option>
            <option value="udp">udp</option>
            <option value="icmp">icmp</option>
            <option value="other">other</option>
          </select>
        </label>
        {(proto === 'tcp' || proto === 'udp') && (
          <label>
            Port <input type="number" min={1} max={65535} required value={port} onInput={(e) => setPort((e.target as HTMLInputElement).value)} />
          </label>
        )}
        <button type="submit" disabled={busy}>
          Explain
        </button>
      </form>
      <ErrorBox error={error} />
      {busy && !result && <Loading />}
      {result && (
        <div class="explanation" data-verdict={result.verdict}>
          <p class="verdict-line">
            <span class={`badge ${result.verdict}`}>{result.verdict.toUpperCase()}</span> {result.from} → {result.to} {result.flow}{' '}
            <span class="muted">(assume {result.assume})</span>
          </p>
          {d && d.decision.kind !== 'no-firewall' && d.decision.kind !== 'ignored-in-guest' && (
            <p class="decided">
              Decided at <strong>{d.point}</strong> by “{d.decision.origin.text}” <OriginRef origin={d.decision.origin} />
            </p>
          )}
          <p>{result.summary}</p>
          {result.path && <PathView p={result.path} />}
          {result.alternatives.length > 1 && (
            <details>
              <summary>Every path considered ({result.alternatives.length})</summary>
              {result.alternatives.map((p, i) => (
                <PathView key={i} p={p} />
              ))}
            </details>
          )}
        </div>
      )}
    </section>
  );
}
