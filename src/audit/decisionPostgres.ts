/**
 * PostgreSQL decision log writer, with group commit: concurrent decisions
 * share one multi-row INSERT and one commit.
 */
import type { Sql } from '../db/client.ts';
import type { DecisionLogWriter, DecisionRecord } from './decisionLog.ts';
import { GroupCommitter } from './groupCommit.ts';

/** The stored form of a request: facts as they were when decided (principal attributes, roles, grants, dataset). */
function storedInput(r: DecisionRecord): Record<string, unknown> {
  const { input } = r;
  const principal = (p: typeof input.principal): Record<string, unknown> => ({
    id: p.id,
    kind: p.kind,
    status: p.status,
    roles: p.roles,
    grants: p.grants.map((g) => g.id),
    vendor_id: p.vendorId,
  });
  return {
    action: input.action,
    purpose: input.purpose,
    columns: input.columns,
    now: new Date(input.now).toISOString(),
    principal: principal(input.principal),
    sponsor: input.principal.sponsor ? principal(input.principal.sponsor) : null,
    dataset: { id: input.dataset.id, project: input.dataset.project, classification: input.dataset.classification },
    context: input.context ?? {},
  };
}

/** Options of {@link createDecisionLogWriter}. */
export interface DecisionLogWriterOptions {
  maxBatch?: number;
  maxQueue?: number;
  concurrency?: number;
}

/** A writer whose append() resolves after the record's batch commits. */
export function createDecisionLogWriter(sql: Sql, options: DecisionLogWriterOptions = {}): DecisionLogWriter & { stats: GroupCommitter<unknown>['stats'] } {
  const committer = new GroupCommitter<DecisionRecord>({
    maxBatch: options.maxBatch ?? 256,
    maxQueue: options.maxQueue ?? 10_000,
    concurrency: options.concurrency ?? 2,
    flush: async (batch) => {
      const rows = batch.map((r) => ({
        id: r.id,
        at: r.at.toISOString(),
        request_id: r.requestId ?? null,
        caller_id: r.callerId,
        principal_id: r.input.principal.id,
        sponsor_id: r.input.principal.sponsor?.id ?? null,
        dataset_id: r.input.dataset.id,
        project_id: r.input.dataset.project,
        action: r.input.action,
        purpose: r.input.purpose,
        effect: r.decision.effect,
        rules: r.decision.rules,
        reasons: r.decision.reasons,
        granted_columns: r.decision.grantedColumns,
        denied_columns: r.decision.deniedColumns,
        obligations: r.decision.obligations,
        grant_ids: r.decision.grantIds,
        break_glass: r.decision.breakGlass,
        policy_version: r.decision.policyVersion,
        latency_us: Math.round(r.latencyUs),
        input: storedInput(r),
        token_jti: r.token?.jti ?? null,
        token_expires_at: r.token ? r.token.expiresAt.toISOString() : null,
        job: r.token?.job ?? null,
      }));
      // One statement text whatever the batch size (prepared once), one
      // parameter: the batch as a JSON array that PostgreSQL turns into rows.
      // The column list is explicit and comes from our own record type.
      await sql`
        INSERT INTO decision_log (id, at, request_id, caller_id, principal_id, sponsor_id, dataset_id, project_id, action, purpose, effect,
                                  rules, reasons, granted_columns, denied_columns, obligations, grant_ids, break_glass, policy_version, latency_us, input,
                                  token_jti, token_expires_at, job)
        SELECT id, at, request_id, caller_id, principal_id, sponsor_id, dataset_id, project_id, action, purpose, effect,
               rules, reasons, granted_columns, denied_columns, obligations, grant_ids, break_glass, policy_version, latency_us, input,
               token_jti, token_expires_at, job
        FROM jsonb_populate_recordset(NULL::decision_log, ${sql.json(rows as never)})`;
    },
  });
  return { append: (r) => committer.submit(r), stats: committer.stats };
}
