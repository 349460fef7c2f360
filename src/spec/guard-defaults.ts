/**
 * The guard's event types and what a webhook gets by default: plain constants the resolver needs,
 * kept out of src/spec/schema.ts so that resolving a spec does not load zod.
 */

/** The guard's event types a webhook can receive (the guard's schema, src/guard/events.ts; a test keeps the two lists equal). */
export const GUARD_EVENT_TYPES = [
  'blocked',
  'drift',
  'reapplied',
  'killswitch',
  'vpn-down',
  'vpn-up',
  'rogue',
  'anomaly',
  'report',
  'guard-started',
  'guard-stopped',
] as const;

/** What a webhook gets unless it says: the events someone should be told of (never every blocked packet). */
export const DEFAULT_WEBHOOK_EVENTS = ['anomaly', 'drift', 'killswitch', 'rogue', 'vpn-down'] as const;
