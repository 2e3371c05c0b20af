/**
 * A transaction whose connection PostgreSQL terminates (pg_terminate_backend,
 * as a restart or a failover does) fails with a connection error and leaves
 * the process running (porsager/postgres#1208: postgres.js 3.4.9's own
 * `sql.begin` writes ROLLBACK to the dead socket from a setImmediate and
 * throws there, uncaught). Nothing the callback sends after the loss reaches
 * the database, the callback's outcome is never committed, and the pool
 * serves again afterwards. The library's own part of the fix
 * (scripts/patch-postgres.mjs: a write after the close fails its query instead
 * of throwing) is shown first, with `sql.begin` alone in a child process;
 * transaction() is what keeps the callback's later queries off the
 * reconnected session (porsager/postgres#1216), which no library guard does.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSql, isConnectionError, type Sql, type Tx } from '../../src/db/client.ts';
import { transaction } from '../../src/db/transaction.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

let db: TestDatabase;
let sql: Sql;
/** Errors nobody could catch, seen while a test ran (each would have ended a server). */
const uncaught: unknown[] = [];
const onUncaught = (err: unknown) => uncaught.push(err);

beforeAll(async () => {
  db = await createTestDatabase();
  await db.sql`CREATE TABLE tx_probe (note text NOT NULL)`;
});

afterAll(async () => {
  await db?.drop();
});

beforeEach(async () => {
  uncaught.length = 0;
  process.prependListener('uncaughtException', onUncaught);
  // One connection: whatever happens to it happens to the next user too.
  sql = createSql({ url: db.url, max: 1 });
  await db.sql`TRUNCATE tx_probe`;
});

afterEach(async () => {
  await sql.end({ timeout: 1 });
  // Uncaught errors surface on a later turn: give them one before looking.
  await new Promise((r) => setTimeout(r, 50));
  process.removeListener('uncaughtException', onUncaught);
});

/** Terminates the backend of `pid` from a superuser connection, as an operator or a restart would. */
async function terminate(pid: number): Promise<void> {
  const [r] = await db.admin`SELECT pg_terminate_backend(${pid}) AS done`;
  expect(r!.done).toBe(true);
}

async function backendPid(tx: Tx): Promise<number> {
  const [r] = await tx`SELECT pg_backend_pid() AS pid`;
  return r!.pid as number;
}

/** The pool answers again at once, on its first try (the next backend does not inherit the old one's error). */
async function serves(): Promise<void> {
  const [r] = await sql`SELECT 1 AS one`;
  expect(r!.one).toBe(1);
}

async function probes(): Promise<string[]> {
  return (await db.sql`SELECT note FROM tx_probe ORDER BY note`).map((r) => r.note as string);
}

