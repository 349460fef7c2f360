/**
 * A cordon server for tests: a temporary data directory, an administrator created the way
 * `cordon serve --init-admin` does, the server listening on 127.0.0.1 with an ephemeral port, and
 * every log line captured so tests can grep it for secrets. Requests are real HTTP (fetch).
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { z } from 'zod';
import { initAdmin, startServer, type RunningServer, type ServerSettingsInput } from '../../src/server/index.js';
import { SessionResponse } from '../../src/server/schemas.js';

export class LogCapture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

export interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The body parsed as JSON (undefined when it is not JSON): compare it whole, or read it through `as`. */
  readonly json: unknown;
  /**
   * The JSON body checked against `schema` (the server's own response schema, or a test's narrower
   * one) and typed by it; a body that does not fit fails the test with zod's issues and the body.
   * zod drops keys a schema does not name: assert absences on `text` or `json`, not on this.
   */
  as<S extends z.ZodType>(schema: S): z.output<S>;
}

export interface RequestOpts {
  body?: unknown;
  /** Sent as is (for malformed JSON); content-type stays application/json unless `headers` says otherwise. */
  raw?: string;
  headers?: Record<string, string>;
  token?: string;
  /** Send the session cookie (default: when the client has one). */
  cookie?: boolean;
  /** Send the session's CSRF token (default: true when a cookie is sent). */
  csrf?: boolean;
}

/** One HTTP client with an optional session (cookie + CSRF token), and the device_id cookie a browser keeps once it is given one. */
export class Client {
  cookie: string | undefined;
  csrf: string | undefined;
  /** `device_id=<uuid>` once the server set it; sent with every later request, as a browser does. */
  device: string | undefined;

  constructor(readonly base: string) {}

  async req(method: string, path: string, o: RequestOpts = {}): Promise<Reply> {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    let body: string | undefined;
    if (o.raw !== undefined || o.body !== undefined) {
      body = o.raw ?? JSON.stringify(o.body);
      headers['content-type'] ??= 'application/json';
    }
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    const useCookie = o.cookie ?? this.cookie !== undefined;
    const cookies: string[] = this.device && headers.cookie === undefined ? [this.device] : [];
    if (useCookie && this.cookie) {
      cookies.push(this.cookie);
      if ((o.csrf ?? true) && this.csrf) headers['x-csrf-token'] = this.csrf;
    }
    if (cookies.length) headers.cookie = cookies.join('; ');
    const r = await fetch(this.base + path, { method, headers, ...(body !== undefined ? { body } : {}) });
    const device = r.headers.getSetCookie().find((c) => c.startsWith('device_id='));
    if (device) this.device = device.split(';')[0];
    const text = await r.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const status = r.status;
    return {
      status,
      headers: r.headers,
      text,
      json,
      as<S extends z.ZodType>(schema: S): z.output<S> {
        const parsed = schema.safeParse(json);
        if (!parsed.success)
          assert.fail(`${method} ${path} → ${status}: the answer does not fit the schema:\n${z.prettifyError(parsed.error)}\n${text.slice(0, 500)}`);
        return parsed.data;
      },
    };
  }

  /** Logs in; keeps the cookie (name=value only) and the CSRF token. */
  async login(username: string, password: string): Promise<Reply> {
    const r = await this.req('POST', '/api/auth/login', { body: { username, password }, cookie: false });
    const set = r.headers.getSetCookie().find((c) => c.startsWith('cordon_session='));
    if (r.status === 200 && set) {
      this.cookie = set.split(';')[0];
      this.csrf = r.as(SessionResponse).csrfToken;
    }
    return r;
  }
}

export interface TestServer {
  readonly dataDir: string;
  readonly adminPassword: string;
  readonly logs: LogCapture;
  server: RunningServer;
  readonly client: () => Client;
  /** Stops the server and starts a new one on the same data directory (same settings); `whileDown` runs in between. */
  restart(whileDown?: () => void | Promise<void>): Promise<void>;
  close(): Promise<void>;
}

export async function testServer(settings: Partial<ServerSettingsInput> = {}): Promise<TestServer> {
  const root = mkdtempSync(join(tmpdir(), 'cordon-server-test-'));
  const dataDir = join(root, 'data');
  const { password } = await initAdmin(dataDir);
  const logs = new LogCapture();
  const input: ServerSettingsInput = { ...settings, dataDir, host: '127.0.0.1', port: 0 };
  const t: TestServer = {
    dataDir,
    adminPassword: password,
    logs,
    server: await startServer(input, { log: logs }),
    client: () => new Client(t.server.url),
    async restart(whileDown) {
      await t.server.close();
      await whileDown?.();
      t.server = await startServer(input, { log: logs });
    },
    async close() {
      await t.server.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
  return t;
}
