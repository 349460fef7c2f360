/**
 * Guard events as they arrive: the latest 1,000 from GET /api/events, then GET /api/events/stream
 * (Server-Sent Events) from the newest of those on. Above the list, one row per host folded from
 * those events: the guard running or not, cordon's tables as loaded or drifted (re-load, kill
 * switch), each WireGuard peer up or down, and how many events of each type. New events are
 * announced politely to screen readers (role=log). EventSource reconnects by itself and resumes
 * with Last-Event-ID.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { call, type StoredEvent } from '../api';
import { driftBad, driftText, summarize, type HostSummary } from '../live-summary';
import { ErrorBox, Loading } from '../ui';

/** Events read at start (the API's largest page), and the most kept as more arrive: the summary's window. */
const FIRST = 1000;
const KEEP = 2000;
/** Events drawn in the list (the summary counts all kept). */
const SHOWN = 200;
const COMMON = new Set(['v', 'time', 'type', 'host']);

/** One line per event, like `cordon events`: time, type, host, then the fields that say what happened. */
function line(e: StoredEvent): string {
  const extra = Object.entries(e.event)
    .filter(([k]) => !COMMON.has(k))
    .map(([k, v]) => (k === 'origin' && isOrigin(v) ? `by “${v.text}” ${v.file}:${v.line}` : `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`))
    .join(' ');
  return extra;
}

/** A blocked event's origin (the rule that dropped it), when it has the guard's shape. */
function isOrigin(v: unknown): v is { text: string; file: string; line: number } {
  const o = v as { text?: unknown; file?: unknown; line?: unknown } | null;
  return typeof o === 'object' && o !== null && typeof o.text === 'string' && typeof o.file === 'string' && typeof o.line === 'number';
}

const short = (iso: string) => iso.replace('T', ' ').slice(0, 19);

function Summary({ hosts, since }: { hosts: HostSummary[]; since: string | undefined }) {
  if (hosts.length === 0) return null;
  return (
    <section aria-labelledby="hosts-now" class="host-summary">
      <h2 id="hosts-now">Hosts</h2>
      <p class="muted">From the events below{since ? `, since ${short(since)}` : ''}.</p>
      <table>
        <thead>
          <tr>
            <th scope="col">Host</th>
            <th scope="col">Guard</th>
            <th scope="col">Tables</th>
            <th scope="col">VPN</th>
            <th scope="col">Blocked</th>
            <th scope="col">Events</th>
          </tr>
        </thead>
        <tbody>
          {hosts.map((h) => (
            <tr key={h.host} data-host={h.host}>
              <th scope="row">{h.host}</th>
              <td class="guard">{h.guard}</td>
              <td class={`drift${driftBad(h.drift) ? ' fail' : ''}`} data-drift={h.drift.kind}>
                {driftText(h.drift)}
                {'at' in h.drift && <span class="muted"> {short(h.drift.at).slice(11)}</span>}
              </td>
              <td class="vpn">
                {h.vpn.size === 0 ? (
                  <span class="muted">–</span>
                ) : (
                  <ul>
                    {[...h.vpn].map(([peer, s]) => (
                      <li key={peer} data-vpn={s.up ? 'up' : 'down'} class={s.up ? 'pass' : 'fail'}>
                        {peer}: {s.up ? 'up' : 'down'}
                        {s.ageSeconds === null ? (s.up ? '' : ' (never a handshake)') : ` (handshake ${s.ageSeconds} s before)`}
                      </li>
                    ))}
                  </ul>
                )}
              </td>
              <td class="blocked">{h.counts.get('blocked') ?? 0}</td>
              <td class="counts muted">
                {[...h.counts]
                  .sort(([a], [b]) => (a < b ? -1 : 1))
                  .map(([t, n]) => `${t} ${n}`)
                  .join(' · ')}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export function LiveView() {
  const [events, setEvents] = useState<StoredEvent[] | undefined>();
  const [state, setState] = useState<'connecting' | 'live' | 'reconnecting'>('connecting');
  const [error, setError] = useState<unknown>();

  useEffect(() => {
    let source: EventSource | undefined;
    let closed = false;
    call<{ events: StoredEvent[] }>('GET', `/api/events?limit=${FIRST}`).then(
      (r) => {
        if (closed) return;
        setEvents(r.events);
        const after = r.events[0]?.id ?? 0;
        source = new EventSource(`/api/events/stream?after=${after}`);
        source.onopen = () => setState('live');
        source.onerror = () => setState('reconnecting');
        source.addEventListener('guard', (m: MessageEvent<string>) => {
          const e = JSON.parse(m.data) as StoredEvent;
          setEvents((old) => [e, ...(old ?? [])].slice(0, KEEP));
        });
      },
      (e: unknown) => setError(e),
    );
    return () => {
      closed = true;
      source?.close();
    };
  }, []);

  const hosts = useMemo(() => summarize(events ?? []), [events]);

  if (error) return <ErrorBox error={error} />;
  if (!events) return <Loading />;
  return (
    <div class="live">
      <p role="status" class="muted">
        {state === 'live' ? 'Live: new events appear at the top.' : state === 'connecting' ? 'Connecting…' : 'Connection lost; reconnecting…'}
      </p>
      {events.length === 0 && <p>No events yet. Guards report them with a token that has events:write.</p>}
      <Summary hosts={hosts} since={events[events.length - 1]?.event.time} />
      {events.length > 0 && <h2 id="events-title">Events, newest first</h2>}
      <div role="log" aria-live="polite" aria-label="Guard events, newest first">
        <ol class="events">
          {events.slice(0, SHOWN).map((e) => (
            <li key={e.id} data-id={e.id}>
              <time dateTime={e.event.time}>{short(e.event.time)}</time> <strong>{e.event.type}</strong> {e.event.host} <span class="muted">{line(e)}</span>
            </li>
          ))}
        </ol>
      </div>
    </div>
  );
}
