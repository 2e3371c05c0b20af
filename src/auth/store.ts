/**
 * What authentication needs stored: passwords, enrollments, TOTP factors,
 * MFA challenges and sessions. Every "use once" operation is a single
 * conditional UPDATE, so two concurrent uses cannot both succeed.
 */
import type { Tx } from '../db/client.ts';

/** A stored TOTP factor (secret still sealed). */
export interface TotpFactorRow {
  id: string;
  principalId: string;
  secretEnc: Buffer;
  lastTimeStep: number | null;
  confirmedAt: Date | null;
}

/** A stored session: one login, a family of access and refresh tokens. */
export interface SessionRow {
  id: string;
  principalId: string;
  scope: 'full' | 'enrollment';
  amr: string[];
  authTime: Date;
  /** Absolute end of the session, whatever the refreshes. */
  expiresAt: Date;
  revokedAt: Date | null;
  lastSeenAt: Date;
  /** Last time a second factor was proven (login or step-up). */
  mfaAt: Date | null;
  mfaMethod: 'totp' | 'webauthn' | 'recovery' | null;
}

/** What a refresh token turned out to be. */
export type RefreshUse = { status: 'ok'; sessionId: string } | { status: 'reused'; sessionId: string } | { status: 'invalid' };

/** Outcome of reserving an authentication attempt. */
export type AttemptReservation = { allowed: true } | { allowed: false; retryAfterSeconds: number; lockedNow: boolean };

/** Limits of one throttle key. */
export interface ThrottleLimits {
  /** Attempts allowed before a lockout. */
  budget: number;
  /** First lockout; each further one doubles, up to maxLockSeconds. */
  baseLockSeconds: number;
  maxLockSeconds: number;
  /** Attempts older than this (and not locked) are forgotten. */
  windowSeconds: number;
}

/** A registered WebAuthn credential. */
export interface WebauthnCredentialRow {
  id: string;
  principalId: string;
  name: string;
  publicKey: Buffer;
  counter: number;
  transports: string[];
  deviceType: string;
  backedUp: boolean;
  createdAt: Date;
  lastUsedAt: Date | null;
}

/** A pending WebAuthn challenge. */
export interface WebauthnChallengeRow {
  challenge: string;
  purpose: 'register' | 'second-factor' | 'passkey' | 'step-up';
  principalId: string | null;
  sessionId: string | null;
  mfaChallengeId: string | null;
}

/** A second factor as listed to its owner. */
export interface FactorSummary {
  id: string;
  type: 'totp' | 'webauthn';
  name: string;
  created_at: string;
  last_used_at: string | null;
}

/** What a recovery took from a person: ids of factors (never their secrets) and counts. */
export interface RemovedFactors {
  webauthn: string[];
  totp: string[];
  /** Unconfirmed TOTP factors (secrets handed out but never proven). */
  pendingTotp: number;
  /** Recovery codes, used or not. */
  recoveryCodes: number;
}

/** A webhook notification queued in the outbox (sent only when a webhook is configured). */
export interface QueuedNotification {
  id: string;
  event: string;
  at: Date;
  data: Record<string, unknown>;
}

/** Credential and session storage. */
export interface AuthStore {
  /**
   * Runs `fn` in one transaction: the store it receives writes through it,
   * and `tx` is for `audit.recordIn`, so a change and its event commit together.
   * On a store already bound to a transaction, `fn` joins that one.
   */
  transaction<T>(fn: (store: AuthStore, tx: Tx) => Promise<T>): Promise<T>;
  /** This store, writing through the caller's transaction. */
  within(tx: Tx): AuthStore;
  /**
   * Locks the person's row until the transaction ends, so credential changes
   * of one person (issue, redeem, recovery, adding or removing a factor) run
   * one after the other. Call it inside {@link transaction} only.
   */
  lockPerson(principalId: string): Promise<void>;

  setPassword(principalId: string, hash: string): Promise<void>;
  getPasswordHash(principalId: string): Promise<string | undefined>;

