/**
 * Routes described once, in zod: each `api.route({...})` registers the Fastify handler (which
 * authenticates, parses the JSON body itself and validates body, query and params with the zod
 * schemas) and records the description from which `/openapi.json` is generated. There is no second,
 * hand-written copy of the API's shape.
 *
 * Bad input is answered 4xx with a reason: malformed JSON says where it broke, schema failures list
 * each problem with its JSON path (`body.port`), and an invalid spec carries `cordon check`'s
 * diagnostics.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Auth, AuthContext, Scope } from './auth.js';
import { deviceOf, requestContext } from './device.js';
import { HttpError } from './errors.js';
import { ErrorSchema } from './schemas.js';

type Method = 'GET' | 'POST' | 'DELETE' | 'PUT';

export interface ResponseSpec {
  readonly description: string;
  /** The JSON body's schema, if the answer can be JSON. */
  readonly schema?: z.ZodType;
  /** A non-JSON content type the answer can have (text/plain for downloads). */
  readonly contentType?: string;
}

export interface RouteSpec<B extends z.ZodType, Q extends z.ZodType, P extends z.ZodType> {
  readonly method: Method;
  /** Fastify path syntax (`/api/specs/:id`). */
  readonly url: string;
  readonly summary: string;
  readonly tag: string;
  /** `public`: no credentials needed (login, the webhook, which has its own signature); otherwise the scope the caller needs. */
  readonly auth: 'public' | Scope;
  readonly body?: B;
  /**
   * The body as /openapi.json shows it, when the route must check it later than `body` would
   * (the webhook: the signature over the raw bytes first, the event's shape after).
   */
  readonly documentedBody?: z.ZodType;
  readonly query?: Q;
  readonly params?: P;
  readonly responses: Readonly<Record<number, ResponseSpec>>;
  /** A larger body than the server's default (vault uploads). */
  readonly bodyLimit?: number;
}

export interface Call<B, Q, P> {
  readonly body: B;
  readonly query: Q;
  readonly params: P;
  /** The raw request body (the webhook's signature covers exactly these bytes). */
  readonly raw: string;
  /** Undefined on public routes. */
  readonly auth: AuthContext | undefined;
  readonly req: FastifyRequest;
  readonly reply: FastifyReply;
}

interface Recorded {
  readonly spec: RouteSpec<z.ZodType, z.ZodType, z.ZodType>;
}

/** `body.hosts.web` for a zod issue path under `where`. */
function issuePath(where: string, path: readonly PropertyKey[]): string {
  return [where, ...path.map(String)].join('.');
}

