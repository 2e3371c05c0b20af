/**
 * Catalog change notifications (PostgreSQL LISTEN/NOTIFY). postgres.js keeps
 * the listening connection open and re-subscribes after a reconnect; since
 * notifications sent while it was away are lost, a (re)subscription is itself
 * treated as a change.
 */
import type { Sql } from './client.ts';

/** The channel the catalog triggers notify on. */
export const CATALOG_CHANNEL = 'custos_catalog';

/** Calls `onChange` on every catalog change and on every (re)subscription; resolves once listening. */
export async function listenForCatalogChanges(sql: Sql, onChange: (table: string) => void): Promise<{ unlisten(): Promise<void> }> {
  const sub = await sql.listen(CATALOG_CHANNEL, (table) => onChange(table), () => onChange('(subscribed)'));
  return { unlisten: () => sub.unlisten() };
}
