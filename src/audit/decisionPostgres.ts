/**
 * PostgreSQL decision log writer, with group commit: concurrent decisions
 * share one multi-row INSERT and one commit.
 */
import type { Sql } from '../db/client.ts';
import type { DecisionLogWriter, DecisionRecord } from './decisionLog.ts';
import type { IdGenerator } from '../clock.ts';
import { ChainedWriter } from './chainedWriter.ts';

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
  /** Chains written in parallel by this process (each with one commit in flight). */
  lanes?: number;
}

/** The decision_log row of a record, as jsonb_populate_recordset reads it. */
function decisionRow(r: DecisionRecord): Record<string, unknown> {
  return {
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
  };
}

/**
 * A writer whose append() resolves after the record's batch commits, linked
 * into this process's hash chains (custos_append_decisions computes the links
 * with the same encoding the verifier uses).
 */
export function createDecisionLogWriter(sql: Sql, options: DecisionLogWriterOptions & { ids: IdGenerator }): DecisionLogWriter & { stats: ChainedWriter<unknown>['stats']; chains(): Promise<string[]> } {
  const writer = new ChainedWriter<DecisionRecord>(sql, {
    log: 'decision_log',
    ids: options.ids,
    lanes: options.lanes ?? 2,
    maxBatch: options.maxBatch ?? 256,
    maxQueue: options.maxQueue ?? 10_000,
    rows: (batch) => JSON.stringify(batch.map(decisionRow)),
  });
  return {
    append: (r) => writer.submit(r),
    get stats() {
      return writer.stats;
    },
    chains: () => writer.chains(),
  };
}
