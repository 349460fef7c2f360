/**
 * The guard's events: one JSON object per line, the schema below (documented in the README).
 * Every event has `v` (schema version), `time` (ISO 8601, UTC), `type` and `host` (the spec host
 * the guard watches); the rest depends on the type. Addresses live here, never in metric labels.
 */
import { z } from 'zod';

/** Schema version written in every event's `v`; bumped when a field changes meaning. */
export const EVENT_SCHEMA_VERSION = 1;

/** Where a destination sits, as metrics label it (bounded: never a raw address). */
export const DEST_CLASSES = ['internet', 'lan', 'host', 'guest', 'other'] as const;
export type DestClass = (typeof DEST_CLASSES)[number];

const OriginSchema = z
  .object({
    point: z.string().describe('The enforcement point whose chain dropped the packet, e.g. `pve:forward`.'),
    kind: z.enum(['rule', 'default']).describe('`rule`: a rule of the spec dropped it; `default`: no rule matched and the chain default did.'),
    ruleId: z.string().optional().describe('The IR rule id (`<point>#<index>`) for kind `rule`.'),
    text: z.string().describe("The rule or default in the user's own words, as `cordon explain` prints it."),
    file: z.string().describe('The spec file the rule comes from.'),
    line: z.number().int().describe('Its line in that file (1-based).'),
    path: z.string().describe('Its path in the spec: `policy[3]` for a rule, the host or network whose default it is (`hosts.agent-1`) for a default.'),
  })
  .describe('What dropped the packet, in the spec.');

const base = {
  v: z.literal(EVENT_SCHEMA_VERSION).describe('Event schema version.'),
  time: z.iso.datetime().describe('When the guard saw it (for `blocked`: when the kernel logged the packet), ISO 8601 UTC.'),
  host: z.string().describe('The spec host the guard watches (its enforcing host).'),
};

export const BlockedEventSchema = z
  .object({
    ...base,
    type: z.literal('blocked'),
    netns: z.string().nullable().describe('The network namespace it was read in; null = the machine itself.'),
    src: z.string().describe('Source IPv4 address.'),
    dst: z.string().describe('Destination IPv4 address.'),
    proto: z.string().describe('`tcp`, `udp`, `icmp`, or the IP protocol number.'),
    port: z.number().int().nullable().describe('Destination port (tcp/udp), else null.'),
    sport: z.number().int().nullable().describe('Source port (tcp/udp), else null.'),
    iif: z.string().nullable().describe('Input interface, null when none (locally generated).'),
    oif: z.string().nullable().describe('Output interface, null when none (input hook).'),
    class: z.enum(DEST_CLASSES).describe('Where the destination is: internet, lan, host, guest, other.'),
    origin: OriginSchema,
  })
  .describe("A packet one of cordon's rules dropped (from NFLOG; rate-limited at the source).");

export const DriftEventSchema = z
  .object({
    ...base,
    type: z.literal('drift'),
    netns: z.string().nullable(),
    tables: z.array(z.string()).describe('The tables that differ from what was loaded (`family name`).'),
    differences: z.array(z.string()).describe('What changed, one line each: `+ rule` added, `- rule` removed, table missing or foreign.'),
    action: z
      .enum(['reapply', 'killswitch', 'alert'])
      .describe("What the guard does about it: its --on-drift for cordon's tables; always `alert` for a foreign table that appeared."),
  })
  .describe("cordon's tables in the kernel no longer match the rule set that was loaded.");

export const ReappliedEventSchema = z
  .object({
    ...base,
    type: z.literal('reapplied'),
    netns: z.string().nullable(),
    ok: z
      .boolean()
      .describe(
        'Whether the kernel took the re-load (false: it refused the transaction and the tables stay as they were). A read-back that still differs afterwards is reported as a further `drift` event.',
      ),
    message: z.string(),
    ms: z.number().describe('Milliseconds from detecting the drift to the end of the re-load.'),
  })
  .describe(
    'The guard re-loaded the rule set after a drift, atomically: the text apply checked, in one `nft -f` (or a full apply when apply never loaded this text here).',
  );

export const KillswitchEventSchema = z
  .object({
    ...base,
    type: z.literal('killswitch'),
    netns: z.string().nullable(),
    engaged: z.boolean().describe('true: the kill switch table is in force; false: it is gone (the next `cordon apply` removed it).'),
    message: z.string(),
    ms: z.number().nullable().describe('For engaging: milliseconds from detecting the drift to the switch in force; else null.'),
  })
  .describe("The guard's kill switch went into force (drift with --on-drift killswitch) or was lifted.");

export const VpnEventSchema = z
  .object({
    ...base,
    type: z.enum(['vpn-down', 'vpn-up']),
    netns: z.string().nullable(),
    tunnel: z.string().describe("The spec's tunnel name."),
    peer: z.string().describe("The spec's name for the peer (never its key); `unknown` for a peer the spec does not declare."),
    ageSeconds: z.number().nullable().describe('Seconds since the last handshake with that peer; null = never.'),
    message: z.string(),
  })
  .describe(
    'A WireGuard peer of the watched host went down (no handshake for longer than the threshold, 180 s by default: no session can outlive it) or came back. The rules keep a vpn-only host closed either way.',
  );

