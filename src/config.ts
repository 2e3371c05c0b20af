/**
 * Configuration: read from the environment once at start-up, validated with
 * zod, and refused with a message naming the variable to set when the
 * combination is unsafe. Every setting is described in the schema below;
 * docs/configuration.md is generated from it (`npm run docs:config`).
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { ConfigError } from './errors.ts';
import { canonicalTimeZone, NOTIFICATION_DAYS } from './incidents/deadline.ts';
import type { Limit } from './ratelimit/bucket.ts';
import type { RateLimitSettings } from './ratelimit/limiter.ts';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const seconds = (def: number) => z.coerce.number().int().positive().default(def);

/** A rate limit, `rate:burst` (whole requests per second, the most at once). */
const LIMIT = /^\s*[1-9]\d{0,6}\s*:\s*[1-9]\d{0,7}\s*$/;
/** Clients' own limits: `id=rate:burst`, comma-separated. */
const CLIENT_LIMITS = /^\s*[A-Za-z0-9._~-]{1,200}\s*=\s*[1-9]\d{0,6}\s*:\s*[1-9]\d{0,7}\s*(,\s*[A-Za-z0-9._~-]{1,200}\s*=\s*[1-9]\d{0,6}\s*:\s*[1-9]\d{0,7}\s*)*$/;

