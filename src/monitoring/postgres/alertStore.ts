/**
 * The alerts store on PostgreSQL (migrations 0023, 0026). Filter values are
 * bound parameters of postgres.js tagged templates (never `sql.unsafe`);
 * column lists are explicit. Every write takes the feed's write-order lock
 * before the row lock (migration 0026), so revisions follow commit order and
 * writers cannot deadlock over the two.
 */
import type { Sql, Tx } from '../../db/client.ts';
import { AUDIT_EVENT_COLUMNS, auditEvents, DECISION_COLUMNS, decisionLog, decodeLogCursor, encodeLogCursor } from '../../audit/postgres/query.ts';
import type { Alert, AlertChangeRecord, AlertFilter, AlertPage, AlertStore, Evidence } from '../alerts.ts';
import { ALERTS_CHANNEL } from '../channel.ts';

type Row = Record<string, unknown>;
type Fragment = ReturnType<Sql>;

const COLUMNS = [
  'id', 'detector', 'severity', 'subject', 'title', 'details', 'status', 'assignee_id', 'assigned_at', 'assigned_by', 'first_at', 'last_at', 'occurrences',
  'created_at', 'acknowledged_at', 'acknowledged_by', 'resolved_at', 'resolved_by', 'finding', 'revision', 'last_event', 'updated_at',
] as const;

const iso = (v: unknown): string | null => (v === null || v === undefined ? null : new Date(v as string | Date).toISOString());

function toAlert(r: Row): Alert {
  return {
    id: r.id as string,
    detector: r.detector as string,
    severity: r.severity as Alert['severity'],
    subject: r.subject as string,
    title: r.title as string,
    details: (r.details ?? {}) as Record<string, unknown>,
    status: r.status as Alert['status'],
    assignee_id: (r.assignee_id as string | null) ?? null,
    assigned_at: iso(r.assigned_at),
    assigned_by: (r.assigned_by as string | null) ?? null,
    first_at: iso(r.first_at)!,
    last_at: iso(r.last_at)!,
    occurrences: Number(r.occurrences),
    created_at: iso(r.created_at)!,
    acknowledged_at: iso(r.acknowledged_at),
    acknowledged_by: (r.acknowledged_by as string | null) ?? null,
    resolved_at: iso(r.resolved_at),
    resolved_by: (r.resolved_by as string | null) ?? null,
    finding: (r.finding as string | null) ?? null,
    // bigint: kept as text so no precision is lost in JSON.
    revision: String(r.revision),
    last_event: r.last_event as Alert['last_event'],
    updated_at: iso(r.updated_at)!,
  };
}

function and(sql: Sql, parts: Fragment[]): Fragment {
  return parts.reduce((acc, p) => sql`${acc} AND ${p}`, sql`TRUE`);
}

function where(sql: Sql, f: AlertFilter): Fragment[] {
  const w: Fragment[] = [];
  if (f.status) w.push(sql`status = ${f.status}`);
  if (f.severity) w.push(sql`severity = ${f.severity}`);
  if (f.detector) w.push(sql`detector = ${f.detector}`);
  if (f.subject) w.push(sql`subject = ${f.subject}`);
  if (f.assignee) w.push(sql`assignee_id = ${f.assignee}`);
  // Active in [from, to): last seen at or after `from`, first seen before `to`.
  if (f.from) w.push(sql`last_at >= ${new Date(f.from)}`);
  if (f.to) w.push(sql`first_at < ${new Date(f.to)}`);
  return w;
}

