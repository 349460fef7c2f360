/**
 * The API's request and response shapes, in zod: validation at run time and the OpenAPI document
 * (`/openapi.json`) both come from these. Every field is `.describe()`d for the generated docs.
 */
import { z } from 'zod';
import { SCOPES } from './auth.js';
import { LANGUAGES } from './sandbox.js';
import { TIERS } from './store.js';

export const DiagnosticSchema = z
  .object({
    code: z.string().describe('stable code, e.g. CORDON012'),
    severity: z.enum(['error', 'warning', 'info']),
    message: z.string(),
    file: z.string().describe('the spec name given at upload'),
    line: z.number().int().describe('1-based; 0 when unknown'),
    col: z.number().int().describe('1-based; 0 when unknown'),
    path: z.string().describe('JSON path into the spec, e.g. hosts.ollama.nics.vmbr1'),
    hint: z.string().optional(),
  })
  .describe('a located problem, as `cordon check --json` prints it');

export const ErrorSchema = z.object({
  error: z.string().describe('what was wrong, for people'),
  issues: z
    .array(z.object({ path: z.string().describe('where in the request, e.g. body.port'), message: z.string() }))
    .optional()
    .describe('schema violations in the request'),
  diagnostics: z.array(DiagnosticSchema).optional().describe('for an invalid spec: the same diagnostics as `cordon check --json`'),
  tier: z.string().optional().describe("for a feature the caller's tier does not include: that tier"),
  feature: z.enum(['vault', 'sandbox']).optional().describe('for a free account refused a paid feature: which one'),
  requires: z.string().optional().describe('for a free account refused a paid feature: the tier it needs'),
});

export const UserSchema = z.object({
  id: z.number().int(),
  name: z.string(),
  tier: z.enum(TIERS).describe('free, early-access or admin (seed 002 AccessLevel)'),
  createdAt: z.string().describe('ISO 8601'),
  disabled: z.boolean().describe('a disabled account cannot log in; its sessions and tokens stop working'),
});

export const LoginBody = z.object({
  username: z.string().min(1).max(64).describe('account name'),
  password: z.string().min(1).max(1024).describe('the account password'),
});

export const SessionResponse = z.object({
  user: UserSchema,
  csrfToken: z.string().describe('send in X-CSRF-Token with every cookie-authenticated write'),
  expiresAt: z.string().optional().describe('ISO 8601; when the session ends'),
});

const TokenName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9._ -]+$/, 'letters, digits, dot, dash, underscore and space only')
  .describe('a label for people, e.g. "guard on pve1"');

export const TokenCreateBody = z.object({
  name: TokenName,
  scopes: z.array(z.enum(SCOPES)).min(1).describe('what the token may do; cut down to what the owner’s tier allows'),
});

export const TokenSchema = z.object({
  id: z.string().describe('public id; the token itself is never shown again'),
  name: z.string(),
  scopes: z.array(z.string()),
  createdAt: z.string(),
  revoked: z.boolean(),
});

export const TokenCreated = TokenSchema.extend({
  token: z.string().describe('the secret, shown this once: cordon_<id>_<secret>; only its SHA-256 is stored'),
});

export const TokenIdParams = z.object({
  id: z
    .string()
    .regex(/^[0-9a-f]{12}$/, 'a 12-digit hex token id')
    .describe('token id'),
});

export const SPEC_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export const SpecUploadBody = z.object({
  name: z
    .string()
    .regex(SPEC_NAME, 'a name of letters, digits, dot, dash and underscore (at most 100), starting with a letter or digit')
    .describe('the spec’s name; uploading under an existing name adds a version'),
  text: z.string().min(1).describe('the spec, as YAML text (what `cordon check` reads from a file)'),
});

export const SpecSummarySchema = z.object({
  id: z.number().int(),
  name: z.string(),
  createdAt: z.string(),
  latestVersion: z.number().int(),
});

