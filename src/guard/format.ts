/**
 * Events for people: one line each, like a journal (`cordon events`). Pure; the JSON lines are the
 * machine format and stay as written.
 */
import { basename } from 'node:path';
import { visible } from '../util/visible.js';
import type { GuardEvent } from './events.js';

function assertNever(x: never): never {
  throw new Error(`unexpected event ${JSON.stringify(x)}`);
}

/**
 * One event as one line of text (no colour, no trailing newline). Its strings come from whoever
 * wrote the event (a tampered rule's comment in a drift, any reporter's event on a server): a
 * newline or an escape sequence in them is shown as \u{…}, so an event can neither forge the
 * next line nor drive the reader's terminal.
 */
export function formatEvent(e: GuardEvent): string {
  return visible(eventText(e));
}

function eventText(e: GuardEvent): string {
  const head = `${e.time} ${e.host} ${e.type}`;
  switch (e.type) {
    case 'blocked': {
      const port = (p: number | null): string => (p === null ? '' : `:${p}`);
      const o = e.origin;
      const why = o.kind === 'default' ? `the chain default of ${o.point}` : `${o.path} in ${o.point}`;
      return `${head} ${e.proto} ${e.src}${port(e.sport)} → ${e.dst}${port(e.port)} (${e.class}) by ${why}: "${o.text}" (${basename(o.file)}:${o.line})`;
    }
    case 'drift':
      return `${head} ${e.tables.join(', ')} (${e.action}): ${e.differences.join('; ')}`;
    case 'reapplied':
      return `${head} ${e.ok ? 'ok' : 'FAILED'} in ${Math.round(e.ms)} ms: ${e.message}`;
    case 'killswitch':
      return `${head} ${e.engaged ? `ENGAGED${e.ms === null ? '' : ` in ${Math.round(e.ms)} ms`}` : 'lifted'}: ${e.message}`;
    case 'vpn-down':
    case 'vpn-up':
      return `${head} ${e.tunnel} peer ${e.peer}, last handshake ${e.ageSeconds === null ? 'never' : `${e.ageSeconds} s ago`}: ${e.message}`;
    case 'rogue':
      return `${head} ${e.verdict === 'allowed' ? 'LEAKED' : 'blocked'}: ${e.from} sent ${e.proto} ${e.src} → ${e.dst}${e.port === null ? '' : `:${e.port}`} outside its tunnel (${e.iface ?? 'interface unknown'}, network ${e.network})`;
    case 'anomaly': {
      const base = e.baselinePerMinute === null ? 'no baseline yet' : `baseline ${e.baselinePerMinute} ± ${e.deviationPerMinute}`;
      const why = e.reason === 'threshold' ? `above the threshold ${e.threshold}` : `${e.direction === 'down' ? 'far below' : 'above'} its ${base}`;
      return `${head} ${e.subject}: ${e.ratePerMinute} ${e.kind === 'blocked' ? 'blocked attempts' : 'new connections'} a minute (${why}; threshold ${e.threshold}, ${base})`;
    }
    case 'report':
      return `${head} ${e.state} ${e.server}${e.dropped > 0 ? ` (${e.dropped} dropped)` : ''}, ${e.pending} waiting on disk: ${e.message}`;
    case 'guard-started':
    case 'guard-stopped':
      return `${head} ${e.message}`;
    default:
      return assertNever(e);
  }
}

export interface EventFilter {
  readonly types?: readonly string[];
  readonly host?: string;
}

export function eventMatches(e: GuardEvent, f: EventFilter): boolean {
  if (f.types && f.types.length > 0 && !f.types.includes(e.type)) return false;
  if (f.host !== undefined && e.host !== f.host) return false;
  return true;
}
