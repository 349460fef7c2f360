/**
 * `POST /api/webhooks/billing`: Stripe events that change an account's tier. The signature covers
 * the raw body (see stripe.ts); each event id is handled once, so Stripe's retries and replayed
 * requests answer 200 and change nothing.
 *
 * Which account: `metadata.cordon_user` on the event's object (set it on the Checkout Session or
 * Subscription), else its `client_reference_id`. Which tier: `metadata.cordon_tier` (free or
 * early-access; early-access when absent) for a started or updated subscription, free when it is
 * deleted or no longer paid. The admin tier is never granted or taken by a payment: a payment
 * provider's event must not make anyone an administrator, nor lock one out.
 */
import { z } from 'zod';
import type { ServerSettings } from '../config.js';
import { HttpError } from '../errors.js';
import type { Api } from '../http.js';
import { WebhookResponse } from '../schemas.js';
import type { Store, Tier } from '../store.js';
import { verifyStripeSignature } from '../stripe.js';

const EventSchema = z.object({
  id: z.string().min(1).max(255),
  type: z.string().min(1).max(255),
  data: z.object({ object: z.record(z.string(), z.unknown()) }),
});

const GRANTING = new Set(['checkout.session.completed', 'customer.subscription.created', 'customer.subscription.updated']);
const UNPAID = new Set(['canceled', 'unpaid', 'incomplete_expired', 'past_due']);

/** The tier an event asks for, or undefined when the event does not concern tiers. */
function tierFor(type: string, object: Record<string, unknown>): Tier | undefined {
  if (type === 'customer.subscription.deleted') return 'free';
  if (!GRANTING.has(type)) return undefined;
  if (typeof object.status === 'string' && UNPAID.has(object.status)) return 'free';
  const meta = object.metadata as Record<string, unknown> | undefined;
  const asked = meta?.cordon_tier;
  return asked === 'free' ? 'free' : 'early-access';
}

function accountOf(object: Record<string, unknown>): string | undefined {
  const meta = object.metadata as Record<string, unknown> | undefined;
  const name = meta?.cordon_user ?? object.client_reference_id;
  return typeof name === 'string' && name !== '' ? name : undefined;
}

export function billingRoutes(api: Api, store: Store, settings: ServerSettings, nowS: () => number = () => Math.floor(Date.now() / 1000)): void {
  api.route(
    {
      method: 'POST',
      url: '/api/webhooks/billing',
      summary: "Stripe webhook (Stripe-Signature verified over the raw body, 300 s tolerance, each event id once): changes an account's tier",
      tag: 'billing',
      auth: 'public',
      // Any JSON reaches the handler: the signature is checked before the event's shape.
      body: z.unknown(),
      documentedBody: EventSchema.describe('a Stripe event (its shape is checked after the signature)'),
      responses: {
        200: { description: 'accepted (also for a replay, which changes nothing)', schema: WebhookResponse },
        400: { description: 'bad or stale signature, or not an event' },
        503: { description: 'no signing secret configured' },
      },
    },
    ({ raw, req }) => {
      if (!settings.billingSecret)
        throw new HttpError(503, 'billing webhook not configured: set CORDON_BILLING_WEBHOOK_SECRET or write <data>/billing-webhook.secret');
      const header = req.headers['stripe-signature'];
      const check = verifyStripeSignature(typeof header === 'string' ? header : undefined, raw, settings.billingSecret, nowS(), settings.webhookToleranceS);
      if (!check.ok) throw new HttpError(400, `webhook signature rejected: ${check.reason}`);
      const parsed = EventSchema.safeParse(JSON.parse(raw));
      if (!parsed.success)
        throw new HttpError(400, `not a Stripe event: ${parsed.error.issues.map((i) => `body.${i.path.join('.')}: ${i.message}`).join('; ')}`);
      const event = parsed.data;
      let applied: string | undefined;
      const first = store.onceForEvent(event.id, event.type, () => {
        const tier = tierFor(event.type, event.data.object);
        const name = accountOf(event.data.object);
        const user = tier && name !== undefined ? store.userByName(name) : undefined;
        if (!tier || !user || user.tier === 'admin' || user.tier === tier) return;
        store.setTier(`billing:${event.id}`, user.id, tier);
        applied = `user ${user.name}: tier ${tier}`;
      });
      return { received: true, duplicate: !first, ...(applied ? { applied } : {}) };
    },
  );
}
