/**
 * The PostgreSQL policy version store and the reader of logged decision
 * requests (src/policy/postgres.ts), on a real database acting as the
 * application role: version numbers, what a version holds, the history's
 * order and pages, edits based on a stale version refused (by the check and
 * by the primary key under a race), the edit's own work in its transaction,
 * the NOTIFY every replica reloads on, and logged requests read in time
 * order, by range, limit and batch.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Sql } from '../../src/db/client.ts';
import { ConflictError, NotFoundError } from '../../src/errors.ts';
import { createLoggedRequestSource, createPolicyStore } from '../../src/policy/postgres.ts';
import type { LoggedRequest } from '../../src/policy/simulate.ts';
import { policyDigest, type NewPolicyVersion, type PolicyStore } from '../../src/policy/store.ts';
import { appendLogRows, createTestDatabase, type TestDatabase } from '../support/db.ts';

let db: TestDatabase;
let store: PolicyStore;
let author: string;

beforeAll(async () => {
  db = await createTestDatabase();
  author = randomUUID();
  await db.sql`INSERT INTO principals (id, kind, name, display_name) VALUES (${author}, 'user', 'pat', 'Pat')`;
});
afterAll(async () => db?.drop());

const AT = new Date('2026-06-01T12:00:00.123Z');
const DOCS = { 'b.yaml': 'rules: []\n', 'a.yaml': 'rules: []\n# a\n' };
const TESTS = { 't.yaml': 'cases: []\n' };
const CONFLICT = (basedOn: number) => `The policy has changed since version ${basedOn}: reload it and reapply your edit.`;

/** An edit based on `basedOn`, its content and time told apart by the version it makes. */
const edit = (basedOn: number, over: Partial<NewPolicyVersion> = {}): NewPolicyVersion => ({
  basedOn,
  documents: { 'p.yaml': `rules: [] # ${basedOn + 1}\n` },
  tests: {},
  authorId: null,
  at: new Date(AT.getTime() + (basedOn + 1) * 1000),
  ...over,
});

