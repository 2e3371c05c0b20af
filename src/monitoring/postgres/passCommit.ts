/**
 * The commit of a detection pass, in ONE transaction: the cursor advance
 * (compare-and-set on the old value: of two consumers that read the same
 * records, only one can commit them), the alerts (a repeat of an unresolved
 * alert with the same dedupe key joins it: occurrences, last_at), their
 * evidence, a webhook outbox row per new alert, a `custos_alerts`
 * notification per alert raised or repeated (delivered at commit), and the
 * detectors' remembered state.
 */
import type { Clock, IdGenerator } from '../../clock.ts';
import type { Sql, Tx } from '../../db/client.ts';
import { queueNotifications } from '../../grants/postgres/outbox.ts';
import type { AlertRaised } from '../records.ts';
import { CursorConflictError, type Advance, type CommitResult, type PassCommit } from '../store.ts';

/** The channel the alert API listens on (payload `{"id", "event": "raised" | "repeated"}`). */
export const ALERTS_CHANNEL = 'custos_alerts';

/** Moves every cursor from its old value, or throws CursorConflictError (the transaction then rolls back). */
async function advanceCursors(tx: Tx, advances: Advance[]): Promise<void> {
  if (!advances.length) return;
  const rows = advances.map((a) => ({ chain_id: a.chain, log: a.log, from_seq: a.from, to_seq: a.to }));
  const [r] = await tx`
    WITH adv AS (SELECT * FROM jsonb_to_recordset(${tx.json(rows as never)}) AS x(chain_id uuid, log text, from_seq bigint, to_seq bigint)),
    ins AS (
      INSERT INTO monitoring_cursors (chain_id, log, seq) SELECT chain_id, log, to_seq FROM adv WHERE from_seq = 0
      ON CONFLICT (chain_id) DO NOTHING RETURNING chain_id),
    upd AS (
      UPDATE monitoring_cursors m SET seq = adv.to_seq, updated_at = now() FROM adv
      WHERE m.chain_id = adv.chain_id AND adv.from_seq > 0 AND m.seq = adv.from_seq RETURNING m.chain_id)
    SELECT (SELECT count(*) FROM ins)::int + (SELECT count(*) FROM upd)::int AS n`;
  if (r!.n !== advances.length) throw new CursorConflictError();
}

/** Inserts or groups one alert; its id and whether it is new. */
async function upsertAlert(tx: Tx, a: AlertRaised, id: string): Promise<{ id: string; inserted: boolean }> {
  const at = new Date(a.at);
  const [r] = await tx`
    INSERT INTO alerts (id, detector, severity, subject, dedupe_key, title, details, first_at, last_at)
    VALUES (${id}, ${a.detector}, ${a.severity}, ${a.subject}, ${a.dedupeKey}, ${a.title}, ${tx.json(a.details as never)}, ${at}, ${at})
    ON CONFLICT (dedupe_key) WHERE status <> 'resolved'
    DO UPDATE SET occurrences = alerts.occurrences + 1, last_at = greatest(alerts.last_at, EXCLUDED.last_at), details = EXCLUDED.details
    RETURNING id, (xmax = 0) AS inserted`;
  return { id: r!.id as string, inserted: r!.inserted as boolean };
}

/** Commits a pass; throws CursorConflictError when another consumer got there first. */
export async function commitPass(sql: Sql, pass: PassCommit, o: { clock: Clock; ids: IdGenerator; webhook: boolean }): Promise<CommitResult> {
  return sql.begin(async (tx) => {
    // First, so a second consumer waits here (row locks) and then fails, before writing anything.
    await advanceCursors(tx, pass.advances);
    const raised: string[] = [];
    const repeated: string[] = [];
    for (const a of pass.alerts) {
      const { id, inserted } = await upsertAlert(tx, a, o.ids());
      (inserted ? raised : repeated).push(id);
      const evidence = a.evidence.map((e) => ({ log: e.log, record_id: e.id, at: new Date(e.at).toISOString() }));
      await tx`
        INSERT INTO alert_evidence (alert_id, log, record_id, at)
        SELECT ${id}, log, record_id, at FROM jsonb_to_recordset(${tx.json(evidence as never)}) AS x(log text, record_id uuid, at timestamptz)
        ON CONFLICT DO NOTHING`;
      if (inserted) {
        await queueNotifications(tx, [{ event: 'alert.raised', data: { id, detector: a.detector, severity: a.severity, subject: a.subject, title: a.title, at: new Date(a.at).toISOString(), details: a.details } }], o);
      }
      await tx`SELECT pg_notify(${ALERTS_CHANNEL}, ${JSON.stringify({ id, event: inserted ? 'raised' : 'repeated' })})`;
    }
    const { seen, baselines } = pass.changes;
    if (seen.length) {
      const rows = seen.map((s) => ({ kind: s.kind, subject: s.subject, value: s.value, first_at: new Date(s.at).toISOString(), record_id: s.recordId }));
      await tx`
        INSERT INTO monitoring_seen (kind, subject, value, first_at, record_id)
        SELECT * FROM jsonb_to_recordset(${tx.json(rows as never)}) AS x(kind text, subject text, value text, first_at timestamptz, record_id uuid)
        ON CONFLICT DO NOTHING`;
    }
    if (baselines.size) {
      const rows = [...baselines].map(([p, b]) => ({ principal_id: p, interval_index: b.interval, count: b.count, mean: b.mean, variance: b.variance, intervals: b.intervals, alerted_interval: b.alerted }));
      await tx`
        INSERT INTO monitoring_baselines (principal_id, interval_index, count, mean, variance, intervals, alerted_interval)
        SELECT * FROM jsonb_to_recordset(${tx.json(rows as never)})
          AS x(principal_id uuid, interval_index bigint, count integer, mean double precision, variance double precision, intervals integer, alerted_interval bigint)
        ON CONFLICT (principal_id) DO UPDATE SET interval_index = EXCLUDED.interval_index, count = EXCLUDED.count, mean = EXCLUDED.mean,
          variance = EXCLUDED.variance, intervals = EXCLUDED.intervals, alerted_interval = EXCLUDED.alerted_interval, updated_at = now()`;
    }
    return { raised, repeated };
  }) as Promise<CommitResult>;
}
