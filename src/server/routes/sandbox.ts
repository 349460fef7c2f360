/**
 * `POST /api/sandbox/run`: seed 002's SandboxRunner over HTTP, on the library's sandbox (../sandbox.ts
 * says how). Early Access and admin only; the tier's runs-per-hour quota and a bounded queue:
 * past either, 429 with Retry-After.
 */
import type { ServerSettings } from '../config.js';
import { HttpError } from '../errors.js';
import type { Api } from '../http.js';
import type { SlotQueue } from '../queue.js';
import { runCode, SandboxUnavailable } from '../sandbox.js';
import { SandboxRunBody, SandboxRunResponse } from '../schemas.js';
import type { Store } from '../store.js';

export function sandboxRoutes(api: Api, store: Store, settings: ServerSettings, queue: SlotQueue): void {
  api.route(
    {
      method: 'POST',
      url: '/api/sandbox/run',
      summary:
        'run code (python3, node, bash) in an isolated sandbox: 512 MiB, half a CPU, 30 s, no network, read-only root; stdout, stderr, exit status and denied attempts',
      tag: 'sandbox',
      auth: 'sandbox:run',
      body: SandboxRunBody,
      responses: {
        200: { description: 'the run (also when the code failed or was killed: see exitCode and reason)', schema: SandboxRunResponse },
        403: {
          description: 'free tier: seed 002\'s "Vault requires Early Access subscription" (its one message for every paid feature), with feature: sandbox',
        },
        429: { description: "past the tier's runs per hour, or the queue is full (Retry-After)" },
        503: { description: 'the server cannot make sandboxes (needs root, bwrap, nft)' },
      },
    },
    async ({ body, auth }) => {
      const { running, waiting } = queue.stats;
      if (running >= queue.concurrency && waiting >= queue.maxWaiting)
        throw new HttpError(429, `the sandbox queue is full (${running} running, ${waiting} waiting); try again shortly`, {}, { 'retry-after': '5' });
      const user = auth!.user;
      const perHour = settings.quotas[user.tier].sandboxRunsPerHour;
      const took = store.takeSandboxRun(auth!.actor, user.id, body.language, perHour);
      if (!took.ok) {
        const wait = Math.max(1, Math.ceil((took.oldestMs + 3600_000 - Date.now()) / 1000));
        throw new HttpError(
          429,
          `account '${user.name}' (tier ${user.tier}) started ${perHour} sandbox runs in the last hour, its quota; try again in ${wait} s`,
          {},
          { 'retry-after': String(wait) },
        );
      }
      const r = await queue.run(async (queuePosition) => {
        try {
          return { ...(await runCode(settings, body.code, body.language)), queuePosition };
        } catch (e) {
          if (e instanceof SandboxUnavailable) throw new HttpError(503, `sandbox unavailable: ${e.message}`);
          throw e;
        }
      });
      if (r === 'full') throw new HttpError(429, 'the sandbox queue is full; try again shortly', {}, { 'retry-after': '5' });
      return r;
    },
  );
}
