/**
 * The security reviewer's reports:
 * - accounting of disclosures (HIPAA §164.528): who read PHI or a limited
 *   data set of one dataset in a period, when, which columns, for which
 *   purpose and under which rules, grants or break-glass — from the decision
 *   log's allows that released data (a token, an enforcement point's
 *   question; never an administrator's what-if), with the classification
 *   recorded at decision time;
 * - access review (§164.308(a)(4)(ii)(C), access review): who can read each
 *   PHI or limited dataset now and why (standing role, just-in-time grant,
 *   break-glass), worked out by the same engine that decides, on the live
 *   policy snapshot and fresh facts.
 */
import { z } from 'zod';
import type { Clock } from '../../clock.ts';
import type { Sql } from '../../db/client.ts';
import type { FactsStore } from '../../decisions/facts.ts';
import { decide, EMERGENCY } from '../../engine/decide.ts';
import type { PolicySnapshot } from '../../engine/snapshot.ts';
import type { DatasetFacts, Decision, PrincipalFacts } from '../../engine/types.ts';
import { NotFoundError } from '../../errors.ts';
import { FilterText } from './query.ts';

type Row = Record<string, unknown>;

/** What the reports read from. */
export interface ReportDeps {
  sql: Sql;
  clock: Clock;
  /** Uncached facts: a review must see the catalog as it is now. */
  facts: FactsStore;
  /** The live policy snapshot. */
  policy: () => PolicySnapshot;
}

const Text = FilterText;
const Iso = z.iso.datetime({ offset: true });

/** Parameters of the accounting of disclosures. */
export const DisclosureParams = z.strictObject({
  dataset: Text(128),
  from: Iso.optional().describe('start, inclusive (default: six years before `to`, the §164.528 period)'),
  to: Iso.optional().describe('end, exclusive (default: now)'),
  format: z.enum(['json', 'csv']).default('json'),
});
/** Parsed parameters of the accounting of disclosures. */
export type DisclosureParams = z.infer<typeof DisclosureParams>;

/** Columns of a disclosure row, in CSV order. */
export const DISCLOSURE_COLUMNS = [
  'decision_id', 'at', 'principal_id', 'principal_name', 'principal_kind', 'sponsor_id', 'purpose', 'classification', 'columns',
  'rules', 'grant_ids', 'break_glass', 'token_jti', 'job', 'caller_id', 'request_id',
] as const;

/** The most rows a JSON accounting returns; CSV streams them all. */
export const DISCLOSURE_JSON_LIMIT = 10_000;

/** The period of an accounting: [from, to). */
export function disclosurePeriod(p: DisclosureParams, now: Date): { from: Date; to: Date } {
  const to = p.to ? new Date(p.to) : now;
  const from = p.from ? new Date(p.from) : new Date(Date.UTC(to.getUTCFullYear() - 6, to.getUTCMonth(), to.getUTCDate(), to.getUTCHours(), to.getUTCMinutes(), to.getUTCSeconds()));
  return { from, to };
}

function disclosureSelect(sql: Sql, dataset: string, period: { from: Date; to: Date }, limit: number | undefined) {
  return sql`
    SELECT d.id AS decision_id, d.at, d.principal_id, p.name AS principal_name, p.kind AS principal_kind, d.sponsor_id, d.purpose,
           d.input->'dataset'->>'classification' AS classification, d.granted_columns AS columns, d.rules, d.grant_ids, d.break_glass,
           d.token_jti, d.job, d.caller_id, d.request_id
    FROM decision_log d LEFT JOIN principals p ON p.id = d.principal_id
    WHERE d.dataset_id = ${dataset} AND d.effect = 'allow'
      AND d.input->'dataset'->>'classification' IN ('phi', 'limited')
      -- A what-if released nothing. Records written before the flag existed have none and are listed (err toward listing).
      AND (d.input->'release') IS DISTINCT FROM 'false'::jsonb
      AND d.at >= ${period.from} AND d.at < ${period.to}
    ORDER BY d.at ASC, d.id ASC
    ${limit === undefined ? sql`` : sql`LIMIT ${limit}`}`;
}

const disclosureRow = (r: Row): Row => ({ ...r, at: new Date(r.at as Date).toISOString() });