/** The environment variables Custos reads, each with its meaning and an example (docs/configuration.md is generated from them). */
export const envSchema = z.object({
  CUSTOS_ENV: z.enum(['development', 'production', 'test']).default('development')
    .describe('`production` requires a configured encryption key')
    .meta({ example: 'production' }),
  DATABASE_URL: z.string().min(1).optional()
    .describe('external PostgreSQL; unset → embedded PostgreSQL in the data folder')
    .meta({ example: 'postgres://custos:…@db:5432/custos', unset: 'embedded PostgreSQL' }),
  DATABASE_URL_FILE: z.string().min(1).optional()
    .describe('read `DATABASE_URL` from a file (Docker/Kubernetes secrets); not with `DATABASE_URL`')
    .meta({ example: '/run/secrets/database-url' }),
  CUSTOS_DATA_DIR: z.string().min(1).default('./.custos')
    .describe('embedded database, its password, the generated development key')
    .meta({ example: '/var/lib/custos' }),
  CUSTOS_EMBEDDED_PG_PORT: z.coerce.number().int().min(1).max(65535).default(54329)
    .describe('loopback port of the embedded PostgreSQL')
    .meta({ example: '55432' }),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080)
    .describe('HTTP(S) port')
    .meta({ example: '443' }),
  HOST: z.string().min(1).default('127.0.0.1')
    .describe('listen address; beyond loopback requires TLS or a trusted proxy')
    .meta({ example: '0.0.0.0' }),
  CUSTOS_PUBLIC_URL: z.url().optional()
    .describe('external base URL (OpenAPI `servers`, token issuer)')
    .meta({ example: 'https://custos.example.org', unset: '`http://HOST:PORT` (`https://` with TLS files; IPv6 bracketed)' }),
  CUSTOS_TLS_CERT_FILE: z.string().min(1).optional()
    .describe('certificate (PEM) to serve HTTPS directly; set with `CUSTOS_TLS_KEY_FILE`')
    .meta({ example: '/etc/custos/tls.crt' }),
  CUSTOS_TLS_KEY_FILE: z.string().min(1).optional()
    .describe('private key (PEM) to serve HTTPS directly; set with `CUSTOS_TLS_CERT_FILE`')
    .meta({ example: '/etc/custos/tls.key' }),
  CUSTOS_TRUST_PROXY: z
    .string()
    .regex(/^(\d{1,2}|((loopback|linklocal|uniquelocal|[0-9a-fA-F.:]+(\/\d{1,3})?)(\s*,\s*(loopback|linklocal|uniquelocal|[0-9a-fA-F.:]+(\/\d{1,3})?))*))$/, 'a hop count, or addresses/CIDRs/loopback')
    .optional()
    .describe('the TLS-terminating proxy in front (express `trust proxy`: addresses/CIDRs; a hop count or `loopback` only with a loopback `HOST`). With `HOST` beyond loopback and no TLS files, Custos then answers only requests whose direct peer is that proxy and whose `X-Forwarded-Proto` is `https`; anything else gets 403 `https_required` (`GET /healthz` and `/readyz` excepted, for load balancers and probes)')
    .meta({ example: '10.0.0.0/24' }),
  CUSTOS_ENCRYPTION_KEY: z.string().min(1).optional()
    .describe('AES-256-GCM key for secrets at rest (32 bytes, base64 or hex; generate with `openssl rand -base64 32`)')
    .meta({ example: '(32 random bytes, base64)', unset: 'generated into `CUSTOS_DATA_DIR/encryption.key` (embedded database only)' }),
  CUSTOS_ENCRYPTION_KEY_FILE: z.string().min(1).optional()
    .describe('the same, from a file; not with `CUSTOS_ENCRYPTION_KEY`')
    .meta({ example: '/run/secrets/encryption-key' }),
  CUSTOS_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info')
    .describe('pino level (`silent` … `trace`)')
    .meta({ example: 'debug' }),
  CUSTOS_BODY_LIMIT: z.string().regex(/^\d+(b|kb|mb)$/i, 'like 100kb').default('100kb')
    .describe('request bodies above it get 413')
    .meta({ example: '1mb' }),
  CUSTOS_SESSION_TTL_SECONDS: seconds(900)
    .describe('lifetime of an access token')
    .meta({ example: '600' }),
  CUSTOS_SESSION_MAX_SECONDS: seconds(43_200)
    .describe('lifetime of a session across refreshes')
    .meta({ example: '28800' }),
  CUSTOS_IDLE_TIMEOUT_SECONDS: seconds(900)
    .describe('automatic logoff after inactivity (§164.312(a)(2)(iii))')
    .meta({ example: '600' }),
  CUSTOS_STEP_UP_SECONDS: seconds(600)
    .describe('how recent a second factor must be for sensitive actions')
    .meta({ example: '300' }),
  CUSTOS_WEBAUTHN_REQUIRED_ROLES: z.string().default('')
    .describe('holders of these roles (comma-separated) must step up with WebAuthn, not TOTP')
    .meta({ example: 'system-administrator' }),
  CUSTOS_WEBAUTHN_RP_ID: z.string().min(1).optional()
    .describe('WebAuthn relying-party id (a domain, never an IP address)')
    .meta({ example: 'custos.example.org', unset: 'host of `CUSTOS_PUBLIC_URL` (`localhost` for an IP)' }),
  CUSTOS_WEBAUTHN_RP_NAME: z.string().min(1).default('Custos')
    .describe('name shown by authenticators')
    .meta({ example: 'St Elsewhere PDP' }),
  CUSTOS_WEBAUTHN_ORIGINS: z.string().min(1).optional()
    .describe('allowed origins, comma-separated (https, or http for localhost)')
    .meta({ example: 'https://console.example.org', unset: 'origin of `CUSTOS_PUBLIC_URL` (`http://localhost:PORT` for an IP)' }),
  CUSTOS_LOCKOUT_ACCOUNT_ATTEMPTS: z.coerce.number().int().min(1).max(1000).default(5)
    .describe('attempts per account (password, TOTP, WebAuthn, recovery) per window')
    .meta({ example: '10' }),
  CUSTOS_LOCKOUT_SOURCE_ATTEMPTS: z.coerce.number().int().min(1).max(100_000).default(50)
    .describe('failed attempts per source address per window')
    .meta({ example: '200' }),
  CUSTOS_LOCKOUT_BASE_SECONDS: seconds(60)
    .describe('first lockout; each further one doubles up to `CUSTOS_LOCKOUT_MAX_SECONDS`')
    .meta({ example: '30' }),
  CUSTOS_LOCKOUT_MAX_SECONDS: seconds(3600)
    .describe('longest lockout')
    .meta({ example: '7200' }),
  CUSTOS_LOCKOUT_WINDOW_SECONDS: seconds(900)
    .describe('window after which unlocked counts are forgotten')
    .meta({ example: '600' }),
  CUSTOS_MFA_CHALLENGE_TTL_SECONDS: seconds(300)
    .describe('time to answer the second factor after the password')
    .meta({ example: '120' }),
  CUSTOS_ENROLLMENT_TTL_SECONDS: seconds(86_400)
    .describe('lifetime of a one-time enrollment secret')
    .meta({ example: '3600' }),
  CUSTOS_TOTP_ISSUER: z.string().min(1).default('Custos')
    .describe('issuer shown by authenticator apps')
    .meta({ example: 'St Elsewhere PDP' }),
  CUSTOS_DB_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10)
    .describe('PostgreSQL connections per process')
    .meta({ example: '30' }),
  CUSTOS_DB_ROLE: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/).default('custos_app')
    .describe('role the server\'s connections act as (append-only on the logs); `none` keeps the connecting user (not recommended: the logs lose their append-only guard)')
    .meta({ example: 'none' }),
  CUSTOS_AUDIT_RETENTION_MONTHS: z.coerce.number().int().min(1).max(1200).default(72)
    .describe('months of logs `custos audit drop-partition` must keep (default six years)')
    .meta({ example: '84' }),
  CUSTOS_AUDIT_CHECKPOINT_SECONDS: seconds(5)
    .describe('how often each chain\'s head is signed while records flow')
    .meta({ example: '2' }),
  CUSTOS_AUDIT_REGISTRY_SECONDS: seconds(60)
    .describe('how often the signed registry of every chain is anchored while records flow')
    .meta({ example: '30' }),
  CUSTOS_AUDIT_ROOT_KEY_FILE: z.string().min(1).optional()
    .describe('the audit root\'s Ed25519 private key (PEM); keep it where the database host cannot read it')
    .meta({ example: '/run/secrets/audit-root.pem', unset: 'derived from the encryption key' }),
  CUSTOS_AUDIT_ROOT_PUBLIC_KEYS: z.string().optional()
    .describe('pinned audit roots (base64url, comma-separated): verification trusts keys certified by these only; must include the server\'s root')
    .meta({ example: 'Xq3…,Lm9…', unset: 'the server\'s own root' }),
  CUSTOS_AUDIT_ANCHOR_FILE: z.string().min(1).optional()
    .describe('append-only anchor file, on a separate or WORM volume')
    .meta({ example: '/mnt/worm/custos-anchors.jsonl', unset: 'embedded database: `.custos/audit-anchors.jsonl`' }),
  CUSTOS_SHUTDOWN_GRACE_SECONDS: seconds(10)
    .describe('SIGTERM: time for in-flight requests before connections are cut')
    .meta({ example: '30' }),
  CUSTOS_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(10_000)
    .describe('a request not answered by then gets `503 unavailable` (a stalled database never hangs a caller)')
    .meta({ example: '5000' }),
  CUSTOS_ALLOW_INSECURE_BIND: bool.default(false)
    .describe('allow plain HTTP beyond loopback (only where the port is otherwise protected, as in `docker-compose.yml`)')
    .meta({ example: 'true' }),
  CUSTOS_AUTO_BOOTSTRAP: bool.default(true)
    .describe('create the first administrator at start-up when none exists')
    .meta({ example: 'false' }),
  CUSTOS_POLICY_RELOAD_SECONDS: seconds(30)
    .describe('periodic check of the latest policy version and the role graph (recompiles only on a change), the safety net behind change notifications')
    .meta({ example: '10' }),
  CUSTOS_FACTS_HEARTBEAT_MS: z.coerce.number().int().min(100).max(60_000).default(2000)
    .describe('how often each process checks that its change listener still hears the database (a barrier notification sent and received); one not back within this time ends trust in the facts held in memory, and decisions read the database until they are read again')
    .meta({ example: '1000' }),
  CUSTOS_WORKERS: z.union([z.literal('auto'), z.coerce.number().int().min(1).max(256)]).default('auto')
    .describe('server processes (node cluster workers), each with its own facts in memory and its own decision log chain; `auto` is one per available core, less one (at least one) when the database runs on this machine (the embedded one, or DATABASE_URL on a loopback address or a Unix socket), which needs a core of its own. On Kubernetes, set 1 and scale by replicas')
    .meta({ example: '1' }),
  CUSTOS_CHANGE_TTL_SECONDS: seconds(86_400)
    .describe('how long a privilege-widening change waits for a second administrator before it expires (checked at use)')
    .meta({ example: '14400' }),
  CUSTOS_POLICY_CONDITION_MAX_COST: z.coerce.number().int().min(1000).max(1_000_000_000).default(1_000_000)
    .describe('cost budget of one condition evaluation (about 1 unit per list element, 0.1 per character; 1,000,000 is tens of milliseconds): over it, refused when written, not evaluated (fails closed) at decision time')
    .meta({ example: '200000' }),
  CUSTOS_POLICY_CONDITION_MAX_ELEMENTS: z.coerce.number().int().min(100).max(100_000_000).default(1_000_000)
    .describe('largest list, map or string (elements or characters, counted through every level) a condition may build')
    .meta({ example: '100000' }),
  CUSTOS_POLICY_TESTS_MAX_FILES: z.coerce.number().int().min(1).max(10_000).default(50)
    .describe('policy test files per push or validation')
    .meta({ example: '20' }),
  CUSTOS_POLICY_TESTS_MAX_CASES: z.coerce.number().int().min(1).max(100_000).default(500)
    .describe('cases per test file')
    .meta({ example: '200' }),
  CUSTOS_POLICY_TESTS_MAX_COLUMNS: z.coerce.number().int().min(1).max(100_000).default(2000)
    .describe('columns per case (`input.columns`) and per dataset of a test file (as many as one decision request may name)')
    .meta({ example: '500' }),
  CUSTOS_POLICY_TESTS_MAX_BYTES: z.coerce.number().int().min(1024).max(1_073_741_824).default(1_048_576)
    .describe('all test files together (UTF-8 bytes)')
    .meta({ example: '262144' }),
  CUSTOS_POLICY_CHECK_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(5000)
    .describe('deadline of one policy check (validate, the test gate of a push) or one simulation batch in its worker thread; past it the worker is terminated and the request gets `422 policy_check_limit`')
    .meta({ example: '2000' }),
  CUSTOS_POLICY_CHECK_MAX_MEMORY_MB: z.coerce.number().int().min(16).max(65_536).default(256)
    .describe('heap of each policy check worker (`resourceLimits.maxOldGenerationSizeMb`); past it: `422 policy_check_limit`')
    .meta({ example: '128' }),
  CUSTOS_POLICY_CHECK_WORKERS: z.coerce.number().int().min(1).max(64).default(2)
    .describe('policy checks and simulations at once; one more is refused `503 policy_check_busy`')
    .meta({ example: '1' }),
  CUSTOS_POLICY_SIMULATION_MAX_WINDOW_SECONDS: seconds(2_678_400)
    .describe('widest `from`–`to` range of one simulation (31 days); wider is `400 invalid_request`')
    .meta({ example: '604800' }),
  CUSTOS_TOKEN_TTL_SECONDS: seconds(900)
    .describe('lifetime of a dataset token (never above `CUSTOS_TOKEN_MAX_SECONDS`)')
    .meta({ example: '600' }),
  CUSTOS_TOKEN_MAX_SECONDS: seconds(3600)
    .describe('cap on any token lifetime (and how long a retired signing key stays published)')
    .meta({ example: '1800' }),
  // Signing-key rotation: how long the next key is in the JWKS before it signs (docs/tokens.md, docs/resource-servers.md).
  CUSTOS_KEY_PUBLISH_AHEAD_SECONDS: z.coerce.number().int().min(1).max(86_400).default(900)
    .describe('how long a rotated-in signing key is published in the JWKS before any token is signed with it; keep it above the verifiers\' JWKS cache age (jose and express-oauth2-jwt-bearer: 600 s) plus the JWKS `max-age` (60 s) and 5 s, with room for clock skew between replicas')
    .meta({ example: '1200' }),
  CUSTOS_JIT_MIN_JUSTIFICATION: z.coerce.number().int().min(1).max(2000).default(20)
    .describe('shortest justification, denial reason or review finding (characters)')
    .meta({ example: '40' }),
  CUSTOS_JIT_MAX_START_AHEAD_SECONDS: seconds(2_592_000)
    .describe('how far ahead an access request may schedule its start')
    .meta({ example: '604800' }),
  CUSTOS_ACCESS_REQUEST_TTL_SECONDS: seconds(604_800)
    .describe('how long an access request stays open for approval before it lapses as `expired`')
    .meta({ example: '259200' }),
  CUSTOS_BREAK_GLASS_MAX_SECONDS: seconds(3600)
    .describe('cap on a break-glass activation, whatever the policy says')
    .meta({ example: '1800' }),
  CUSTOS_WEBHOOK_URL: z.url({ protocol: /^https?$/ }).optional()
    .describe('where workflow notifications are POSTed (none when unset)')
    .meta({ example: 'https://hooks.example.org/custos' }),
  CUSTOS_WEBHOOK_SECRET: z.string().min(32, 'at least 32 characters').optional()
    .describe('HMAC-SHA256 key of `Custos-Signature` (32+ characters; required with the URL)')
    .meta({ example: '(32+ random characters)' }),
  CUSTOS_WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(8)
    .describe('attempts before a delivery is marked failed')
    .meta({ example: '12' }),
  CUSTOS_WEBHOOK_RETRY_BASE_SECONDS: z.coerce.number().min(0.05).max(3600).default(2)
    .describe('first retry delay; doubles per attempt, capped at 5 minutes')
    .meta({ example: '5' }),
  // Monitoring (docs/metrics.md).
  CUSTOS_METRICS_ALLOW: z
    .string()
    .regex(/^(none|[0-9a-fA-F.:]+(\/\d{1,3})?(\s*,\s*[0-9a-fA-F.:]+(\/\d{1,3})?)*)$/, 'addresses/CIDRs, comma-separated, or none')
    .default('127.0.0.0/8,::1')
    .describe('source addresses/CIDRs served `GET /metrics` without credentials (the address as audit events record it: behind `CUSTOS_TRUST_PROXY`, the forwarded client). `none`: only clients with `metrics:read` (HTTP Basic)')
    .meta({ example: '10.0.5.10,10.0.6.0/24' }),
  // Incidents: the breach-notification clock (45 CFR §164.404(b)).
  CUSTOS_TIME_ZONE: z.string().min(1).max(64).default('UTC')
    .describe("the covered entity's IANA time zone: an incident's 60 calendar days are counted in it (an incident may name its own)")
    .meta({ example: 'America/New_York' }),
  CUSTOS_INCIDENT_REMINDER_DAYS: z.string().regex(/^\s*\d{1,2}\s*(,\s*\d{1,2}\s*)*$/, 'comma-separated whole numbers of days').default('30,14,7,3,1')
    .describe('webhook reminders of an open incident, in days before its notification deadline (0–59; 0: on the last day)')
    .meta({ example: '45,30,14,7,1' }),
  // Alerts (the reviewer console's stream).
  CUSTOS_ALERT_STREAM_HEARTBEAT_SECONDS: z.coerce.number().int().min(1).max(300).default(15)
    .describe('how often an alert stream (`GET /v1/alerts/stream`) sends a heartbeat comment and checks again that its caller may still read alerts (session, status, permission); keep it below proxies\' idle timeouts')
    .meta({ example: '30' }),
  // Monitoring (docs/monitoring.md).
  CUSTOS_MONITORING: bool.default(true)
    .describe('run the detectors (alerts from the committed decision and audit records); every replica takes part, one at a time consumes')
    .meta({ example: 'false' }),
  CUSTOS_MONITORING_FILE: z.string().min(1).optional()
    .describe('the monitoring policy (detectors, thresholds, working hours, time zone), validated at start-up')
    .meta({ example: '/etc/custos/monitoring.yaml', unset: 'the shipped `policies/monitoring.yaml`' }),
  CUSTOS_MONITORING_POLL_MS: z.coerce.number().int().min(10).max(60_000).default(100)
    .describe('pause of the detection loop when it found nothing new (ms)')
    .meta({ example: '100' }),
  CUSTOS_MONITORING_BATCH: z.coerce.number().int().min(1).max(100_000).default(1000)
    .describe('records read per chain per detection pass')
    .meta({ example: '5000' }),
  // Replicas, connection budgeting and PgBouncer (docs/kubernetes.md).
  CUSTOS_MIGRATE_AT_START: bool.default(true)
    .describe('apply pending migrations at start. `false` (Kubernetes, where a Job migrates first): only check that the schema is current, and wait without serving (readiness fails) until it is; an applied migration this version does not know, or a changed one, stops start-up')
    .meta({ example: 'false' }),
  CUSTOS_REPLICAS: z.coerce.number().int().min(1).max(10_000).default(1)
    .describe('most replicas (pods) that may run at once, e.g. the HorizontalPodAutoscaler\'s `maxReplicas` plus the rollout surge; start-up refuses when their connections would not fit the server\'s `max_connections`')
    .meta({ example: '11' }),
  CUSTOS_DB_POOLER: z.enum(['none', 'transaction']).default('none')
    .describe('`transaction`: `DATABASE_URL` is a transaction-mode pooler (PgBouncer): the pool prepares no statements and sends no role, and whatever holds session state (change listeners, the monitoring lock, migrations) uses `DATABASE_DIRECT_URL`')
    .meta({ example: 'transaction' }),
  DATABASE_DIRECT_URL: z.string().min(1).optional()
    .describe('direct PostgreSQL connection (as the owning user) beside a pooler; required with `CUSTOS_DB_POOLER=transaction`')
    .meta({ example: 'postgres://custos:…@custos-db-rw:5432/custos' }),
  DATABASE_DIRECT_URL_FILE: z.string().min(1).optional()
    .describe('read `DATABASE_DIRECT_URL` from a file; not with `DATABASE_DIRECT_URL`')
    .meta({ example: '/run/secrets/database-direct-url' }),
  // Rate limits on the deciding routes (docs/rate-limits.md): `rate:burst`, requests per second and the most at once.
  CUSTOS_RATE_LIMITS: bool.default(true)
    .describe('token buckets per client and per source address on `POST /oauth2/token`, `/v1/decisions` and `/v1/decisions/batch`, shared by every replica through PostgreSQL; over them: `429` with `Retry-After` and `RateLimit` headers')
    .meta({ example: 'false' }),
  CUSTOS_RATE_LIMIT_SERVICE: z.string().regex(LIMIT, 'rate:burst, e.g. 200:400').default('10000:20000')
    .describe('each service (client credentials): requests per second and burst, `rate:burst` (a batch costs one per decision in it)')
    .meta({ example: '200:400' }),
  CUSTOS_RATE_LIMIT_USER: z.string().regex(LIMIT, 'rate:burst, e.g. 20:40').default('500:1000')
    .describe('each person (a session, e.g. an administrator\'s what-if decisions): `rate:burst`')
    .meta({ example: '20:40' }),
  CUSTOS_RATE_LIMIT_ADDRESS: z.string().regex(LIMIT, 'rate:burst, e.g. 1000:2000').default('20000:40000')
    .describe('each source address (as audit events record it: behind `CUSTOS_TRUST_PROXY`, the forwarded client), checked before the caller authenticates: `rate:burst`')
    .meta({ example: '1000:2000' }),
  CUSTOS_RATE_LIMIT_CLIENTS: z.string().regex(CLIENT_LIMITS, 'id=rate:burst, comma-separated').optional()
    .describe('a client\'s own limit, replacing its class\'s: principal id or client id `=rate:burst`, comma-separated')
    .meta({ example: 'feature-store=5000:10000,0198c0de-…=10:10' }),
  CUSTOS_RATE_LIMIT_LEASE: z.coerce.number().min(0.001).max(1).default(0.1)
    .describe('share of a second\'s worth of tokens a replica leases from the shared bucket at once (the most a client can exceed its limit by is this lease per replica)')
    .meta({ example: '0.05' }),
  CUSTOS_RATE_LIMIT_AUDIT_SECONDS: seconds(60)
    .describe('throttling is audited once per client or address per window of this length (`ratelimit.throttled`, with the count)')
    .meta({ example: '300' }),
});

