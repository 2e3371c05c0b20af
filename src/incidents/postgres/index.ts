/**
 * Incidents in PostgreSQL: the incident rows, their links to alerts, their
 * reminders, and the reads of the decision log and audit events that make
 * an incident's scope and trail. Writes run in the operation's transaction
 * (`withTx`), beside its audit event.
 */
import type { Clock, IdGenerator } from '../../clock.ts';
import type { Sql, Tx } from '../../db/client.ts';
import { decodeCursor, encodeCursor } from '../../catalog/cursor.ts';
import { queueNotifications } from '../../grants/postgres/outbox.ts';
import type { IncidentStore, IncidentWrites } from '../store.ts';
import { scopeStatements } from './scope.ts';
import { INCIDENT_COLUMNS, toAlert, toIncident, type Row } from './rows.ts';

/** Options of {@link createIncidentStore}: `webhook` says whether notifications are queued. */
export interface IncidentStoreOptions {
  clock: Clock;
  ids: IdGenerator;
  webhook: boolean;
}

const ALERT_COLUMNS = 'a.id, a.detector, a.severity, a.subject, a.title, a.status, a.first_at, a.last_at, a.occurrences';

function writes(tx: Tx, o: IncidentStoreOptions): IncidentWrites {
  return {
    async insert(i, reminders) {
      await tx`
        INSERT INTO incidents (id, title, description, status, discovered_at, time_zone, discovery_date, deadline_date, deadline_at,
                               window_from, window_to, principal_ids, dataset_ids, opened_by, created_at)
        VALUES (${i.id}, ${i.title}, ${i.description}, 'open', ${i.discovered_at}, ${i.time_zone}, ${i.discovery_date}, ${i.deadline_date}, ${i.deadline_at},
                ${i.window_from}, ${i.window_to}, ${i.principal_ids}::uuid[], ${i.dataset_ids}::text[], ${i.opened_by}, ${i.created_at})`;
      for (const r of reminders) await tx`INSERT INTO incident_reminders (incident_id, days_before, due_at) VALUES (${i.id}, ${r.days_before}, ${r.due_at})`;
    },
    async lock(id) {
      const [r] = await tx.unsafe(`SELECT ${INCIDENT_COLUMNS} FROM incidents WHERE id = $1 FOR UPDATE`, [id]);
      return r ? toIncident(r) : undefined;
    },
    async alerts(ids) {
      if (!ids.length) return [];
      const rows = await tx.unsafe(`SELECT ${ALERT_COLUMNS}, NULL AS linked_at, NULL AS linked_by FROM alerts a WHERE a.id = ANY($1::uuid[]) ORDER BY a.first_at, a.id`, [ids as string[]]);
      return rows.map((r) => toAlert(r as Row));
    },
    async subjects(subjects) {
      if (!subjects.length) return { principals: [], datasets: [] };
      const uuids = subjects.filter((s) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s));
      const principals = uuids.length ? await tx`SELECT id FROM principals WHERE id = ANY(${uuids}::uuid[]) ORDER BY id` : [];
      const datasets = await tx`SELECT id FROM datasets WHERE id = ANY(${subjects as string[]}::text[]) ORDER BY id`;
      return { principals: principals.map((r) => r.id as string), datasets: datasets.map((r) => r.id as string) };
    },
    async linkedSubjects(incidentId) {
      const rows = await tx`SELECT DISTINCT a.subject FROM incident_alerts l JOIN alerts a ON a.id = l.alert_id WHERE l.incident_id = ${incidentId}`;
      return rows.map((r) => r.subject as string);
    },
    async link(incidentId, alertIds, at, by) {
      if (!alertIds.length) return [];
      const rows = await tx`
        INSERT INTO incident_alerts (incident_id, alert_id, linked_at, linked_by)
        SELECT ${incidentId}, a, ${at}, ${by} FROM unnest(${alertIds as string[]}::uuid[]) AS a
        ON CONFLICT DO NOTHING RETURNING alert_id`;
      return rows.map((r) => r.alert_id as string);
    },
    async setScope(id, s) {
      const [r] = await tx.unsafe(
        `UPDATE incidents SET window_from = $2, window_to = $3, principal_ids = $4::uuid[], dataset_ids = $5::text[] WHERE id = $1 RETURNING ${INCIDENT_COLUMNS}`,
        [id, s.window_from, s.window_to, s.principal_ids, s.dataset_ids] as never[],
      );
      return toIncident(r!);
    },
    async close(id, c) {
      await tx`
        UPDATE incidents SET status = 'closed', closed_at = ${c.at}, closed_by = ${c.by}, determination = ${c.determination}, assessment = ${tx.json(c.assessment as never)}
        WHERE id = ${id} AND status = 'open'`;
      const [r] = await tx.unsafe(`SELECT ${INCIDENT_COLUMNS} FROM incidents WHERE id = $1`, [id]);
      return toIncident(r!);
    },
    async claimDueReminders(now, limit) {
      const rows = await tx.unsafe(
        `SELECT r.days_before, r.due_at, ${INCIDENT_COLUMNS.replace(/(^|, )/g, '$1i.')}
         FROM incident_reminders r JOIN incidents i ON i.id = r.incident_id
         WHERE r.sent_at IS NULL AND r.due_at <= $1 AND i.status = 'open'
         ORDER BY r.due_at, r.incident_id, r.days_before LIMIT $2
         FOR UPDATE OF r SKIP LOCKED`,
        [now, limit] as never[],
      );
      return rows.map((r) => ({ incident: toIncident(r as Row), days_before: r.days_before as number, due_at: new Date(r.due_at as string).toISOString() }));
    },
    async markReminderSent(incidentId, daysBefore, at) {
      await tx`UPDATE incident_reminders SET sent_at = ${at} WHERE incident_id = ${incidentId} AND days_before = ${daysBefore} AND sent_at IS NULL`;
    },
    queue: (notes) => queueNotifications(tx, notes, o),
  };
}

