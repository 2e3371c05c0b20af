/**
 * What authentication needs stored: passwords, enrollments, TOTP factors,
 * MFA challenges and sessions. Every "use once" operation is a single
 * conditional UPDATE, so two concurrent uses cannot both succeed.
 */

/** A stored TOTP factor (secret still sealed). */
export interface TotpFactorRow {
  id: string;
  principalId: string;
  secretEnc: Buffer;
  lastTimeStep: number | null;
  confirmedAt: Date | null;
}

/** A stored session. */
export interface SessionRow {
  id: string;
  principalId: string;
  scope: 'full' | 'enrollment';
  amr: string[];
  authTime: Date;
  expiresAt: Date;
  revokedAt: Date | null;
}

/** Credential and session storage. */
export interface AuthStore {
  setPassword(principalId: string, hash: string): Promise<void>;
  getPasswordHash(principalId: string): Promise<string | undefined>;

  createEnrollment(e: { id: string; principalId: string; secretHash: Buffer; expiresAt: Date }): Promise<void>;
  /** Marks the enrollment used if it belongs to the principal, is unused and unexpired; true when it did. */
  consumeEnrollment(principalId: string, secretHash: Buffer, now: Date): Promise<boolean>;

  createTotpFactor(f: { id: string; principalId: string; secretEnc: Buffer }): Promise<void>;
  getTotpFactor(principalId: string, factorId: string): Promise<TotpFactorRow | undefined>;
  getConfirmedTotp(principalId: string): Promise<TotpFactorRow | undefined>;
  /** Confirms a pending factor (replacing any confirmed one) and records the accepted step. */
  confirmTotp(principalId: string, factorId: string, timeStep: number): Promise<boolean>;
  /** Records an accepted step only if it is newer than the last; false means a replay. */
  advanceTotpStep(factorId: string, timeStep: number): Promise<boolean>;

  createMfaChallenge(c: { id: string; principalId: string; tokenHash: Buffer; expiresAt: Date }): Promise<void>;
  /** The live challenge for this token, or undefined (unknown, expired, used, or burned by failures). */
  findMfaChallenge(tokenHash: Buffer, now: Date, maxFailures: number): Promise<{ id: string; principalId: string } | undefined>;
  /** Consumes a challenge exactly once; false if it was already consumed. */
  consumeMfaChallenge(id: string): Promise<boolean>;
  recordMfaFailure(id: string): Promise<void>;

  createSession(s: { id: string; principalId: string; tokenHash: Buffer; scope: 'full' | 'enrollment'; amr: string[]; authTime: Date; expiresAt: Date }): Promise<void>;
  findSession(tokenHash: Buffer): Promise<SessionRow | undefined>;
  revokeSession(id: string, now: Date): Promise<void>;
  /** Ends every live session of a principal (disabled, or signed out everywhere). */
  revokeAllSessions(principalId: string, now: Date): Promise<number>;
}
