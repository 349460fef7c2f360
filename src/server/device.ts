/**
 * Seed 002's device fingerprint: a `device_id` cookie (a random UUID) set once per browser, and the
 * request context that carries it to the store, so every audit row says which browser made the
 * change. A client can send any value it likes (it is a label, not a credential): anything but a
 * UUID is replaced by a fresh one and never reaches the database.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

export const DEVICE_COOKIE = 'device_id';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** A year: the cookie outlives sessions, as a browser's identity should. */
const MAX_AGE_S = 365 * 24 * 3600;

const devices = new WeakMap<FastifyRequest, string>();

/** The request's device id; sets the cookie when the browser has none (or a malformed one). */
export function assignDevice(req: FastifyRequest, reply: FastifyReply, secure: boolean): string {
  const sent = req.cookies[DEVICE_COOKIE];
  if (sent !== undefined && UUID.test(sent)) {
    devices.set(req, sent);
    return sent;
  }
  const id = randomUUID();
  reply.setCookie(DEVICE_COOKIE, id, { httpOnly: true, sameSite: 'strict', secure, path: '/', maxAge: MAX_AGE_S });
  devices.set(req, id);
  return id;
}

export function deviceOf(req: FastifyRequest): string | undefined {
  return devices.get(req);
}

/** What a request's handler runs inside, for code far from the request (the store's audit rows). */
export interface RequestContext {
  readonly device: string | undefined;
}

export const requestContext = new AsyncLocalStorage<RequestContext>();

export function currentDevice(): string | undefined {
  return requestContext.getStore()?.device;
}
