/**
 * The Fastify application: plugins, the JSON body parser that keeps the raw text, one error shape
 * for every failure, and the routes. No listening here (server.ts does that), so tests and
 * benchmarks can build the same app.
 */
import fastifyCookie from '@fastify/cookie';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Writable } from 'node:stream';
import { Auth } from './auth.js';
import { CompileCache } from './compile-cache.js';
import type { ServerSettings } from './config.js';
import { HttpError } from './errors.js';
import { Api } from './http.js';
import { Metrics } from './metrics.js';
import { Jobs } from './jobs.js';
import { QueryThread } from './query-thread.js';
import { SlotQueue } from './queue.js';
import { accountRoutes } from './routes/accounts.js';
import { auditRoutes } from './routes/audit.js';
import { billingRoutes } from './routes/billing.js';
import { eventRoutes } from './routes/events.js';
import { jobRoutes } from './routes/jobs.js';
import { assignDevice } from './device.js';
import { PeerService } from './peers.js';
import { peerRoutes } from './routes/peers.js';
import { sessionRoutes } from './routes/session.js';
import { sandboxRoutes } from './routes/sandbox.js';
import { specRoutes } from './routes/specs.js';
import { registerDashboard } from './static.js';
import { systemRoutes } from './routes/system.js';
import { vaultRoutes } from './routes/vault.js';
import { VaultService } from './vault.js';
import type { Store } from './store.js';

export interface AppDeps {
  readonly store: Store;
  readonly settings: ServerSettings;
  /** Signs session cookies; from `<data>/cookie.secret`. */
  readonly cookieSecret: string;
  /** Where the JSON log lines go (stderr by default). Request logs carry method, URL and status; never headers or bodies. */
  readonly log?: Writable;
  /** Told of every route Fastify registers, however it was added (tests check that /openapi.json describes each one). */
  readonly onRoute?: (route: { readonly method: string | readonly string[]; readonly url: string }) => void;
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { store, settings } = deps;
  // With TLS the same app speaks HTTPS (Fastify's https option); the type stays the plain instance's: nothing below depends on which.
  const app = Fastify({
    ...(settings.tls ? { https: { cert: settings.tls.cert, key: settings.tls.key } } : {}),
    bodyLimit: settings.bodyLimit,
    logger: {
      level: 'info',
      stream: deps.log ?? process.stderr,
      // Belt and braces: the default serializers log no headers, and these never reach a log line even if one is added.
      redact: {
        paths: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["stripe-signature"]', 'res.headers["set-cookie"]'],
        censor: '[redacted]',
      },
    },
  });
  if (deps.onRoute) {
    const tell = deps.onRoute;
    app.addHook('onRoute', (r) => tell({ method: r.method, url: r.url }));
  }
  await app.register(fastifyCookie, { secret: deps.cookieSecret });

  // Bodies are kept as text: the webhook's signature covers the exact bytes, and malformed JSON is reported by Api with its position.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    if (err instanceof HttpError) {
      for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
      return reply.code(err.status).send({ error: err.message, ...err.extra });
    }
    // Fastify's own 4xx: body too large (413), unsupported media type (415), …: its message is the reason.
    if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) return reply.code(err.statusCode).send({ error: err.message });
    req.log.error({ err }, 'internal error');
    return reply.code(500).send({ error: 'internal error; the server log has the details' });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `no route ${req.method} ${req.url.split('?')[0]}` }));

  const metrics = new Metrics();
  app.addHook('onResponse', async (req, reply) => {
    metrics.observe(
      req.method,
      reply.statusCode === 404 && !req.routeOptions.url ? undefined : req.routeOptions.url,
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
  });

  // Seed 002's device fingerprint: every browser gets a device_id cookie once; audit rows record it.
  app.addHook('onRequest', async (req, reply) => {
    assignDevice(req, reply, settings.secureCookies);
  });

  const auth = new Auth(store, settings);
  const api = new Api(app, auth);
  const cache = new CompileCache(store);
  const peers = new PeerService(store, settings, cache);
  const vault = new VaultService(store, settings);

  // Expiry: peers past their `expires` (and, below, vault sessions past their time) are removed
  // once now, before the server answers anything, and then on a timer.
  const sweep = (): void => {
    const p = peers.expireDue();
    if (p.expired.length) app.log.info({ expired: p.expired }, 'expired peers revoked');
    if (p.failed.length) app.log.error({ failed: p.failed }, 'expired peers not yet revoked; retrying at the next sweep');
    const v = vault.sweep();
    if (v.destroyed.length) app.log.info({ destroyed: v.destroyed }, 'ended vault sessions destroyed');
    if (v.failed.length) app.log.error({ failed: v.failed }, 'ended vault sessions not yet destroyed; retrying at the next sweep');
  };
  sweep();
  const timer = setInterval(sweep, settings.sweepIntervalMs);
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));

  // A logout ends the vault sessions made in it at once, not at the next tick.
  sessionRoutes(api, auth, store, settings, sweep);
  accountRoutes(api, store, settings, vault);
  // Jobs are kept in the database (a restart loses none); upload checks are awaited by their request, so memory is enough.
  const jobs = new Jobs({ store });
  const checks = new Jobs({ concurrency: 1, maxQueued: 8, keepMs: 60_000 });
  const queries = new QueryThread();
  app.addHook('onClose', async () => {
    await jobs.close();
    await checks.close();
    await queries.close();
  });
  specRoutes(api, store, cache, { jobs, checks, queries }, settings.jobHostThreshold);
  jobRoutes(api, jobs);
  peerRoutes(api, peers);
  vaultRoutes(api, store, vault, settings.vaultBodyLimit);
  sandboxRoutes(api, store, settings, new SlotQueue(settings.sandboxConcurrency, settings.sandboxQueue));
  eventRoutes(api, store);
  auditRoutes(api, store);
  billingRoutes(api, store, settings);
  systemRoutes(api, store, metrics);
  registerDashboard(api, store, cache);
  return app;
}