function parseWith<S extends z.ZodType>(schema: S | undefined, value: unknown, where: string): z.output<S> {
  if (!schema) return undefined as z.output<S>;
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => ({ path: issuePath(where, i.path), message: i.message }));
  throw new HttpError(400, `invalid request ${where}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { issues });
}

function parseJsonBody(raw: string): unknown {
  if (raw.trim() === '') throw new HttpError(400, 'request body is empty; expected a JSON object');
  try {
    return JSON.parse(raw) as unknown;
  } catch (e) {
    throw new HttpError(400, `malformed JSON in request body: ${(e as Error).message}`);
  }
}

export class Api {
  private readonly recorded: Recorded[] = [];

  constructor(
    readonly app: FastifyInstance,
    private readonly auth: Auth,
  ) {}

  route<B extends z.ZodType = z.ZodUndefined, Q extends z.ZodType = z.ZodUndefined, P extends z.ZodType = z.ZodUndefined>(
    spec: RouteSpec<B, Q, P>,
    handler: (call: Call<z.output<B>, z.output<Q>, z.output<P>>) => unknown,
  ): void {
    this.recorded.push({ spec });
    this.app.route({
      method: spec.method,
      url: spec.url,
      ...(spec.bodyLimit ? { bodyLimit: spec.bodyLimit } : {}),
      handler: async (req, reply) =>
        requestContext.run({ device: deviceOf(req) }, async () => {
          const auth = spec.auth === 'public' ? undefined : this.auth.authenticate(req, spec.auth);
          const raw = typeof req.body === 'string' ? req.body : '';
          const body = spec.body ? parseWith(spec.body, parseJsonBody(raw), 'body') : (undefined as z.output<B>);
          const query = parseWith(spec.query, req.query, 'query');
          const params = parseWith(spec.params, req.params, 'params');
          return handler({ body, query, params, raw, auth, req, reply });
        }),
    });
  }

  /**
   * A public route whose answer is not JSON (the dashboard's page and its files): no credentials,
   * no body; its params are validated as `route` does, then the handler answers through `reply`
   * itself. Described in /openapi.json like every other route.
   */
  raw<P extends z.ZodType = z.ZodUndefined>(
    spec: RouteSpec<z.ZodUndefined, z.ZodUndefined, P> & { readonly method: 'GET'; readonly auth: 'public' },
    handler: (params: z.output<P>, req: FastifyRequest, reply: FastifyReply) => unknown,
  ): void {
    this.recorded.push({ spec });
    this.app.route({ method: spec.method, url: spec.url, handler: async (req, reply) => handler(parseWith(spec.params, req.params, 'params'), req, reply) });
  }

  /** The OpenAPI 3.1 document of every route registered so far. */
  openapi(info: { title: string; version: string }): Record<string, unknown> {
    const paths: Record<string, Record<string, unknown>> = {};
    for (const { spec } of this.recorded) {
      const path = spec.url.replace(/:([A-Za-z_]+)/g, '{$1}');
      const parameters = [...parametersOf(spec.params, 'path'), ...parametersOf(spec.query, 'query')];
      const responses: Record<string, unknown> = {};
      for (const [status, given] of Object.entries(spec.responses)) {
        // Every error a route answers itself is the one error shape, unless it says otherwise.
        const r = Number(status) >= 400 && !given.schema && !given.contentType ? { ...given, schema: ErrorSchema } : given;
        responses[status] = {
          description: r.description,
          ...(r.schema || r.contentType
            ? {
                content: {
                  ...(r.schema ? { 'application/json': { schema: jsonSchema(r.schema, 'output') } } : {}),
                  ...(r.contentType ? { [r.contentType]: { schema: { type: 'string' } } } : {}),
                },
              }
            : {}),
        };
      }
      const errors: Record<string, string> = { '400': 'bad input: malformed JSON, a schema violation (with JSON paths) or an invalid spec (with diagnostics)' };
      if (spec.auth !== 'public') {
        errors['401'] = 'no valid credentials';
        errors['403'] = `lacks the scope '${spec.auth}', or a cookie-authenticated write without X-CSRF-Token`;
      }
      if (spec.params) errors['404'] = 'unknown id';
      for (const [status, description] of Object.entries(errors))
        responses[status] ??= { description, content: { 'application/json': { schema: jsonSchema(ErrorSchema, 'output') } } };
      (paths[path] ??= {})[spec.method.toLowerCase()] = {
        summary: spec.summary,
        tags: [spec.tag],
        ...(spec.auth === 'public' ? { security: [] } : { security: [{ session: [] }, { token: [] }], 'x-cordon-scope': spec.auth }),
        ...(parameters.length ? { parameters } : {}),
        ...(spec.body
          ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(spec.documentedBody ?? spec.body, 'input') } } } }
          : {}),
        responses,
      };
    }
    return {
      openapi: '3.1.0',
      info,
      paths,
      components: {
        securitySchemes: {
          session: { type: 'apiKey', in: 'cookie', name: 'cordon_session', description: 'from POST /api/auth/login; writes also need X-CSRF-Token' },
          token: { type: 'http', scheme: 'bearer', description: 'an API token from POST /api/tokens, limited to its scopes' },
        },
      },
    };
  }
}

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  // Without `$schema`: inside an OpenAPI 3.1 document the dialect is the document's own.
  const js: Record<string, unknown> = { ...z.toJSONSchema(schema, { io, unrepresentable: 'any' }) };
  delete js.$schema;
  return js;
}

function parametersOf(schema: z.ZodType | undefined, where: 'path' | 'query'): unknown[] {
  if (!schema) return [];
  const js = jsonSchema(schema, 'input') as { properties?: Record<string, Record<string, unknown>>; required?: string[] };
  return Object.entries(js.properties ?? {}).map(([name, s]) => ({
    name,
    in: where,
    required: where === 'path' || (js.required ?? []).includes(name),
    ...(typeof s.description === 'string' ? { description: s.description } : {}),
    schema: s,
  }));
}
