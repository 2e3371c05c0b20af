/**
 * Retention drop records. Dropping a month of a log (after the HIPAA
 * §164.316(b)(2)(i) six-year retention) leaves a gap that verification must
 * excuse; the record that excuses it is signed with the audit key, like a
 * checkpoint, so that a database superuser without the application's
 * secrets cannot forge one to hide deleted records. Verification trusts only
 * drop records whose signature verifies, and reports every other one.
 */
import type { Sql, Tx } from '../../db/client.ts';
import type { AuditKeys } from './auditKeys.ts';
import type { CertifiedKeys } from './certifiedKeys.ts';
import type { ChainedLog } from './chainedWriter.ts';

/** A drop record's signed fields. */
export interface DropFields {
  partition: string;
  log: ChainedLog;
  /** First day of the dropped month, YYYY-MM-DD. */
  monthStart: string;
  /** First day of the month after, YYYY-MM-DD. */
  monthEnd: string;
  droppedAtMs: number;
  droppedBy: string;
}

/** The exact text a drop record's signature covers. */
export function dropPayload(d: DropFields): string {
  return ['custos-retention-drop/v1', d.partition, d.log, d.monthStart, d.monthEnd, d.droppedAtMs, d.droppedBy].join('\n');
}

/** Signs and writes a drop record in the transaction that drops the partition. */
export async function writeDropRecord(tx: Tx, keys: AuditKeys, d: DropFields): Promise<void> {
  const { kid, signature } = await keys.sign(dropPayload(d));
  await tx`
    INSERT INTO audit_partition_drops (partition, log, month_start, month_end, dropped_at, dropped_by, kid, signature)
    VALUES (${d.partition}, ${d.log}, ${d.monthStart}, ${d.monthEnd}, ${new Date(d.droppedAtMs)}, ${d.droppedBy}, ${kid}, ${signature})`;
}

/** A drop record verification does not trust, and why. */
export interface UntrustedDrop {
  partition: string;
  at: string;
  kind: 'drop_unsigned' | 'drop_signature';
  detail: string;
}

/**
 * The end of the dropped months that signed drop records of `log` vouch for
 * (null: none), and the drop records that vouch for nothing: unsigned ones
 * (forged, or written before drop records were signed) and ones whose
 * signature does not verify.
 */
export async function trustedDrops(deps: { sql: Sql; keys: Pick<CertifiedKeys, 'verify'> }, log: ChainedLog): Promise<{ prunedUntil: Date | null; untrusted: UntrustedDrop[] }> {
  const rows = await deps.sql`
    SELECT partition, log, month_start::text AS month_start, month_end::text AS month_end,
           (extract(epoch FROM dropped_at) * 1000)::bigint AS at_ms, dropped_by, kid, signature
    FROM audit_partition_drops WHERE log = ${log} ORDER BY month_start, partition`;
  let prunedUntil: Date | null = null;
  const untrusted: UntrustedDrop[] = [];
  for (const r of rows) {
    const fields: DropFields = { partition: r.partition as string, log, monthStart: r.month_start as string, monthEnd: r.month_end as string, droppedAtMs: Number(r.at_ms), droppedBy: r.dropped_by as string };
    const at = new Date(fields.droppedAtMs).toISOString();
    if (!r.kid || !r.signature) {
      untrusted.push({ partition: fields.partition, at, kind: 'drop_unsigned', detail: `the drop record of ${fields.partition} is unsigned: it excuses no missing records` });
      continue;
    }
    if (!(await deps.keys.verify(r.kid as string, dropPayload(fields), r.signature as string))) {
      untrusted.push({ partition: fields.partition, at, kind: 'drop_signature', detail: `the signature of the drop record of ${fields.partition} does not verify: it excuses no missing records` });
      continue;
    }
    const end = new Date(`${fields.monthEnd}T00:00:00Z`);
    if (!prunedUntil || end > prunedUntil) prunedUntil = end;
  }
  return { prunedUntil, untrusted };
}
