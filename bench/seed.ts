/**
 * A small catalog for the HTTP benchmarks: a project, a PHI dataset, a data
 * scientist, and an enforcement point with client credentials.
 */
import { createClientCredential } from '../src/auth/clients/clientCredentials.ts';
import { loadConfig } from '../src/config.ts';
import { createSql } from '../src/db/client.ts';
import { createLogger } from '../src/logger.ts';
import { prepareDatabase, wire } from '../src/wire.ts';

/** What a benchmark needs to send decision requests. */
export interface BenchWorld {
  headers: Record<string, string>;
  body: string;
  scientistId: string;
  countRecords(): Promise<number>;
  close(): Promise<void>;
}

/** Migrates and seeds a fresh database. */
export async function seedBenchWorld(o: { databaseUrl: string; key: string }): Promise<BenchWorld> {
  const config = loadConfig({ DATABASE_URL: o.databaseUrl, CUSTOS_ENCRYPTION_KEY: o.key, CUSTOS_LOG_LEVEL: 'silent' });
  const log = createLogger({ level: 'silent' });
  const sql = createSql({ url: o.databaseUrl, max: 2 });
  const wired = wire({ config, sql, log, encryptionKey: config.encryptionKey! });
  await prepareDatabase(sql, wired, log, { autoBootstrap: false });
  const c = wired.catalog;
  await c.createProject({ id: 'onc', name: 'Oncology' });
  const scientist = await c.createPrincipal({ kind: 'user', name: 'sci' });
  await c.assignRole({ principal_id: scientist.id, role_id: 'data-scientist', project_id: 'onc' }, null);
  await c.createDataset({
    id: 'onc-notes',
    project_id: 'onc',
    owner_id: scientist.id,
    purposes: ['model-training', 'research'],
    columns: [
      { name: 'patient_name', type: 'string', category: 'names' },
      { name: 'mrn', type: 'string', category: 'mrn' },
      { name: 'admit_date', type: 'date', category: 'dates' },
      { name: 'note_text', type: 'string' },
      { name: 'icd10', type: 'string' },
    ],
  });
  const pep = await c.createPrincipal({ kind: 'service', name: 'dataset-server', sponsor_id: scientist.id, project_id: 'onc' });
  await c.assignRole({ principal_id: pep.id, role_id: 'enforcement-point', project_id: null }, null);
  const cred = await createClientCredential(wired.catalogOps, { principalId: pep.id, actorId: scientist.id, meta: { ip: undefined, requestId: undefined } });
  const basic = Buffer.from(`${encodeURIComponent(cred.client_id)}:${encodeURIComponent(cred.client_secret!)}`).toString('base64');
  return {
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/json' },
    body: JSON.stringify({ principal_id: scientist.id, dataset: 'onc-notes', purpose: 'model-training', columns: ['note_text', 'icd10', 'admit_date'] }),
    scientistId: scientist.id,
    async countRecords() {
      const [r] = await sql`SELECT count(*)::int AS n FROM decision_log`;
      return r!.n as number;
    },
    close: () => sql.end({ timeout: 5 }),
  };
}
