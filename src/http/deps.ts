/**
 * Everything the HTTP layer needs, built by main.ts (or a test).
 */
import type { AuditKeys } from '../audit/auditKeys.ts';
import type { AuditLog, StoredAuditEvent } from '../audit/log.ts';
import type { VerifyProgress, VerifyReport } from '../audit/verify.ts';
import type { ReportDeps } from '../audit/reports.ts';
import type { AuthDeps } from '../auth/deps.ts';
import type { CatalogStore } from '../catalog/store.ts';
import type { Clock } from '../clock.ts';
import type { PolicyLimits } from '../config.ts';
import type { DecisionDeps } from '../decisions/makeDecision.ts';
import type { FactsStore } from '../decisions/facts.ts';
import type { GrantDeps } from '../grants/deps.ts';
import type { Logger } from '../logger.ts';
import type { PolicyChecker } from '../policy/checkInWorker.ts';
import type { LoggedRequestSource } from '../policy/simulate.ts';
import type { PolicyStore } from '../policy/store.ts';
import type { TokenSettings } from '../tokens/issueToken.ts';
import type { KeyRing } from '../tokens/keyRing.ts';
import type { TokenStateStore } from '../tokens/verifyToken.ts';

/** Dependencies of {@link createApp}. */
export interface AppDeps {
  /** Token-signing keys and the published JWKS. */
  keys: KeyRing;
  /** Dataset tokens: revocation state and lifetimes. */
  tokens: { state: TokenStateStore; settings: TokenSettings };
  catalog: CatalogStore;
  audit: AuditLog & { recent(filter: { type?: string; actorId?: string; limit?: number }): Promise<StoredAuditEvent[]> };
  auth: AuthDeps;
  decisions: DecisionDeps;
  /** The tamper-evident logs: checkpoint keys and verification. */
  auditLog: {
    keys: AuditKeys;
    verify(range: { from: Date; to: Date }, onProgress?: (p: VerifyProgress) => void): Promise<VerifyReport>;
  };
  /** Policy versions, what simulations replay (logged requests, uncached facts), and the caps of policy administration. */
  policies: { store: PolicyStore; replay: LoggedRequestSource; facts: FactsStore; limits: PolicyLimits; checker: PolicyChecker };
  /** Just-in-time access requests, grants and break-glass. */
  grants: GrantDeps;
  /** The security reviewer's reads: log queries, exports and reports. */
  auditRead: ReportDeps;
  /** Empties the caches of facts and service contexts (after a write). */
  invalidate: () => void;
  clock: Clock;
  log: Logger;
  /** Resolves when the database answers; rejects otherwise. */
  checkDatabase: () => Promise<void>;
  settings: {
    bodyLimit: string;
    publicUrl: string;
    trustProxy: string | number | undefined;
    version: string;
    /** Longest a request may take before it is answered 503. */
    requestTimeoutMs: number;
  };
}