describe('sql.begin itself, on the postgres.js installed (the library-level guard, scripts/patch-postgres.mjs)', () => {
  it('survives the backend of a transaction with a query in flight being terminated (unpatched 3.4.9 dies of a TypeError)', async () => {
    // The steps of the next test, with the library's own sql.begin, in a process of its own.
    const script = `
      import postgres from 'postgres';
      const sql = postgres(process.env.URL, { max: 1, onnotice: () => {} });
      const killer = postgres(process.env.URL, { max: 1 });
      let pid;
      const tx = sql.begin(async (t) => {
        pid = (await t\`SELECT pg_backend_pid() AS pid\`)[0].pid;
        await t\`SELECT pg_sleep(5)\`;
      });
      // Observed at once: it may reject before the killer's answer arrives.
      const outcome = tx.then(() => 'committed', (e) => e.code);
      while (pid === undefined) await new Promise((r) => setTimeout(r, 20));
      await killer\`SELECT pg_terminate_backend(\${pid})\`;
      console.log('begin rejected:', await outcome);
      await new Promise((r) => setTimeout(r, 500));
      console.log('survived');
      process.exit(0);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, env: { ...process.env, URL: db.url }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const code = await new Promise<number | null>((r) => child.on('close', r));
    expect(out, out).not.toMatch(/TypeError/);
    expect(out, out).not.toMatch(/Error/);
    expect(out).toContain('begin rejected: CONNECTION_CLOSED');
    expect(out).toContain('survived');
    expect(code).toBe(0);
  });
});

describe('transaction(): the connection is terminated', () => {
  it('with a query in flight: rejects with a connection error, the process lives on, and the pool serves again', async () => {
    let pid: number | undefined;
    const tx = transaction(sql, async (t) => {
      pid = await backendPid(t);
      await t`INSERT INTO tx_probe VALUES ('before the kill')`;
      await t`SELECT pg_sleep(5)`;
      await t`INSERT INTO tx_probe VALUES ('after the kill')`;
    });
    const outcome = tx.then(
      () => 'committed',
      (e: unknown) => e,
    );
    while (pid === undefined) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100));
    await terminate(pid);
    const err = await outcome;
    expect(isConnectionError(err), String(err)).toBe(true);
    await serves();
    expect(uncaught).toEqual([]);
    // The server rolled the transaction back with its backend.
    expect(await probes()).toEqual([]);
  });

  it('while the callback is between queries: its next query is refused, never sent on the reconnected connection', async () => {
    let pid: number | undefined;
    let resume!: () => void;
    const paused = new Promise<void>((r) => (resume = r));
    let late: unknown;
    const tx = transaction(sql, async (t) => {
      pid = await backendPid(t);
      await t`INSERT INTO tx_probe VALUES ('before the kill')`;
      await paused;
      // The connection is gone; the pool may have reconnected it for someone else by now.
      await t`INSERT INTO tx_probe VALUES ('after the kill')`.catch((e: unknown) => {
        late = e;
        throw e;
      });
    });
    const outcome = tx.then(
      () => 'committed',
      (e: unknown) => e,
    );
    while (pid === undefined) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 50));
    await terminate(pid);
    expect(isConnectionError(await outcome)).toBe(true);
    // The pool's one connection comes back (a new session) before the callback goes on.
    await serves();
    resume();
    await new Promise((r) => setTimeout(r, 100));
    expect(isConnectionError(late), String(late)).toBe(true);
    await serves();
    expect(uncaught).toEqual([]);
    expect(await probes()).toEqual([]);
  });

  it('when the callback swallows the failure and returns: nothing is committed, the caller still gets the error', async () => {
    let pid: number | undefined;
    const tx = transaction(sql, async (t) => {
      pid = await backendPid(t);
      await t`INSERT INTO tx_probe VALUES ('before the kill')`;
      await t`SELECT pg_sleep(5)`.catch(() => undefined);
      return 'done';
    });
    const outcome = tx.then(
      (v) => v,
      (e: unknown) => e,
    );
    while (pid === undefined) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100));
    await terminate(pid);
    expect(isConnectionError(await outcome)).toBe(true);
    await serves();
    expect(uncaught).toEqual([]);
    expect(await probes()).toEqual([]);
  });

  it('inside a savepoint: the same (ROLLBACK TO would be written to the dead connection)', async () => {
    let pid: number | undefined;
    const tx = transaction(sql, async (t) => {
      pid = await backendPid(t);
      await t.savepoint(async (s) => {
        await s`INSERT INTO tx_probe VALUES ('in the savepoint')`;
        await s`SELECT pg_sleep(5)`;
      });
    });
    const outcome = tx.then(
      () => 'committed',
      (e: unknown) => e,
    );
    while (pid === undefined) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100));
    await terminate(pid);
    expect(isConnectionError(await outcome)).toBe(true);
    await serves();
    expect(uncaught).toEqual([]);
    expect(await probes()).toEqual([]);
  });
});

describe('transaction(): a live connection behaves as sql.begin', () => {
  it('commits what the callback wrote and returns its value; fragments and helpers work through the handle', async () => {
    const v = await transaction(sql, async (t) => {
      const table = t`tx_probe`;
      await t`INSERT INTO ${table} ${t({ note: 'one' })}`;
      await t.unsafe(`INSERT INTO tx_probe VALUES ('two')`);
      await t.savepoint((s) => s`INSERT INTO tx_probe VALUES ('three')`);
      return 42;
    });
    expect(v).toBe(42);
    expect(await probes()).toEqual(['one', 'three', 'two']);
  });

  it('rolls back and rethrows a failure of the callback, and a failed savepoint only undoes itself', async () => {
    await expect(
      transaction(sql, async (t) => {
        await t`INSERT INTO tx_probe VALUES ('kept?')`;
        await t.savepoint(async (s) => {
          await s`INSERT INTO tx_probe VALUES ('undone')`;
          throw new Error('inner');
        }).catch(() => undefined);
        throw new Error('outer');
      }),
    ).rejects.toThrow('outer');
    expect(await probes()).toEqual([]);
    await transaction(sql, async (t) => {
      await t`INSERT INTO tx_probe VALUES ('kept')`;
      await t.savepoint(async (s) => {
        await s`INSERT INTO tx_probe VALUES ('undone')`;
        throw new Error('inner');
      }).catch(() => undefined);
    });
    expect(await probes()).toEqual(['kept']);
  });

  it('passes the mode after BEGIN (a read-only transaction refuses writes)', async () => {
    await expect(transaction(sql, 'read only', (t) => t`INSERT INTO tx_probe VALUES ('no')`)).rejects.toMatchObject({ code: '25006' });
    expect(await transaction(sql, 'isolation level repeatable read read only', async (t) => (await t`SHOW transaction_isolation`)[0]!.transaction_isolation)).toBe('repeatable read');
  });

  it('a connection error from elsewhere, with its own connection alive, still rolls back and frees the connection', async () => {
    const t0 = Date.now();
    const err = Object.assign(new Error('another connection closed'), { code: 'CONNECTION_CLOSED' });
    await expect(
      transaction(sql, async (t) => {
        await t`INSERT INTO tx_probe VALUES ('undone')`;
        throw err;
      }),
    ).rejects.toBe(err);
    // It waited for its own connection to close, for a bounded time, before rolling back as usual.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(await probes()).toEqual([]);
    await serves();
  });

  it('refuses a query sent through the handle after the transaction ended (it would run outside it)', async () => {
    let kept: Tx | undefined;
    await transaction(sql, async (t) => {
      kept = t;
    });
    await expect(kept!`INSERT INTO tx_probe VALUES ('outside')`).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' });
    expect(await probes()).toEqual([]);
  });
});
