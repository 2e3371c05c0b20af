/**
 * Starts one real PostgreSQL (embedded) for the whole run, migrates a
 * template database once, and hands its address to the test files, which
 * each clone the template into a database of their own (test/support/db.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { createSql } from '../../src/db/client.ts';
import { startEmbeddedPostgres } from '../../src/db/embedded.ts';
import { migrate } from '../../src/db/migrate.ts';
import { buildConsole } from '../../scripts/build-console.ts';
import { freePort } from './net.ts';

export const TEMPLATE_DB = 'custos_template';

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
    pgTemplate: string;
  }
}


export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // The console's browser tests (test/console) load the build; unchanged sources take a hash.
  await buildConsole({ quiet: true });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'custos-test-'));
  const pg = await startEmbeddedPostgres({ dir, port: await freePort() });
  const admin = createSql({ url: pg.adminUrl, max: 1 });
  await admin.unsafe(`CREATE DATABASE ${TEMPLATE_DB}`);
  await admin.end();
  const tpl = createSql({ url: pg.urlFor(TEMPLATE_DB), max: 1 });
  await migrate(tpl);
  await tpl.end();
  project.provide('pgAdminUrl', pg.adminUrl);
  project.provide('pgTemplate', TEMPLATE_DB);
  return async () => {
    await pg.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
