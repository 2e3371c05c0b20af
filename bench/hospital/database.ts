/**
 * The hospital in a PostgreSQL of the benchmark's own, with no server: for
 * benchmarks that start the real server themselves (`node src/main.ts`, one
 * or several), such as soak and replicas. The database is migrated, seeded
 * as the HTTP benchmarks seed it (an enforcement point with credentials,
 * bench/seed.ts), and the hospital loaded as the hospital bench loads it.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createSql, type Sql } from '../../src/db/client.ts';
import { startEmbeddedPostgres } from '../../src/db/embedded.ts';
import { freePort } from '../../test/support/net.ts';
import { postgresPids } from '../harness.ts';
import { seedBenchWorld, type BenchWorld } from '../seed.ts';
import { loadHospital } from './custos.ts';
import { buildWorld, type Sizes, type World } from './world.ts';

/** A PostgreSQL holding the hospital. */
export interface HospitalDatabase {
  world: World;
  databaseUrl: string;
  /** The key the secrets at rest were written with: the server must run with it. */
  key: string;
  seeded: BenchWorld;
  policy: { policyVersion: number; rules: number };
  /** A superuser connection, for the benchmark's own readings (connection counts, record counts). */
  admin: Sql;
  /** PostgreSQL's processes now: the postmaster and its children. */
  pids(): number[];
  stop(): Promise<void>;
}

export async function startHospitalDatabase(sizes: Sizes): Promise<HospitalDatabase> {
  const world = buildWorld(sizes);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'custos-bench-'));
  const pg = await startEmbeddedPostgres({ dir, port: await freePort() });
  const admin = createSql({ url: pg.adminUrl, max: 1, applicationName: 'custos-bench-admin' });
  try {
    await admin.unsafe('CREATE DATABASE custos');
    const databaseUrl = pg.urlFor('custos');
    const key = randomBytes(32).toString('base64');
    const seeded = await seedBenchWorld({ databaseUrl, key });
    const policy = await loadHospital(databaseUrl, world);
    return {
      world,
      databaseUrl,
      key,
      seeded,
      policy,
      admin,
      pids: () => postgresPids(dir),
      async stop() {
        await seeded.close().catch(() => {});
        await admin.end({ timeout: 5 }).catch(() => {});
        await pg.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await admin.end({ timeout: 1 }).catch(() => {});
    await pg.stop();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
