/**
 * PostgreSQL audit event writer and reader.
 */
import type { Clock, IdGenerator } from '../clock.ts';
import type { Sql } from '../db/client.ts';
import { scrubDetails, type AuditLog, type StoredAuditEvent } from './log.ts';

/** The audit log over PostgreSQL; the event time is the server clock's. */
export function createAuditLog(sql: Sql, deps: { clock: Clock; ids: IdGenerator }): AuditLog & { recent(filter: { type?: string; actorId?: string; limit?: number }): Promise<StoredAuditEvent[]> } {
  return {
    async record(e) {
      await sql`
        INSERT INTO audit_events (id, at, type, outcome, actor_id, subject_id, source_ip, request_id, details)
        VALUES (${deps.ids()}, ${deps.clock.now()}, ${e.type}, ${e.outcome}, ${e.actorId ?? null}, ${e.subjectId ?? null},
                ${e.meta?.ip ?? null}, ${e.meta?.requestId ?? null}, ${sql.json(scrubDetails(e.details) as never)})`;
    },
    async recent({ type, actorId, limit = 100 }) {
      const rows = await sql`
        SELECT * FROM audit_events
        WHERE true ${type ? sql`AND type = ${type}` : sql``} ${actorId ? sql`AND actor_id = ${actorId}` : sql``}
        ORDER BY at DESC, id DESC LIMIT ${limit}`;
      return rows.map((r: Record<string, any>) => ({
        id: r.id,
        at: new Date(r.at).toISOString(),
        type: r.type,
        outcome: r.outcome,
        actor_id: r.actor_id,
        subject_id: r.subject_id,
        source_ip: r.source_ip,
        request_id: r.request_id,
        details: r.details,
      }));
    },
  };
}
