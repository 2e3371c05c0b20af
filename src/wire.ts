/**
 * The only place that wires things: config → stores → services → the app's
 * dependencies, and the database preparation every start runs. Used by the
 * server (main.ts), the CLI and tests.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { bootstrapAdmin } from './auth/bootstrap.ts';
import type { AuthDeps } from './auth/deps.ts';
import { createAuditLog } from './audit/postgres/auditLog.ts';
import { createAuditReader } from './audit/reader.ts';
import { createAuthStore, createClientCredentialStore } from './auth/postgres/index.ts';
import { createDecisionLogWriter } from './audit/postgres/decisionLogWriter.ts';
import type { DecisionDeps } from './decisions/makeDecision.ts';
import { CatalogSync } from './decisions/catalogSync.ts';
import { LiveFacts } from './decisions/liveFacts.ts';
import { catalogSource } from './decisions/postgres/catalogRows.ts';
import { TtlCache } from './ttlCache.ts';
import { createFactsStore } from './decisions/postgres/index.ts';
import { compilePolicy } from './policy/compile.ts';
import { PolicyHolder } from './policy/holder.ts';
import { PolicyChecker } from './policy/checkInWorker.ts';
import { livePolicyLoader } from './policy/loadLivePolicy.ts';
import { createPolicyStore } from './policy/postgres/index.ts';
import { KeyRing } from './tokens/keyRing.ts';
import { createSigningKeyStore } from './tokens/postgres/signingKeys.ts';
import { createResourceServerStore } from './tokens/postgres/resourceServers.ts';
import { createTokenStateStore } from './tokens/postgres/tokenState.ts';
import { createCatalogStore } from './catalog/postgres/index.ts';
import type { CatalogDeps } from './catalog/deps.ts';
import type { CatalogStore } from './catalog/store.ts';
import { createChangeStore } from './changes/postgres/index.ts';
import { systemClock, uuidv7Generator, type Clock } from './clock.ts';
import { type Config } from './config.ts';
import { isConnectionError, ping, type Sql } from './db/client.ts';
import { checkConnectionBudget, connectionPlan } from './db/connectionBudget.ts';
import { checkPoolRole } from './db/poolerRole.ts';
import { awaitCurrentSchema, migrate } from './db/migrate.ts';
import { ConfigError, ConflictError, CustosError } from './errors.ts';
import type { GrantDeps } from './grants/deps.ts';
import { AuditKeys } from './audit/postgres/auditKeys.ts';
import { Checkpointer } from './audit/postgres/checkpoints.ts';
import { AuditRoot, TrustedRoots } from './audit/rootKey.ts';
import { ensurePartitions } from './audit/postgres/partitions.ts';
import { WebhookWitness } from './audit/postgres/webhookWitness.ts';
import { AnchorFileWitness, LogStreamWitness, Witnesses } from './audit/witness.ts';
import { verifyLogs } from './audit/postgres/verify.ts';
import { activationCheck } from './grants/activationCheck.ts';
import { createGrantStore, createOutboxStore } from './grants/postgres/index.ts';
import { Notifier } from './grants/webhook.ts';
import type { AppDeps } from './http/deps.ts';
import { type Logger } from './logger.ts';
import { loadDefaultRoles } from './policy/loadDefaultRoles.ts';
import { clusterScrape } from './metrics/cluster.ts';
import { createMetrics, type Metrics, type OpenAlerts } from './metrics/metrics.ts';
import { poolConnections } from './metrics/postgres/poolConnections.ts';
import { sourceAllow } from './metrics/sourceAllow.ts';
import type { IncidentDeps } from './incidents/deps.ts';
import { createIncidentStore } from './incidents/postgres/index.ts';
import { IncidentReminders } from './incidents/reminders.ts';
import { AlertFeed } from './monitoring/alertFeed.ts';
import { createAlertStore } from './monitoring/postgres/alertStore.ts';
import { MonitorPipeline } from './monitoring/pipeline.ts';
import { DEFAULT_MONITORING_FILE, loadMonitoringPolicy, type MonitoringPolicy } from './monitoring/policy.ts';
import { createMonitorStore, openAlertCounts } from './monitoring/postgres/index.ts';
import type { MonitorStore } from './monitoring/store.ts';
// Rate limits on the deciding routes (docs/rate-limits.md).
import { RateLimiter } from './ratelimit/limiter.ts';
import { createBucketStore } from './ratelimit/postgres/bucketStore.ts';

/** The package version, shown in /openapi.json. */
export const VERSION: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;