export const RogueEventSchema = z
  .object({
    ...base,
    type: z.literal('rogue'),
    netns: z.string().nullable(),
    from: z.string().describe('The vpn-only host it left (by the source address).'),
    network: z.string().describe("The spec's network (or tunnel) the source address is on."),
    src: z.string().describe('Source IPv4 address.'),
    dst: z.string().describe('Destination IPv4 address.'),
    proto: z.string().describe('`tcp`, `udp`, `icmp`, or the IP protocol number.'),
    port: z.number().int().nullable().describe('Destination port (tcp/udp), else null.'),
    iface: z
      .string()
      .nullable()
      .describe('The interface it was leaving through, as the kernel reported it; null when not known (a connection from conntrack).'),
    verdict: z
      .enum(['blocked', 'allowed'])
      .describe(
        "`blocked`: cordon's rules dropped it (a rogue attempt); `allowed`: the rules let it through (a leak: with intact rules only the tunnel transport gets out).",
      ),
  })
  .describe("Something left a vpn-only host other than through its tunnel or as the tunnel's own transport (seed 004's rogue connection).");

export const AnomalyEventSchema = z
  .object({
    ...base,
    type: z.literal('anomaly'),
    netns: z.string().nullable(),
    subject: z.string().describe('The host whose rate it is: where the connections come from, or the host the dropping rules are about.'),
    kind: z.enum(['connections', 'blocked']).describe('`connections`: new connections, allowed or blocked; `blocked`: blocked attempts.'),
    direction: z
      .enum(['up', 'down'])
      .default('up')
      .describe(
        '`up`: the rate rose out of its limits; `down`: new connections fell far below the baseline (a dead agent, a cut link). Absent in logs written before it existed: `up`.',
      ),
    ratePerMinute: z.number().describe('The rate over the last interval, per minute.'),
    baselinePerMinute: z.number().nullable().describe("The host's moving average before it, per minute; null while the baseline is still warming up."),
    deviationPerMinute: z.number().nullable().describe('The moving standard deviation, per minute; null while warming up.'),
    threshold: z.number().describe("The spec's absolute threshold per minute (guard.blockedPerMinute or guard.connectionsPerMinute)."),
    reason: z
      .enum(['threshold', 'baseline'])
      .describe(
        '`threshold`: above the absolute threshold; `baseline`: above the average by more than guard.deviations deviations (up), or below a fifth of it three readings in a row (down).',
      ),
  })
  .describe(
    'A rate left its limits (reported once when it goes out; an upward one is over when a reading is back inside, a downward one when the rate is back to half its baseline).',
  );

export const ReportEventSchema = z
  .object({
    ...base,
    type: z.literal('report'),
    netns: z.string().nullable(),
    state: z
      .enum(['unreachable', 'refused', 'resumed', 'dropped'])
      .describe(
        '`unreachable`: the server did not answer or failed (events wait on disk, resent in order); `refused`: it refused the token (sending pauses); `resumed`: it takes events again; `dropped`: events were dropped (spool full, or an event the server refused), `dropped` says how many.',
      ),
    server: z.string().describe('The server’s origin (scheme, host, port; never the token).'),
    pending: z.number().int().describe('Events waiting in the spool on disk.'),
    dropped: z.number().int().describe('For `dropped`: how many since the last such event; else 0.'),
    message: z.string(),
  })
  .describe('Reporting to a cordon server (`cordon guard --report-to`) changed state, or dropped events (never silently).');

export const GuardStateEventSchema = z
  .object({
    ...base,
    type: z.enum(['guard-started', 'guard-stopped']),
    netns: z.string().nullable(),
    message: z.string(),
  })
  .describe('The guard started watching (after checking the loaded rules) or stopped.');

export const GuardEventSchema = z.discriminatedUnion('type', [
  BlockedEventSchema,
  DriftEventSchema,
  ReappliedEventSchema,
  KillswitchEventSchema,
  VpnEventSchema,
  RogueEventSchema,
  AnomalyEventSchema,
  ReportEventSchema,
  GuardStateEventSchema,
]);

export type GuardEvent = z.infer<typeof GuardEventSchema>;
export type BlockedEvent = z.infer<typeof BlockedEventSchema>;
export type DriftEvent = z.infer<typeof DriftEventSchema>;
export type RogueEvent = z.infer<typeof RogueEventSchema>;
export type EventType = GuardEvent['type'];

/** One event as its JSON line (no trailing newline). Throws on an event that breaks the schema: that is cordon's bug. */
export function eventLine(e: GuardEvent): string {
  const r = GuardEventSchema.safeParse(e);
  if (!r.success) throw new Error(`guard event breaks its schema: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return JSON.stringify(r.data);
}

/** Parses one line of an event log; undefined when it is not an event of this schema. */
export function parseEventLine(line: string): GuardEvent | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  const r = GuardEventSchema.safeParse(v);
  return r.success ? r.data : undefined;
}
