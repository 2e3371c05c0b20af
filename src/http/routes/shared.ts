/**
 * Pieces shared by the authentication route files.
 */
import { z } from 'zod';
import type { AuthContext } from '../../auth/context.ts';

/** A session as issued by any login path. */
export const Session = z.object({
  access_token: z.string(),
  token_type: z.literal('Bearer'),
  expires_in: z.number().int(),
  refresh_token: z.string().describe('Single use; each refresh returns a new one'),
  refresh_expires_in: z.number().int(),
  scope: z.enum(['full', 'enrollment']),
  amr: z.array(z.string()).describe('RFC 8176 authentication method references'),
  auth_time: z.number().int().describe('Unix seconds of the authentication'),
});

/** The caller a route declared it requires; a missing one is a programming error. */
export function must(auth: AuthContext | undefined): AuthContext {
  if (!auth) throw new Error('route declared authentication but none was resolved');
  return auth;
}
