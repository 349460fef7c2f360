/**
 * cordon's server as a library: `startServer` and `initAdmin` (what `cordon serve` calls), the app
 * builder for tests and benchmarks, and the data layer. Not re-exported from src/index.ts, so that
 * library users who never serve do not load Fastify, SQLite and argon2.
 */
export { startServer, initAdmin, importSpecs, InitAdminError, StartError, type RunningServer, type StartSpec } from './server.js';
export { buildApp, type AppDeps } from './app.js';
export { resolveSettings, DEFAULT_PORT, type ServerSettings, type ServerSettingsInput } from './config.js';
export { Store, TIERS, type Tier, type User } from './store.js';
export { verifyStripeSignature, type SignatureCheck } from './stripe.js';
