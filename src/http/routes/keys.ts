/**
 * Token-signing keys: the public JWK Set, and rotation.
 */
import { z } from 'zod';
import type { AppDeps } from '../deps.ts';
import { defineRoute, type AnyRoute } from '../route.ts';

const Jwk = z.object({ kty: z.literal('EC'), crv: z.literal('P-256'), x: z.string(), y: z.string(), kid: z.string(), alg: z.literal('ES256'), use: z.literal('sig') });

/** GET /.well-known/jwks.json and POST /v1/keys/rotate. */
export function keyRoutes(deps: AppDeps): AnyRoute[] {
  return [
    defineRoute({
      method: 'get',
      path: '/.well-known/jwks.json',
      summary: 'Public keys that verify Custos tokens (RFC 7517): the next key before it signs, the active one, retired ones until their tokens expire',
      tag: 'tokens',
      auth: { kind: 'public' },
      responses: { 200: { description: 'JWK Set', schema: z.object({ keys: z.array(Jwk) }) } },
      handler: async () => {
        // HTTP caches may keep it only a small part of the time a new key is published before it signs (KeyRing.jwksMaxAgeSeconds).
        return { body: await deps.keys.jwks(), headers: { 'Cache-Control': `public, max-age=${deps.keys.jwksMaxAgeSeconds}` } };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/v1/keys/rotate',
      summary: 'Rotate the token-signing key: the new key is published now and signs after CUSTOS_KEY_PUBLISH_AHEAD_SECONDS (at once with `immediate`, for a compromised key)',
      tag: 'tokens',
      auth: { kind: 'permission', permission: 'keys:rotate', stepUp: true },
      body: z.strictObject({
        immediate: z.boolean().optional().describe('sign with the new key at once (a compromised key): verifiers with a cached key set refuse its tokens until they re-fetch (jose: up to 30 s)'),
      }),
      responses: {
        200: {
          description: 'Rotated (or scheduled)',
          schema: z.object({ kid: z.string(), retired: z.string().nullable(), activates_at: z.iso.datetime(), immediate: z.boolean(), withdrawn: z.string().nullable() }),
        },
        409: { description: 'A rotation is already scheduled (its key is not active yet)' },
      },
      handler: async ({ auth, meta, body }) => {
        const r = await deps.keys.rotate({
          immediate: body.immediate === true,
          trace: (tx, r) =>
            deps.audit.recordIn(tx, {
              type: 'keys.rotated',
              outcome: 'success',
              actorId: auth!.principalId,
              meta,
              details: { kid: r.kid, retired: r.retired, activates_at: r.activatesAt.toISOString(), immediate: r.immediate, withdrawn: r.withdrawn },
            }),
        });
        return { body: { kid: r.kid, retired: r.retired, activates_at: r.activatesAt.toISOString(), immediate: r.immediate, withdrawn: r.withdrawn } };
      },
    }),
  ];
}