export const SpecVersionMeta = z.object({
  specId: z.number().int(),
  version: z.number().int().describe('1, 2, … per spec'),
  sha256: z.string().describe('of the text'),
  createdBy: z.string().describe('who uploaded it, as the audit log names them'),
  createdAt: z.string(),
});

export const SpecUploaded = z.object({
  spec: SpecSummarySchema,
  version: SpecVersionMeta,
  warnings: z.array(DiagnosticSchema).describe('non-fatal diagnostics from checking the spec'),
});

export const SpecDetail = z.object({ spec: SpecSummarySchema, versions: z.array(SpecVersionMeta) });
export const SpecVersionDetail = SpecVersionMeta.extend({ text: z.string() });

export const SpecIdParams = z.object({ id: z.coerce.number().int().positive().describe('spec id') });
export const VersionParams = SpecIdParams.extend({
  version: z.union([z.literal('latest'), z.coerce.number().int().positive()]).describe('version number, or latest'),
});

const Assume = z.enum(['configured', 'compromised']);
const AssumeOrBoth = z.enum(['configured', 'compromised', 'both']);

export const MatrixQuery = z.object({
  assume: AssumeOrBoth.default('configured').describe('configured (as written), compromised (guests adversarial), or both views'),
});

const FlowSetJson = z.record(z.string(), z.unknown()).describe('allowed flows by protocol, with port ranges');
const MatrixView = z.object({
  file: z.string(),
  assume: Assume,
  endpoints: z.array(z.string()),
  allowed: z
    .array(z.object({ from: z.string(), to: z.string(), flows: FlowSetJson, text: z.string() }))
    .describe('pairs with something allowed; others are denied'),
});
export const MatrixResponse = z.object({ views: z.array(MatrixView).describe('one per requested view: the same JSON as `cordon matrix --json`') });

export const QueryBody = z.object({
  from: z.string().min(1).describe('source: host name, its address, internet or lan'),
  to: z.string().min(1).describe('destination: host, host.service, address, internet or lan'),
  proto: z.enum(['tcp', 'udp', 'icmp', 'other']).optional().describe("default: the service's own"),
  port: z.number().int().min(1).max(65535).optional().describe('destination port for tcp/udp'),
  assume: Assume.default('configured'),
});

export const ExplanationSchema = z
  .object({
    verdict: z.enum(['allow', 'deny']),
    from: z.string(),
    to: z.string(),
    flow: z.string(),
    assume: Assume,
    path: z.unknown().describe('the deciding path, hop by hop, with each deciding rule and its origin'),
    alternatives: z.array(z.unknown()),
    limits: z.array(z.string()).describe("bandwidth limits on an allowed flow (the source's outbound, the destination's inbound); empty: none"),
    summary: z.string(),
  })
  .describe('the same JSON as `cordon query --json`');

export const LintResponse = z.array(DiagnosticSchema).describe('the same JSON as `cordon lint --json`');

export const TestResponse = z
  .object({
    files: z.array(z.object({ file: z.string(), checks: z.array(z.record(z.string(), z.unknown())) })),
    passed: z.number().int(),
    failed: z.number().int(),
  })
  .describe('the same JSON as `cordon test --json`');

export const RenderParams = VersionParams.extend({ target: z.string().min(1).describe('render target, as `cordon render --target list` names them') });
export const RenderQuery = z.object({
  host: z.string().optional().describe('only the files for this host'),
  param: z
    .union([z.string(), z.array(z.string())])
    .optional()
    .describe('target parameter KEY=VALUE (repeatable)'),
  file: z.string().optional().describe('download only this file (its path as listed)'),
  format: z.enum(['text', 'json']).default('text').describe('text: every file behind a `# ==> path` line, as the CLI prints; json: [{path, content}]'),
});
export const RenderedJson = z.array(z.object({ path: z.string(), content: z.string() }));

