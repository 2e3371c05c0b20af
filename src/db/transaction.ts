/**
 * The one way Custos opens a transaction: `transaction(sql, fn)` instead of
 * `sql.begin(fn)` (a test in test/architecture holds every caller to it).
 *
 * Why not `sql.begin` itself: postgres.js 3.4.9 crashes the process when a
 * transaction's connection dies under it (porsager/postgres#1208, open
 * upstream). When PostgreSQL terminates the backend (pg_terminate_backend,
 * a restart, a failover), the library's `closed()` sets the connection's
 * socket to null and rejects the query in flight; `begin`'s own scope then
 * catches that rejection and sends ROLLBACK on the same connection. The
 * write is deferred (`setImmediate(nextWrite)`, src/connection.js) and
 * dereferences the null socket there: a TypeError no caller can catch. The
 * same happens with COMMIT when the callback returns, and with any query the
 * callback sends after the loss (if the pool has reconnected the connection
 * meanwhile, the query runs instead on the new session, outside the
 * transaction: porsager/postgres#1216).
 *
 * What this does instead (without relying on the library's patch,
 * scripts/patch-postgres.mjs, which guards the library's own writes but
 * cannot keep a callback's later queries off the reconnected session):
 * every query sent through the transaction handle is watched; once one
 * fails because the connection is gone (or `begin` reports the connection
 * closed), the transaction is marked lost, further queries through the
 * handle are refused before anything is written, and the callback's outcome
 * is never handed back to postgres.js, so it sends neither ROLLBACK nor
 * COMMIT on the dead connection. `begin` itself rejects (its connection's
 * close), so the caller gets a connection error (the HTTP layer answers
 * 503, fail closed).
 * The server has rolled the transaction back with the backend that died.
 * Savepoints get the same treatment (ROLLBACK TO would crash the same way).
 */
import type { Sql, Tx } from './client.ts';

/** A query as postgres.js builds it: a promise whose `handler` sends it when first awaited. */
interface PendingQuery extends Promise<unknown> {
  handler: ((q: PendingQuery) => void) & { debug?: unknown };
  reject(err: unknown): void;
}

/** What one transaction knows about its connection. */
interface TxState {
  /** A query through the handle failed because the connection is gone. */
  lost: boolean;
  /** `begin` has settled: the connection is no longer this transaction's (the pool may hand it to another). */
  ended: boolean;
  /** Resolves when `begin` rejects, which it does the moment its connection closes. */
  closed: Promise<void>;
}

/** Error codes postgres.js and node give a query whose connection has gone (never a healthy one's SQL error). */
const LOST_CODES = new Set(['CONNECTION_CLOSED', 'CONNECTION_DESTROYED', 'CONNECTION_ENDED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']);

/**
 * How long a callback that failed with a connection error, though none of
 * its own queries did (the error may come from another connection), waits
 * for its own connection's close before it is rolled back as usual. A
 * closing connection rejects `begin` in the same turn; this is only a bound.
 */
const GRACE_MS = 1000;

/** Whether `err` says the connection a query ran on is gone (not merely that the query failed). */
export function isConnectionLost(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  // SQLSTATE 57P01-57P03 (admin shutdown, crash shutdown, cannot connect now) and class 08 end the session too.
  return typeof code === 'string' && (LOST_CODES.has(code) || /^57P0[1-3]$/.test(code) || /^08/.test(code));
}

/** The error a lost (or finished) transaction's further queries reject with: a connection error (503). */
function lostError(): Error {
  return Object.assign(new Error('the transaction was lost with its database connection'), { code: 'CONNECTION_CLOSED' });
}

function isQuery(x: unknown): x is PendingQuery {
  return x instanceof Promise && typeof (x as Partial<PendingQuery>).handler === 'function';
}

