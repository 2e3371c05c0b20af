/**
 * The PostgreSQL policy version store (src/policy/postgres/index.ts), on a real
 * database acting as the
 * application role: version numbers, what a version holds, the history's
 * order and pages, edits based on a stale version refused (by the check and
 * by the primary key under a race), the edit's own work in its transaction,
 * and the NOTIFY every replica reloads on.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Sql } from '../../src/db/client.ts';
import { ConflictError, NotFoundError } from '../../src/errors.ts';
import { createPolicyStore } from '../../src/policy/postgres/index.ts';
import { policyDigest, type NewPolicyVersion, type PolicyStore } from '../../src/policy/store.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

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
