/**
 * Stripe's webhook signature scheme, checked the way Stripe's own libraries do so a real Stripe
 * endpoint can point at cordon: header `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]`,
 * each v1 an HMAC-SHA256 of `<t>.<raw body>` keyed with the endpoint's signing secret. Several v1
 * values appear while a secret is being rolled; any one matching is enough. Other schemes (v0) are
 * ignored. Pure: the clock comes in as an argument.
 */
import { createHmac } from 'node:crypto';
import { safeEqual } from './secrets.js';

export type SignatureCheck = { readonly ok: true; readonly timestamp: number } | { readonly ok: false; readonly reason: string };

export function verifyStripeSignature(header: string | undefined, rawBody: string, secret: string, nowS: number, toleranceS: number): SignatureCheck {
  if (!header) return { ok: false, reason: 'missing Stripe-Signature header' };
  let t: number | undefined;
  const v1: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const k = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (k === 't' && /^\d{1,12}$/.test(v)) t = Number(v);
    else if (k === 'v1') v1.push(v);
  }
  if (t === undefined) return { ok: false, reason: 'Stripe-Signature has no timestamp (t=…)' };
  if (v1.length === 0) return { ok: false, reason: 'Stripe-Signature has no v1 signature' };
  const expected = createHmac('sha256', secret).update(`${t}.${rawBody}`, 'utf8').digest('hex');
  // Compare against every candidate, without stopping at the first match, so timing says nothing about which.
  let match = false;
  for (const s of v1) match = safeEqual(s, expected) || match;
  if (!match) return { ok: false, reason: 'no v1 signature matches the payload' };
  if (Math.abs(nowS - t) > toleranceS) return { ok: false, reason: `signature timestamp is outside the ${toleranceS} s tolerance` };
  return { ok: true, timestamp: t };
}
