/**
 * TOTP (RFC 6238) second factor: pure functions over otplib. No database and no
 * clock reads: callers pass the time in, so verification is deterministic and
 * testable, and persisting the last accepted time step is the caller's job.
 */
import { ScureBase32Plugin, generateSecret, generateURI, verify } from 'otplib';
import { ValidationError } from '../../errors.ts';

/** Random bytes in a new secret: 160 bits, the length RFC 4226 recommends for HMAC-SHA1. */
export const TOTP_SECRET_BYTES = 20;
/** Seconds per time step; the value every authenticator app assumes. */
export const TOTP_PERIOD = 30;
/** Code length for enrolled factors; the value every authenticator app assumes. */
export const TOTP_DIGITS = 6;

// RFC 4226 section 4 requires at least 128 bits of shared secret.
const MIN_SECRET_BYTES = 16;
// otplib refuses longer secrets at verification, so enrolling one would lock the user out.
const MAX_SECRET_BYTES = 64;
const DEFAULT_WINDOW = 1;

const base32 = new ScureBase32Plugin();

/** Outcome of `verifyTotp`; `timeStep` is what the caller must store as the next `lastTimeStep`. */
export type TotpVerification =
  | { valid: true; timeStep: number }
  | { valid: false; reason: 'malformed' | 'mismatch' | 'replayed' };

/** Options of `verifyTotp`; only `secret`, `code` and `nowMs` are needed for enrolled factors. */
export interface VerifyTotpOptions {
  /** Base32 string (as enrolled) or raw key bytes (as in the RFC 6238 test vectors). */
  secret: string | Uint8Array;
  /** The code as the user typed it; anything but exactly `digits` ASCII digits is malformed. */
  code: string;
  /** The current time in Unix milliseconds. */
  nowMs: number;
  /** Time step of the last accepted code for this factor; that step and earlier ones are refused. */
  lastTimeStep?: number | null;
  digits?: 6 | 7 | 8;
  algorithm?: 'sha1' | 'sha256' | 'sha512';
  /** Steps of clock drift tolerated either side of the current step (default 1). */
  window?: number;
}

/** Returns a new base32 TOTP secret of `TOTP_SECRET_BYTES` random bytes. */
export function createTotpSecret(): string {
  return generateSecret({ length: TOTP_SECRET_BYTES });
}

/** Returns the otpauth:// URI (SHA1, 6 digits, 30 s) an authenticator app enrolls from. */
export function totpUri(options: { secret: string; issuer: string; account: string }): string {
  const { secret, issuer, account } = options;
  // The label is `issuer:account` with the colon unescaped, so a colon inside
  // either part would make apps split it in the wrong place.
  const issues = [
    ...labelIssues('issuer', issuer),
    ...labelIssues('account', account),
  ];
  if (issues.length > 0) throw new ValidationError('The TOTP label is not valid.', issues);
  return generateURI({
    issuer,
    label: account,
    secret,
    algorithm: 'sha1',
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD,
  });
}

/** Throws ValidationError unless `secret` is valid base32 (or bytes) of 16 to 64 bytes; call it when enrolling. */
export function assertTotpSecretStrength(secret: string | Uint8Array): void {
  let bytes: Uint8Array;
  if (typeof secret === 'string') {
    try {
      bytes = base32.decode(secret);
    } catch {
      throw new ValidationError('The TOTP secret is not valid base32.', [
        { path: 'secret', message: 'must be base32 (A-Z, 2-7)' },
      ]);
    }
  } else {
    bytes = secret;
  }
  if (bytes.length < MIN_SECRET_BYTES) {
    throw new ValidationError('The TOTP secret is too short.', [
      { path: 'secret', message: `must decode to at least ${MIN_SECRET_BYTES} bytes (128 bits)` },
    ]);
  }
  if (bytes.length > MAX_SECRET_BYTES) {
    throw new ValidationError('The TOTP secret is too long.', [
      { path: 'secret', message: `must decode to at most ${MAX_SECRET_BYTES} bytes` },
    ]);
  }
}

