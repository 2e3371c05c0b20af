/**
 * An incident's scope, read from the decision log (45 CFR §164.402(2)(i)–(iii)
 * ask what PHI was involved, who used it, and whether it was acquired):
 * the principals who asked, the datasets and columns granted, the
 * decisions and the dataset tokens issued, within the incident's window
 * and, when it names them, for its principals (or jobs they sponsor) and
 * datasets only. Lists are capped; the export streams every decision.
 */
import type { Sql } from '../../db/client.ts';
import type { IncidentStore, Scope, ScopeFilter } from '../store.ts';
import type { Row } from './rows.ts';

const iso = (v: unknown): string => new Date(v as string).toISOString();

/** The decision columns an export carries, in order. */
export const DECISION_COLUMNS = [
  'id', 'at', 'principal_id', 'sponsor_id', 'dataset_id', 'project_id', 'action', 'purpose', 'effect', 'rules', 'reasons',
  'granted_columns', 'denied_columns', 'break_glass', 'grant_ids', 'policy_version', 'token_jti', 'token_expires_at', 'job',
] as const;

/** The filter as SQL over `decision_log` (parameters bound, never pasted). */
function where(sql: Sql, f: ScopeFilter) {
  const p = [...f.principalIds];
  const d = [...f.datasetIds];
  return sql`d.at >= ${f.from} AND d.at <= ${f.to}
    ${p.length ? sql`AND (d.principal_id = ANY(${p}::uuid[]) OR d.sponsor_id = ANY(${p}::uuid[]))` : sql``}
    ${d.length ? sql`AND d.dataset_id = ANY(${d}::text[])` : sql``}`;
}

/** The scope reads of the store. */
export function scopeStatements(sql: Sql): Pick<IncidentStore, 'scope' | 'involves' | 'decisions'> {
  return {
    async scope(f, cap) {
      const w = where(sql, f);
      const [totals] = await sql`
        SELECT count(*)::int AS total, count(*) FILTER (WHERE effect = 'allow')::int AS allow, count(*) FILTER (WHERE effect = 'deny')::int AS deny
        FROM decision_log d WHERE ${w}`;
      const principals = await sql`
        SELECT d.principal_id AS id, p.name, p.kind, count(*)::int AS decisions, count(*) FILTER (WHERE d.effect = 'allow')::int AS allows, min(d.at) AS first_at, max(d.at) AS last_at
        FROM decision_log d LEFT JOIN principals p ON p.id = d.principal_id WHERE ${w}
        GROUP BY d.principal_id, p.name, p.kind ORDER BY allows DESC, decisions DESC, d.principal_id LIMIT ${cap + 1}`;
      const datasets = await sql`
        SELECT d.dataset_id AS id, count(*)::int AS decisions, count(*) FILTER (WHERE d.effect = 'allow')::int AS allows, count(DISTINCT d.principal_id)::int AS principals
        FROM decision_log d WHERE ${w} GROUP BY d.dataset_id ORDER BY allows DESC, decisions DESC, d.dataset_id LIMIT ${cap + 1}`;
      const columns = await sql`
        SELECT d.dataset_id, c AS column, count(*)::int AS allows
        FROM decision_log d CROSS JOIN LATERAL unnest(d.granted_columns) AS c WHERE ${w} AND d.effect = 'allow'
        GROUP BY d.dataset_id, c ORDER BY d.dataset_id, c LIMIT ${cap + 1}`;
      const tokens = await sql`
        SELECT d.token_jti AS jti, d.token_expires_at AS expires_at, d.id AS decision_id, d.at, d.principal_id, d.sponsor_id, d.dataset_id, d.job
        FROM decision_log d WHERE ${w} AND d.token_jti IS NOT NULL ORDER BY d.at, d.id LIMIT ${cap + 1}`;
      const scope: Scope = {
        decisions: { total: totals!.total as number, allow: totals!.allow as number, deny: totals!.deny as number },
        principals: principals.slice(0, cap).map((r: Row) => ({ id: r.id, name: r.name ?? null, kind: r.kind ?? null, decisions: r.decisions, allows: r.allows, first_at: iso(r.first_at), last_at: iso(r.last_at) })),
        datasets: datasets.slice(0, cap).map((r: Row) => ({ id: r.id, decisions: r.decisions, allows: r.allows, principals: r.principals })),
        columns: columns.slice(0, cap).map((r: Row) => ({ dataset_id: r.dataset_id, column: r.column, allows: r.allows })),
        tokens: tokens.slice(0, cap).map((r: Row) => ({
          jti: r.jti,
          expires_at: r.expires_at == null ? null : iso(r.expires_at),
          decision_id: r.decision_id,
          at: iso(r.at),
          principal_id: r.principal_id,
          sponsor_id: r.sponsor_id ?? null,
          dataset_id: r.dataset_id,
          job: r.job ?? null,
        })),
        truncated: { principals: principals.length > cap, datasets: datasets.length > cap, columns: columns.length > cap, tokens: tokens.length > cap },
      };
      return scope;
    },
    async involves(f, principalId) {
      const [r] = await sql`
        SELECT EXISTS (SELECT 1 FROM decision_log d WHERE ${where(sql, f)} AND (d.principal_id = ${principalId} OR d.sponsor_id = ${principalId})) AS hit`;
      return Boolean(r!.hit);
    },
    async *decisions(f, batch) {
      for await (const rows of sql`SELECT ${sql([...DECISION_COLUMNS])} FROM decision_log d WHERE ${where(sql, f)} ORDER BY d.at, d.id`.cursor(batch)) {
        yield (rows as unknown as Row[]).map((r) => ({ ...r, at: iso(r.at), token_expires_at: r.token_expires_at == null ? null : iso(r.token_expires_at) }));
      }
    },
  };
}
