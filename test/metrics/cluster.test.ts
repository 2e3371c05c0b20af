/**
 * Metrics of a cluster (`node src/main.ts`, two workers on one port): a
 * scrape lands on one worker, yet reports the whole server. Decisions made
 * on both workers (each writes its own log chain, so each worker's share is
 * known from the database) are summed in every scrape, whichever worker
 * answers it; the pool size is summed over the workers, and the build info
 * is one series of value 1, not one per worker.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { TEST_KEY } from '../support/app.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { count, parseScrape, value } from '../support/prometheusText.ts';
import { notesWorld, sendOnce as send, startServer, type ServerProcess } from '../support/servers.ts';

describe('metrics of two workers on one port', () => {
  let db: TestDatabase;
  let server: ServerProcess;
  let url: string;
  let auth: string;
  let scientist: string;
  let poolMax: number;

  beforeAll(async () => {
    db = await createTestDatabase();
    poolMax = loadConfig({ DATABASE_URL: db.url, CUSTOS_ENCRYPTION_KEY: TEST_KEY.toString('base64'), CUSTOS_LOG_LEVEL: 'silent' }).dbPoolMax;
    ({ scientist, auth } = await notesWorld(db));
    server = await startServer(db, { env: { CUSTOS_WORKERS: '2' }, ready: 'all workers are listening' });
    url = server.url;
  });

  afterAll(async () => {
    server?.kill();
    await db?.drop();
  });

  it('every scrape, on either worker, sums the decisions made on both', async () => {
    const body = JSON.stringify({ principal_id: scientist, dataset: 'notes', purpose: 'model-training', columns: ['note_text'] });
    const allows = 10;
    for (let i = 0; i < allows; i++) {
      const r = await send(`${url}/v1/decisions`, 'POST', { authorization: auth, 'content-type': 'application/json' }, body);
      expect(r.status).toBe(200);
      expect(JSON.parse(r.text).effect).toBe('allow');
    }
    const denies = 3;
    const denyBody = JSON.stringify({ principal_id: scientist, dataset: 'notes', purpose: 'model-training', columns: ['mrn'] });
    for (let i = 0; i < denies; i++) expect(JSON.parse((await send(`${url}/v1/decisions`, 'POST', { authorization: auth, 'content-type': 'application/json' }, denyBody)).text).effect).toBe('deny');

    // Each worker wrote its own chain: both decided, and neither decided them all.
    const shares = (await db.sql`SELECT count(*)::int AS n FROM decision_log GROUP BY chain_id`).map((r) => r.n as number);
    expect(shares).toHaveLength(2);
    expect(Math.max(...shares)).toBeLessThan(allows + denies);

    // Four scrapes on new connections: both workers answer some of them.
    for (let i = 0; i < 4; i++) {
      const r = await send(`${url}/metrics`, 'GET', {});
      expect(r.status).toBe(200);
      const s = parseScrape(r.text);
      expect(value(s, 'custos_decisions_total', { effect: 'allow' })).toBe(allows);
      expect(value(s, 'custos_decisions_total', { effect: 'deny' })).toBe(denies);
      expect(value(s, 'custos_decision_denials_total', { reason: 'columns_not_granted' })).toBe(denies);
      expect(count(s, 'custos_decision_duration_seconds', { lane: 'decision' })).toBe(allows + denies);
      expect(value(s, 'custos_db_pool_max_connections')).toBe(2 * poolMax);
      expect(s.get('custos_build_info')!.metrics.map((x) => Number(x.value))).toEqual([1]);
    }
  });

  it('stops cleanly', async () => {
    server.child.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
  });
});
