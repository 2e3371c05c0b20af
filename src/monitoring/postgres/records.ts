/**
 * Reading the committed records for detection: the chains with records after
 * their cursors, a chain's next records in seq order (each chain commits in
 * seq order: ChainedWriter keeps one transaction in flight per chain and
 * appendIn holds the chain head locked, so no record can later appear below
 * a cursor), and, after a takeover, the records of the longest window
 * before the cursors with the detectors that already used each.
 */
import type { ChainedLog } from '../../audit/postgres/chainedWriter.ts';
import type { Sql } from '../../db/client.ts';
import type { Baseline } from '../detectors/volumeAnomaly.ts';
import type { Seen } from '../detectors/firstAccess.ts';
import type { AuditSeen, DecisionSeen, DetectorName, RecordSeen } from '../records.ts';
import type { PendingChain, Rebuild } from '../store.ts';

/** The columns detection reads of a decision record, with its identifier columns granted and denied (per the dataset's catalog entry). */
function decisionColumns(sql: Sql) {
  return sql`d.id, d.at, d.chain_id, d.seq::float8 AS seq, d.principal_id, d.input->'principal'->>'kind' AS principal_kind, d.caller_id,
    d.dataset_id, d.input->'dataset'->>'classification' AS classification, d.effect, (d.input->>'release') = 'true' AS release,
    d.input->>'source' AS source,
    CASE WHEN cardinality(d.granted_columns) = 0 THEN '{}'::text[] ELSE (
      SELECT coalesce(array_agg(c->>'name' ORDER BY c->>'name'), '{}') FROM datasets ds CROSS JOIN LATERAL jsonb_array_elements(ds.columns) c
      WHERE ds.id = d.dataset_id AND c->>'category' IS NOT NULL AND c->>'name' = ANY (d.granted_columns)) END AS granted_identifiers,
    CASE WHEN cardinality(d.denied_columns) = 0 THEN '{}'::text[] ELSE (
      SELECT coalesce(array_agg(c->>'name' ORDER BY c->>'name'), '{}') FROM datasets ds CROSS JOIN LATERAL jsonb_array_elements(ds.columns) c
      WHERE ds.id = d.dataset_id AND c->>'category' IS NOT NULL AND c->>'name' = ANY (d.denied_columns)) END AS denied_identifiers`;
}

function auditColumns(sql: Sql) {
  return sql`e.id, e.at, e.chain_id, e.seq::float8 AS seq, e.type, e.outcome, e.actor_id, e.subject_id, e.source_ip, e.details`;
}

function decisionOf(r: any): DecisionSeen {
  return {
    log: 'decision_log',
    id: r.id,
    at: (r.at as Date).getTime(),
    chain: r.chain_id,
    seq: r.seq,
    principalId: r.principal_id,
    principalKind: r.principal_kind,
    callerId: r.caller_id,
    datasetId: r.dataset_id,
    classification: r.classification,
    effect: r.effect,
    grantedIdentifiers: r.granted_identifiers,
    deniedIdentifiers: r.denied_identifiers,
    release: r.release === true,
    source: r.source,
  };
}

function auditOf(r: any): AuditSeen {
  return {
    log: 'audit_events',
    id: r.id,
    at: (r.at as Date).getTime(),
    chain: r.chain_id,
    seq: r.seq,
    type: r.type,
    outcome: r.outcome,
    actorId: r.actor_id,
    subjectId: r.subject_id,
    sourceIp: r.source_ip,
    details: r.details ?? {},
  };
}

/**
 * Chains whose head is past their cursor, and the sum of all cursors: as
 * cursors only move forward, a sum other than the one a consumer expects
 * means another commit moved one.
 */
export async function pendingChains(sql: Sql): Promise<{ chains: PendingChain[]; cursorSum: number }> {
  const rows = await sql`
    SELECT c.id, c.log, coalesce(m.seq, 0)::float8 AS cursor, c.head_seq::float8 AS head,
           (SELECT coalesce(sum(seq), 0)::float8 FROM monitoring_cursors) AS total
    FROM audit_chains c LEFT JOIN monitoring_cursors m ON m.chain_id = c.id
    WHERE c.head_seq > coalesce(m.seq, 0)`;
  const chains = rows.map((r) => ({ chain: r.id as string, log: r.log as ChainedLog, cursor: r.cursor as number, head: r.head as number }));
  const cursorSum = rows.length ? (rows[0]!.total as number) : ((await sql`SELECT coalesce(sum(seq), 0)::float8 AS total FROM monitoring_cursors`)[0]!.total as number);
  return { chains, cursorSum };
}