/** Routes `q`'s sending through the lost check, and watches its outcome. Fragments (never awaited) are never sent. */
function watch<T>(q: T, state: TxState): T {
  if (!isQuery(q)) return q;
  const send = q.handler;
  const guarded = (query: PendingQuery) => {
    // Refused before anything is written: the connection is dead, or it is no longer this transaction's.
    if (state.lost || state.ended) return query.reject(lostError());
    send(query);
    // Registered as it is sent, so it runs before the caller's own reaction to a failure
    // resumes the callback: by then the transaction is already marked lost.
    Promise.prototype.then.call(query, undefined, (err: unknown) => {
      if (isConnectionLost(err)) state.lost = true;
    });
  };
  guarded.debug = send.debug;
  q.handler = guarded;
  return q;
}

type Callback<T> = (tx: Tx) => T | Promise<T>;

/**
 * The callback's outcome, handed to postgres.js (which then writes COMMIT or
 * ROLLBACK) only while the connection is alive. If it may be gone, wait for
 * `begin` to say so: then never settle, since those writes would crash the
 * process or land on the connection's next session.
 */
async function settle<T>(state: TxState, suspect: boolean, outcome: () => T): Promise<T> {
  if (state.lost || suspect) {
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([state.closed.then(() => true), new Promise<false>((r) => (timer = setTimeout(r, GRACE_MS, false)))]);
    clearTimeout(timer);
    if (closed) return new Promise<never>(() => {});
  }
  return outcome();
}

/** Runs `fn` on the guarded handle; its result or error reaches postgres.js only while the connection is alive. */
function scoped<T>(fn: Callback<T>, state: TxState): (tx: Tx) => Promise<T> {
  return async (raw) => {
    let result: T;
    try {
      result = await fn(guard(raw, state));
    } catch (err) {
      return settle(state, isConnectionLost(err), () => {
        throw err;
      });
    }
    return settle(state, false, () => result);
  };
}

/** The transaction handle the callback gets: the same API, every query watched, savepoints scoped alike. */
function guard(tx: Tx, state: TxState): Tx {
  return new Proxy(tx, {
    apply(target, thisArg, args) {
      return watch(Reflect.apply(target as unknown as (...a: unknown[]) => unknown, thisArg, args), state);
    },
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (prop === 'savepoint' && typeof value === 'function') {
        return (nameOrFn: string | Callback<unknown>, maybeFn?: Callback<unknown>) =>
          typeof nameOrFn === 'function'
            ? (value as (f: Callback<unknown>) => unknown).call(target, scoped(nameOrFn, state))
            : (value as (n: string, f: Callback<unknown>) => unknown).call(target, nameOrFn, scoped(maybeFn!, state));
      }
      // The other ways to make a query; the helpers (json, array, typed...) make parameters and pass through.
      if ((prop === 'unsafe' || prop === 'file') && typeof value === 'function') {
        return (...args: unknown[]) => watch((value as (...a: unknown[]) => unknown).apply(target, args), state);
      }
      return value;
    },
  }) as Tx;
}

/**
 * Runs `fn` in one transaction (BEGIN … COMMIT; ROLLBACK when it throws), as
 * `sql.begin` does, but a connection lost mid-transaction rejects with a
 * connection error (503) instead of crashing the process. `mode` is what
 * follows BEGIN (e.g. `isolation level repeatable read read only`).
 */
export function transaction<T>(sql: Sql, fn: Callback<T>): Promise<T>;
export function transaction<T>(sql: Sql, mode: string, fn: Callback<T>): Promise<T>;
export async function transaction<T>(sql: Sql, modeOrFn: string | Callback<T>, maybeFn?: Callback<T>): Promise<T> {
  const [mode, fn] = typeof modeOrFn === 'string' ? [modeOrFn, maybeFn!] : ['', modeOrFn];
  let markClosed!: () => void;
  const state: TxState = { lost: false, ended: false, closed: new Promise<void>((r) => (markClosed = r)) };
  const begun = sql.begin(mode, scoped(fn, state)) as Promise<T>;
  // `begin` rejects the moment its connection closes (in the same turn as the close); after it
  // settles, for whatever reason, nothing more may be sent through the handle.
  begun.then(
    () => {
      state.ended = true;
    },
    () => {
      state.ended = true;
      markClosed();
    },
  );
  return begun;
}