/** Until the first load completes, nothing is allowed: no rules, no roles. */
const EMPTY_POLICY = compilePolicy({ documents: [], roles: [], version: 'empty' });

/** Stores and services over one database. */
export interface Wired {
  keys: KeyRing;
  catalog: CatalogStore;
  policy: PolicyHolder;
  decisions: DecisionDeps;
  /** After a write: every change committed so far is reflected in this process's next decision. */
  invalidate: () => Promise<void>;
  onCatalogChange: (table: string) => void;
  /** The facts decisions are made on, in memory. */
  facts: LiveFacts;
  /** Listens for catalog changes (start() it in a server: until then decisions read facts from the database). */
  catalogSync: CatalogSync;
  audit: ReturnType<typeof createAuditLog>;
  auth: AuthDeps;
  /** The catalog's change operations' dependencies (each change commits with its audit event). */
  catalogOps: CatalogDeps;
  app: AppDeps;
  /** Delivers workflow notifications and announces grant lifecycle changes (start() it in a server). */
  notifier: Notifier;
  /** Signs checkpoints of this process's log chains (start() it in a server). */
  checkpointer: Checkpointer;
  /** This process's metrics registry and hooks (GET /metrics). */
  metrics: Metrics;
  /** Sends incident deadline reminders through the webhook outbox (start() it in a server). */
  incidentReminders: IncidentReminders;
  /** The process's one listener on alert changes, shared by every alert stream (listens on first use; close() it when stopping). */
  alertFeed: AlertFeed;
  /** Detection: the alerts store (openAlertCounts), and the pipeline when a monitoring policy was given (start() it in a server). */
  monitoring: { store: MonitorStore; pipeline: MonitorPipeline | undefined };
  /** Rate limits on the deciding routes, undefined when off (start() it in a server; close() writes the pending throttle events). */
  rateLimits: RateLimiter | undefined;
}

/** How the metrics are wired (docs/metrics.md). */
export interface MetricsWiring {
  /** A cluster worker: a scrape reports every worker, merged by the primary (src/metrics/cluster.ts). */
  clusterWorker?: boolean;
  /** Open alerts by severity (custos_alerts_open); until given, that gauge has no samples. */
  openAlerts?: () => Promise<OpenAlerts>;
}

/** The monitoring policy the configuration names (validated; ConfigError when it is not valid), or undefined when detection is off. */
export function monitoringPolicyOf(config: Config): MonitoringPolicy | undefined {
  return config.monitoring.enabled ? loadMonitoringPolicy(config.monitoring.file ?? DEFAULT_MONITORING_FILE) : undefined;
}

/**
 * The audit root (from its key file, or derived from the encryption key) and
 * the roots verification trusts: the pinned ones, which must include this
 * root, or else this root alone.
 */
export function auditTrust(config: Config, encryptionKey: Buffer): { root: AuditRoot; trust: TrustedRoots } {
  const root = config.audit.rootKeyPem ? AuditRoot.fromPem(config.audit.rootKeyPem, 'CUSTOS_AUDIT_ROOT_KEY_FILE') : AuditRoot.derive(encryptionKey);
  const pinned = config.audit.rootPublicKeys;
  if (pinned.length && !pinned.includes(root.publicKey)) {
    throw new ConfigError(`The audit root (public key ${root.publicKey}) is not among CUSTOS_AUDIT_ROOT_PUBLIC_KEYS: checkpoints it certifies would not verify.`);
  }
  return { root, trust: new TrustedRoots(pinned.length ? pinned : [root.publicKey]) };
}

