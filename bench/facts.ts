/**
 * Memory and speed of the facts held in memory at hospital scale: 100,000
 * principals (people with one to three roles, a tenth with a grant, vendor
 * staff of 500 vendors with BAAs, services with sponsors) and 1,000
 * datasets, bulk-loaded by SQL into the migrated schema (a fixture: the
 * catalog's own write path, with its audit events, is far slower for this
 * many rows and not what is measured). Reports the heap the image takes,
 * with and without every principal's facts built, how long reading the
 * whole image takes (what each worker does at start and after every loss of
 * its listener), and a lookup from memory against one read from the
 * database.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../src/config.ts';
import { createSql } from '../src/db/client.ts';
import { LiveFacts } from '../src/decisions/liveFacts.ts';
import { createFactsStore } from '../src/decisions/postgres/index.ts';
import { catalogSource } from '../src/decisions/postgres/catalogRows.ts';
import { createLogger } from '../src/logger.ts';
import { prepareDatabase, wire } from '../src/wire.ts';
import { withScratchPostgres } from './harness.ts';
import { percentile, printTable, writeResult } from './util.ts';

setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;

/** Heap in use after a full collection (bytes). */
function heap(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

export async function run({ smoke }: { smoke: boolean }): Promise<void> {
  const people = smoke ? 10_000 : 100_000;
  await withScratchPostgres('facts', async (url) => {
    const key = randomBytes(32).toString('base64');
    const config = loadConfig({ DATABASE_URL: url, CUSTOS_ENCRYPTION_KEY: key, CUSTOS_LOG_LEVEL: 'silent' });
    const sql = createSql({ url, max: 4 });
    const log = createLogger({ level: 'silent' });
    await prepareDatabase(sql, wire({ config, sql, log, encryptionKey: config.encryptionKey! }), log, { autoBootstrap: false });

    const t0 = performance.now();
    await seed(sql, people);
    const seedMs = performance.now() - t0;
    const [counts] = await sql`SELECT (SELECT count(*) FROM principals)::int AS principals, (SELECT count(*) FROM role_assignments)::int AS roles,
                                      (SELECT count(*) FROM grants)::int AS grants, (SELECT count(*) FROM datasets)::int AS datasets, (SELECT count(*) FROM baas)::int AS baas`;
    const ids = (await sql`SELECT id FROM principals ORDER BY id`).map((r) => r.id as string);
    const datasetIds = (await sql`SELECT id FROM datasets`).map((r) => r.id as string);

    const before = heap();
    const facts = new LiveFacts(catalogSource(sql), createFactsStore(sql));
    const r0 = performance.now();
    facts.listeningStarted();
    while (!facts.isTrusted) await new Promise((r) => setTimeout(r, 5));
    const imageMs = performance.now() - r0;
    const image = heap() - before;

    const now = new Date();
    for (const id of ids) await facts.principal(id, now);
    for (const id of datasetIds) await facts.dataset(id, now);
    const built = heap() - before;

    // Lookups rotating over every principal: from memory, then (a sample) from the database.
    const mem = new Float64Array(ids.length);
    for (let i = 0; i < ids.length; i++) {
      const s = process.hrtime.bigint();
      await facts.principal(ids[(i * 7919) % ids.length]!, now);
      mem[i] = Number(process.hrtime.bigint() - s) / 1000;
    }
    mem.sort();
    const database = createFactsStore(sql);
    const dbTimes: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const s = process.hrtime.bigint();
      await database.principal(ids[(i * 7919) % ids.length]!, now);
      dbTimes.push(Number(process.hrtime.bigint() - s) / 1000);
    }
    dbTimes.sort((a, b) => a - b);
    await sql.end({ timeout: 5 });

    const mb = (b: number) => Math.round((b / 1048576) * 10) / 10;
    printTable(`Facts in memory: ${counts!.principals} principals, ${counts!.datasets} datasets`, [
      ['role assignments / grants / BAAs', `${counts!.roles} / ${counts!.grants} / ${counts!.baas}`],
      ['seed (SQL) s', seedMs / 1000],
      ['image read ms', imageMs],
      ['heap, image MB', mb(image)],
      ['heap, image + built facts MB', mb(built)],
      ['bytes per principal (built)', Math.round(built / counts!.principals)],
      ['lookup from memory p50 / p99 µs', `${percentile(mem, 50).toFixed(2)} / ${percentile(mem, 99).toFixed(2)}`],
      ['lookup from database p50 / p99 µs', `${percentile(dbTimes, 50).toFixed(0)} / ${percentile(dbTimes, 99).toFixed(0)}`],
    ]);
    writeResult('facts', {
      principals: counts!.principals,
      datasets: counts!.datasets,
      role_assignments: counts!.roles,
      grants: counts!.grants,
      baas: counts!.baas,
      image_read_ms: Math.round(imageMs),
      heap_image_mb: mb(image),
      heap_built_mb: mb(built),
      bytes_per_principal: Math.round(built / counts!.principals),
      lookup_memory_p50_us: round(percentile(mem, 50)),
      lookup_memory_p99_us: round(percentile(mem, 99)),
      lookup_database_p50_us: round(percentile(dbTimes, 50)),
      smoke,
    });
  });
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

/** The hospital, by set-based SQL. */
async function seed(sql: ReturnType<typeof createSql>, people: number): Promise<void> {
  const n = Math.max(1, Math.floor(people / 2000));
  await sql`INSERT INTO projects (id, name) SELECT 'proj-' || g, 'Project ' || g FROM generate_series(1, 50) g`;
  await sql`INSERT INTO vendors (id, name) SELECT 'vendor-' || g, 'Vendor ' || g FROM generate_series(1, 500) g`;
  await sql`INSERT INTO baas (id, vendor_id, reference, effective_on, expires_on, purposes, classifications)
            SELECT gen_random_uuid(), 'vendor-' || g, 'BAA-' || g, '2026-01-01', CASE WHEN g % 5 = 0 THEN DATE '2026-06-01' ELSE DATE '2028-01-01' END,
                   '{model-training,research}', '{deidentified,limited}' FROM generate_series(1, 500) g`;
  // People: one in twenty works for a vendor; attributes as a hospital keeps them.
  await sql`INSERT INTO principals (id, kind, name, status, vendor_id, attributes)
            SELECT gen_random_uuid(), 'user', 'person-' || g, CASE WHEN g % 97 = 0 THEN 'disabled' ELSE 'active' END,
                   CASE WHEN g % 20 = 0 THEN 'vendor-' || (1 + g % 500) END,
                   jsonb_build_object('department', 'dept-' || (g % 40), 'level', g % 5, 'clearance', CASE WHEN g % 3 = 0 THEN 'phi' ELSE 'standard' END)
            FROM generate_series(1, ${people}) g`;
  await sql`INSERT INTO role_assignments (id, principal_id, role_id, project_id)
            SELECT gen_random_uuid(), p.id, (ARRAY['ai-researcher','data-scientist','approver'])[1 + k], 'proj-' || (1 + (abs(hashtext(p.name)) + k) % 50)
            FROM principals p CROSS JOIN generate_series(0, 2) k WHERE k <= abs(hashtext(p.name)) % 3`;
  await sql`INSERT INTO grants (id, principal_id, role_id, project_id, not_before, expires_at, justification)
            SELECT gen_random_uuid(), id, 'data-scientist', 'proj-' || (1 + abs(hashtext(name)) % 50), now() - interval '1 hour', now() + interval '7 days', 'study'
            FROM principals WHERE abs(hashtext(name)) % 10 = 0`;
  // Services: a job per ${n} people, sponsored by a person of its project.
  await sql`INSERT INTO principals (id, kind, name, sponsor_id, project_id)
            SELECT gen_random_uuid(), 'service', 'job-' || g, (SELECT id FROM principals WHERE name = 'person-' || (1 + g * ${n})), 'proj-' || (1 + g % 50)
            FROM generate_series(1, ${Math.floor(people / n / 10)}) g`;
  await sql`INSERT INTO datasets (id, project_id, owner_id, purposes, columns)
            SELECT 'ds-' || g, 'proj-' || (1 + g % 50), (SELECT id FROM principals WHERE name = 'person-1'), '{model-training,research}',
                   (SELECT jsonb_agg(CASE WHEN c <= g % 4 THEN jsonb_build_object('name', 'c' || c, 'type', 'string', 'category', (ARRAY['dates','geographic','names','mrn'])[c])
                                          ELSE jsonb_build_object('name', 'c' || c, 'type', 'string') END) FROM generate_series(1, 20) c)
            FROM generate_series(1, 1000) g`;
}
