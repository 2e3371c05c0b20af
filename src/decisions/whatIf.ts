/**
 * Which decisions release data and which only answer "what if". The
 * accounting of disclosures (HIPAA §164.528) must list every release of PHI
 * and only those: a token issued to a training job, or an enforcement point's
 * question (it serves the data on an allow), is a release; an
 * administrator's question through the decision API is not — nothing leaves
 * on that answer.
 */
import type { AuthContext } from '../auth/context.ts';

/** The role of the services that serve data on an allow (dataset servers, feature stores). */
const ENFORCEMENT_POINT = 'enforcement-point';

/**
 * True when the caller of the decision API asks "what if": a person's
 * session that is not an enforcement point (an administrator holding
 * `pdp:check`). A service calling with client credentials is an enforcement
 * point and releases; so, to err toward listing, does a session that holds
 * the enforcement-point role.
 */
export function isWhatIf(caller: Pick<AuthContext, 'via' | 'orgRoles'>): boolean {
  return caller.via === 'session' && !caller.orgRoles.includes(ENFORCEMENT_POINT);
}
