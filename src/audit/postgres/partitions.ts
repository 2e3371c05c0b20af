/**
 * The logs' monthly partitions: made ahead of time, listed, and dropped past
 * retention (as the owner: the application role has no rights on them).
 */
import type { Sql, Tx } from '../../db/client.ts';
import type { ChainedLog } from './chainedWriter.ts';

/** One partition of a log. */
export interface LogPartition {
  log: ChainedLog;
  partition: string;
  bounds: string;
  approxRows: number;
}

/** Makes the partitions of the coming `monthsAhead` months (and this one) where missing; returns how many were made. */
export async function ensurePartitions(owner: Sql, monthsAhead: number): Promise<number> {
  const [r] = await owner`SELECT custos_ensure_partitions(${monthsAhead}) AS made`;
  return Number(r!.made);
}

/** Every partition of both logs, with PostgreSQL's estimate of its rows. */
export async function listPartitions(owner: Sql): Promise<LogPartition[]> {
  const rows = await owner`
    SELECT parent.relname AS log, c.relname AS partition, pg_get_expr(c.relpartbound, c.oid) AS bounds, c.reltuples::bigint AS approx_rows
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class parent ON parent.oid = i.inhparent
    WHERE parent.relname IN ('decision_log', 'audit_events') ORDER BY parent.relname, c.relname`;
  return rows.map((r) => ({ log: r.log as ChainedLog, partition: r.partition as string, bounds: r.bounds as string, approxRows: Math.max(0, Number(r.approx_rows)) }));
}

/** Whether `partition` exists, and the oldest monthly partition of `log` before it, if any. */
export async function partitionState(owner: Sql, log: ChainedLog, partition: string): Promise<{ exists: boolean; older: string | null }> {
  const [exists] = await owner`SELECT 1 AS hit FROM pg_class WHERE relname = ${partition}`;
  const [older] = await owner`
    SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class parent ON parent.oid = i.inhparent
    WHERE parent.relname = ${log} AND c.relname ~ '_[0-9]{6}$' AND c.relname < ${partition} ORDER BY c.relname LIMIT 1`;
  return { exists: Boolean(exists), older: (older?.name as string | undefined) ?? null };
}

/** Detaches and drops `partition` of `log` inside `tx` (the caller writes the signed drop record and the audit event in the same transaction). */
export async function dropPartition(tx: Tx, log: ChainedLog, partition: string): Promise<void> {
  await tx`ALTER TABLE ${tx(log)} DETACH PARTITION ${tx(partition)}`;
  await tx`DROP TABLE ${tx(partition)}`;
}
