/**
 * The one place that constructs a postgres.js client. Everything else takes
 * the `Sql` it returns: only this file imports postgres.js, and only `db/`
 * and each module's `postgres/` folder run SQL.
 */
import postgres from 'postgres';

/** The postgres.js client type used across the stores. */
export type Sql = postgres.Sql<Record<string, never>>;

/** A transaction's handle, as `sql.begin` passes it to its callback. */
export type Tx = postgres.TransactionSql<Record<string, never>>;

/** Options for {@link createSql}. */
export interface CreateSqlOptions {
  url: string;
  max?: number;
  /** Application name shown in pg_stat_activity. */
  applicationName?: string;
  /**
   * Role the connection acts as (set when it connects): the application role
   * that may append to the logs but never change them.
   */
  role?: string | undefined;
  /**
   * Named prepared statements (the default). Off behind a transaction pooler:
   * a statement prepared in one transaction lives on a server connection the
   * next transaction may not get.
   */
  prepare?: boolean;
}

/** Opens a pooled client. Connections are made lazily, on first query. */
export function createSql({ url, max = 10, applicationName = `custos/${process.pid}`, role, prepare = true }: CreateSqlOptions): Sql {
  return postgres(url, {
    max,
    prepare,
    // Fail fast while the database is away, so callers answer 503 quickly.
    connect_timeout: 5,
    // Wait before reconnecting a connection that closed on an error: 0.1 s, doubling, at most 1 s. The
    // library's default grows as 3^n/100 s up to 20 s, n counting every failed connection of the pool:
    // during a one-second restart under load n passes 6, and the replica then stayed away for seconds
    // after PostgreSQL was back. One attempt a second per pooled connection costs PostgreSQL nothing.
    backoff: (attempt: number) => Math.min(0.1 * 2 ** attempt, 1),
    idle_timeout: 60,
    max_lifetime: 60 * 30,
    onnotice: () => {},
    connection: { application_name: applicationName, ...(role ? { role } : {}) },
    // Timestamps come back as Date; bigint counters as JS numbers would lose
    // precision past 2^53, so they stay strings unless a column is cast.
    types: {},
  }) as Sql;
}

/** Errors that mean "the database cannot be reached right now" (fail closed → 503). */
export function isConnectionError(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string') return false;
  return (
    code === 'ECONNREFUSED' ||
    code === 'ECONNRESET' ||
    code === 'ETIMEDOUT' ||
    code === 'EPIPE' ||
    code === 'ENOTFOUND' ||
    code === 'CONNECT_TIMEOUT' ||
    code === 'CONNECTION_CLOSED' ||
    code === 'CONNECTION_ENDED' ||
    code === 'CONNECTION_DESTROYED' ||
    // SQLSTATE class 08 (connection exception), 57P01-57P03 (admin shutdown, crash, cannot connect now),
    // 25006 (read-only transaction), 53xxx (insufficient resources), 3D000 (database missing),
    // 28xxx (authentication refused), 55000 ("database does not allow connections" during maintenance).
    /^08/.test(code) ||
    /^28/.test(code) ||
    code === '3D000' ||
    code === '55000' ||
    /^57P0[1-3]$/.test(code) ||
    code === '25006' ||
    /^53/.test(code)
  );
}

/** Answers when the database does (readiness); throws its error otherwise. */
export async function ping(sql: Sql): Promise<void> {
  await sql`SELECT 1`;
}

/**
 * A client of ONE connection to the same server, database and role as
 * `sql`, never closed for idleness or age: for state that lives on a session
 * (an advisory lock). If the connection drops, the next query reconnects
 * (a new backend: the caller compares pg_backend_pid() to notice). A pool's
 * reserved connection is not used for this: postgres.js crashes the process
 * when a query is sent on a reserved connection the server has closed.
 */
export function dedicatedClient(sql: Sql, applicationName: string): Sql {
  const o = sql.options as unknown as { host: string[]; port: number[]; path: string | false; user: string; pass: string; database: string; ssl: unknown; connection: Record<string, unknown> };
  return postgres({
    host: o.host,
    port: o.port,
    ...(o.path ? { path: o.path } : {}),
    user: o.user,
    pass: o.pass,
    database: o.database,
    ssl: o.ssl as never,
    max: 1,
    idle_timeout: 0,
    max_lifetime: null,
    connect_timeout: 5,
    // No array-type lookup on connect: a connection killed in its handshake would reject that internal query unobserved.
    fetch_types: false,
    onnotice: () => {},
    connection: { ...o.connection, application_name: applicationName },
    types: {},
  } as never) as Sql;
}