/** The validated, typed configuration every module reads from. */
export interface Config {
  env: 'development' | 'production' | 'test';
  /** Connection string of an external PostgreSQL, or undefined for the embedded one. */
  databaseUrl: string | undefined;
  dataDir: string;
  embeddedPgPort: number;
  port: number;
  host: string;
  publicUrl: string;
  tls: { certFile: string; keyFile: string } | undefined;
  /** Express `trust proxy` value (a hop count, or addresses), or undefined when no proxy is trusted. */
  trustProxy: string | number | undefined;
  /**
   * Plain HTTP beyond loopback behind a TLS-terminating proxy: every request
   * but a health probe must come from that proxy and say it arrived over HTTPS.
   */
  proxyOnly: boolean;
  /** 32-byte key for AES-256-GCM secrets at rest, or undefined to generate one (embedded only). */
  encryptionKey: Buffer | undefined;
  encryptionKeyFile: string | undefined;
  logLevel: string;
  bodyLimit: string;
  sessionTtlSeconds: number;
  sessionMaxSeconds: number;
  idleTimeoutSeconds: number;
  stepUpSeconds: number;
  webauthnRequiredRoles: string[];
  webauthn: { rpId: string; rpName: string; origins: string[] };
  lockout: { accountAttempts: number; sourceAttempts: number; baseSeconds: number; maxSeconds: number; windowSeconds: number };
  mfaChallengeTtlSeconds: number;
  enrollmentTtlSeconds: number;
  totpIssuer: string;
  dbPoolMax: number;
  /** Role of the application's pool (undefined: the connecting user). */
  dbRole: string | undefined;
  /**
   * Log retention in months (default six years); how often chain heads are
   * checkpointed and the registry of chains anchored; the audit root (its
   * key file's PEM, or derived from the encryption key), the pinned root public
   * keys, and the anchor file.
   */
  audit: { retentionMonths: number; checkpointSeconds: number; registrySeconds: number; rootKeyPem: string | undefined; rootPublicKeys: string[]; anchorFile: string | undefined };
  shutdownGraceSeconds: number;
  requestTimeoutMs: number;
  /** Create the first administrator at start-up when none exists. */
  autoBootstrap: boolean;
  /** Periodic policy recompile, the safety net behind change notifications. */
  policyReloadSeconds: number;
  /** Liveness check of the change listener (ms). */
  factsHeartbeatMs: number;
  /** Server processes to run. */
  workers: number;
  /** Lifetime of a pending (dual-control) change, checked at use. */
  changeTtlSeconds: number;
  /** Caps of policy administration: condition cost, test files, the checking worker, simulation range. */
  policyLimits: PolicyLimits;
  /** Default lifetime of a dataset token, and the cap no request or grant can exceed. */
  tokenTtlSeconds: number;
  tokenMaxSeconds: number;
  /** Signing-key rotation: seconds a new key is published before it signs. */
  keyPublishAheadSeconds: number;
  /** Just-in-time access: shortest justification, furthest scheduled start, break-glass cap. */
  jit: { minJustification: number; maxStartAheadSeconds: number; breakGlassMaxSeconds: number; requestTtlSeconds: number };
  /** Where workflow notifications go (HMAC-signed), or undefined for none. */
  webhook: { url: string; secret: string; maxAttempts: number; retryBaseSeconds: number; timeoutMs: number } | undefined;
  /** Source addresses/CIDRs served /metrics without credentials (empty: none). */
  metricsAllow: string[];
  /** Incidents: the zone calendar days are counted in (canonical IANA name), and the reminder points in days before the deadline. */
  incidents: { timeZone: string; reminderDays: number[] };
  /** Heartbeat (and access re-check) interval of alert streams. */
  alertStreamHeartbeatSeconds: number;
  /** Detection: on or off, the policy file (undefined: the shipped one), poll pause and batch size. */
  monitoring: { enabled: boolean; file: string | undefined; pollMs: number; batch: number };
  /**
   * Replicas and the database behind them (docs/kubernetes.md): migrate at
   * start or only wait for a current schema; the most replicas at once (the
   * connection budget); a transaction pooler in front of the pool, and the
   * direct URL session state needs then.
   */
  deployment: { migrateAtStart: boolean; replicas: number; pooler: 'none' | 'transaction'; directUrl: string | undefined };
  /** Rate limits on the deciding routes (docs/rate-limits.md); undefined: off. */
  rateLimits: RateLimitSettings | undefined;
}