/** A chain's next records after its cursor, in seq order. */
export async function readChain(sql: Sql, c: PendingChain, limit: number): Promise<RecordSeen[]> {
  if (c.log === 'decision_log') {
    const rows = await sql`SELECT ${decisionColumns(sql)} FROM decision_log d WHERE d.chain_id = ${c.chain} AND d.seq > ${c.cursor} ORDER BY d.seq LIMIT ${limit}`;
    return rows.map(decisionOf);
  }
  const rows = await sql`SELECT ${auditColumns(sql)} FROM audit_events e WHERE e.chain_id = ${c.chain} AND e.seq > ${c.cursor} ORDER BY e.seq LIMIT ${limit}`;
  return rows.map(auditOf);
}

/**
 * The persisted state, and the records of the `windowMs` before the cursors
 * (from the newest record judged). The cursors are read first and the rest
 * is read up to them: if another commit lands meanwhile, the cursors the
 * rebuild returns no longer match the table, and the consumer's next pass
 * notices (and rebuilds again) before it judges anything on that state.
 */
export async function rebuildState(sql: Sql, windowMs: number): Promise<Rebuild> {
  const cursorRows = await sql`SELECT chain_id, seq::float8 AS seq FROM monitoring_cursors`;
  const cursors = new Map<string, number>(cursorRows.map((r) => [r.chain_id as string, r.seq as number]));
  const seen = (await sql`SELECT kind, subject, value, first_at, record_id FROM monitoring_seen`).map(
    (r): Seen => ({ kind: r.kind, subject: r.subject, value: r.value, at: (r.first_at as Date).getTime(), recordId: r.record_id }),
  );
  const baselines = new Map<string, Baseline>();
  for (const r of await sql`SELECT principal_id, interval_index::float8 AS i, count, mean, variance, intervals, alerted_interval::float8 AS a FROM monitoring_baselines`) {
    baselines.set(r.principal_id, { interval: r.i, count: r.count, mean: r.mean, variance: r.variance, intervals: r.intervals, alerted: r.a });
  }
  const state = { seen, baselines };
  const none: Rebuild = { state, cursors, records: [], usedBy: new Map() };
  if (windowMs <= 0 || !cursors.size) return none;
  // The cursors as read, as a relation the record queries join.
  const c = sql`SELECT * FROM jsonb_to_recordset(${sql.json(cursorRows.map((r) => ({ chain_id: r.chain_id, seq: r.seq })) as never)}) AS x(chain_id uuid, seq bigint)`;
  // The newest record judged, over both logs: the window ends there.
  const [end] = await sql`
    SELECT greatest(
      (SELECT max(d.at) FROM (${c}) m JOIN decision_log d ON d.chain_id = m.chain_id AND d.seq = m.seq),
      (SELECT max(e.at) FROM (${c}) m JOIN audit_events e ON e.chain_id = m.chain_id AND e.seq = m.seq)) AS at`;
  if (!end?.at) return none;
  const since = new Date((end.at as Date).getTime() - windowMs);
  // Only what windows hold: denies (deny bursts, identifier refusals) and failures (second factors). Every
  // other detector keeps no window, or persists its state, so allows (most of the traffic) are not read again.
  const decisions = await sql`
    SELECT ${decisionColumns(sql)} FROM decision_log d JOIN (${c}) m ON m.chain_id = d.chain_id
    WHERE d.at > ${since} AND d.seq <= m.seq AND d.effect = 'deny'`;
  const events = await sql`
    SELECT ${auditColumns(sql)} FROM audit_events e JOIN (${c}) m ON m.chain_id = e.chain_id
    WHERE e.at > ${since} AND e.seq <= m.seq AND e.outcome = 'failure'`;
  const records: RecordSeen[] = [...decisions.map(decisionOf), ...events.map(auditOf)];
  const usedBy = new Map<string, Set<DetectorName>>();
  const used = await sql`
    SELECT e.record_id, array_agg(DISTINCT a.detector) AS detectors FROM alert_evidence e JOIN alerts a ON a.id = e.alert_id
    WHERE e.at > ${since} GROUP BY e.record_id`;
  for (const u of used) usedBy.set(u.record_id, new Set(u.detectors as DetectorName[]));
  return { state, cursors, records, usedBy };
}