  /** `issuedBy`: who receives the secret (null: the bootstrap or the host operator). */
  createEnrollment(e: { id: string; principalId: string; secretHash: Buffer; expiresAt: Date; issuedBy?: string | null | undefined }): Promise<void>;
  /** Marks the enrollment used if it belongs to the principal, is unused, unrevoked and unexpired; true when it did. */
  consumeEnrollment(principalId: string, secretHash: Buffer, now: Date): Promise<boolean>;
  /** What became of an enrollment secret of this person (to audit why it was refused). */
  enrollmentState(principalId: string, secretHash: Buffer, now: Date): Promise<'unknown' | 'used' | 'superseded' | 'enrolled' | 'expired' | 'live'>;
  /** Revokes every live (unused, unrevoked) enrollment secret of a person; returns their ids. */
  revokeEnrollments(principalId: string, now: Date, reason: 'superseded' | 'enrolled'): Promise<string[]>;
  /** Ends every pending MFA login challenge of a person; returns how many. */
  revokeMfaChallenges(principalId: string, now: Date): Promise<number>;
  /** Ends every pending WebAuthn challenge bound to a person; returns how many. */
  revokeWebauthnChallenges(principalId: string, now: Date): Promise<number>;
  /**
   * Removes every second factor of a person (WebAuthn credentials, TOTP
   * factors, recovery codes) and forgets their WebAuthn user handle.
   */
  removeAllFactors(principalId: string): Promise<RemovedFactors>;
  /** Whose MFA challenge this token was, live or not (to attribute a refused attempt). */
  mfaChallengeOwner(tokenHash: Buffer): Promise<string | undefined>;
  /** Queues a webhook notification (a no-op when no webhook is configured). */
  queueNotification(n: QueuedNotification): Promise<void>;
  /**
   * For a host-side recovery: whether the person holds the role
   * organisation-wide (directly or through a role that inherits it), and how
   * many other active holders could still sign in (have a second factor).
   */
  roleHoldersWithFactors(principalId: string, roleId: string): Promise<{ holds: boolean; othersWithFactors: number }>;
  /** How many active people hold the role organisation-wide (directly or through a role that inherits it). */
  activeRoleHolders(roleId: string): Promise<number>;
  /** Locks a role's row until the transaction ends (serialises changes to who holds it). */
  lockRole(roleId: string): Promise<void>;
  /** Whether a session is live (not revoked, not past its end). */
  sessionLive(sessionId: string, now: Date): Promise<boolean>;

  createTotpFactor(f: { id: string; principalId: string; secretEnc: Buffer }): Promise<void>;
  getTotpFactor(principalId: string, factorId: string): Promise<TotpFactorRow | undefined>;
  getConfirmedTotp(principalId: string): Promise<TotpFactorRow | undefined>;
  /** Confirms a pending factor (replacing any confirmed one) and records the accepted step. */
  confirmTotp(principalId: string, factorId: string, timeStep: number): Promise<boolean>;
  /** Records an accepted step only if it is newer than the last; false means a replay. */
  advanceTotpStep(factorId: string, timeStep: number): Promise<boolean>;

  /** Which kinds of second factor a person can use now. */
  listFactorKinds(principalId: string): Promise<('totp' | 'webauthn' | 'recovery')[]>;
  listFactors(principalId: string): Promise<FactorSummary[]>;
  /** Removes a TOTP or WebAuthn factor unless it is the person's last one. */
  deleteFactorUnlessLast(principalId: string, factorId: string): Promise<'deleted' | 'not_found' | 'last'>;

