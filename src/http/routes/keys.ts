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
      summary: 'Public keys that verify Custos tokens (RFC 7517); retired keys stay until their tokens expire',
      tag: 'tokens',
      auth: { kind: 'public' },
      responses: { 200: { description: 'JWK Set', schema: z.object({ keys: z.array(Jwk) }) } },
      handler: async () => {
        // Verifiers may cache briefly; a rotation is visible within a minute.
        return { body: await deps.keys.jwks(), headers: { 'Cache-Control': 'public, max-age=60' } };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/v1/keys/rotate',
      summary: 'Rotate the token-signing key (the old one stays published until its tokens expire)',
      tag: 'tokens',
      auth: { kind: 'permission', permission: 'keys:rotate', stepUp: true },
      responses: { 200: { description: 'Rotated', schema: z.object({ kid: z.string(), retired: z.string().nullable() }) } },
      handler: async ({ auth, meta }) => {
        const r = await deps.keys.rotate((tx, r) => deps.audit.recordIn(tx, { type: 'keys.rotated', outcome: 'success', actorId: auth!.principalId, meta, details: { kid: r.kid, retired: r.retired } }));
        return { body: r };
      },
    }),
  ];
}