/** An accounting of disclosures as JSON. */
export interface DisclosureReport {
  dataset: string;
  from: string;
  to: string;
  items: Row[];
  /** True when more than {@link DISCLOSURE_JSON_LIMIT} rows matched (use format=csv or a shorter period). */
  truncated: boolean;
}

/** Disclosures (releases, not what-ifs) of PHI or limited data of one dataset in [from, to), oldest first, at most {@link DISCLOSURE_JSON_LIMIT}. */
export async function disclosureReport(deps: ReportDeps, p: DisclosureParams): Promise<DisclosureReport> {
  const period = disclosurePeriod(p, deps.clock.now());
  const rows = (await disclosureSelect(deps.sql, p.dataset, period, DISCLOSURE_JSON_LIMIT + 1)) as unknown as Row[];
  return {
    dataset: p.dataset,
    from: period.from.toISOString(),
    to: period.to.toISOString(),
    items: rows.slice(0, DISCLOSURE_JSON_LIMIT).map(disclosureRow),
    truncated: rows.length > DISCLOSURE_JSON_LIMIT,
  };
}

/** Every disclosure row of the period, in batches (server-side cursor), for CSV. */
export async function* streamDisclosures(deps: ReportDeps, p: DisclosureParams, batch = 500): AsyncGenerator<Row[]> {
  const period = disclosurePeriod(p, deps.clock.now());
  for await (const rows of disclosureSelect(deps.sql, p.dataset, period, undefined).cursor(batch)) yield (rows as unknown as Row[]).map(disclosureRow);
}

/** Parameters of the access review. */
export const AccessReviewParams = z.strictObject({
  dataset: Text(128).optional().describe('one dataset (default: every phi and limited dataset)'),
});

/** The most principals an access review considers (those holding a role or an active grant, by id). */
export const ACCESS_REVIEW_PRINCIPAL_LIMIT = 10_000;

/** Why a principal can read a dataset. */
export type AccessBasis = 'standing' | 'grant' | 'break-glass';

/** One way one principal can read one dataset now. */
export interface AccessEntry {
  principal_id: string;
  principal_name: string;
  principal_kind: string;
  basis: AccessBasis;
  /** Purposes this holds for (same columns, rules and grants). */
  purposes: string[];
  columns: string[];
  rules: string[];
  grant_ids: string[];
  /** For grants and break-glass: when the earliest grant relied on ends. */
  expires_at: string | null;
}

/** Who can read one dataset. */
export interface DatasetAccess {
  dataset_id: string;
  project_id: string;
  classification: string;
  purposes: string[];
  access: AccessEntry[];
}

/** The access review. */
export interface AccessReview {
  generated_at: string;
  policy_version: string;
  principals_considered: number;
  principal_limit: number;
  /** True when more principals hold roles or grants than the limit; those beyond it (by id) were not evaluated. */
  truncated: boolean;
  datasets: DatasetAccess[];
}

/**
 * What `principal` may read of `dataset` for `purpose` now, or null. Columns
 * must be listed (no `*` on PHI), so it asks for every column, then narrows
 * to what was granted (a deny by column names the granted ones; a service's
 * sponsor limits it to the sponsor's columns) until an allow or nothing.
 */
function readable(snapshot: PolicySnapshot, now: number, principal: PrincipalFacts, dataset: DatasetFacts, purpose: string): Decision | null {
  let columns = dataset.columns.map((c) => c.name);
  for (let i = 0; i < 4 && columns.length; i++) {
    const d = decide({ now, action: 'dataset:read', purpose, columns, principal, dataset }, snapshot);
    if (d.effect === 'allow') return d;
    let narrower = d.grantedColumns;
    if (!narrower.length && principal.kind === 'service' && principal.sponsor) narrower = readable(snapshot, now, principal.sponsor, dataset, purpose)?.grantedColumns ?? [];
    const next = columns.filter((c) => narrower.includes(c));
    if (next.length === columns.length) return null;
    columns = next;
  }
  return null;
}