/** Creates the store over `sql` (a pool or a transaction). */
export function createAlertStore(sql: Sql | Tx): AlertStore {
  const q = sql as Sql;
  const cols = q(COLUMNS as unknown as string[]);
  return {
    withTx: (tx) => createAlertStore(tx),

    async get(id) {
      const rows = await q<Row[]>`SELECT ${cols} FROM alerts WHERE id = ${id}`;
      return rows[0] ? toAlert(rows[0]) : undefined;
    },

    async list(o) {
      const order = o.filter.order;
      const w = where(q, o.filter);
      if (o.cursor !== undefined) {
        const after = decodeLogCursor(o.cursor, order);
        // As text: a JS Date would drop the microseconds.
        const at = q`(${after.at}::text)::timestamptz`;
        w.push(order === 'desc' ? q`(first_at, id) < (${at}, ${after.id}::uuid)` : q`(first_at, id) > (${at}, ${after.id}::uuid)`);
      }
      // first_at never changes (last_at does, with every repeat): pages stay stable and complete.
      const by = order === 'desc' ? q`ORDER BY first_at DESC, id DESC` : q`ORDER BY first_at ASC, id ASC`;
      const rows = await q<Row[]>`
        SELECT ${cols}, to_char(first_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at_key
        FROM alerts WHERE ${and(q, w)} ${by} LIMIT ${o.limit + 1}`;
      const page = rows.slice(0, o.limit);
      const last = page[page.length - 1];
      const out: AlertPage = {
        items: page.map(toAlert),
        next_cursor: rows.length > o.limit && last ? encodeLogCursor({ at: last.at_key as string, id: last.id as string, order }) : null,
      };
      return out;
    },

    async evidence(id, limit) {
      const [counted] = await q<{ total: number }[]>`SELECT count(*)::int AS total FROM alert_evidence WHERE alert_id = ${id}`;
      const total = counted?.total ?? 0;
      const refs = await q<Row[]>`
        SELECT log, record_id, at FROM alert_evidence WHERE alert_id = ${id} ORDER BY at, log, record_id LIMIT ${limit}`;
      const decisionIds = refs.filter((r) => r.log === 'decision_log').map((r) => r.record_id as string);
      const eventIds = refs.filter((r) => r.log === 'audit_events').map((r) => r.record_id as string);
      // Looked up by (id, at), the logs' primary key (each log is partitioned by time).
      const decisions = decisionIds.length
        ? await q<Row[]>`
            SELECT ${q(DECISION_COLUMNS as unknown as string[])} FROM decision_log
            WHERE (id, at) IN (SELECT record_id, at FROM alert_evidence WHERE alert_id = ${id} AND log = 'decision_log' AND record_id = ANY(${decisionIds}::uuid[]))`
        : [];
      const events = eventIds.length
        ? await q<Row[]>`
            SELECT ${q(AUDIT_EVENT_COLUMNS as unknown as string[])} FROM audit_events
            WHERE (id, at) IN (SELECT record_id, at FROM alert_evidence WHERE alert_id = ${id} AND log = 'audit_events' AND record_id = ANY(${eventIds}::uuid[]))`
        : [];
      const byId = new Map<string, Row>([...decisions.map((d) => [d.id as string, decisionLog.toItem(d)] as const), ...events.map((a) => [a.id as string, auditEvents.toItem(a)] as const)]);
      const items: Evidence[] = refs.map((r) => {
        const recordId = r.record_id as string;
        const log = r.log as Evidence['log'];
        return {
          log,
          record_id: recordId,
          at: iso(r.at)!,
          record: byId.get(recordId) ?? null,
          link: log === 'decision_log' ? `/v1/decision-logs?decision=${recordId}` : `/v1/audit-events?event=${recordId}`,
        };
      });
      return { items, total };
    },

    async lockForChange(id) {
      await q`SELECT custos_alerts_write_order()`;
      const rows = await q<Row[]>`SELECT ${cols} FROM alerts WHERE id = ${id} FOR UPDATE`;
      return rows[0] ? toAlert(rows[0]) : undefined;
    },

    async apply(id, c) {
      const set =
        c.kind === 'acknowledge'
          ? q`status = 'acknowledged', acknowledged_at = ${c.at}, acknowledged_by = ${c.by}`
          : c.kind === 'assign'
            ? q`assignee_id = ${c.assigneeId}, assigned_at = ${c.at}, assigned_by = ${c.by}`
            : q`status = 'resolved', resolved_at = ${c.at}, resolved_by = ${c.by}, finding = ${c.finding}`;
      const rows = await q<Row[]>`UPDATE alerts SET ${set} WHERE id = ${id} RETURNING ${cols}`;
      const alert = toAlert(rows[0]!);
      const event = c.kind === 'acknowledge' ? 'acknowledged' : c.kind === 'assign' ? 'assigned' : 'resolved';
      // Sent inside the transaction: PostgreSQL delivers it at commit, and never if the change rolls back.
      await q`SELECT pg_notify(${ALERTS_CHANNEL}, ${JSON.stringify({ id, event })})`;
      return alert;
    },

    async latestRevision() {
      const [r] = await q<{ revision: string | null }[]>`SELECT max(revision)::text AS revision FROM alert_changes`;
      return BigInt(r?.revision ?? 0);
    },

    async changedSince(revision, limit) {
      const rows = await q<{ revision: string; event: string; alert: Row }[]>`
        SELECT c.revision::text AS revision, c.event, c.alert FROM alert_changes c
        WHERE c.revision > ${revision.toString()}::bigint
        -- By the bigint column, not the text alias of the same name (which would sort 1000 before 368).
        ORDER BY c.revision LIMIT ${limit}`;
      // The snapshot is the row as jsonb (to_jsonb(NEW)): the same fields, timestamps as text.
      return rows.map((r) => ({ revision: BigInt(r.revision), event: r.event as AlertChangeRecord['event'], alert: toAlert(r.alert) }));
    },
  };
}