  /** The person's WebAuthn user handle, created on first use (random, never the principal id). */
  webauthnUserId(principalId: string, fresh: Buffer): Promise<Buffer>;
  /** The principal whose WebAuthn user handle this is. */
  principalByWebauthnUserId(userId: Buffer): Promise<string | undefined>;
  addWebauthnCredential(c: Omit<WebauthnCredentialRow, 'createdAt' | 'lastUsedAt'>): Promise<void>;
  listWebauthnCredentials(principalId: string): Promise<WebauthnCredentialRow[]>;
  getWebauthnCredential(id: string): Promise<WebauthnCredentialRow | undefined>;
  /**
   * Stores the counter reported by an assertion if it is larger than the
   * stored one (or both are 0: synced passkeys); false means a regression.
   */
  advanceWebauthnCounter(id: string, newCounter: number, now: Date): Promise<boolean>;
  createWebauthnChallenge(c: WebauthnChallengeRow & { expiresAt: Date }): Promise<void>;
  /** Consumes an unexpired challenge of this purpose exactly once. */
  consumeWebauthnChallenge(challenge: string, purpose: WebauthnChallengeRow['purpose'], now: Date): Promise<WebauthnChallengeRow | undefined>;

  /** Replaces a person's recovery codes (HMACs of the codes). */
  replaceRecoveryCodes(principalId: string, codes: { id: string; hmac: Buffer }[]): Promise<void>;
  /** Spends a recovery code exactly once. */
  useRecoveryCode(principalId: string, hmac: Buffer, now: Date): Promise<boolean>;
  countRecoveryCodes(principalId: string): Promise<number>;

  createMfaChallenge(c: { id: string; principalId: string; tokenHash: Buffer; expiresAt: Date }): Promise<void>;
  /** The live challenge for this token, or undefined (unknown, expired, used, or burned by failures). */
  findMfaChallenge(tokenHash: Buffer, now: Date, maxFailures: number): Promise<{ id: string; principalId: string } | undefined>;
  /** Consumes a challenge exactly once; false if it was already consumed. */
  consumeMfaChallenge(id: string): Promise<boolean>;
  recordMfaFailure(id: string): Promise<void>;

  createSession(s: {
    id: string;
    principalId: string;
    scope: 'full' | 'enrollment';
    amr: string[];
    authTime: Date;
    mfaAt: Date | null;
    mfaMethod: SessionRow['mfaMethod'];
    expiresAt: Date;
  }): Promise<void>;
  addSessionToken(t: { tokenHash: Buffer; sessionId: string; kind: 'access' | 'refresh'; expiresAt: Date }): Promise<void>;
  /** The session of a live access token, or undefined. */
  findAccessToken(tokenHash: Buffer, now: Date): Promise<SessionRow | undefined>;
  getSession(id: string): Promise<SessionRow | undefined>;
  /** Records activity (for the idle timeout). */
  touchSession(id: string, now: Date): Promise<void>;
  /** Spends a refresh token exactly once; a second use reports 'reused'. */
  useRefreshToken(tokenHash: Buffer, now: Date): Promise<RefreshUse>;
  /** Records a fresh second-factor proof on a session (step-up). */
  markStepUp(id: string, now: Date, method: NonNullable<SessionRow['mfaMethod']>): Promise<void>;
  revokeSession(id: string, now: Date): Promise<void>;
  /** Ends every live session of a principal (disabled, or signed out everywhere). */
  revokeAllSessions(principalId: string, now: Date): Promise<number>;

  /**
   * Counts an attempt against a key before the credential is checked, so
   * concurrent guesses cannot overrun the budget; locks the key when spent.
   */
  reserveAttempt(key: string, now: Date, limits: ThrottleLimits): Promise<AttemptReservation>;
  /** Seconds a key stays locked (0 when it is not), without counting an attempt. */
  lockedFor(key: string, now: Date): Promise<number>;
  /** Forgets the attempts and lockouts of an account key after a success. */
  clearAttempts(key: string): Promise<void>;
  /** Gives back the attempt a success used (source-address keys, shared by many people). */
  refundAttempt(key: string): Promise<void>;
  /** Deletes spent or long-expired challenges, tokens and idle throttle rows; returns how many rows went. */
  purgeExpired(now: Date, throttleWindowSeconds: number): Promise<number>;
}