/** The entries of one principal for one dataset. */
function accessOf(snapshot: PolicySnapshot, now: number, p: { id: string; name: string; kind: string }, facts: PrincipalFacts, dataset: DatasetFacts): AccessEntry[] {
  const found: { basis: AccessBasis; purpose: string; d: Decision }[] = [];
  const standingOnly: PrincipalFacts = { ...facts, grants: [] };
  for (const purpose of dataset.purposes) {
    if (purpose === EMERGENCY) {
      const d = readable(snapshot, now, facts, dataset, purpose);
      if (d?.breakGlass) found.push({ basis: 'break-glass', purpose, d });
      continue;
    }
    const standing = readable(snapshot, now, standingOnly, dataset, purpose);
    if (standing && !standing.grantIds.length) found.push({ basis: 'standing', purpose, d: standing });
    const withGrants = readable(snapshot, now, facts, dataset, purpose);
    if (withGrants?.grantIds.length) found.push({ basis: 'grant', purpose, d: withGrants });
  }
  // Purposes with the same basis, columns, rules and grants make one entry.
  const merged = new Map<string, AccessEntry>();
  for (const f of found) {
    const key = JSON.stringify([f.basis, f.d.grantedColumns, f.d.rules, f.d.grantIds]);
    const e = merged.get(key);
    if (e) e.purposes.push(f.purpose);
    else
      merged.set(key, {
        principal_id: p.id,
        principal_name: p.name,
        principal_kind: p.kind,
        basis: f.basis,
        purposes: [f.purpose],
        columns: f.d.grantedColumns,
        rules: f.d.rules,
        grant_ids: f.d.grantIds,
        expires_at: f.d.grantsExpireAt === null ? null : new Date(f.d.grantsExpireAt).toISOString(),
      });
  }
  return [...merged.values()];
}

/** Runs `fn` over `items` with at most `n` at a time, keeping order. */
async function mapLimited<T, R>(items: readonly T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

/** Who can read each PHI or limited dataset (or the one named) now, and why. */
export async function accessReview(deps: ReportDeps, params: { dataset?: string | undefined }): Promise<AccessReview> {
  const now = deps.clock.now();
  const snapshot = deps.policy();
  let datasets: DatasetFacts[];
  if (params.dataset) {
    const d = await deps.facts.dataset(params.dataset, now);
    if (!d) throw new NotFoundError(`Dataset ${params.dataset}`);
    datasets = [d];
  } else {
    const ids = (await deps.sql`SELECT id FROM datasets ORDER BY id`) as unknown as { id: string }[];
    const all = await mapLimited(ids, 8, (r) => deps.facts.dataset(r.id, now));
    datasets = all.filter((d): d is DatasetFacts => d !== undefined && d.classification !== 'deidentified');
  }
  // Principals holding a standing role or a grant in force; nobody else holds any role the engine could use.
  const principals = (await deps.sql`
    SELECT id, name, kind FROM principals
    WHERE status = 'active' AND id IN (
      SELECT principal_id FROM role_assignments
      UNION SELECT principal_id FROM grants WHERE status = 'active' AND not_before <= ${now} AND expires_at > ${now})
    ORDER BY id LIMIT ${ACCESS_REVIEW_PRINCIPAL_LIMIT + 1}`) as unknown as { id: string; name: string; kind: string }[];
  const considered = principals.slice(0, ACCESS_REVIEW_PRINCIPAL_LIMIT);
  const result: DatasetAccess[] = datasets.map((d) => ({ dataset_id: d.id, project_id: d.project, classification: d.classification, purposes: d.purposes, access: [] }));
  if (datasets.length) {
    await mapLimited(considered, 8, async (p) => {
      const facts = await deps.facts.principal(p.id, now);
      if (!facts) return;
      datasets.forEach((d, i) => result[i]!.access.push(...accessOf(snapshot, now.getTime(), p, facts, d)));
    });
  }
  const basisOrder: Record<AccessBasis, number> = { standing: 0, grant: 1, 'break-glass': 2 };
  for (const r of result) r.access.sort((a, b) => a.principal_name.localeCompare(b.principal_name) || a.principal_id.localeCompare(b.principal_id) || basisOrder[a.basis] - basisOrder[b.basis]);
  return {
    generated_at: now.toISOString(),
    policy_version: snapshot.version,
    principals_considered: considered.length,
    principal_limit: ACCESS_REVIEW_PRINCIPAL_LIMIT,
    truncated: principals.length > ACCESS_REVIEW_PRINCIPAL_LIMIT,
    datasets: result,
  };
}
