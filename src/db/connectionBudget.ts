/**
 * Connection budgeting: every connection Custos can hold at once, over every
 * replica, must fit what the server accepts, or the last connections are
 * refused ("too many clients") at peak load or during a failover, exactly
 * when they are needed. Checked at start; over budget, start-up stops with
 * the numbers and what to change (fail closed, not a warning to be missed).
 *
 * What one serving process holds at most (counted from db/open.ts and the
 * code that opens connections of its own):
 *  - the pool: CUSTOS_DB_POOL_MAX (db/open.ts);
 *  - the owner's pool: OWNER_POOL_MAX (migrations, partitions);
 *  - two listening connections: catalog changes (decisions/catalogSync.ts)
 *    and alert changes (monitoring/alertFeed.ts, opened on the first stream);
 *  - the monitoring lock's connection (monitoring/postgres/consumerLock.ts),
 *    when detection runs.
 * With several workers per replica, the cluster's primary also keeps its
 * pool and owner pool (it prepares the database, then serves no request).
 * Behind a transaction pooler the pool's connections go to the pooler, whose
 * own server connections it sizes; only the direct ones count here.
 */
import type { Config } from '../config.ts';
import { ConfigError } from '../errors.ts';
import type { Sql } from './client.ts';

/** Connections of the owner's pool in each process (db/open.ts opens it with this many). */
export const OWNER_POOL_MAX = 2;

/** Listening connections per serving process: catalog changes and alert changes. */
export const LISTENER_CONNECTIONS = 2;

/** What is planned: replicas, processes, and what each holds. */
export interface ConnectionPlan {
  /** Most replicas at once (CUSTOS_REPLICAS). */
  replicas: number;
  /** Serving processes per replica (CUSTOS_WORKERS); above 1 a primary runs beside them. */
  workers: number;
  /** CUSTOS_DB_POOL_MAX. */
  poolMax: number;
  /** Detection on: the monitoring lock's connection. */
  monitoring: boolean;
  /** The pool goes through a transaction pooler (its connections are not the server's). */
  pooler: boolean;
}

/** What the server accepts from ordinary (non-superuser) roles. */
export interface ServerLimits {
  maxConnections: number;
  superuserReservedConnections: number;
  /** PostgreSQL 16+ (`reserved_connections`); 0 before. */
  reservedConnections: number;
}

/** The arithmetic, every term named. */
export interface ConnectionBudget {
  /** Per serving process: pool (0 behind a pooler), owner, listeners, lock, and their sum. */
  perProcess: { pool: number; owner: number; listeners: number; lock: number; total: number };
  /** The cluster primary's connections (0 with one worker). */
  primary: number;
  perReplica: number;
  /** Over every replica. */
  needed: number;
  /** max_connections − superuser_reserved_connections − reserved_connections. */
  available: number;
  fits: boolean;
}

/** The budget of a plan against a server (pure). */
export function connectionBudget(plan: ConnectionPlan, limits: ServerLimits): ConnectionBudget {
  const pool = plan.pooler ? 0 : plan.poolMax;
  const perProcess = { pool, owner: OWNER_POOL_MAX, listeners: LISTENER_CONNECTIONS, lock: plan.monitoring ? 1 : 0, total: 0 };
  perProcess.total = perProcess.pool + perProcess.owner + perProcess.listeners + perProcess.lock;
  const primary = plan.workers > 1 ? pool + OWNER_POOL_MAX : 0;
  const perReplica = primary + plan.workers * perProcess.total;
  const needed = plan.replicas * perReplica;
  const available = limits.maxConnections - limits.superuserReservedConnections - limits.reservedConnections;
  return { perProcess, primary, perReplica, needed, available, fits: needed <= available };
}

/** The plan the configuration makes. */
export function connectionPlan(config: Config): ConnectionPlan {
  return {
    replicas: config.deployment.replicas,
    workers: config.workers,
    poolMax: config.dbPoolMax,
    monitoring: config.monitoring.enabled,
    pooler: config.deployment.pooler === 'transaction',
  };
}

/** Why start-up stops, with the numbers and the three ways out. */
export function overBudgetMessage(plan: ConnectionPlan, limits: ServerLimits, b: ConnectionBudget): string {
  const p = b.perProcess;
  const parts = [`${p.pool ? `pool ${p.pool}, ` : ''}owner ${p.owner}, listeners ${p.listeners}`, ...(p.lock ? [`monitoring lock ${p.lock}`] : [])].join(', ');
  const perReplica = plan.workers > 1 ? `(primary ${b.primary} + ${plan.workers} workers × ${p.total} (${parts}))` : `${p.total} (${parts})`;
  // The largest pool that fits, when the pool counts here at all.
  let pool = 0;
  if (!plan.pooler) for (let n = plan.poolMax - 1; n >= 1 && !pool; n--) if (connectionBudget({ ...plan, poolMax: n }, limits).fits) pool = n;
  const replicas = Math.floor(b.available / b.perReplica);
  const fixes = [
    ...(pool ? [`lower CUSTOS_DB_POOL_MAX to ${pool} or less`] : []),
    ...(replicas >= 1 ? [`lower CUSTOS_REPLICAS (and the autoscaler's maxReplicas) to ${replicas} or less`] : []),
    ...(plan.workers > 1 ? ['run one worker per replica (CUSTOS_WORKERS=1)'] : []),
    `raise max_connections to ${b.needed + limits.superuserReservedConnections + limits.reservedConnections} or more`,
    ...(plan.pooler ? [] : ['put PgBouncer in front of the pool (CUSTOS_DB_POOLER=transaction, docs/kubernetes.md)']),
  ];
  return (
    `Connection budget exceeded: ${plan.replicas} replica${plan.replicas === 1 ? '' : 's'} (CUSTOS_REPLICAS) × ${perReplica} = ${b.needed} connections to PostgreSQL, ` +
    `but it accepts ${b.available} (max_connections ${limits.maxConnections} − superuser_reserved_connections ${limits.superuserReservedConnections} − reserved_connections ${limits.reservedConnections}). ` +
    `To fit: ${fixes.join('; or ')}.`
  );
}

/** The server's limits, read from its settings. */
export async function serverLimits(sql: Sql): Promise<ServerLimits> {
  const [r] = await sql`
    SELECT current_setting('max_connections')::int AS max,
           current_setting('superuser_reserved_connections')::int AS superuser,
           coalesce(current_setting('reserved_connections', true), '0')::int AS reserved`;
  return { maxConnections: r!.max as number, superuserReservedConnections: r!.superuser as number, reservedConnections: r!.reserved as number };
}

/** Reads the server's limits and throws ConfigError (the message says what to change) when the plan does not fit; returns the budget when it does. */
export async function checkConnectionBudget(sql: Sql, plan: ConnectionPlan): Promise<ConnectionBudget & { limits: ServerLimits }> {
  const limits = await serverLimits(sql);
  const b = connectionBudget(plan, limits);
  if (!b.fits) throw new ConfigError(overBudgetMessage(plan, limits, b));
  return { ...b, limits };
}
