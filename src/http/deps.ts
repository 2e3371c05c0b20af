/**
 * Everything the HTTP layer needs, built by main.ts (or a test).
 */
import type { ParsedAnchors } from '../audit/anchors.ts';
import type { AuditKeys } from '../audit/postgres/auditKeys.ts';
import type { WitnessStatus } from '../audit/witness.ts';
import type { AuditLog, StoredAuditEvent } from '../audit/log.ts';
import type { VerifyProgress, VerifyReport } from '../audit/postgres/verify.ts';
import type { AuditReader } from '../audit/reader.ts';
import type { AuthDeps } from '../auth/deps.ts';
import type { CatalogDeps } from '../catalog/deps.ts';
import type { CatalogStore } from '../catalog/store.ts';
import type { ChangeDeps } from '../changes/deps.ts';
import type { Clock } from '../clock.ts';
import type { PolicyLimits } from '../config.ts';
import type { DecisionDeps } from '../decisions/makeDecision.ts';
import type { FactsStore } from '../decisions/facts.ts';
import type { GrantDeps } from '../grants/deps.ts';
import type { IncidentDeps } from '../incidents/deps.ts';
import type { Logger } from '../logger.ts';
import type { AlertFeed } from '../monitoring/alertFeed.ts';
import type { AlertDeps } from '../monitoring/deps.ts';
import type { PolicyChecker } from '../policy/checkInWorker.ts';
import type { LoggedRequestSource } from '../policy/simulate.ts';
import type { PolicyStore } from '../policy/store.ts';
import type { TokenSettings } from '../tokens/issueToken.ts';
import type { KeyRing } from '../tokens/keyRing.ts';
import type { ResourceServerStore } from '../tokens/resourceServers.ts';
import type { TokenStateStore } from '../tokens/verifyToken.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { SourceAllow } from '../metrics/sourceAllow.ts';
import type { RateLimiter } from '../ratelimit/limiter.ts';

/** Dependencies of the request listener (createRequestListener in server.ts). */
export interface AppDeps {
  /** Token-signing keys and the published JWKS. */
  keys: KeyRing;
  /** Dataset tokens: revocation state, lifetimes, and the datasets each resource server serves. */
  tokens: { state: TokenStateStore; settings: TokenSettings; resourceServers: ResourceServerStore };
  catalog: CatalogStore;
  /** What the catalog's change operations need: each commits with its audit event. */
  catalogOps: CatalogDeps;
  audit: AuditLog & { recent(filter: { type?: string; actorId?: string; limit?: number }): Promise<StoredAuditEvent[]> };
  auth: AuthDeps;
  decisions: DecisionDeps;
  /** The tamper-evident logs: checkpoint keys and verification. */
  /** Whether an error means the database cannot be reached right now (db/'s classification): answered 503. */
  isUnavailable: (err: unknown) => boolean;
  auditLog: {
    keys: AuditKeys;
    /** The configured anchor file (verification reads it when no anchors are uploaded). */
    anchorFile: string | undefined;
    /** Each witness's health (/readyz). */
    witnesses: () => WitnessStatus[];
    verify(range: { from: Date; to: Date }, onProgress?: (p: VerifyProgress) => void, anchors?: ParsedAnchors): Promise<VerifyReport>;
  };
  /** Dual control: changes waiting for a second administrator. */
  changes: ChangeDeps;
  /** Policy versions, what simulations replay (logged requests, uncached facts), and the caps of policy administration. */
  policies: { store: PolicyStore; replay: LoggedRequestSource; facts: FactsStore; limits: PolicyLimits; checker: PolicyChecker };
  /** Just-in-time access requests, grants and break-glass. */
  grants: GrantDeps;
  /** The security reviewer's reads: log queries, exports and reports. */
  auditRead: AuditReader;
  /** Incidents: the notification clock, scope, determination and export. */
  incidents: IncidentDeps;
  /** Alerts: the reviewer's lifecycle operations, and the process's one change feed behind every alert stream (heartbeat every `heartbeatMs`). */
  alerts: AlertDeps & { feed: AlertFeed; heartbeatMs: number };
  /** Empties the caches of facts and service contexts (after a write). */
  invalidate: () => Promise<void>;
  clock: Clock;
  log: Logger;
  /** Resolves when the database answers; rejects otherwise. */
  checkDatabase: () => Promise<void>;
  /** GET /metrics (docs/metrics.md): the exposition text (this process's, or every worker's), the source addresses served without credentials, and the hooks the deciding routes call. */
  metrics: { scrape: () => Promise<string>; sourceAllowed: SourceAllow; hooks: Metrics };
  /** Rate limits on the deciding routes (docs/rate-limits.md); absent: none. */
  rateLimits?: RateLimiter | undefined;
  settings: {
    bodyLimit: string;
    publicUrl: string;
    trustProxy: string | number | undefined;
    /** Serve only requests that came through the trusted proxy over HTTPS (config `proxyOnly`). */
    proxyOnly: boolean;
    version: string;
    /** Longest a request may take before it is answered 503. */
    requestTimeoutMs: number;
  };
}
