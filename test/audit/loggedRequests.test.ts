/**
 * The logged decision requests a policy simulation replays
 * (src/audit/postgres/loggedRequests.ts), read as the application role: in
 * time order, by range, limit and batch, with their columns and context.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLoggedRequestSource } from '../../src/audit/postgres/loggedRequests.ts';
import type { LoggedRequest } from '../../src/policy/simulate.ts';
import { appendLogRows, createTestDatabase, type TestDatabase } from '../support/db.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => db?.drop());

describe('logged requests', () => {
  const FROM = new Date('2026-05-01T00:00:00.000Z');
  const TO = new Date('2026-05-02T00:00:00.000Z');
  const sec = (s: number) => new Date(FROM.getTime() + s * 1000).toISOString();
  const principalId = randomUUID();
  /** A logged decision at `at` with the given input (columns, context). */
  const row = (id: string, at: string, input: Record<string, unknown>) => ({
    id, at, request_id: null, caller_id: null, principal_id: principalId, sponsor_id: null, dataset_id: 'd1', project_id: 'p0', action: 'dataset:read',
    purpose: 'research', effect: 'allow', rules: ['r'], reasons: [], granted_columns: [], denied_columns: [], obligations: [], grant_ids: [], break_glass: false,
    policy_version: 'v1', latency_us: 1, input, token_jti: null, token_expires_at: null, job: null,
  });
  const ID = (n: number) => `00000000-0000-7000-8000-${String(n).padStart(12, '0')}`;

  beforeAll(async () => {
    await appendLogRows(db.sql, 'decision_log', [
      row(ID(9), new Date(FROM.getTime() - 1).toISOString(), { columns: ['x'] }), // just before the range
      // Two at the same time, appended in reverse id order: read by id.
      row(ID(3), sec(10), { columns: ['a'], context: 'not an object' }),
      row(ID(2), sec(10), { columns: ['a', 'b'], context: {} }),
      row(ID(1), sec(0), { columns: ['a', 'b'], context: { site: 'north', shift: 2 } }), // exactly at the start: in range
      row(ID(4), sec(20), {}),
      row(ID(8), TO.toISOString(), { columns: ['x'] }), // exactly at the end: out of range
    ]);
  });

  async function read(o: { limit: number; batchSize?: number }): Promise<LoggedRequest[][]> {
    const out: LoggedRequest[][] = [];
    for await (const batch of createLoggedRequestSource(db.appSql).batches({ from: FROM, to: TO, ...o })) out.push(batch);
    return out;
  }

  it('reads the requests in [from, to) in time order, then by id, with their columns and context', async () => {
    const batches = await read({ limit: 100 });
    expect(batches).toHaveLength(1);
    const base = { principalId, datasetId: 'd1', action: 'dataset:read', purpose: 'research' };
    expect(batches[0]).toStrictEqual([
      { id: ID(1), at: new Date(sec(0)), ...base, columns: ['a', 'b'], context: { site: 'north', shift: 2 } },
      // An empty context, or one that is not an object, is no context.
      { id: ID(2), at: new Date(sec(10)), ...base, columns: ['a', 'b'], context: undefined },
      { id: ID(3), at: new Date(sec(10)), ...base, columns: ['a'], context: undefined },
      // No columns logged: none requested.
      { id: ID(4), at: new Date(sec(20)), ...base, columns: [], context: undefined },
    ]);
  });

  it('reads at most `limit`, in batches of `batchSize`', async () => {
    const ids = (b: LoggedRequest[][]) => b.map((x) => x.map((r) => r.id));
    expect(ids(await read({ limit: 3, batchSize: 2 }))).toEqual([[ID(1), ID(2)], [ID(3)]]);
    expect(ids(await read({ limit: 4, batchSize: 1 }))).toEqual([[ID(1)], [ID(2)], [ID(3)], [ID(4)]]);
  });
});
