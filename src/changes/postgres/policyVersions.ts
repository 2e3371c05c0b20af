/**
 * Policy versions as a dual-control change writes them: the next version is
 * inserted only when the latest is still the one the change was based on.
 */
import type { Tx } from '../../db/client.ts';
import { policyDigest } from '../../policy/store.ts';
import type { ChangeTx } from '../store.ts';

/** The transaction's policy-version methods. */
export function policyVersionStatements(tx: Tx): Pick<ChangeTx, 'latestPolicyVersion' | 'insertPolicyVersion'> {
  return {
    async latestPolicyVersion() {
      const [r] = await tx`SELECT coalesce(max(version), 0)::int AS v FROM policy_versions`;
      return r!.v as number;
    },
    async insertPolicyVersion(v) {
      const digest = policyDigest(v.documents, v.tests);
      const [r] = await tx`
        INSERT INTO policy_versions (version, documents, tests, digest, author_id, created_at, comment, rollback_of)
        SELECT ${v.basedOn + 1}, ${tx.json(v.documents)}, ${tx.json(v.tests)}, ${digest}, ${v.authorId}, ${v.at}, ${v.comment}, ${v.rollbackOf}
        WHERE (SELECT coalesce(max(version), 0) FROM policy_versions) = ${v.basedOn}
        ON CONFLICT (version) DO NOTHING
        RETURNING version, digest`;
      return r ? { version: r.version as number, digest: r.digest as string } : undefined;
    },
  };
}
