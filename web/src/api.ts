/**
 * The dashboard's only way to the server: same-origin fetch with the session cookie, the CSRF
 * token on every write, and errors as values the views can show (message + located diagnostics).
 * The shapes below are the parts of the API's JSON (see /openapi.json) the views read.
 */

export interface Diagnostic {
  code: string;
  severity: 'error' | 'warning' | 'info';
  message: string;
  file: string;
  line: number;
  col: number;
  path: string;
  hint?: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly diagnostics: readonly Diagnostic[] = [],
  ) {
    super(message);
  }
}

let csrfToken: string | undefined;

export function setCsrf(token: string | undefined): void {
  csrfToken = token;
}

/** What a job-backed route reports while its job runs: the server's own words for the stage, and steps done of all. */
export interface JobProgress {
  readonly stage: string;
  readonly step: number;
  readonly steps: number;
  readonly queuePosition?: number;
}

export interface CallOptions {
  /** Called while a big spec's answer is computed as a background job (202 + GET /api/jobs/ID). */
  readonly onProgress?: (p: JobProgress) => void;
}

/**
 * One API call. A route that answers 202 with a job (the server computes big specs' matrices and
 * lint findings in the background) is followed: the job is polled until it is done, and its result
 * is the answer, as if the route had answered at once.
 */
export async function call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown, opts: CallOptions = {}): Promise<T> {
  return (await callFull<T>(method, path, body, opts)).data;
}

interface JobJson {
  id: string;
  state: 'queued' | 'running' | 'done' | 'failed';
  progress: { step: number; steps: number; stage: string };
  queuePosition?: number;
  result?: unknown;
  error?: string;
  diagnostics?: Diagnostic[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function followJob(href: string, opts: CallOptions): Promise<unknown> {
  // Quick at first (most jobs take a second or two), then at most once a second.
  for (let wait = 100; ; wait = Math.min(1000, wait * 1.5)) {
    const job = (await callFull<JobJson>('GET', href)).data;
    if (job.state === 'done') return job.result;
    if (job.state === 'failed') throw new ApiError(500, job.error ?? 'the job failed', job.diagnostics ?? []);
    opts.onProgress?.({ ...job.progress, ...(job.queuePosition !== undefined ? { queuePosition: job.queuePosition } : {}) });
    await sleep(wait);
  }
}

/** As `call`, with the answer's headers (some routes say in a header where their data came from). */
export async function callFull<T>(
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: unknown,
  opts: CallOptions = {},
): Promise<{ data: T; headers: Headers }> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let r: Response;
  try {
    r = await fetch(path, { method, headers, credentials: 'same-origin', ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  } catch (e) {
    throw new ApiError(0, `cannot reach the server: ${(e as Error).message}`);
  }
  const text = await r.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!r.ok) {
    const e = (json ?? {}) as { error?: string; diagnostics?: Diagnostic[] };
    throw new ApiError(r.status, e.error ?? `${r.status} ${r.statusText}`, e.diagnostics ?? []);
  }
  const accepted = json as { job?: JobJson; href?: unknown } | undefined;
  if (r.status === 202 && typeof accepted?.href === 'string' && accepted.href.startsWith('/api/jobs/'))
    return { data: (await followJob(accepted.href, opts)) as T, headers: r.headers };
  return { data: json as T, headers: r.headers };
}

export interface User {
  id: number;
  name: string;
  tier: string;
}
export interface Session {
  user: User;
  csrfToken: string;
}
export interface SpecSummary {
  id: number;
  name: string;
  latestVersion: number;
}
export interface SpecVersionMeta {
  version: number;
  createdBy: string;
  createdAt: string;
}
export interface FlowSetJson {
  tcp: [number, number][];
  udp: [number, number][];
  icmp: boolean;
  other: boolean;
}
export type Assume = 'configured' | 'compromised';
export interface MatrixView {
  file: string;
  assume: Assume;
  endpoints: string[];
  allowed: { from: string; to: string; flows: FlowSetJson; text: string }[];
}
export interface Origin {
  file: string;
  line: number;
  col: number;
  text: string;
}
export type Decision =
  | { kind: 'rule'; ruleId: string; action: 'accept' | 'drop' | 'reject'; role: string; origin: Origin }
  | { kind: 'default'; policy: 'accept' | 'drop'; origin: Origin }
  | { kind: 'no-firewall' }
  | { kind: 'ignored-in-guest' };
export interface Hop {
  point: string;
  enforcedOn?: string;
  iif?: string;
  oif?: string;
  inPort?: string;
  src: string;
  verdict: 'accept' | 'drop';
  decision: Decision;
}
export interface PathExplanation {
  nodes: string[];
  chain: string;
  choice?: string;
  end: string;
  verdict: 'allow' | 'deny';
  hops: Hop[];
  notes: string[];
}
export interface Explanation {
  verdict: 'allow' | 'deny';
  from: string;
  to: string;
  flow: string;
  assume: Assume;
  path?: PathExplanation;
  alternatives: PathExplanation[];
  summary: string;
}
export interface Topology {
  file: string;
  networks: { name: string; cidr: string; egress: 'none' | 'nat' | 'routed'; gateway?: string; bridge: string; owner?: string }[];
  tunnels: { name: string; cidr: string; server: string; endpoint: string; listen: number; members: string[] }[];
  hosts: {
    name: string;
    kind: string;
    trusted: boolean;
    managed: boolean;
    egress: 'isolated' | 'filtered' | 'vpn-only' | 'open';
    nics: { segment: string; address: string; ifname: string }[];
    services: { name: string; ports: string }[];
    rules: { action: 'allow' | 'deny'; side: 'from' | 'to'; origin: Origin }[];
  }[];
  points: { point: string; host: string; hook: string; enforcedOn: string; inGuest: boolean; policy: 'accept' | 'drop'; rules: number }[];
}
export interface CheckResult {
  kind: 'expect' | 'invariant';
  name: string;
  ok: boolean;
  assume: Assume;
  message: string;
  origin: Origin;
  witness?: Explanation;
}
export interface TestJson {
  files: { file: string; checks: CheckResult[] }[];
  passed: number;
  failed: number;
}
export interface DiffJson {
  old: string;
  new: string;
  changed: boolean;
  views: {
    assume: Assume;
    changed: boolean;
    endpointsAdded: { name: string; kind: string }[];
    endpointsRemoved: { name: string; kind: string }[];
    changes: { from: string; to: string; addedText: string; removedText: string }[];
  }[];
}
export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  action: string;
  target: string;
  before: unknown;
  after: unknown;
}
export interface Peer {
  id: number;
  name: string;
  tunnel: string;
  address: string;
  publicKey: string;
  createdBy: string;
  createdAt: string;
  revoked: boolean;
  expiresAt: string | null;
}
/** A peer as the list shows it: with what the running interface says of it (nulls and zeros when the server cannot ask). */
export interface PeerListed extends Peer {
  lastHandshake: string | null;
  rxBytes: number;
  txBytes: number;
  endpoint: string | null;
}
export interface PeerCreated extends Peer {
  clientConfig: string;
  qrPng: string;
}
export interface StoredEvent {
  id: number;
  receivedAt: string;
  reporter: string;
  event: { v: number; time: string; type: string; host: string; [k: string]: unknown };
}

/** `/api/specs/ID/versions/V` — the prefix every per-version analysis shares. */
export const versionPath = (specId: number, version: number) => `/api/specs/${specId}/versions/${version}`;