/** Checks a TOTP code at `nowMs` within ±`window` steps, refusing steps <= `lastTimeStep` as replays. */
export async function verifyTotp(options: VerifyTotpOptions): Promise<TotpVerification> {
  const { secret, code, nowMs, lastTimeStep = null, algorithm = 'sha1' } = options;
  const digits = options.digits ?? TOTP_DIGITS;
  const window = options.window ?? DEFAULT_WINDOW;

  // Bad arguments are programming errors: throw rather than answer, because a NaN
  // lastTimeStep would make every `step <= lastTimeStep` false and disable replay
  // protection (fail open).
  if (digits !== 6 && digits !== 7 && digits !== 8) throw new RangeError('digits must be 6, 7 or 8');
  if (!Number.isSafeInteger(window) || window < 0) throw new RangeError('window must be a non-negative integer');
  if (!Number.isFinite(nowMs) || nowMs < 0) throw new RangeError('nowMs must be a non-negative finite number');
  if (lastTimeStep !== null && !Number.isSafeInteger(lastTimeStep)) {
    throw new RangeError('lastTimeStep must be an integer or null');
  }

  // Checked here, not by otplib, so junk input never reaches it (otplib would
  // throw on a wrong length rather than refuse). `$` in a non-multiline JS regex
  // matches only at the very end, so a trailing newline is refused too.
  if (!new RegExp(`^[0-9]{${digits}}$`).test(code)) return { valid: false, reason: 'malformed' };

  const epoch = Math.floor(nowMs / 1000);
  const request = {
    secret,
    token: code,
    epoch,
    t0: 0,
    period: TOTP_PERIOD,
    digits,
    algorithm,
    // otplib checks every step from floor((epoch - tol) / period) to
    // floor((epoch + tol) / period). With tol = window * period that is exactly
    // currentStep - window .. currentStep + window wherever epoch falls inside its
    // step (pinned by the ±1/±2 step tests).
    epochTolerance: window * TOTP_PERIOD,
  };

  // First without afterTimeStep, so a replay can be told apart from a wrong code
  // (with afterTimeStep both just come back invalid).
  const step = await matchedStep(request);
  if (step === null) return { valid: false, reason: 'mismatch' };
  if (lastTimeStep === null || step > lastTimeStep) return { valid: true, timeStep: step };

  // otplib returns the earliest matching step. A 6-digit code can (rarely) also
  // be the code of a later step in the window that is still unused, so ask again
  // for steps after lastTimeStep only. otplib throws if afterTimeStep is beyond
  // the window, and in that case no step in the window is usable anyway.
  const currentStep = Math.floor(epoch / TOTP_PERIOD);
  if (lastTimeStep >= currentStep + window) return { valid: false, reason: 'replayed' };
  const laterStep = await matchedStep({ ...request, afterTimeStep: lastTimeStep });
  if (laterStep !== null) return { valid: true, timeStep: laterStep };
  return { valid: false, reason: 'replayed' };
}

/** The time step `request.token` matched, or null if it matched none. */
async function matchedStep(request: Parameters<typeof verify>[0]): Promise<number | null> {
  const result = await verify(request);
  // otplib v13 returns a result object, which is truthy even when the code is
  // wrong ({ valid: false }). Only `valid === true` means accepted: testing the
  // object itself would let any code in.
  if (result.valid !== true) return null;
  // The functional API's result type also covers HOTP, whose results have no
  // timeStep; without one we cannot guard against replay, so fail closed.
  if (!('timeStep' in result) || !Number.isSafeInteger(result.timeStep)) {
    throw new Error('otplib returned a TOTP match without a time step');
  }
  return result.timeStep;
}

function labelIssues(path: string, value: string): { path: string; message: string }[] {
  if (value.length === 0) return [{ path, message: 'must not be empty' }];
  if (value.includes(':')) return [{ path, message: 'must not contain ":"' }];
  return [];
}
