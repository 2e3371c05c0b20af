/**
 * Migration 0029: every partition of the logs is analyzed and vacuumed after
 * a fixed count of new rows, not a share of its size — those the migration
 * found and those custos_ensure_partitions makes later.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensurePartitions } from '../../src/audit/postgres/partitions.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

const SETTINGS = ['autovacuum_analyze_scale_factor=0', 'autovacuum_analyze_threshold=200000', 'autovacuum_vacuum_insert_scale_factor=0', 'autovacuum_vacuum_insert_threshold=200000'];

describe('log partition maintenance', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  /** Each partition of both logs, with its storage settings. */
  async function partitions(): Promise<{ name: string; options: string[] }[]> {
    const rows = await db.sql`
      SELECT c.relname AS name, coalesce(c.reloptions, '{}') AS options
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class parent ON parent.oid = i.inhparent
      WHERE parent.relname IN ('decision_log', 'audit_events') ORDER BY c.relname`;
    return rows.map((r) => ({ name: r.name as string, options: r.options as string[] }));
  }

  it('has set them on every partition that existed, the default ones too', async () => {
    const found = await partitions();
    expect(found.map((p) => p.name)).toEqual(expect.arrayContaining(['decision_log_default', 'audit_events_default']));
    for (const p of found) expect(p.options, p.name).toEqual(expect.arrayContaining(SETTINGS));
  });

  it('sets them on the partitions made later', async () => {
    const before = new Set((await partitions()).map((p) => p.name));
    expect(await ensurePartitions(db.sql, 30)).toBeGreaterThan(0);
    const made = (await partitions()).filter((p) => !before.has(p.name));
    expect(made.length).toBeGreaterThan(0);
    for (const p of made) expect(p.options, p.name).toEqual(expect.arrayContaining(SETTINGS));
  });

  it('keeps the settings function from the application role', async () => {
    await expect(db.appSql`SELECT custos_log_partition_settings('decision_log_default')`).rejects.toThrow(/permission denied/);
  });
});
