/**
 * The signed webhook outbox as a witness: anchors leave the database with
 * the next delivery and live on at the receiver, signed like every
 * notification.
 */
import type { Clock } from '../../clock.ts';
import type { Sql } from '../../db/client.ts';
import type { Anchor } from '../anchors.ts';
import type { Witness } from '../witness.ts';

/** The signed webhook outbox: one `audit.anchor` delivery per publication, signed and retried like every notification. */
export class WebhookWitness implements Witness {
  readonly name = 'webhook';
  private readonly sql: Sql;
  private readonly ids: () => string;
  private readonly clock: Clock;
  constructor(sql: Sql, ids: () => string, clock: Clock) {
    this.sql = sql;
    this.ids = ids;
    this.clock = clock;
  }
  async write(anchors: readonly Anchor[]): Promise<void> {
    const id = this.ids();
    const at = this.clock.now();
    // The envelope of every notification: {id, event, created_at, data}.
    const payload = { id, event: 'audit.anchor', created_at: at.toISOString(), data: { anchors } };
    await this.sql`INSERT INTO webhook_deliveries (id, event, payload, next_attempt_at, created_at) VALUES (${id}, 'audit.anchor', ${this.sql.json(payload as never)}, now(), ${at})`;
  }
}