/**
 * The configuration as the embedded development database runs it: the
 * anchor file beside the data unless one is configured (in production,
 * CUSTOS_AUDIT_ANCHOR_FILE points at a separate or WORM volume). The server
 * and the CLI both apply it, so they read and write the same anchors.
 */
export function withEmbeddedDefaults(config: Config, embedded: boolean): Config {
  if (!embedded || config.audit.anchorFile) return config;
  return { ...config, audit: { ...config.audit, anchorFile: path.join(config.dataDir, 'audit-anchors.jsonl') } };
}

/** Builds stores, services and the app's dependencies (no I/O). */
export function wire(options: { config: Config; sql: Sql; log: Logger; encryptionKey: Buffer; clock?: Clock; metrics?: MetricsWiring; monitoring?: MonitoringPolicy | undefined; session?: Sql }): Wired {
  const { config, sql, log } = options;
  // Session state (LISTEN, the monitoring lock) on its own connections, from these settings (db/open.ts: direct behind a transaction pooler).
  const sessionOf = options.session && options.session !== sql ? { session: options.session } : {};
  const clock = options.clock ?? systemClock;
  const ids = uuidv7Generator(clock);
  // Metrics: the registry first, so the logs and the decision service get their hooks (src/metrics).
  const metrics = createMetrics({
    version: VERSION,
    decisionLogQueue: () => decisionLog.waiting,
    dbPoolMax: sql.options.max,
    // Unresolved alerts (open or acknowledged), counted by each worker at each scrape.
    openAlerts: options.metrics?.openAlerts ?? (() => openAlertCounts(sql)),
    dbConnections: () => poolConnections(sql),
    onCollectError: (err) => log.warn({ err }, 'reading open alerts for /metrics failed'),
  });
  const catalog = createCatalogStore(sql, { clock, ids });
  const audit = createAuditLog(sql, { clock, ids, onCommit: metrics.logCommitted, onRecorded: metrics.audited });
  const auth: AuthDeps = {
    store: createAuthStore(sql, { webhook: Boolean(config.webhook) }),
    clients: createClientCredentialStore(sql),
    // Served only while the facts in memory are trusted (the same notifications empty it on every catalog change); a minute at most.
    clientContexts: new TtlCache(systemClock, 60_000, { epoch: () => facts.trustEpoch }),
    catalog,
    audit,
    clock,
    ids,
    encryptionKey: options.encryptionKey,
    settings: {
      sessionTtlSeconds: config.sessionTtlSeconds,
      sessionMaxSeconds: config.sessionMaxSeconds,
      idleTimeoutSeconds: config.idleTimeoutSeconds,
      mfaChallengeTtlSeconds: config.mfaChallengeTtlSeconds,
      enrollmentTtlSeconds: config.enrollmentTtlSeconds,
      stepUpSeconds: config.stepUpSeconds,
      totpIssuer: config.totpIssuer,
      webauthnRequiredRoles: config.webauthnRequiredRoles,
      webauthn: { ...config.webauthn, challengeTtlSeconds: 300 },
      throttle: {
        account: { budget: config.lockout.accountAttempts, baseLockSeconds: config.lockout.baseSeconds, maxLockSeconds: config.lockout.maxSeconds, windowSeconds: config.lockout.windowSeconds },
        source: { budget: config.lockout.sourceAttempts, baseLockSeconds: config.lockout.baseSeconds, maxLockSeconds: config.lockout.maxSeconds, windowSeconds: config.lockout.windowSeconds },
      },
    },
  };
  const catalogOps: CatalogDeps = { ...auth, sql };
  const policyStore = createPolicyStore(sql);
  const policyChecker = new PolicyChecker({ ...config.policyLimits.check, conditionLimits: config.policyLimits.condition, testCaps: config.policyLimits.tests });
  // The latest stored version (seeded from policies/ on an empty store) under the catalog's role graph.
  const policy = new PolicyHolder(EMPTY_POLICY, livePolicyLoader({ store: policyStore, catalog, clock, conditionLimits: config.policyLimits.condition }), (err) =>
    log.error({ err: err instanceof CustosError ? { errorCode: err.code, message: err.message } : err }, 'policy reload failed; the last good policy stays in force'),
  );
  // Facts in memory, kept true by change notifications; the database whenever memory cannot be trusted.
  const factsStore = createFactsStore(sql);
  const facts = new LiveFacts(catalogSource(sql), factsStore, {
    // Grants that ended over a day before the decisions' clock are not read.
    now: () => clock.now(),
    onError: (err, what) => log.warn({ err, what }, 'reading catalog facts failed: decisions read the database until they are read again'),
  });
  const decisionLog = createDecisionLogWriter(sql, {
    ids,
    onMismatch: (d) => log.error({ chain: d.chain, from: d.from, to: d.to }, 'decision records linked in process differ from the database encoding; the database links them from now on'),
    onCommit: metrics.logCommitted,
  });
  const decisions: DecisionDeps = { facts, policy, log: decisionLog, clock, ids, committed: metrics.decided };
  const { root: auditRoot, trust } = auditTrust(config, options.encryptionKey);
  const auditKeys = new AuditKeys({ sql, encryptionKey: options.encryptionKey, clock, root: auditRoot, trust });
  // Anchors go where the database cannot rewrite them: the anchor file, the log stream, the webhook receiver.
  const witnesses = new Witnesses(
    [
      ...(config.audit.anchorFile ? [new AnchorFileWitness(config.audit.anchorFile)] : []),
      new LogStreamWitness(log),
      ...(config.webhook ? [new WebhookWitness(sql, ids, clock)] : []),
    ],
    {
      log,
      onChange: (status) =>
        audit.record({ type: status.ok ? 'audit.witness_recovered' : 'audit.witness_failed', outcome: status.ok ? 'success' : 'failure', actorId: null, details: { ...status } }),
    },
  );
  const checkpointer = new Checkpointer({
    sql,
    keys: auditKeys,
    clock,
    log,
    intervalSeconds: config.audit.checkpointSeconds,
    registrySeconds: config.audit.registrySeconds,
    witnesses,
    chains: async () => [...(await decisionLog.chains()), ...(await audit.chains())],
  });
  /** A catalog change seen through NOTIFY (or a re-subscription, when changes may have been missed). */
  const onCatalogChange = (table: string) => {
    auth.clientContexts?.clear();
    // The role graph is part of the policy snapshot, and a new policy version replaces it: recompile.
    if (table === 'roles' || table === 'role_inherits' || table === 'policy_versions' || table === '(subscribed)') void policy.reload();
  };
  const catalogSync = new CatalogSync({ sql, ...sessionOf, facts, onChange: onCatalogChange, log, heartbeatMs: config.factsHeartbeatMs });
  /** After writes through this process: cached client contexts go, and the facts catch up with every commit so far. */
  const invalidate = async () => {
    auth.clientContexts?.clear();
    await catalogSync.sync();
  };
  const grantStore = createGrantStore(sql, { clock, ids, webhook: Boolean(config.webhook), audit });
  const notifier = new Notifier({ outbox: config.webhook ? createOutboxStore(sql) : undefined, grants: grantStore, activation: activationCheck({ policy }), clock, log, settings: config.webhook });
  const grants: GrantDeps = { store: grantStore, catalog, audit, clock, ids, policy, settings: config.jit, kick: () => notifier.kick() };
  // Reviews read fresh facts (uncached) and the live policy snapshot; simulations replay the logged requests.
  const auditReader = createAuditReader({ sql, clock, facts: createFactsStore(sql), policy: () => policy.current() });
  // Incidents: the breach-notification clock, reminders through the webhook outbox.
  const incidents: IncidentDeps = {
    sql,
    store: createIncidentStore(sql, { clock, ids, webhook: Boolean(config.webhook) }),
    audit,
    clock,
    ids,
    settings: config.incidents,
    kick: () => notifier.kick(),
  };
  const incidentReminders = new IncidentReminders({ deps: incidents, log });
  const keys = new KeyRing({ store: createSigningKeyStore(sql), clock, encryptionKey: options.encryptionKey, maxTokenSeconds: config.tokenMaxSeconds, publishAheadSeconds: config.keyPublishAheadSeconds });
  // Alerts: the reviewer's lifecycle operations and the change feed behind the console's stream.
  const alertStore = createAlertStore(sql);
  const alertFeed = new AlertFeed({ sql, ...sessionOf, alerts: alertStore, log });
  const alerts: AppDeps['alerts'] = { sql, audit, clock, alerts: alertStore, catalog, feed: alertFeed, heartbeatMs: config.alertStreamHeartbeatSeconds * 1000 };
  // Rate limits: shared buckets leased over the application's pool (no connection of their own).
  const rateLimits = config.rateLimits
    ? new RateLimiter({ store: createBucketStore(sql), audit, clock, log, onLimited: (route, cls) => metrics.rateLimited(route, cls), settings: config.rateLimits })
    : undefined;
  const app: AppDeps = {
    rateLimits,
    keys,
    tokens: { state: createTokenStateStore(sql), resourceServers: createResourceServerStore(sql), settings: { issuer: config.publicUrl, ttlSeconds: config.tokenTtlSeconds, maxSeconds: config.tokenMaxSeconds } },
    catalog,
    catalogOps,
    audit,
    auth,
    decisions,
    grants,
    changes: { store: createChangeStore(sql, { ids }), audit, auth, catalog, checker: policyChecker, policy, clock, ids, ttlSeconds: config.changeTtlSeconds },
    policies: { store: policyStore, replay: auditReader.loggedRequests, facts: factsStore, limits: config.policyLimits, checker: policyChecker },
    auditLog: {
      keys: auditKeys,
      anchorFile: config.audit.anchorFile,
      witnesses: () => witnesses.status(),
      verify: (range, onProgress, anchors) => verifyLogs({ sql, roots: trust }, range, onProgress, { anchors }),
    },
    // Reviews read fresh facts (uncached) and the live policy snapshot.
    auditRead: auditReader,
    incidents,
    alerts,
    invalidate,
    clock,
    log,
    checkDatabase: () => ping(sql),
    isUnavailable: isConnectionError,
    metrics: {
      scrape: options.metrics?.clusterWorker ? clusterScrape(metrics.registry) : () => metrics.registry.metrics(),
      sourceAllowed: sourceAllow(config.metricsAllow),
      hooks: metrics,
    },
    settings: {
      bodyLimit: config.bodyLimit,
      publicUrl: config.publicUrl,
      trustProxy: config.trustProxy,
      proxyOnly: config.proxyOnly,
      version: VERSION,
      requestTimeoutMs: config.requestTimeoutMs,
    },
  };
  // Monitoring: detection over the committed records, after the answers (docs/monitoring.md).
  const monitorStore = createMonitorStore(sql, { clock, ids, webhook: Boolean(config.webhook), ...sessionOf });
  const monitoring = {
    store: monitorStore,
    pipeline: options.monitoring
      ? // New alerts' webhook deliveries go out with the notifier's next pass (every second).
        new MonitorPipeline({ store: monitorStore, policy: options.monitoring, log, pollMs: config.monitoring.pollMs, batch: config.monitoring.batch })
      : undefined,
  };
  return { keys, catalog, audit, auth, catalogOps, app, policy, decisions, invalidate, onCatalogChange, facts, catalogSync, notifier, checkpointer, metrics, incidentReminders, alertFeed, monitoring, rateLimits };
}