export const DiffQuery = z.object({
  from: z.coerce.number().int().positive().describe('old version'),
  to: z.coerce.number().int().positive().describe('new version'),
  assume: AssumeOrBoth.default('configured'),
});
export const DiffResponse = z
  .object({ old: z.string(), new: z.string(), changed: z.boolean(), views: z.array(z.record(z.string(), z.unknown())) })
  .describe('the same JSON as `cordon diff --json`');

export const AuditQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  before: z.coerce.number().int().positive().optional().describe('page backwards: entries with a smaller id'),
});
export const AuditEntrySchema = z.object({
  id: z.number().int(),
  at: z.string(),
  actor: z.string().describe('user:NAME, token:ID (user:NAME), or billing'),
  action: z.string().describe('e.g. spec.upload, token.create, user.tier'),
  target: z.string(),
  before: z.unknown().describe('the changed fields before (null when created)'),
  after: z.unknown().describe('the changed fields after'),
  device: z.string().nullable().describe('the browser’s device_id cookie, when the change came from one'),
});
export const AuditResponse = z.object({ entries: z.array(AuditEntrySchema), next: z.number().int().optional().describe('pass as before= for the next page') });

export const WebhookResponse = z.object({
  received: z.boolean(),
  duplicate: z.boolean().describe('true when this event id was handled before: nothing changed'),
  applied: z.string().optional().describe('what changed, e.g. "user alice: tier early-access"'),
});

export const HealthResponse = z.object({ ok: z.boolean(), schemaVersion: z.number().int() });

export const TunnelParams = SpecIdParams.extend({ tunnel: z.string().min(1).describe('a tunnel declared in the spec (tunnels:)') });
export const PeerParams = TunnelParams.extend({ peer: z.coerce.number().int().positive().describe('peer id') });

const PeerFields = {
  name: z
    .string()
    .regex(SPEC_NAME, 'letters, digits, dot, dash and underscore, starting with a letter or digit')
    .describe('the peer’s name, unique among the tunnel’s active peers'),
  publicKey: z
    .string()
    .regex(/^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw480]=$/, 'a WireGuard public key (44 characters of base64)')
    .optional()
    .describe('bring your own key pair: the server then never sees a private key'),
  expires: z.iso
    .datetime({ offset: false })
    .optional()
    .describe('ISO 8601 UTC; the peer is revoked (out of the config and the interface) once this passes. Default: never'),
};
export const PeerCreateBody = z.object(PeerFields);
export const NewPeerBody = z.object({ specId: z.number().int().positive(), tunnel: z.string().min(1), ...PeerFields });

export const PeerSchema = z.object({
  id: z.number().int(),
  specId: z.number().int(),
  tunnel: z.string(),
  name: z.string(),
  address: z.string().describe('the peer’s address in the tunnel'),
  publicKey: z.string(),
  createdBy: z.string(),
  createdAt: z.string(),
  revoked: z.boolean(),
  expiresAt: z.string().nullable().describe('ISO 8601; null: never expires'),
});
export const PeerListed = PeerSchema.extend({
  lastHandshake: z.string().nullable().describe('ISO 8601 of the latest handshake on the running interface; null: none (or no interface to ask)'),
  rxBytes: z.number().int().describe('bytes received from the peer'),
  txBytes: z.number().int().describe('bytes sent to the peer'),
  endpoint: z.string().nullable().describe('IP:port the peer last spoke from'),
});
export const PeerCreated = PeerSchema.extend({
  clientConfig: z.string().describe('wg-quick config for the client, with its private key when the server made the pair: shown this once, never stored'),
  qrSvg: z.string().describe('the client config as a QR code (SVG)'),
  qrPng: z.string().describe('the client config as a QR code (PNG, base64)'),
});

/**
 * A guard's event: the fields every event has (the guard's schema, src/guard/events.ts once merged);
 * the rest depends on `type` and is kept as sent.
 */
