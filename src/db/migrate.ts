/**
 * Forward-only migration runner. Files in `migrations/` are named
 * `NNNN_name.sql` and applied in order, each in its own transaction that
 * first takes a transaction-scoped advisory lock, so replicas starting at the
 * same moment apply each file exactly once. Every applied file is recorded
 * with its SHA-256; if an applied file later changes, start-up stops.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, MigrationChecksumError } from '../errors.ts';
import type { Sql } from './client.ts';
import { transaction } from './transaction.ts';

/** Where the shipped migrations live. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

// Arbitrary but fixed: the key of the advisory lock that serialises migrators.
const MIGRATION_LOCK_KEY = 7_215_624_913;

/** One migration file on disk. */
export interface MigrationFile {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

/** Result of {@link migrate}. */
export interface MigrateResult {
  applied: { version: number; name: string }[];
  current: number;
}

/** Reads and orders the migration files of a folder. */
export async function readMigrations(dir: string = MIGRATIONS_DIR): Promise<MigrationFile[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.sql')).sort();
  const files: MigrationFile[] = [];
  for (const file of names) {
    const m = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file);
    if (!m) throw new ConfigError(`Migration file ${file} must be named NNNN_name.sql.`);
    const sql = await readFile(path.join(dir, file), 'utf8');
    const version = Number(m[1]);
    if (files.some((f) => f.version === version)) throw new ConfigError(`Two migrations share version ${m[1]}.`);
    files.push({ version, name: m[2]!, sql, checksum: createHash('sha256').update(sql).digest('hex') });
  }
  return files;
}

/** Applies every pending migration; verifies the checksums of applied ones. */
export async function migrate(sql: Sql, options: { dir?: string; onApply?: (f: MigrationFile) => void } = {}): Promise<MigrateResult> {
  const files = await readMigrations(options.dir);
  // Created under the same lock as the migrations themselves: concurrent
  // CREATE TABLE IF NOT EXISTS can still collide in the system catalogs.
  await transaction(sql, async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`;
    await tx`
      CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`;
  });

  const applied: MigrateResult['applied'] = [];
  for (;;) {
    const next = await transaction(sql, async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`;
      const rows = await tx<{ version: number; name: string; checksum: string }[]>`
        SELECT version, name, checksum FROM schema_migrations ORDER BY version`;
      const done = new Map(rows.map((r) => [r.version, r]));
      verifyApplied(rows, files);
      const pending = files.find((f) => !done.has(f.version));
      if (!pending) return undefined;
      // The file is trusted repository content, never user input.
      await tx.unsafe(pending.sql);
      await tx`INSERT INTO schema_migrations (version, name, checksum) VALUES (${pending.version}, ${pending.name}, ${pending.checksum})`;
      return pending;
    });
    if (!next) break;
    options.onApply?.(next);
    applied.push({ version: next.version, name: next.name });
  }
  const current = files.length ? files[files.length - 1]!.version : 0;
  return { applied, current };
}

/** Stops when an applied migration has no file here (a newer version applied it) or its file changed since. */
function verifyApplied(rows: { version: number; name: string; checksum: string }[], files: MigrationFile[]): void {
  for (const r of rows) {
    const file = files.find((f) => f.version === r.version);
    if (!file) throw new ConfigError(`Migration ${r.version} (${r.name}) is applied but its file is missing.`);
    if (file.checksum !== r.checksum) throw new MigrationChecksumError(r.version, r.name);
  }
}

/** Result of {@link schemaStatus}: the migrations not applied yet (none: the schema is current). */
export interface SchemaStatus {
  pending: { version: number; name: string }[];
  current: number;
}

/**
 * Where the schema stands, without changing it: what a replica that does not
 * migrate (CUSTOS_MIGRATE_AT_START=false) checks. Applied migrations are
 * verified as {@link migrate} does (missing or changed files throw).
 */
export async function schemaStatus(sql: Sql, options: { dir?: string } = {}): Promise<SchemaStatus> {
  const files = await readMigrations(options.dir);
  const [t] = await sql<{ present: boolean }[]>`SELECT to_regclass('schema_migrations') IS NOT NULL AS present`;
  const rows = t!.present ? await sql<{ version: number; name: string; checksum: string }[]>`SELECT version, name, checksum FROM schema_migrations ORDER BY version` : [];
  verifyApplied(rows, files);
  const done = new Set(rows.map((r) => r.version));
  return {
    pending: files.filter((f) => !done.has(f.version)).map((f) => ({ version: f.version, name: f.name })),
    current: files.length ? files[files.length - 1]!.version : 0,
  };
}

/**
 * Waits until every migration is applied (by a migration Job, `custos
 * migrate`), checking every `intervalMs`; `onWait` hears what is still
 * pending. Never applies anything itself, so replicas never race the Job.
 */
export async function awaitCurrentSchema(sql: Sql, options: { dir?: string; intervalMs?: number; onWait?: (s: SchemaStatus) => void } = {}): Promise<SchemaStatus> {
  for (;;) {
    const status = await schemaStatus(sql, options);
    if (!status.pending.length) return status;
    options.onWait?.(status);
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 2000));
  }
}
