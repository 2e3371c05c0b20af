/**
 * Custos's metrics: one prom-client Registry of its own (never the global
 * default, so two instances in one process, as in tests, stay apart), the
 * metrics in it, and the hooks the code being measured calls.
 *
 * The hooks sit on hot paths (every decision, every log commit), so they do
 * nothing but prom-client's own update: label objects are built once here,
 * histograms have fixed buckets, and every label value comes from a fixed
 * set in this folder (reason classes, authentication methods, OAuth error
 * codes, lanes). What is cheap to read when scraped (queue depth, pool size,
 * open alerts) is read then, by the gauge's collect(), and costs the hot
 * path nothing. docs/metrics.md lists every metric.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AuditEvent } from '../audit/log.ts';
import type { ChainedLog } from '../audit/postgres/chainedWriter.ts';
import type { Decision } from '../engine/types.ts';
import type { OAuthErrorCode } from '../tokens/oauthError.ts';
import { AUTH_METHODS, LOCK_SCOPES, failedMethod, lockScope } from './authEvents.ts';
import { REASON_CLASSES, reasonClass, type ReasonClass } from './reasonClass.ts';
import { RATE_CLASSES, type RateClass } from '../ratelimit/classes.ts';

/** The routes that decide, as the `lane` label. */
export const DECISION_LANES = ['decision', 'batch', 'token'] as const;

/** One deciding route: `decision` POST /v1/decisions, `batch` POST /v1/decisions/batch, `token` POST /oauth2/token. */
export type DecisionLane = (typeof DECISION_LANES)[number];

/** Alert severities, as the `severity` label of custos_alerts_open. */
export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;

/** Open alerts by severity. */
export type OpenAlerts = Record<(typeof SEVERITIES)[number], number>;

/** What the token endpoint answers a refusal with (RFC 6749 §5.2 and RFC 9396 §5 codes, and `slow_down` for a throttled client). */
export const TOKEN_ERRORS = [
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'access_denied',
  'invalid_authorization_details',
  'temporarily_unavailable',
  'server_error',
  'slow_down',
] as const satisfies readonly (OAuthErrorCode | 'slow_down')[];

/** The chained logs, as the `log` label. */
const LOGS: readonly ChainedLog[] = ['decision_log', 'audit_events'];

/** Seconds, for request and commit latencies: from half a millisecond to ten seconds. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Records per group commit: powers of two up to the writers' largest batch (256). */
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];

/** One value per key of a fixed set (the label children, built once). */
function byKey<K extends string, V>(keys: readonly K[], make: (key: K) => V): Record<K, V> {
  const out = {} as Record<K, V>;
  for (const k of keys) out[k] = make(k);
  return out;
}

/** Options of {@link createMetrics}. */
export interface MetricsOptions {
  version: string;
  /** Records waiting for the decision log's next commit. */
  decisionLogQueue: () => number;
  /** The database pool's configured size (postgres.js exposes no live counts; docs/metrics.md). */
  dbPoolMax: number;
  /** Open alerts by severity; until given, custos_alerts_open has no samples. */
  openAlerts?: (() => Promise<OpenAlerts>) | undefined;
  /** The pool's connections open now, as the database lists them; until given, custos_db_pool_connections has no samples. */
  dbConnections?: (() => Promise<number>) | undefined;
  /** Told when openAlerts fails during a scrape (the gauge then has no samples). */
  onCollectError?: (err: unknown) => void;
}

/** The registry and the hooks. */
export interface Metrics {
  readonly registry: Registry;
  /** A deciding route's handler took `seconds` (its whole work: facts, engine, record committed, token signed). */
  decisionTime(lane: DecisionLane, seconds: number): void;
  /** A decision was committed to the log: counted by effect, and a deny by its reason classes. */
  decided(decision: Decision): void;
  /** The token endpoint answered with a token. */
  tokenIssued(): void;
  /** The token endpoint refused, with this OAuth error code (an unknown code counts as `server_error`). */
  tokenRefused(error: string): void;
  /** A group commit of `size` records to `log` ended after `seconds`, committed or not. */
  logCommitted(log: ChainedLog, size: number, seconds: number, ok: boolean): void;
  /** An audit event committed: authentication failures, lockouts and throttled attempts are counted from these. */
  audited(event: AuditEvent): void;
  /** A request to a deciding route was refused by a rate limit (429), by the route's lane and the limit's class (docs/rate-limits.md). */
  rateLimited(route: DecisionLane, cls: RateClass): void;
}

