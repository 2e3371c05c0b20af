/**
 * Domain errors. Each carries a stable machine-readable `code` and no HTTP
 * status: the single mapper in `src/http/errorMapper.ts` decides how a code
 * is presented to a client. Messages are safe to show; `detail` never is.
 */

/**
 * Every error code Custos publishes. The HTTP status map in
 * src/http/errorMapper.ts is a Record over this union, so a code added here
 * without its status fails to compile.
 */
export const ERROR_CODES = [
  'invalid_request',
  'unauthenticated',
  'invalid_credentials',
  'invalid_mfa',
  'step_up_required',
  'forbidden',
  'not_sponsor',
  'https_required',
  'not_found',
  'method_not_allowed',
  'conflict',
  'precondition_required',
  'policy_invalid',
  'policy_tests_failed',
  'policy_tests_too_large',
  'policy_check_limit',
  'policy_check_busy',
  'payload_too_large',
  'unsupported_media_type',
  'rate_limited',
  'unavailable',
  'audit_unavailable',
  'config_invalid',
  'decryption_failed',
  'migration_checksum_mismatch',
  'internal_error',
] as const;
/** A published error code. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Whether `code` is a published error code (for codes that crossed a thread or process boundary as text). */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && (ERROR_CODES as readonly string[]).includes(code);
}

/** Base class of every error Custos raises on purpose (`C`: its codes; OAuth errors carry RFC 6749's). */
export class CustosError<C extends string = ErrorCode> extends Error {
  /** Stable identifier clients may branch on (kept forever once published). */
  readonly code: C;
  /** Internal context for logs only; never sent to a client. */
  readonly detail?: unknown;

  constructor(code: C, message: string, detail?: unknown) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.detail = detail;
  }
}

/** One problem with a request field, pointing at where it is. */
export interface FieldIssue {
  path: string;
  message: string;
}

/** The request is malformed or fails validation. */
export class ValidationError extends CustosError {
  readonly issues: FieldIssue[];
  constructor(message: string, issues: FieldIssue[] = []) {
    super('invalid_request', message);
    this.issues = issues;
  }
}

/** No credentials, or credentials that are not (or no longer) valid. */
export class UnauthenticatedError extends CustosError {
  constructor(message = 'Authentication is required.', detail?: unknown) {
    super('unauthenticated', message, detail);
  }
}

/** Username/password (or an enrollment secret) did not match. Deliberately vague. */
export class InvalidCredentialsError extends CustosError {
  constructor(detail?: unknown) {
    super('invalid_credentials', 'The credentials are not valid.', detail);
  }
}

/** A second factor was wrong, replayed or expired. */
export class InvalidMfaError extends CustosError {
  constructor(detail?: unknown) {
    super('invalid_mfa', 'The second factor is not valid.', detail);
  }
}

/** A sensitive action needs a second factor proven within the step-up window. */
export class StepUpRequiredError extends CustosError {
  /** The methods that would satisfy the requirement. */
  readonly methods: ('totp' | 'webauthn')[];
  constructor(methods: ('totp' | 'webauthn')[], detail?: unknown) {
    super('step_up_required', `This action needs a recent second factor (${methods.join(' or ')}). Step up and retry.`, detail);
    this.methods = methods;
  }
}

/** Authenticated, but not allowed to do this. */
export class ForbiddenError extends CustosError {
  constructor(message = 'You are not allowed to do this.', detail?: unknown) {
    super('forbidden', message, detail);
  }
}

/** The named resource does not exist (or the caller may not know it does). */
export class NotFoundError extends CustosError {
  constructor(what: string) {
    super('not_found', `${what} was not found.`);
  }
}

/** The change conflicts with the current state (duplicate id, stale version, cycle). */
export class ConflictError extends CustosError {
  constructor(message: string, detail?: unknown) {
    super('conflict', message, detail);
  }
}

/** A change that must name the version it is based on did not (RFC 6585 §3: If-Match is required). */
export class PreconditionRequiredError extends CustosError {
  constructor(message: string, detail?: unknown) {
    super('precondition_required', message, detail);
  }
}

/**
 * Another dataset already uses this token audience. Audiences are unique:
 * a token's `aud` must name one dataset server (RFC 9068 §3).
 */
export class AudienceTakenError extends ConflictError {
  constructor(detail?: unknown) {
    super('The token audience is already used by another dataset: choose another audience.', detail);
  }
}

/** Too many attempts (or requests); try again later. */
export class RateLimitedError extends CustosError {
  readonly retryAfterSeconds: number;
  /** Response headers that describe the limit (the rate limits' `RateLimit` and `RateLimit-Policy`). */
  readonly headers: Readonly<Record<string, string>> | undefined;
  constructor(retryAfterSeconds: number, options: { message?: string; headers?: Record<string, string> } = {}) {
    super('rate_limited', options.message ?? 'Too many attempts. Try again later.');
    this.retryAfterSeconds = retryAfterSeconds;
    this.headers = options.headers;
  }
}

/** A dependency (the database) is unavailable: fail closed. */
export class UnavailableError extends CustosError {
  constructor(detail?: unknown) {
    super('unavailable', 'The service is temporarily unavailable.', detail);
  }
}

/**
 * A change could not be made because its audit event could not be written:
 * the change was rolled back with it ("every change with its trace",
 * docs/security-model.md; HIPAA §164.312(b) audit controls).
 */
export class AuditUnavailableError extends CustosError {
  constructor(detail?: unknown) {
    super('audit_unavailable', 'The change was not made: its audit event could not be recorded. Try again later.', detail);
  }
}

/**
 * Only a service's sponsor may receive its client credentials: anyone else
 * holding them could reach data through the sponsor's access that they
 * could not read themselves ("no one alone", docs/security-model.md).
 */
export class NotSponsorError extends CustosError {
  constructor(detail?: unknown) {
    super('not_sponsor', "Only the service's sponsor can create its credentials, from their own session.", detail);
  }
}

/** Start-up configuration is unusable; the message says what to set. */
export class ConfigError extends CustosError {
  constructor(message: string) {
    super('config_invalid', message);
  }
}

/** An applied migration file no longer matches what was applied. */
export class MigrationChecksumError extends CustosError {
  constructor(version: number, name: string) {
    super(
      'migration_checksum_mismatch',
      `Migration ${String(version).padStart(4, '0')} (${name}) was changed after it was applied. ` +
        'Applied migrations are immutable: restore the file and add a new migration instead.',
    );
  }
}
