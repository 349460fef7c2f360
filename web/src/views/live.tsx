/**
 * Guard events as they arrive: the latest 50 from GET /api/events, then GET /api/events/stream
 * (Server-Sent Events) from the newest of those on. New events are announced politely to screen
 * readers (role=log). EventSource reconnects by itself and resumes with Last-Event-ID.
 */
import { useEffect, useState } from 'preact/hooks';
import { call, type StoredEvent } from '../api';
import { ErrorBox, Loading } from '../ui';

const KEEP = 500;
const COMMON = new Set(['v', 'time', 'type', 'host']);

/** One line per event, like `cordon events`: time, type, host, then the fields that say what happened. */
function line(e: StoredEvent): string {
  const extra = Object.entries(e.event)
    .filter(([k]) => !COMMON.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return extra;
}

export function LiveView() {
  const [events, setEvents] = useState<StoredEvent[] | undefined>();
  const [state, setState] = useState<'connecting' | 'live' | 'reconnecting'>('connecting');
  const [error, setError] = useState<unknown>();

  useEffect(() => {
    let source: EventSource | undefined;
    let closed = false;
    call<{ events: StoredEvent[] }>('GET', '/api/events?limit=50').then(
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

  if (error) return <ErrorBox error={error} />;
  if (!events) return <Loading />;
  return (
    <div class="live">
      <p role="status" class="muted">
        {state === 'live' ? 'Live: new events appear at the top.' : state === 'connecting' ? 'Connecting…' : 'Connection lost; reconnecting…'}
      </p>
      {events.length === 0 && <p>No events yet. Guards report them with a token that has events:write.</p>}
      <div role="log" aria-live="polite" aria-label="Guard events, newest first">
        <ol class="events">
          {events.map((e) => (
            <li key={e.id} data-id={e.id}>
              <time dateTime={e.event.time}>{e.event.time.replace('T', ' ').slice(0, 19)}</time> <strong>{e.event.type}</strong> {e.event.host}{' '}
              <span class="muted">{line(e)}</span>
            </li>
          ))}
        </ol>
      </div>
    </div>
  );
}
