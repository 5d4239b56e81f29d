/**
 * The zod side of the API's routes: request validation with the route's zod schemas, replies
 * serialized as they always were (JSON.stringify, never reshaped by a schema), and the
 * /openapi.json document generated from the same schemas by @fastify/swagger.
 */
import fastifySwagger, { type SwaggerTransform } from "@fastify/swagger";
import type { FastifyInstance } from "fastify";
import { createJsonSchemaTransform, validatorCompiler, type ZodTypeProvider } from "fastify-type-provider-zod";
import { $ZodObject, $ZodType } from "zod/v4/core";

/**
 * Zod to JSON Schema for the document. A reply's `z.object` is open (no `additionalProperties:
 * false`): replies only ever gain fields. `z.strictObject` (request bodies) stays closed.
 */
const jsonSchemaTransform = createJsonSchemaTransform({
  zodToJsonConfig: {
    override: ({ zodSchema, jsonSchema }) => {
      if (zodSchema instanceof $ZodObject && zodSchema._zod.def.catchall === undefined) delete jsonSchema.additionalProperties;
    },
  },
});

/** How each kind of caller proves who it is (the names routes use in their `security`). */
export const SECURITY_SCHEMES = {
  adminToken: { type: "http", scheme: "bearer", description: "`http.adminToken`: every /v1 route except the callbacks" },
  deviceToken: { type: "http", scheme: "bearer", description: "the room's device token (pull API and ICS feed of its own room only)" },
  deviceTokenQuery: { type: "apiKey", in: "query", name: "token", description: "the room's device token in the URL: only the ICS feed takes it" },
  metricsToken: { type: "http", scheme: "bearer", description: "`http.metricsToken`, when set" },
  bridgeSignature: {
    type: "apiKey",
    in: "header",
    name: "x-otj-signature",
    description: "HMAC-SHA256 of the raw body with `bridge.http.hmacSecret` (docs/bridge-protocol.md)",
  },
  graphCallsJwt: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "Microsoft Graph's signed token on call notifications" },
} as const;

export type SecurityScheme = keyof typeof SECURITY_SCHEMES;

/** A route's `security`: any one of the schemes named. */
export function security(...schemes: SecurityScheme[]): Array<Record<string, string[]>> {
  return schemes.map((s) => ({ [s]: [] }));
}

/**
 * Makes `app` (an encapsulated plugin) validate requests with zod and type its routes from the
 * schemas. Replies go out as JSON.stringify writes them: a response schema documents the reply
 * (and the tests hold replies to it) but never changes what is sent.
 */
export function zodRoutes(app: FastifyInstance) {
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  return app.withTypeProvider<ZodTypeProvider>();
}

/**
 * A route's `config` that documents `body` as its request body without validating it: for the
 * callback routes, whose handlers take the raw bytes and check the sender before parsing.
 */
export function documentedBody(body: $ZodType) {
  return { swaggerTransform: ((doc) => jsonSchemaTransform({ ...doc, schema: { ...doc.schema, body } })) satisfies SwaggerTransform };
}

function hasZod(schema: Record<string, unknown> | undefined): boolean {
  if (!schema) return false;
  const parts = [schema.body, schema.querystring, schema.params, schema.headers, ...Object.values((schema.response as Record<string, unknown>) ?? {})];
  return parts.some((p) => p instanceof $ZodType || (typeof p === "object" && p !== null && "content" in p));
}

/**
 * Registers the document's generator on `app`: every route registered after this in `app` or its
 * children is described (HEAD routes and what other plugins hide are left out).
 */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "otj engine API",
        version: "1",
        description: 'The engine\'s HTTP API (docs/http-api.md). Errors are `{"error":{"code","message"}}` with a code of docs/errors.md.',
      },
      components: { securitySchemes: SECURITY_SCHEMES },
    },
    // Zod schemas become JSON Schema; a route declared with plain JSON Schema is taken as it is.
    transform: (doc) => (hasZod(doc.schema as Record<string, unknown> | undefined) ? jsonSchemaTransform(doc) : { schema: doc.schema, url: doc.url }),
  });
}
