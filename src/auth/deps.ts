/**
 * What the authentication operations need, passed in one object.
 */
import type { AuditLog } from '../audit/log.ts';
import type { CatalogStore } from '../catalog/store.ts';
import type { Clock, IdGenerator } from '../clock.ts';
import type { TtlCache } from '../ttlCache.ts';
import type { ClientCredentialStore } from './clients/clientCredentials.ts';
import type { AuthContext } from './context.ts';
import type { AuthStore, ThrottleLimits } from './store.ts';

/** Authentication settings (from configuration). */
export interface AuthSettings {
  /** Lifetime of one access token. */
  sessionTtlSeconds: number;
  /** Lifetime of a session (token family) from login, across refreshes. */
  sessionMaxSeconds: number;
  /** Automatic logoff after this long without activity, §164.312(a)(2)(iii). */
  idleTimeoutSeconds: number;
  mfaChallengeTtlSeconds: number;
  enrollmentTtlSeconds: number;
  /** Sensitive actions need a second factor proven this recently. */
  stepUpSeconds: number;
  totpIssuer: string;
  /** Holders of these roles must step up with WebAuthn, not TOTP. */
  webauthnRequiredRoles: string[];
  webauthn: { rpId: string; rpName: string; origins: string[]; challengeTtlSeconds: number };
  throttle: { account: ThrottleLimits; source: ThrottleLimits };
}

/** Dependencies of the authentication operations. */
export interface AuthDeps {
  store: AuthStore;
  clients: ClientCredentialStore;
  catalog: CatalogStore;
  audit: AuditLog;
  clock: Clock;
  ids: IdGenerator;
  /** Authenticated service contexts, cached briefly and emptied on every catalog change. */
  clientContexts?: TtlCache<AuthContext>;
  /** AES-256-GCM key sealing TOTP secrets at rest (and keying recovery-code HMACs). */
  encryptionKey: Buffer;
  settings: AuthSettings;
}

/** Wrong second-factor codes a single MFA challenge tolerates before it is burned. */
export const MAX_CHALLENGE_FAILURES = 5;
