/**
 * The webhook outbox in PostgreSQL: a change queues its notifications in its
 * own transaction; due deliveries are claimed with a lease (FOR UPDATE SKIP
 * LOCKED), so replicas never send the same one at once.
 */
import type { Clock, IdGenerator } from '../../clock.ts';
import type { Sql, Tx } from '../../db/client.ts';
import type { Notification, OutboxStore } from '../store.ts';

/** Queues notifications in `tx`, the transaction of the change that makes them; nothing when no webhook is configured. */
export async function queueNotifications(tx: Tx, notes: Notification[], o: { clock: Clock; ids: IdGenerator; webhook: boolean }): Promise<void> {
  if (!o.webhook) return;
  for (const n of notes) {
    const id = o.ids();
    const at = o.clock.now();
    const payload = { id, event: n.event, created_at: at.toISOString(), data: n.data };
    await tx`INSERT INTO webhook_deliveries (id, event, payload, next_attempt_at, created_at)
             VALUES (${id}, ${n.event}, ${tx.json(payload as never)}, now(), ${at})`;
  }
}

/** Creates the store. */
export function createOutboxStore(sql: Sql): OutboxStore {
  return {
    async claimDue(limit, leaseSeconds) {
      const rows = await sql`
        UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => ${leaseSeconds})
        WHERE id IN (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= now()
                     ORDER BY next_attempt_at LIMIT ${limit} FOR UPDATE SKIP LOCKED)
        RETURNING id, event, payload, attempts`;
      return rows.map((r) => ({ id: r.id as string, event: r.event as string, payload: r.payload as Record<string, unknown>, attempts: r.attempts as number }));
    },
    async delivered(id, status) {
      await sql`UPDATE webhook_deliveries SET status = 'delivered', delivered_at = now(), last_status = ${status}, last_error = NULL WHERE id = ${id}`;
    },
    async failed(id, o) {
      await sql`
        UPDATE webhook_deliveries
        SET status = ${o.retryInSeconds === null ? 'failed' : 'pending'}, last_status = ${o.status}, last_error = ${o.error.slice(0, 500)},
            next_attempt_at = now() + make_interval(secs => ${o.retryInSeconds ?? 0})
        WHERE id = ${id}`;
    },
  };
}
