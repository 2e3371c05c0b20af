/**
 * What the authentication operations need, passed in one object.
 */
import type { CatalogStore } from '../catalog/store.ts';
import type { Clock, IdGenerator } from '../clock.ts';
import type { AuthStore } from './store.ts';

/** Dependencies of the authentication operations. */
export interface AuthDeps {
  store: AuthStore;
  catalog: CatalogStore;
  clock: Clock;
  ids: IdGenerator;
  /** AES-256-GCM key sealing TOTP secrets at rest. */
  encryptionKey: Buffer;
  settings: {
    sessionTtlSeconds: number;
    mfaChallengeTtlSeconds: number;
    enrollmentTtlSeconds: number;
    totpIssuer: string;
  };
}

/** Wrong second-factor codes a single MFA challenge tolerates before it is burned. */
export const MAX_CHALLENGE_FAILURES = 5;