export const GuardEventSchema = z.looseObject({
  v: z.number().int().describe('event schema version'),
  time: z.iso.datetime({ offset: false }).describe('when the guard saw it, ISO 8601 UTC'),
  type: z.string().min(1).max(64).describe('blocked, drift, …'),
  host: z.string().min(1).max(255).describe('the spec host the guard watches'),
});
export const EventsBody = z.union([GuardEventSchema, z.array(GuardEventSchema).min(1).max(1000)]).describe('one event or a batch of up to 1,000');
export const EventsAccepted = z.object({ accepted: z.number().int(), ids: z.array(z.number().int()) });
export const EventsQuery = z.object({
  type: z.string().optional(),
  host: z.string().optional(),
  since: z.iso.datetime({ offset: false }).optional().describe('events at or after this time'),
  until: z.iso.datetime({ offset: false }).optional().describe('events before this time'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  before: z.coerce.number().int().positive().optional().describe('page backwards: events with a smaller id'),
});
export const EventsResponse = z.object({
  events: z.array(z.object({ id: z.number().int(), receivedAt: z.string(), reporter: z.string().describe('the token that sent it'), event: GuardEventSchema })),
  next: z.number().int().optional().describe('pass as before= for the next page'),
});

const Password = z.string().min(12, 'at least 12 characters').max(1024).describe('at least 12 characters');
const AccountName = z
  .string()
  .regex(/^[a-z][a-z0-9._-]{1,63}$/, 'lower-case letters, digits, dot, dash and underscore (2–64), starting with a letter')
  .describe('the login name');

export const AccountCreateBody = z.object({
  name: AccountName,
  tier: z.enum(TIERS).default('free'),
  password: Password.optional().describe('omit it and the server makes a one-time password, shown in this answer only'),
});
export const AccountCreated = z.object({
  user: UserSchema,
  password: z.string().optional().describe('the generated password (when none was sent): shown this once, stored only as an argon2id hash'),
});
export const AccountIdParams = z.object({ id: z.coerce.number().int().positive().describe('account id') });
export const TierBody = z.object({ tier: z.enum(TIERS) });
export const DisableBody = z.object({ disabled: z.boolean().describe('true: no login, sessions ended, tokens refused; false: enabled again') });
export const PasswordBody = z.object({ current: z.string().min(1).max(1024).describe('the password now'), new: Password });

const QuotaSchema = z.object({
  peers: z.number().int().describe('active WireGuard peers'),
  sandboxRunsPerHour: z.number().int(),
  vaultBytes: z.number().int().describe('bytes in live vault sessions together'),
  apiCallsPerMinute: z.number().int(),
});
export const AccountSelf = z.object({
  user: UserSchema,
  quotas: QuotaSchema.describe('what the tier allows (0: refused)'),
  usage: QuotaSchema.omit({ apiCallsPerMinute: true }).describe('what the account uses now'),
});

export const VaultCreateBody = z.object({
  ttlSeconds: z
    .number()
    .int()
    .min(60)
    .max(7 * 24 * 3600)
    .optional()
    .describe('end the session after this long (capped by the server’s vault TTL, 12 h, and by the login session it was made in)'),
});
export const VaultSessionSchema = z.object({
  id: z.string().describe('the vault session id (v_<hex>)'),
  createdAt: z.string(),
  expiresAt: z.string().describe('ISO 8601; destroyed (with verification) when it passes'),
  boundToLogin: z.boolean().describe('made with a login session: destroyed when that session ends too'),
});
export const VaultParams = z.object({
  id: z
    .string()
    .regex(/^v_[0-9a-f]{32}$/, 'a vault session id, v_ and 32 hex digits')
    .describe('vault session id'),
});
export const VaultUploadBody = z
  .object({
    name: z
      .string()
      .min(1)
      .max(255)
      .regex(/^[^\0/\\]+$/, 'a file name without /, \\ or NUL')
      .refine((n) => n !== '.' && n !== '..', 'not . or ..')
      .describe('the file’s name in the session'),
    text: z.string().optional().describe('the content as UTF-8 text'),
    base64: z
      .string()
      .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64')
      .optional()
      .describe('the content as base64 (binary files)'),
  })
  .refine((b) => (b.text === undefined) !== (b.base64 === undefined), { message: 'exactly one of text or base64', path: ['text'] });
export const VaultEntrySchema = z.object({ name: z.string(), size: z.number().int(), sha256: z.string(), added: z.string() });
export const VaultPutResponse = VaultEntrySchema.extend({ replaced: z.boolean().describe('a file of that name was replaced (its old blob shredded)') });
export const VaultFilesResponse = z.object({ session: VaultSessionSchema, files: z.array(VaultEntrySchema) });
export const VaultContextBody = z.object({
  query: z.string().min(1).max(4096).describe('what to look for (BM25 over the session’s text files)'),
  k: z.number().int().min(1).max(50).default(5).describe('how many chunks'),
});
export const VaultContextResponse = z.object({
  hits: z
    .array(z.object({ name: z.string(), offset: z.number().int().describe('character offset in the file'), text: z.string(), score: z.number() }))
    .describe('best first'),
});
export const VaultDestroyed = z.object({
  objects: z.number().int().describe('encrypted files shredded'),
  keyErased: z.boolean().describe('the session key (wrapped) was shredded first'),
  verified: z.boolean().describe('the directory is gone and no file under the vault root carries the session id'),
  leftovers: z.number().int().describe('files still carrying the id (0 when verified)'),
});

export const SandboxRunBody = z.object({
  code: z
    .string()
    .min(1)
    .max(256 * 1024)
    .describe('the program text (at most 256 KiB)'),
  language: z.enum(LANGUAGES).describe('python3, node or bash'),
});
export const SandboxRunResponse = z.object({
  language: z.enum(LANGUAGES),
  stdout: z.string().describe('the first 64 KiB of standard output'),
  stderr: z.string().describe('the first 64 KiB of standard error'),
  stdoutTruncated: z.boolean(),
  stderrTruncated: z.boolean(),
  exitCode: z.number().int().describe('124 on timeout, 137 when killed for memory'),
  reason: z.string().describe('exited, signal, timeout, memory or pids'),
  message: z.string().describe('e.g. "killed: memory limit 512m", "timeout after 30s", "exit 0"'),
  denied: z
    .array(
      z.object({
        time: z.string(),
        destination: z.string(),
        proto: z.string(),
        port: z.number().int().optional(),
        packets: z.number().int(),
        bytes: z.number().int(),
        rule: z.string(),
      }),
    )
    .describe('network attempts the sandbox refused'),
  limits: z.object({
    memoryBytes: z.number().int(),
    cpus: z.number(),
    timeoutMs: z.number().int(),
    network: z.literal('none'),
    root: z.literal('read-only'),
  }),
  ms: z.number().int().describe('wall-clock time of the run'),
  queuePosition: z.number().int().describe('how many runs were ahead in the queue when this one came (0: it started at once)'),
});

export const JobSchema = z.object({
  id: z.string(),
  kind: z.enum(['matrix', 'lint', 'test', 'render', 'diff']),
  subject: z.string().describe('spec@vN'),
  state: z.enum(['queued', 'running', 'done', 'failed']),
  progress: z.object({ step: z.number().int(), steps: z.number().int(), stage: z.string().describe('what it is doing, e.g. "matrix, configured view"') }),
  queuePosition: z.number().int().optional().describe('jobs ahead of it, while queued'),
  createdAt: z.string(),
  finishedAt: z.string().optional(),
  result: z
    .unknown()
    .optional()
    .describe('when done: what the synchronous route answers (matrix views, lint findings, test results, the diff, or [{path, content}] for render)'),
  error: z.string().optional().describe('when failed: why'),
  diagnostics: z.array(DiagnosticSchema).optional(),
});
export const JobAccepted = z.object({ job: JobSchema, href: z.string().describe('poll this: GET /api/jobs/{id}') });
export const JobParams = z.object({
  id: z
    .string()
    .regex(/^[0-9a-f]{16}$/, 'a job id (16 hex digits)')
    .describe('job id'),
});
