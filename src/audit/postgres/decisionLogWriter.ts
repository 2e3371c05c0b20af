/**
 * PostgreSQL decision log writer, with group commit: concurrent decisions
 * share one multi-row INSERT and one commit.
 */
import type { Sql } from '../../db/client.ts';
import type { DatasetFacts, PrincipalFacts } from '../../engine/types.ts';
import type { DecisionLogWriter, DecisionRecord } from '../decisionLog.ts';
import type { IdGenerator } from '../../clock.ts';
import { ChainedWriter, type ChainedWriterOptions } from './chainedWriter.ts';
import { decisionEncoding } from './decisionEncoding.ts';

/** The stored form of a principal: who it was and what it held when decided. */
function storedPrincipal(p: PrincipalFacts): Record<string, unknown> {
  return {
    id: p.id,
    kind: p.kind,
    status: p.status,
    roles: p.roles,
    grants: p.grants.map((g) => g.id),
    vendor_id: p.vendorId,
  };
}

/** The stored form of a request: facts as they were when decided (principal attributes, roles, grants, dataset), and whether it was asked to release data. */
export function storedInput(r: DecisionRecord): Record<string, unknown> {
  const { input } = r;
  return {
    action: input.action,
    purpose: input.purpose,
    columns: input.columns,
    now: new Date(input.now).toISOString(),
    principal: storedPrincipal(input.principal),
    sponsor: input.principal.sponsor ? storedPrincipal(input.principal.sponsor) : null,
    dataset: { id: input.dataset.id, project: input.dataset.project, classification: input.dataset.classification },
    context: input.context ?? {},
    // Inside `input`, so custos_decision_enc (which hashes `input` whole) covers it with no change of encoding.
    release: r.release,
    // Likewise; absent (not null) when unknown, so older records and records without it encode alike.
    ...(r.source ? { source: r.source } : {}),
  };
}

/** One decision_log row, as the object jsonb_populate_recordset reads. */
export function decisionRow(r: DecisionRecord): Record<string, unknown> {
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

/** JSON text of a value; `null` where JSON.stringify would leave a key out (the column is then NULL either way). */
function json(v: unknown): string {
  return JSON.stringify(v) ?? 'null';
}

/** JSON text of a list (most lists of a decision are empty). */
function list(v: readonly unknown[]): string {
  return v.length ? JSON.stringify(v) : '[]';
}

// Facts objects are shared and never changed once loaded (the cache hands out
// the same object until it reloads), so their stored form is written once.
const principalTexts = new WeakMap<PrincipalFacts, string>();
const datasetTexts = new WeakMap<DatasetFacts, string>();

function principalText(p: PrincipalFacts): string {
  let t = principalTexts.get(p);
  if (t === undefined) principalTexts.set(p, (t = JSON.stringify(storedPrincipal(p))));
  return t;
}

function datasetText(d: DatasetFacts): string {
  let t = datasetTexts.get(d);
  if (t === undefined) datasetTexts.set(d, (t = JSON.stringify({ id: d.id, project: d.project, classification: d.classification })));
  return t;
}

/**
 * The JSON text of {@link decisionRow}, written directly (no intermediate
 * objects; the facts' parts memoised): the same JSON value, key for key.
 */
export function decisionRowText(r: DecisionRecord): string {
  const { input, decision } = r;
  const principal = input.principal;
  const sponsor = principal.sponsor;
  const at = r.at.toISOString();
  const now = input.now === r.at.getTime() ? at : new Date(input.now).toISOString();
  return (
    `{"id":${json(r.id)},"at":"${at}","request_id":${json(r.requestId ?? null)},"caller_id":${json(r.callerId)}` +
    `,"principal_id":${json(principal.id)},"sponsor_id":${json(sponsor?.id ?? null)},"dataset_id":${json(input.dataset.id)},"project_id":${json(input.dataset.project)}` +
    `,"action":${json(input.action)},"purpose":${json(input.purpose)},"effect":${json(decision.effect)},"rules":${list(decision.rules)},"reasons":${list(decision.reasons)}` +
    `,"granted_columns":${list(decision.grantedColumns)},"denied_columns":${list(decision.deniedColumns)},"obligations":${list(decision.obligations)}` +
    `,"grant_ids":${list(decision.grantIds)},"break_glass":${json(decision.breakGlass)},"policy_version":${json(decision.policyVersion)},"latency_us":${json(Math.round(r.latencyUs))}` +
    `,"input":{"action":${json(input.action)},"purpose":${json(input.purpose)},"columns":${json(input.columns)},"now":"${now}"` +
    `,"principal":${principalText(principal)},"sponsor":${sponsor ? principalText(sponsor) : 'null'},"dataset":${datasetText(input.dataset)},"context":${json(input.context ?? {})},"release":${r.release ? 'true' : 'false'}${r.source ? `,"source":${json(r.source)}` : ''}}` +
    `,"token_jti":${json(r.token?.jti ?? null)},"token_expires_at":${r.token ? `"${r.token.expiresAt.toISOString()}"` : 'null'},"job":${json(r.token?.job ?? null)}}`
  );
}

/** Options of {@link createDecisionLogWriter}. */
export interface DecisionLogWriterOptions {
  maxBatch?: number;
  maxQueue?: number;
  /** Chains written in parallel by this process (each with one commit in flight). */
  lanes?: number;
  /** Whether records are linked in process (default) or by the database. */
  linkInProcess?: boolean;
  /** Told when a self-check finds an in-process link the database encodes otherwise (linking then moves to the database). */
  onMismatch?: (detail: { chain: string; from: number; to: number }) => void;
  /** Told after each group commit (metrics). */
  onCommit?: ChainedWriterOptions<DecisionRecord>['onCommit'];
}

/**
 * A writer whose append() resolves after the record's batch commits, linked
 * into this process's hash chains (custos_append_decisions computes the links
 * with the same encoding the verifier uses).
 */
export function createDecisionLogWriter(sql: Sql, options: DecisionLogWriterOptions & { ids: IdGenerator }): DecisionLogWriter & { stats: ChainedWriter<unknown>['stats']; readonly waiting: number; chains(): Promise<string[]> } {
  const writer = new ChainedWriter<DecisionRecord>(sql, {
    log: 'decision_log',
    ids: options.ids,
    lanes: options.lanes ?? 1,
    maxBatch: options.maxBatch ?? 256,
    maxQueue: options.maxQueue ?? 10_000,
    // The batch as one JSON array text, written directly (see decisionRowText).
    rows: (batch) => {
      let rows = '[';
      for (let i = 0; i < batch.length; i++) rows += (i ? ',' : '') + decisionRowText(batch[i]!);
      return rows + ']';
    },
    // Linked here, stored there (migration 0021); see decisionEncoding.ts.
    ...(options.linkInProcess === false ? {} : { inProcess: { encode: decisionEncoding, row: decisionRowText } }),
    onMismatch: options.onMismatch,
    onCommit: options.onCommit,
  });
  return {
    append: (r) => writer.submit(r),
    get stats() {
      return writer.stats;
    },
    get waiting() {
      return writer.waiting;
    },
    chains: () => writer.chains(),
  };
}
