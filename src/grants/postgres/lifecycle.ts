/**
 * The grant lifecycle sweep in PostgreSQL: announces grants as they take
 * effect and as they expire, re-judging a requested grant's approvals as it
 * takes effect.
 */
import { LAPSED_APPROVALS } from '../activationCheck.ts';
import type { GrantStore } from '../store.ts';
import { factsVia } from './approverFacts.ts';
import type { GrantContext } from './common.ts';
import { grantById } from './grants.ts';
import { requestById } from './requests.ts';
import { transaction } from '../../db/transaction.ts';

/** The store's lifecycle method. */
export function lifecycleStatements(ctx: GrantContext): Pick<GrantStore, 'announceLifecycle'> {
  const { sql, leave, queue } = ctx;
  return {
    announceLifecycle: (now, note, activation) =>
      transaction(sql, async (tx) => {
        const activated = await tx`
          UPDATE grants SET activated_notified_at = ${now}
          WHERE id IN (SELECT id FROM grants WHERE activated_notified_at IS NULL AND status = 'active' AND not_before <= ${now} AND expires_at > ${now}
                       ORDER BY not_before LIMIT 500 FOR UPDATE SKIP LOCKED)
          RETURNING id`;
        const expired = await tx`
          UPDATE grants SET expired_notified_at = ${now}, activated_notified_at = coalesce(activated_notified_at, ${now})
          WHERE id IN (SELECT id FROM grants WHERE expired_notified_at IS NULL AND status = 'active' AND expires_at <= ${now}
                       ORDER BY expires_at LIMIT 500 FOR UPDATE SKIP LOCKED)
          RETURNING id`;
        let revoked = 0;
        for (const { id } of activated) {
          const g = (await grantById(tx, id))!;
          const request = g.request_id && !g.break_glass ? (await requestById(tx, g.request_id))! : undefined;
          if (request) {
            // Re-judged as it takes effect: approvals whose approver has since lost the role no longer carry it.
            const { counting, discounted } = await activation.check(request, factsVia(tx));
            if (counting.length < request.approvals_required) {
              await tx`UPDATE grants SET status = 'revoked', revoked_at = ${now}, revoke_reason = ${LAPSED_APPROVALS} WHERE id = ${id} AND status = 'active'`;
              await leave(tx, activation.revoked((await grantById(tx, id))!, { request, discounted }));
              revoked++;
              continue;
            }
          }
          await queue(tx, note(g, 'activated'));
        }
        for (const { id } of expired) await queue(tx, note((await grantById(tx, id))!, 'expired'));
        return { activated: activated.length - revoked, expired: expired.length, revoked };
      }),
  };
}