/** Builds the registry with every metric, and the hooks that update them. */
export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  // One sample, value 1, whose labels carry the facts (the Prometheus *_info convention). Every worker runs the same build: `first`.
  new Gauge({ name: 'custos_build_info', help: 'The running build: Custos version and Node.js version (value 1).', labelNames: ['version', 'node_version'], registers: [registry], aggregator: 'first' }).set(
    { version: options.version, node_version: process.versions.node },
    1,
  );

  const duration = new Histogram({
    name: 'custos_decision_duration_seconds',
    help: 'Time a deciding route takes from its validated request to its answer (facts, engine, record committed; for tokens also client authentication and signing), by lane.',
    labelNames: ['lane'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const byLane = byKey(DECISION_LANES, (lane) => duration.labels({ lane }));

  const decisions = new Counter({ name: 'custos_decisions_total', help: 'Decisions committed to the decision log, by effect (every lane, what-ifs included).', labelNames: ['effect'], registers: [registry] });
  const allow = decisions.labels({ effect: 'allow' });
  const deny = decisions.labels({ effect: 'deny' });
  const denials = new Counter({
    name: 'custos_decision_denials_total',
    help: 'Denies by reason class; a deny with reasons of several classes counts once under each (docs/metrics.md lists the classes).',
    labelNames: ['reason'],
    registers: [registry],
  });
  const byReason = REASON_CLASSES.map((reason) => denials.labels({ reason }));
  const reasonIndex = new Map<ReasonClass, number>(REASON_CLASSES.map((r, i) => [r, i]));

  const issued = new Counter({ name: 'custos_tokens_issued_total', help: 'Dataset tokens issued by POST /oauth2/token.', registers: [registry] });
  const refused = new Counter({ name: 'custos_tokens_refused_total', help: 'Refusals of POST /oauth2/token by OAuth error code (access_denied: the decision denied).', labelNames: ['error'], registers: [registry] });
  const byError = new Map<string, { inc(v?: number): void }>(TOKEN_ERRORS.map((error) => [error, refused.labels({ error })]));
  const serverError = byError.get('server_error')!;

  const commitTime = new Histogram({ name: 'custos_log_commit_duration_seconds', help: 'Duration of one group commit (one transaction) to a chained log.', labelNames: ['log'], buckets: LATENCY_BUCKETS, registers: [registry] });
  const batchSize = new Histogram({ name: 'custos_log_commit_batch_size', help: 'Records per group commit to a chained log.', labelNames: ['log'], buckets: BATCH_BUCKETS, registers: [registry] });
  const commitFailures = new Counter({ name: 'custos_log_commit_failures_total', help: 'Group commits that failed (their records were refused, 503).', labelNames: ['log'], registers: [registry] });
  const byLog = byKey(LOGS, (log) => ({ time: commitTime.labels({ log }), size: batchSize.labels({ log }), failed: commitFailures.labels({ log }) }));

  new Gauge({
    name: 'custos_decision_log_queue_depth',
    help: 'Decision records waiting for a group commit (not yet in a transaction).',
    registers: [registry],
    collect() {
      this.set(options.decisionLogQueue());
    },
  });
  const dbConnections = options.dbConnections;
  new Gauge({
    name: 'custos_db_pool_connections',
    help: "Connections of this server's database pool open now, as PostgreSQL lists them (the counting query's own included); summed over workers.",
    registers: [registry],
    async collect() {
      this.reset();
      if (!dbConnections) return;
      try {
        this.set(await dbConnections());
      } catch (err) {
        options.onCollectError?.(err);
      }
    },
  });
  new Gauge({
    name: 'custos_db_pool_max_connections',
    help: 'Configured size of the database connection pool (CUSTOS_DB_POOL_MAX); summed over workers.',
    registers: [registry],
    collect() {
      this.set(options.dbPoolMax);
    },
  });

  const failures = new Counter({ name: 'custos_auth_failures_total', help: 'Refused authentications, by method (counted from their audit events).', labelNames: ['method'], registers: [registry] });
  const byMethod = byKey(AUTH_METHODS, (method) => failures.labels({ method }));
  const lockouts = new Counter({ name: 'custos_auth_lockouts_total', help: 'Lockouts started, by what was locked (an account name or a source address).', labelNames: ['scope'], registers: [registry] });
  const throttled = new Counter({ name: 'custos_auth_throttled_total', help: 'Attempts refused because a lockout was in force (429), by scope.', labelNames: ['scope'], registers: [registry] });
  const lockedBy = byKey(LOCK_SCOPES, (scope) => lockouts.labels({ scope }));
  const throttledBy = byKey(LOCK_SCOPES, (scope) => throttled.labels({ scope }));

  // Every worker reads the same table: `max`, not a sum of N copies.
  const openAlerts = options.openAlerts;
  new Gauge({
    name: 'custos_alerts_open',
    help: 'Open alerts by severity (no samples until the alert source is wired).',
    labelNames: ['severity'],
    registers: [registry],
    aggregator: 'max',
    async collect() {
      this.reset();
      if (!openAlerts) return;
      try {
        const open = await openAlerts();
        for (const severity of SEVERITIES) this.set({ severity }, open[severity]);
      } catch (err) {
        options.onCollectError?.(err);
      }
    },
  });

  // Rate limits (src/ratelimit): refusals by route (lane) and class.
  const rateLimited = new Counter({ name: 'custos_rate_limited_total', help: 'Requests to the deciding routes refused by a rate limit (429), by route (lane) and the class of the limit (service, user, address).', labelNames: ['route', 'class'], registers: [registry] });
  const limitedBy = byKey(DECISION_LANES, (route) => byKey(RATE_CLASSES, (cls) => rateLimited.labels({ route, class: cls })));
  for (const lane of DECISION_LANES) for (const cls of RATE_CLASSES) limitedBy[lane][cls].inc(0);

  // Counters of a fixed label set start at zero, so rate() and increase() see their first event.
  for (const c of [allow, deny, issued, ...byReason, ...byError.values(), ...Object.values(byMethod), ...Object.values(lockedBy), ...Object.values(throttledBy)]) c.inc(0);
  for (const log of LOGS) {
    byLog[log].failed.inc(0);
    commitTime.zero({ log });
    batchSize.zero({ log });
  }
  for (const lane of DECISION_LANES) duration.zero({ lane });

  return {
    registry,
    decisionTime(lane, seconds) {
      byLane[lane].observe(seconds);
    },
    decided(decision) {
      if (decision.effect === 'allow') return allow.inc();
      deny.inc();
      // Each class once per deny, whatever the number of its reasons: a bit per class, no allocation.
      let seen = 0;
      for (const reason of decision.reasons) {
        const i = reasonIndex.get(reasonClass(reason))!;
        if (seen & (1 << i)) continue;
        seen |= 1 << i;
        byReason[i]!.inc();
      }
      if (!decision.reasons.length) byReason[reasonIndex.get('other')!]!.inc();
    },
    tokenIssued() {
      issued.inc();
    },
    tokenRefused(error) {
      (byError.get(error) ?? serverError).inc();
    },
    logCommitted(log, size, seconds, ok) {
      const m = byLog[log];
      m.time.observe(seconds);
      m.size.observe(size);
      if (!ok) m.failed.inc();
    },
    audited(event) {
      if (event.outcome !== 'failure') return;
      if (event.type === 'auth.lockout') return lockedBy[lockScope(event)].inc();
      if (event.type === 'auth.throttled') return throttledBy[lockScope(event)].inc();
      const method = failedMethod(event);
      if (method) byMethod[method].inc();
    },
    rateLimited(route, cls) {
      limitedBy[route][cls].inc();
    },
  };
}