/** The caps of policy administration (see docs/policies.md, "Policy administration"). */
export interface PolicyLimits {
  /** Cost budget of one condition evaluation, and the largest list/string/map it may build. */
  condition: { maxCost: number; maxElements: number };
  /** Policy test files: how many, cases per file, columns per case (requested or of a dataset), bytes in all. */
  tests: { maxFiles: number; maxCases: number; maxColumns: number; maxBytes: number };
  /** Validate, test and simulate run in worker threads with this deadline and heap, at most `workers` at once. */
  check: { timeoutMs: number; maxMemoryMb: number; workers: number };
  /** Widest time range one simulation may replay. */
  simulationMaxWindowSeconds: number;
}

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1';
  return false;
}

/** Decodes a 32-byte key given as base64 (44 chars) or hex (64 chars). */
export function parseEncryptionKey(text: string, source: string): Buffer {
  const t = text.trim();
  const key = /^[0-9a-f]{64}$/i.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64');
  if (key.length !== 32) {
    throw new ConfigError(`${source} must be 32 bytes, base64 or hex encoded (got ${key.length} bytes). Generate one with: openssl rand -base64 32`);
  }
  return key;
}

/**
 * Parses and validates the environment. Throws ConfigError, whose message
 * names the variable to set, on any invalid value or unsafe combination.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, readFile: (p: string) => string = defaultReadFile): Config {
  // An empty variable counts as unset (PORT= must not mean port 0).
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;

  if (e.DATABASE_URL && e.DATABASE_URL_FILE) throw new ConfigError('Set DATABASE_URL or DATABASE_URL_FILE, not both.');
  let databaseUrl = e.DATABASE_URL;
  if (e.DATABASE_URL_FILE) {
    try {
      databaseUrl = readFile(e.DATABASE_URL_FILE).trim();
    } catch {
      throw new ConfigError(`DATABASE_URL_FILE=${e.DATABASE_URL_FILE} cannot be read.`);
    }
  }

  if ((e.CUSTOS_TLS_CERT_FILE === undefined) !== (e.CUSTOS_TLS_KEY_FILE === undefined)) {
    throw new ConfigError('Set both CUSTOS_TLS_CERT_FILE and CUSTOS_TLS_KEY_FILE, or neither.');
  }
  const tls = e.CUSTOS_TLS_CERT_FILE && e.CUSTOS_TLS_KEY_FILE ? { certFile: e.CUSTOS_TLS_CERT_FILE, keyFile: e.CUSTOS_TLS_KEY_FILE } : undefined;

  // §164.312(e)(1) transmission security: credentials and tokens must not
  // cross a network in clear text. Beyond loopback we need TLS here or a
  // TLS-terminating proxy that the operator names explicitly.
  if (!isLoopback(e.HOST) && !tls && !e.CUSTOS_TRUST_PROXY && !e.CUSTOS_ALLOW_INSECURE_BIND) {
    throw new ConfigError(
      `HOST=${e.HOST} listens beyond loopback without TLS. Set CUSTOS_TLS_CERT_FILE and CUSTOS_TLS_KEY_FILE, ` +
        'or CUSTOS_TRUST_PROXY to the address of the TLS-terminating proxy in front of Custos.',
    );
  }

  // Plain HTTP beyond loopback is served only to the proxy named here, and
  // only for requests it says arrived over HTTPS (see http/middleware.ts
  // `viaTlsProxy`). A hop count or `loopback` would let any client, or any
  // process on the host, pass for that proxy.
  const behindProxy = !isLoopback(e.HOST) && !tls && e.CUSTOS_TRUST_PROXY !== undefined;
  if (behindProxy) {
    const entries = e.CUSTOS_TRUST_PROXY!.split(',').map((x) => x.trim());
    if (/^\d+$/.test(e.CUSTOS_TRUST_PROXY!) || entries.includes('loopback')) {
      throw new ConfigError(
        `CUSTOS_TRUST_PROXY=${e.CUSTOS_TRUST_PROXY} cannot name the proxy for HOST=${e.HOST} without TLS: ` +
          'give the address or CIDR of the TLS-terminating proxy itself (not a hop count or "loopback"), so no other client can pass for it.',
      );
    }
  }

  if (e.CUSTOS_ENCRYPTION_KEY && e.CUSTOS_ENCRYPTION_KEY_FILE) {
    throw new ConfigError('Set CUSTOS_ENCRYPTION_KEY or CUSTOS_ENCRYPTION_KEY_FILE, not both.');
  }
  let encryptionKey: Buffer | undefined;
  if (e.CUSTOS_ENCRYPTION_KEY) encryptionKey = parseEncryptionKey(e.CUSTOS_ENCRYPTION_KEY, 'CUSTOS_ENCRYPTION_KEY');
  if (e.CUSTOS_ENCRYPTION_KEY_FILE) {
    let text: string;
    try {
      text = readFile(e.CUSTOS_ENCRYPTION_KEY_FILE);
    } catch {
      throw new ConfigError(`CUSTOS_ENCRYPTION_KEY_FILE=${e.CUSTOS_ENCRYPTION_KEY_FILE} cannot be read.`);
    }
    encryptionKey = parseEncryptionKey(text, 'CUSTOS_ENCRYPTION_KEY_FILE');
  }
  let rootKeyPem: string | undefined;
  if (e.CUSTOS_AUDIT_ROOT_KEY_FILE) {
    try {
      rootKeyPem = readFile(e.CUSTOS_AUDIT_ROOT_KEY_FILE);
    } catch {
      throw new ConfigError(`CUSTOS_AUDIT_ROOT_KEY_FILE=${e.CUSTOS_AUDIT_ROOT_KEY_FILE} cannot be read.`);
    }
  }
  // A generated key is only acceptable for a local, embedded development setup.
  if (!encryptionKey && (e.CUSTOS_ENV === 'production' || databaseUrl)) {
    throw new ConfigError(
      'No encryption key: set CUSTOS_ENCRYPTION_KEY (32 bytes, base64) or CUSTOS_ENCRYPTION_KEY_FILE. ' +
        'A key is generated automatically only for the embedded development database.',
    );
  }

  if (e.CUSTOS_WEBHOOK_URL && !e.CUSTOS_WEBHOOK_SECRET) throw new ConfigError('CUSTOS_WEBHOOK_SECRET must be set (32+ characters) when CUSTOS_WEBHOOK_URL is: notifications are always signed.');

  const timeZone = canonicalTimeZone(e.CUSTOS_TIME_ZONE);
  if (!timeZone) throw new ConfigError(`CUSTOS_TIME_ZONE=${JSON.stringify(e.CUSTOS_TIME_ZONE)} is not a known IANA time zone (e.g. America/New_York, Europe/London, UTC).`);
  const reminderDays = [...new Set(e.CUSTOS_INCIDENT_REMINDER_DAYS.split(',').map((d) => Number(d.trim())))].sort((a, b) => b - a);
  if (reminderDays.some((d) => d >= NOTIFICATION_DAYS)) throw new ConfigError(`CUSTOS_INCIDENT_REMINDER_DAYS: each point must be under ${NOTIFICATION_DAYS} days before the deadline.`);

  const deployment = deploymentOf(e, databaseUrl, readFile);

  const scheme = tls ? 'https' : 'http';
  const shownHost = e.HOST.includes(':') ? `[${e.HOST}]` : e.HOST;
  const publicUrl = (e.CUSTOS_PUBLIC_URL ?? `${scheme}://${shownHost}:${e.PORT}`).replace(/\/+$/, '');

  // WebAuthn RP ID: a registrable domain, never an IP address (WebAuthn §5.1.3).
  const publicHost = new URL(publicUrl).hostname.replace(/^\[|\]$/g, '');
  const rpId = e.CUSTOS_WEBAUTHN_RP_ID ?? (isIP(publicHost) ? 'localhost' : publicHost);
  if (isIP(rpId)) throw new ConfigError('CUSTOS_WEBAUTHN_RP_ID must be a domain name, not an IP address.');
  const origins = e.CUSTOS_WEBAUTHN_ORIGINS
    ? e.CUSTOS_WEBAUTHN_ORIGINS.split(',').map((o) => o.trim()).filter(Boolean)
    : isIP(publicHost)
      ? [`${new URL(publicUrl).protocol}//localhost:${new URL(publicUrl).port || (tls ? 443 : 80)}`]
      : [new URL(publicUrl).origin];
  for (const o of origins) {
    let u: URL;
    try {
      u = new URL(o);
    } catch {
      throw new ConfigError(`CUSTOS_WEBAUTHN_ORIGINS: ${o} is not an origin.`);
    }
    if (u.protocol !== 'https:' && u.hostname !== 'localhost') throw new ConfigError(`CUSTOS_WEBAUTHN_ORIGINS: ${o} must use https (http only for localhost).`);
  }

  return {
    env: e.CUSTOS_ENV,
    databaseUrl,
    dataDir: path.resolve(e.CUSTOS_DATA_DIR),
    embeddedPgPort: e.CUSTOS_EMBEDDED_PG_PORT,
    port: e.PORT,
    host: e.HOST,
    publicUrl,
    tls,
    // A bare number is a hop count for express; as a string it would be read as an address.
    trustProxy: e.CUSTOS_TRUST_PROXY && /^\d+$/.test(e.CUSTOS_TRUST_PROXY) ? Number(e.CUSTOS_TRUST_PROXY) : e.CUSTOS_TRUST_PROXY,
    proxyOnly: behindProxy,
    encryptionKey,
    encryptionKeyFile: e.CUSTOS_ENCRYPTION_KEY_FILE,
    logLevel: e.CUSTOS_LOG_LEVEL,
    bodyLimit: e.CUSTOS_BODY_LIMIT,
    sessionTtlSeconds: e.CUSTOS_SESSION_TTL_SECONDS,
    sessionMaxSeconds: e.CUSTOS_SESSION_MAX_SECONDS,
    idleTimeoutSeconds: e.CUSTOS_IDLE_TIMEOUT_SECONDS,
    stepUpSeconds: e.CUSTOS_STEP_UP_SECONDS,
    webauthnRequiredRoles: e.CUSTOS_WEBAUTHN_REQUIRED_ROLES.split(',').map((r) => r.trim()).filter(Boolean),
    webauthn: { rpId, rpName: e.CUSTOS_WEBAUTHN_RP_NAME, origins },
    lockout: {
      accountAttempts: e.CUSTOS_LOCKOUT_ACCOUNT_ATTEMPTS,
      sourceAttempts: e.CUSTOS_LOCKOUT_SOURCE_ATTEMPTS,
      baseSeconds: e.CUSTOS_LOCKOUT_BASE_SECONDS,
      maxSeconds: e.CUSTOS_LOCKOUT_MAX_SECONDS,
      windowSeconds: e.CUSTOS_LOCKOUT_WINDOW_SECONDS,
    },
    mfaChallengeTtlSeconds: e.CUSTOS_MFA_CHALLENGE_TTL_SECONDS,
    enrollmentTtlSeconds: e.CUSTOS_ENROLLMENT_TTL_SECONDS,
    totpIssuer: e.CUSTOS_TOTP_ISSUER,
    dbPoolMax: e.CUSTOS_DB_POOL_MAX,
    dbRole: e.CUSTOS_DB_ROLE === 'none' ? undefined : e.CUSTOS_DB_ROLE,
    audit: {
      retentionMonths: e.CUSTOS_AUDIT_RETENTION_MONTHS,
      checkpointSeconds: e.CUSTOS_AUDIT_CHECKPOINT_SECONDS,
      registrySeconds: e.CUSTOS_AUDIT_REGISTRY_SECONDS,
      rootKeyPem,
      rootPublicKeys: (e.CUSTOS_AUDIT_ROOT_PUBLIC_KEYS ?? '').split(',').map((k) => k.trim()).filter(Boolean),
      anchorFile: e.CUSTOS_AUDIT_ANCHOR_FILE,
    },
    shutdownGraceSeconds: e.CUSTOS_SHUTDOWN_GRACE_SECONDS,
    requestTimeoutMs: e.CUSTOS_REQUEST_TIMEOUT_MS,
    autoBootstrap: e.CUSTOS_AUTO_BOOTSTRAP,
    policyReloadSeconds: e.CUSTOS_POLICY_RELOAD_SECONDS,
    factsHeartbeatMs: e.CUSTOS_FACTS_HEARTBEAT_MS,
    workers: e.CUSTOS_WORKERS === 'auto' ? autoWorkers(availableParallelism(), databaseUrl) : e.CUSTOS_WORKERS,
    changeTtlSeconds: e.CUSTOS_CHANGE_TTL_SECONDS,
    policyLimits: {
      condition: { maxCost: e.CUSTOS_POLICY_CONDITION_MAX_COST, maxElements: e.CUSTOS_POLICY_CONDITION_MAX_ELEMENTS },
      tests: { maxFiles: e.CUSTOS_POLICY_TESTS_MAX_FILES, maxCases: e.CUSTOS_POLICY_TESTS_MAX_CASES, maxColumns: e.CUSTOS_POLICY_TESTS_MAX_COLUMNS, maxBytes: e.CUSTOS_POLICY_TESTS_MAX_BYTES },
      check: { timeoutMs: e.CUSTOS_POLICY_CHECK_TIMEOUT_MS, maxMemoryMb: e.CUSTOS_POLICY_CHECK_MAX_MEMORY_MB, workers: e.CUSTOS_POLICY_CHECK_WORKERS },
      simulationMaxWindowSeconds: e.CUSTOS_POLICY_SIMULATION_MAX_WINDOW_SECONDS,
    },
    tokenTtlSeconds: Math.min(e.CUSTOS_TOKEN_TTL_SECONDS, e.CUSTOS_TOKEN_MAX_SECONDS),
    tokenMaxSeconds: e.CUSTOS_TOKEN_MAX_SECONDS,
    keyPublishAheadSeconds: e.CUSTOS_KEY_PUBLISH_AHEAD_SECONDS,
    jit: {
      minJustification: e.CUSTOS_JIT_MIN_JUSTIFICATION,
      maxStartAheadSeconds: e.CUSTOS_JIT_MAX_START_AHEAD_SECONDS,
      breakGlassMaxSeconds: e.CUSTOS_BREAK_GLASS_MAX_SECONDS,
      requestTtlSeconds: e.CUSTOS_ACCESS_REQUEST_TTL_SECONDS,
    },
    webhook: e.CUSTOS_WEBHOOK_URL
      ? { url: e.CUSTOS_WEBHOOK_URL, secret: e.CUSTOS_WEBHOOK_SECRET!, maxAttempts: e.CUSTOS_WEBHOOK_MAX_ATTEMPTS, retryBaseSeconds: e.CUSTOS_WEBHOOK_RETRY_BASE_SECONDS, timeoutMs: 5000 }
      : undefined,
    metricsAllow: metricsAllowList(e.CUSTOS_METRICS_ALLOW),
    incidents: { timeZone, reminderDays },
    alertStreamHeartbeatSeconds: e.CUSTOS_ALERT_STREAM_HEARTBEAT_SECONDS,
    monitoring: { enabled: e.CUSTOS_MONITORING, file: e.CUSTOS_MONITORING_FILE, pollMs: e.CUSTOS_MONITORING_POLL_MS, batch: e.CUSTOS_MONITORING_BATCH },
    deployment,
    rateLimits: e.CUSTOS_RATE_LIMITS ? rateLimitsOf(e) : undefined,
  };
}

/** A `rate:burst` setting. */
function limitOf(text: string): Limit {
  const [rate, burst] = text.split(':').map((x) => Number(x.trim()));
  return { rate: rate!, burst: burst! };
}