/** What `p` rejects with. */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('policy versions', () => {
  // Each test starts from an empty history (the superuser may truncate; the application role may not).
  beforeEach(async () => {
    await db.sql`TRUNCATE policy_versions`;
    store = createPolicyStore(db.appSql);
  });

  it('an empty store has no head, no latest version and an empty history; any version is not found', async () => {
    expect(await store.head()).toBeUndefined();
    expect(await store.latest()).toBeUndefined();
    expect(await store.list({ limit: 10 })).toStrictEqual({ items: [], next_cursor: null });
    const err = await rejection(store.get(1));
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err).toMatchObject({ code: 'not_found', message: 'Policy version 1 was not found.' });
  });

  it('seed writes version 1 with its content, digest and author, once', async () => {
    await store.seed({ documents: DOCS, tests: TESTS, authorId: author, comment: 'seeded', at: AT });
    const v1 = { version: 1, documents: DOCS, tests: TESTS, digest: policyDigest(DOCS, TESTS), author_id: author, created_at: '2026-06-01T12:00:00.123Z', comment: 'seeded', rollback_of: null };
    expect(await store.latest()).toStrictEqual(v1);
    expect(await store.get(1)).toStrictEqual(v1);
    expect(await store.head()).toStrictEqual({ version: 1, digest: v1.digest });
    // A second replica seeding later changes nothing.
    await store.seed({ documents: { 'other.yaml': 'rules: []\n' }, tests: {}, authorId: null, at: new Date() });
    expect(await store.latest()).toStrictEqual(v1);
  });

  it('seed without author or comment stores neither', async () => {
    await store.seed({ documents: DOCS, tests: {}, authorId: null, at: AT });
    expect(await store.get(1)).toMatchObject({ author_id: null, comment: null, rollback_of: null, tests: {}, digest: policyDigest(DOCS, {}) });
  });

  it('create appends the version after the one it is based on, with author, comment and what it rolls back', async () => {
    // On an empty store, an edit based on version 0 is version 1.
    expect(await store.create(edit(0))).toMatchObject({ version: 1, author_id: null, comment: null, rollback_of: null });
    const v2 = await store.create(edit(1, { documents: DOCS, tests: TESTS, authorId: author, comment: 'tighten reads' }));
    expect(v2).toStrictEqual({ version: 2, documents: DOCS, tests: TESTS, digest: policyDigest(DOCS, TESTS), author_id: author, created_at: '2026-06-01T12:00:02.123Z', comment: 'tighten reads', rollback_of: null });
    expect(await store.get(2)).toStrictEqual(v2);
    const v3 = await store.create(edit(2, { rollbackOf: 1, comment: null }));
    expect(v3).toMatchObject({ version: 3, rollback_of: 1, comment: null });
    expect(await store.latest()).toStrictEqual(v3);
    expect(await store.head()).toStrictEqual({ version: 3, digest: v3.digest });
  });

  it('an edit based on any version but the latest is a conflict and adds nothing', async () => {
    await store.create(edit(0));
    await store.create(edit(1));
    for (const basedOn of [0, 1, 3]) {
      const err = await rejection(store.create(edit(basedOn)));
      expect(err).toBeInstanceOf(ConflictError);
      expect(err).toMatchObject({ code: 'conflict', message: CONFLICT(basedOn) });
    }
    expect(await store.head()).toMatchObject({ version: 2 });
  });

  it("runs the edit's own work in its transaction with the created version; when that fails, nothing is added and its error is passed on", async () => {
    await store.create(edit(0));
    let seen: unknown;
    const v2 = await store.create(edit(1), async (tx, created) => {
      // The transaction sees the new version before it commits.
      const [r] = await tx`SELECT max(version) AS v FROM policy_versions`;
      seen = { v: r!.v, created };
    });
    expect(seen).toStrictEqual({ v: 2, created: v2 });
    const failure = new Error('the audit event could not be written');
    expect(await rejection(store.create(edit(2), async () => Promise.reject(failure)))).toBe(failure);
    expect(await store.head()).toMatchObject({ version: 2 });
  });

  it('of two edits based on the same version racing past the check, the primary key lets one win; the other is a conflict', async () => {
    await store.create(edit(0));
    let second: Promise<unknown> | undefined;
    const first = await store.create(edit(1, { comment: 'first' }), async () => {
      // The second edit also sees version 1 as the latest (this one is not committed) and waits on its row.
      second = rejection(store.create(edit(1, { comment: 'second' })));
      await waitForLockWaiter(db.sql);
    });
    const err = await second;
    expect(err).toBeInstanceOf(ConflictError);
    expect(err).toMatchObject({ code: 'conflict', message: CONFLICT(1) });
    expect(await store.latest()).toStrictEqual(first);
    expect(first).toMatchObject({ version: 2, comment: 'first' });
  });

  it('announces each new version on custos_catalog (every replica reloads), and nothing for a refused edit', async () => {
    const heard: string[] = [];
    const sub = await db.sql.listen('custos_catalog', (table) => heard.push(table));
    try {
      await store.create(edit(0));
      await rejection(store.create(edit(0)));
      await store.create(edit(1));
      // Notifications arrive in commit order: once the second edit's has, the refused one's would have too.
      const until = Date.now() + 5000;
      while (heard.length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      expect(heard).toEqual(['policy_versions', 'policy_versions']);
    } finally {
      await sub.unlisten();
    }
  });

  it('lists the history newest first, without the files but with their names in order, a page at a time', async () => {
    await store.create(edit(0, { documents: DOCS, tests: TESTS, authorId: author, comment: 'one' }));
    for (let v = 1; v < 5; v++) await store.create(edit(v));
    const page1 = await store.list({ limit: 2 });
    expect(page1.items.map((i) => i.version)).toEqual([5, 4]);
    expect(page1.next_cursor).toBe('4');
    const page2 = await store.list({ limit: 2, before: 4 });
    expect(page2.items.map((i) => i.version)).toEqual([3, 2]);
    expect(page2.next_cursor).toBe('2');
    const page3 = await store.list({ limit: 2, before: 2 });
    expect(page3.items).toStrictEqual([
      { version: 1, digest: policyDigest(DOCS, TESTS), author_id: author, created_at: '2026-06-01T12:00:01.123Z', comment: 'one', rollback_of: null, documents: ['a.yaml', 'b.yaml'], tests: ['t.yaml'] },
    ]);
    expect(page3.next_cursor).toBeNull();
    expect(page2.items[1]).toMatchObject({ documents: ['p.yaml'], tests: [], author_id: null, comment: null });
  });

  it('gives a next page only when there is one (a page of exactly the rest has none)', async () => {
    for (let v = 0; v < 3; v++) await store.create(edit(v));
    expect(await store.list({ limit: 3 })).toMatchObject({ next_cursor: null });
    expect((await store.list({ limit: 3 })).items).toHaveLength(3);
    expect(await store.list({ limit: 2 })).toMatchObject({ next_cursor: '2' });
    expect(await store.list({ limit: 4 })).toMatchObject({ next_cursor: null });
    expect(await store.list({ limit: 1, before: 2 })).toMatchObject({ items: [{ version: 1 }], next_cursor: null });
  });
});

/** Waits until a session of this database waits on a lock (the racing insert). */
async function waitForLockWaiter(sql: Sql): Promise<void> {
  const until = Date.now() + 5000;
  while (Date.now() < until) {
    const [r] = await sql`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`;
    if (r!.n > 0) return;
    await new Promise((res) => setTimeout(res, 10));
  }
  throw new Error('no session waited on the lock');
}

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