/** The policy and the signing keys: all a cluster worker needs before serving once its primary has prepared the database (and the last step of that preparation). */
export async function prepareWorker(wired: Wired): Promise<{ version: string }> {
  const policy = await wired.policy.reload();
  if (!policy.ok) throw policy.error;
  await wired.keys.init();
  return { version: policy.version };
}

/**
 * Migrates (as the owner), makes the coming months' log partitions, loads the
 * shipped roles and, on an empty database, bootstraps the first administrator.
 */
export async function prepareDatabase(owner: Sql, wired: Wired, log: Logger, options: { autoBootstrap: boolean; migrate?: boolean }): Promise<void> {
  // Where a migration Job migrates (CUSTOS_MIGRATE_AT_START=false), only wait for it: replicas never race it.
  const m =
    options.migrate === false
      ? { ...(await awaitCurrentSchema(owner, { onWait: (s) => log.warn({ pending: s.pending.map((p) => p.version) }, 'waiting for the schema to be migrated (custos migrate, the migration Job); not serving until then') })), applied: [] }
      : await migrate(owner, { onApply: (f) => log.info({ version: f.version, name: f.name }, 'migration applied') });
  await ensurePartitions(owner, 3);
  log.info({ version: m.current, applied: m.applied.length }, 'database schema is current');
  const roles = await loadDefaultRoles(wired.catalog);
  if (roles.created.length) log.info({ roles: roles.created }, 'default roles created');
  const policy = await prepareWorker(wired);
  log.info({ version: policy.version, rules: wired.policy.current().rules.length }, 'policy loaded');
  // The checkpoint key (made and certified on first start), and the root a verifier pins.
  const cert = await wired.app.auditLog.keys.activeCertificate();
  const root = wired.app.auditLog.keys.root;
  log.info({ root_public_key: root.publicKey, root_fingerprint: root.fingerprint, kid: cert.kid }, 'audit root; pin its public key in verifiers (CUSTOS_AUDIT_ROOT_PUBLIC_KEYS)');
  if (!options.autoBootstrap) return;
  try {
    const b = await bootstrapAdmin(wired.auth);
    // Printed once to the terminal, deliberately not through the logger, so it never lands in log storage.
    process.stdout.write(
      `\n  Audit root public key (pin it where logs are verified: CUSTOS_AUDIT_ROOT_PUBLIC_KEYS, custos audit verify --root-key):\n\n    ${root.publicKey}\n` +
        `    fingerprint sha256:${root.fingerprint}\n` +
        `\n  First administrator created: ${b.username}\n` +
        `  One-time enrollment secret (shown only now, expires ${b.expires_at}):\n\n    ${b.enrollment_secret}\n\n` +
        `  Redeem it with POST /v1/auth/enroll (see docs/getting-started.md).\n\n`,
    );
  } catch (err) {
    if (!(err instanceof ConflictError)) throw err;
  }
}

/**
 * Before anything else at start (docs/kubernetes.md): the connections of
 * every replica must fit the server (db/connectionBudget.ts), and behind a
 * transaction pooler the pool must log in as the application role
 * (db/poolerRole.ts). Either failing throws ConfigError with what to change.
 */
export async function checkDatabaseFits(db: { sql: Sql; owner: Sql }, config: Config, log: Logger): Promise<void> {
  const plan = connectionPlan(config);
  const b = await checkConnectionBudget(db.owner, plan);
  log.info({ replicas: plan.replicas, workers: plan.workers, perProcess: b.perProcess, perReplica: b.perReplica, needed: b.needed, available: b.available, pooler: plan.pooler }, `connection budget: ${b.needed} of ${b.available} connections`);
  if (plan.pooler) await checkPoolRole(db.sql, config.dbRole);
}
