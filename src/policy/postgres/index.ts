/**
 * PostgreSQL store of policy versions (migrations/0014).
 */
import type { Sql } from '../../db/client.ts';
import { ConflictError, NotFoundError } from '../../errors.ts';
import { policyDigest, type PolicyStore, type PolicyVersion, type PolicyVersionSummary } from '../store.ts';
import { transaction } from '../../db/transaction.ts';

type Row = Record<string, any>;

function toVersion(r: Row): PolicyVersion {
  return {
    version: r.version,
    documents: r.documents,
    tests: r.tests,
    digest: r.digest,
    author_id: r.author_id ?? null,
    created_at: new Date(r.created_at).toISOString(),
    comment: r.comment ?? null,
    rollback_of: r.rollback_of ?? null,
  };
}

/** Builds the policy version store. */
export function createPolicyStore(sql: Sql): PolicyStore {
  return {
    async head() {
      const [r] = await sql`SELECT version, digest FROM policy_versions ORDER BY version DESC LIMIT 1`;
      return r ? { version: r.version as number, digest: r.digest as string } : undefined;
    },
    async latest() {
      const [r] = await sql`SELECT * FROM policy_versions ORDER BY version DESC LIMIT 1`;
      return r ? toVersion(r) : undefined;
    },
    async get(version) {
      const [r] = await sql`SELECT * FROM policy_versions WHERE version = ${version}`;
      if (!r) throw new NotFoundError(`Policy version ${version}`);
      return toVersion(r);
    },
    async list({ limit, before }) {
      const rows = await sql`
        SELECT version, digest, author_id, created_at, comment, rollback_of,
               ARRAY(SELECT jsonb_object_keys(documents) ORDER BY 1) AS document_names,
               ARRAY(SELECT jsonb_object_keys(tests) ORDER BY 1) AS test_names
        FROM policy_versions WHERE version < ${before ?? 2_147_483_647}
        ORDER BY version DESC LIMIT ${limit + 1}`;
      const items: PolicyVersionSummary[] = rows.slice(0, limit).map((r: Row) => ({
        ...toVersion({ ...r, documents: undefined, tests: undefined }),
        documents: r.document_names,
        tests: r.test_names,
      }));
      return { items, next_cursor: rows.length > limit ? String(items[items.length - 1]!.version) : null };
    },
    async create(v, within) {
      const digest = policyDigest(v.documents, v.tests);
      try {
        return await transaction(sql, async (tx) => {
          // Inserted only while `basedOn` is the latest; of two concurrent edits the
          // primary key lets exactly one have version basedOn + 1.
          const [r] = await tx`
            INSERT INTO policy_versions (version, documents, tests, digest, author_id, created_at, comment, rollback_of)
            SELECT ${v.basedOn + 1}, ${tx.json(v.documents)}, ${tx.json(v.tests)}, ${digest}, ${v.authorId}, ${v.at}, ${v.comment ?? null}, ${v.rollbackOf ?? null}
            WHERE (SELECT coalesce(max(version), 0) FROM policy_versions) = ${v.basedOn}
            RETURNING *`;
          if (!r) throw new ConflictError(`The policy has changed since version ${v.basedOn}: reload it and reapply your edit.`);
          const created = toVersion(r);
          await within?.(tx, created);
          return created;
        });
      } catch (err) {
        if ((err as { code?: string }).code === '23505') throw new ConflictError(`The policy has changed since version ${v.basedOn}: reload it and reapply your edit.`);
        throw err;
      }
    },
    async seed(v) {
      const digest = policyDigest(v.documents, v.tests);
      await sql`
        INSERT INTO policy_versions (version, documents, tests, digest, author_id, created_at, comment)
        SELECT 1, ${sql.json(v.documents)}, ${sql.json(v.tests)}, ${digest}, ${v.authorId}, ${v.at}, ${v.comment ?? null}
        WHERE NOT EXISTS (SELECT 1 FROM policy_versions)
        ON CONFLICT (version) DO NOTHING`;
    },
  };
}