/** The rate limits of the CUSTOS_RATE_LIMIT_* settings (docs/rate-limits.md). */
function rateLimitsOf(e: z.infer<typeof envSchema>): RateLimitSettings {
  const clients = new Map<string, Limit>();
  for (const entry of (e.CUSTOS_RATE_LIMIT_CLIENTS ?? '').split(',').filter((x) => x.trim())) {
    const [id, limit] = entry.split('=');
    if (clients.has(id!.trim())) throw new ConfigError(`CUSTOS_RATE_LIMIT_CLIENTS names ${id!.trim()} twice.`);
    clients.set(id!.trim(), limitOf(limit!));
  }
  return {
    classes: { service: limitOf(e.CUSTOS_RATE_LIMIT_SERVICE), user: limitOf(e.CUSTOS_RATE_LIMIT_USER), address: limitOf(e.CUSTOS_RATE_LIMIT_ADDRESS) },
    clients,
    leaseFraction: e.CUSTOS_RATE_LIMIT_LEASE,
    leaseTtlMs: 1000,
    auditWindowSeconds: e.CUSTOS_RATE_LIMIT_AUDIT_SECONDS,
  };
}

/**
 * The worker count `CUSTOS_WORKERS=auto` gives: one per core, less one when
 * the database shares this machine. PostgreSQL spends on each durable
 * decision half to three quarters of the CPU Custos does, so on 2 cores two
 * workers left it too little: durable decisions fell 16–29 % against one
 * worker (docs/operations.md, Workers; bench/results/env-ab-*.jsonl).
 * No URL means the embedded database; a loopback host or a Unix socket (a
 * `host` parameter that is a path, or a percent-encoded path as the host)
 * means one on this machine; anything else, or a URL this cannot read, is
 * remote.
 */
