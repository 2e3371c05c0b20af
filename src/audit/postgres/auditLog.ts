/**
 * PostgreSQL audit event writer and reader.
 */
import type { Clock, IdGenerator } from '../../clock.ts';
import type { Sql } from '../../db/client.ts';
import { ChainedWriter, type ChainedWriterOptions } from './chainedWriter.ts';
import { scrubDetails, type AuditEvent, type AuditLog, type StoredAuditEvent } from '../log.ts';

/**
 * The audit log over PostgreSQL; the event time is the server clock's. Events
 * are group-committed into this process's hash chain; record() resolves once
 * the event is committed.
 */
export function createAuditLog(
  sql: Sql,
  deps: {
    clock: Clock;
    ids: IdGenerator;
    /** Told after each group commit (metrics). */
    onCommit?: ChainedWriterOptions<Record<string, unknown>>['onCommit'];
    /** Told of each event appended on its own once it has committed (metrics count authentication failures from these). */
    onRecorded?: (event: AuditEvent) => void;
  },
): AuditLog & { recent(filter: { type?: string; actorId?: string; limit?: number }): Promise<StoredAuditEvent[]>; chains(): Promise<string[]> } {
  const writer = new ChainedWriter<Record<string, unknown>>(sql, { log: 'audit_events', ids: deps.ids, lanes: 1, rows: (batch) => JSON.stringify(batch), onCommit: deps.onCommit });
  const recorded = deps.onRecorded;
  const row = (e: AuditEvent): Record<string, unknown> => ({
    id: deps.ids(),
    at: deps.clock.now().toISOString(),
    type: e.type,
    outcome: e.outcome,
    actor_id: e.actorId ?? null,
    subject_id: e.subjectId ?? null,
    source_ip: e.meta?.ip ?? null,
    request_id: e.meta?.requestId ?? null,
    details: scrubDetails(e.details),
  });
  return {
    record: recorded ? (e) => writer.submit(row(e)).then(() => recorded(e)) : (e) => writer.submit(row(e)),
    recordIn: (tx, e) => writer.appendIn(tx, row(e)),
    chains: () => writer.chains(),
    async recent({ type, actorId, limit = 100 }) {
      const rows = await sql`
        SELECT id, at, type, outcome, actor_id, subject_id, source_ip, request_id, details FROM audit_events
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