/** Creates the store. */
export function createIncidentStore(sql: Sql, o: IncidentStoreOptions): IncidentStore {
  return {
    withTx: (tx) => writes(tx, o),
    async get(id) {
      const [r] = await sql.unsafe(`SELECT ${INCIDENT_COLUMNS} FROM incidents WHERE id = $1`, [id]);
      return r ? toIncident(r as Row) : undefined;
    },
    async list({ status, limit, cursor }) {
      const after = decodeCursor(cursor);
      // Newest first: ids are UUIDv7, so descending id is descending creation.
      const rows = await sql.unsafe(
        `SELECT ${INCIDENT_COLUMNS} FROM incidents
         WHERE ($1::text IS NULL OR status = $1) AND ($2::uuid IS NULL OR id < $2::uuid)
         ORDER BY id DESC LIMIT $3`,
        [status ?? null, after ?? null, limit + 1] as never[],
      );
      const items = rows.slice(0, limit).map((r) => toIncident(r as Row));
      return { items, next_cursor: rows.length > limit ? encodeCursor(items[items.length - 1]!.id) : null };
    },
    async alertsOf(id) {
      const rows = await sql.unsafe(
        `SELECT ${ALERT_COLUMNS}, l.linked_at, l.linked_by FROM incident_alerts l JOIN alerts a ON a.id = l.alert_id
         WHERE l.incident_id = $1 ORDER BY l.linked_at, a.id`,
        [id],
      );
      return rows.map((r) => toAlert(r as Row));
    },
    ...scopeStatements(sql),
    async trail(id) {
      const [i] = await sql`SELECT created_at FROM incidents WHERE id = ${id}`;
      if (!i) return [];
      // Every event about an incident is at or after its creation: the bound prunes older log partitions.
      // Within one instant, a chain's sequence is the order its events were appended.
      const rows = await sql`
        SELECT id, at, type, outcome, actor_id, subject_id, source_ip, request_id, details FROM audit_events
        WHERE subject_id = ${id} AND at >= ${i.created_at as Date} ORDER BY at, chain_id, seq, id`;
      return rows.map((r) => ({
        id: r.id as string,
        at: new Date(r.at as string).toISOString(),
        type: r.type as string,
        outcome: r.outcome as string,
        actor_id: r.actor_id as string | null,
        subject_id: r.subject_id as string | null,
        source_ip: r.source_ip as string | null,
        request_id: r.request_id as string | null,
        details: r.details as Record<string, unknown>,
      }));
    },
  };
}