export function autoWorkers(cores: number, databaseUrl: string | undefined): number {
  return databaseOnThisMachine(databaseUrl) ? Math.max(1, cores - 1) : cores;
}

function databaseOnThisMachine(databaseUrl: string | undefined): boolean {
  if (databaseUrl === undefined) return true;
  try {
    const url = new URL(databaseUrl);
    const socket = url.searchParams.get('host');
    if (socket !== null) return socket.startsWith('/');
    const host = decodeURIComponent(url.hostname).replace(/^\[|\]$/g, '');
    return host === '' || host.startsWith('/') || isLoopback(host);
  } catch {
    return false;
  }
}

/**
 * Replica settings. Behind a transaction pooler, LISTEN, session advisory
 * locks and prepared statements do not survive from one transaction to the
 * next (the pooler hands each transaction any server connection), so a direct
 * URL is required then, and it is refused without one: a listener on the
 * pooler would hear nothing and decide on stale facts.
 */
function deploymentOf(e: z.infer<typeof envSchema>, databaseUrl: string | undefined, readFile: (p: string) => string): Config['deployment'] {
  if (e.DATABASE_DIRECT_URL && e.DATABASE_DIRECT_URL_FILE) throw new ConfigError('Set DATABASE_DIRECT_URL or DATABASE_DIRECT_URL_FILE, not both.');
  let directUrl = e.DATABASE_DIRECT_URL;
  if (e.DATABASE_DIRECT_URL_FILE) {
    try {
      directUrl = readFile(e.DATABASE_DIRECT_URL_FILE).trim();
    } catch {
      throw new ConfigError(`DATABASE_DIRECT_URL_FILE=${e.DATABASE_DIRECT_URL_FILE} cannot be read.`);
    }
  }
  if (e.CUSTOS_DB_POOLER === 'transaction') {
    if (!databaseUrl) throw new ConfigError('CUSTOS_DB_POOLER=transaction needs DATABASE_URL (or DATABASE_URL_FILE): the pooler\'s address.');
    if (!directUrl) {
      throw new ConfigError(
        'CUSTOS_DB_POOLER=transaction needs DATABASE_DIRECT_URL (or DATABASE_DIRECT_URL_FILE): change listeners, the monitoring lock and migrations need a direct connection to PostgreSQL.',
      );
    }
  } else if (directUrl) {
    throw new ConfigError('DATABASE_DIRECT_URL is used only with CUSTOS_DB_POOLER=transaction; set that too, or unset it.');
  }
  return { migrateAtStart: e.CUSTOS_MIGRATE_AT_START, replicas: e.CUSTOS_REPLICAS, pooler: e.CUSTOS_DB_POOLER, directUrl };
}

/** CUSTOS_METRICS_ALLOW as a list of addresses/CIDRs, each checked now (a typo must not widen or silently narrow access). */
function metricsAllowList(value: string): string[] {
  if (value === 'none') return [];
  const entries = value.split(',').map((x) => x.trim());
  for (const entry of entries) {
    const [address, prefix] = entry.split('/');
    const family = isIP(address!);
    const bits = family === 4 ? 32 : 128;
    if (!family || (prefix !== undefined && Number(prefix) > bits)) throw new ConfigError(`CUSTOS_METRICS_ALLOW: ${entry} is not an address or CIDR.`);
  }
  return entries;
}

function defaultReadFile(p: string): string {
  return readFileSync(p, 'utf8');
}
