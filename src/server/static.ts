/**
 * The web dashboard, served by `cordon serve` at `/`: the bundle `make build` writes to
 * `dist/web/` (web/build.mjs), read into memory once, answered with a strict Content-Security-Policy.
 * Plus the two routes only the dashboard needed (topology, live events), each in its own file.
 *
 * Only the files the build wrote are served, looked up by exact name in a map: no path from the URL
 * ever reaches the file system. Without a build, `/` says how to make one (503) instead of a 404.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { eventStreamRoutes } from './events-stream.js';
import type { Api } from './http.js';
import type { Store } from './store.js';
import { topologyRoutes } from './topology.js';
import type { CompileCache } from './compile-cache.js';

/**
 * No inline script or style anywhere, nothing from another origin; QR codes are `data:` PNGs.
 * `style-src 'self'` still lets scripts set element.style (CSSOM), which the matrix's
 * virtualised grid and Cytoscape's canvas need; it blocks `<style>` and `style=""` markup.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** A bundle file's name: looked up in the map as it is, so any string is safe; the length bound keeps junk short. */
const AssetParams = z.object({ file: z.string().min(1).max(200).describe('a file name from the dashboard bundle (app.js, app.css, …)') });

interface Asset {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

/** Where the bundle is: dist/web beside dist/server when running compiled, <repo>/dist/web when running src/ through tsx. */
export function dashboardDir(): string | undefined {
  const candidates = [fileURLToPath(new URL('../web/', import.meta.url)), fileURLToPath(new URL('../../dist/web/', import.meta.url))];
  return candidates.find((d) => existsSync(join(d, 'index.html')));
}

/** The bundle's files by name (index.html, app.js, app.css, …): a flat directory, as web/build.mjs writes it. */
export function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(dir)) {
    const ext = name.slice(name.lastIndexOf('.'));
    const type = TYPES[ext];
    if (!type) continue; // source maps and anything else stay unserved
    const body = readFileSync(join(dir, name));
    assets.set(name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
  }
  return assets;
}

function securityHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', DASHBOARD_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .header('cross-origin-opener-policy', 'same-origin');
}

/** Registers `/`, `/assets/*` and the dashboard's API routes. `dir` overrides where the bundle is (tests). */
export function registerDashboard(api: Api, store: Store, cache: CompileCache, dir: string | undefined = dashboardDir()): void {
  topologyRoutes(api, store, cache);
  eventStreamRoutes(api, store);
  const assets = dir ? loadAssets(dir) : new Map<string, Asset>();

  const send = (name: string, reply: FastifyReply, ifNoneMatch: string | undefined) => {
    const a = assets.get(name);
    securityHeaders(reply);
    if (!a) {
      if (name === 'index.html')
        return reply
          .code(503)
          .type('text/plain; charset=utf-8')
          .send('the dashboard is not built: run `make build` (it writes dist/web/), then restart cordon serve\n');
      return reply.code(404).type('text/plain; charset=utf-8').send('no such dashboard file\n');
    }
    // no-cache: revalidate every time (cheap with the ETag), so a rebuilt bundle is never mixed with an old page.
    reply.header('cache-control', 'no-cache').header('etag', a.etag);
    if (ifNoneMatch === a.etag) return reply.code(304).send();
    return reply.type(a.type).send(a.body);
  };

  const page = { 200: { description: 'the file', contentType: 'text/html' }, 304: { description: 'unchanged since the ETag sent in If-None-Match' } };
  api.raw(
    {
      method: 'GET',
      url: '/',
      summary: 'the web dashboard (503 with how to build it when dist/web is missing)',
      tag: 'dashboard',
      auth: 'public',
      responses: { ...page, 503: { description: 'the dashboard is not built', contentType: 'text/plain' } },
    },
    (_p, req, reply) => send('index.html', reply, req.headers['if-none-match']),
  );
  api.raw(
    {
      method: 'GET',
      url: '/assets/:file',
      summary: "one of the dashboard bundle's files (script, style sheet, image), by its exact name",
      tag: 'dashboard',
      auth: 'public',
      params: AssetParams,
      responses: {
        200: { description: 'the file (text/javascript, text/css, image/svg+xml or image/png)', contentType: 'application/octet-stream' },
        304: page[304],
        404: { description: 'no such file in the bundle', contentType: 'text/plain' },
      },
    },
    // index.html is only served at `/`; everything else only by its exact name.
    ({ file }, req, reply) => send(file === 'index.html' ? '' : file, reply, req.headers['if-none-match']),
  );
}
