/**
 * Password hashing, verification and the password policy.
 *
 * Hashing follows the OWASP Password Storage Cheat Sheet (argon2id,
 * m=19456 KiB, t=2, p=1); the policy follows NIST SP 800-63B §5.1.1.2:
 * a length floor and ceiling, a blocklist of common passwords and
 * context-specific words (the username), and deliberately no composition
 * rules or forced rotation, which push users to predictable patterns.
 */

import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { hash as argon2Hash, verify as argon2Verify } from '@node-rs/argon2';
import type { Algorithm, Options } from '@node-rs/argon2';
import { ValidationError } from '../errors.ts';

/** Fewest code points a password may have (NIST SP 800-63B §5.1.1.2 asks for at least 8; we require more). */
export const MIN_PASSWORD_LENGTH = 12;

/** Most code points a password may have: NIST asks for at least 64; the cap bounds hashing cost per request. */
export const MAX_PASSWORD_LENGTH = 128;

/**
 * `Algorithm.Argon2id`. `Algorithm` is an ambient `const enum`, which cannot be
 * referenced under `isolatedModules` (and is an empty object at run time), so
 * the numeric value from node_modules/@node-rs/argon2/index.d.ts is used.
 */
const ARGON2ID: Algorithm = 2;

/** OWASP Password Storage Cheat Sheet, argon2id option 2: 19 MiB, 2 passes, 1 lane. */
const HASH_OPTIONS: Options = {
  algorithm: ARGON2ID,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
};

/**
 * NIST SP 800-63B §5.1.1.2: verifiers should normalise Unicode (NFKC or NFKD)
 * before hashing, so the same password typed on different keyboards or
 * platforms matches.
 */
function normalize(password: string): string {
  return password.normalize('NFKC');
}

/** Hashes a password with argon2id (OWASP parameters) into a PHC string that embeds salt and parameters. */
export async function hashPassword(password: string): Promise<string> {
  return argon2Hash(normalize(password), HASH_OPTIONS);
}

let dummyHash: Promise<string> | undefined;

/**
 * A hash of a random secret with the same parameters as real ones, made once
 * on first use: verifying against it costs the same as a real verification,
 * so response time does not reveal whether a username exists (OWASP
 * Authentication Cheat Sheet). The memoised promise is dropped on failure so a
 * later call retries.
 */
function getDummyHash(): Promise<string> {
  dummyHash ??= argon2Hash(randomBytes(32).toString('base64url'), HASH_OPTIONS).catch((error: unknown) => {
    dummyHash = undefined;
    throw error;
  });
  return dummyHash;
}

/** Spends one verification's worth of work and always yields false. */
async function burnVerification(password: string): Promise<false> {
  try {
    await argon2Verify(await getDummyHash(), password);
  } catch {
    // The outcome is irrelevant: this call exists only to spend the time.
  }
  return false;
}

/**
 * Checks a password against a stored hash. With no hash (unknown user) or an
 * unparseable one it still spends a full argon2id verification, against a
 * dummy hash, and returns false, so timing does not reveal which case occurred.
 * Never throws for a bad hash.
 */
export async function verifyPassword(hash: string | undefined, password: string): Promise<boolean> {
  const normalized = normalize(password);
  if (hash === undefined) {
    return burnVerification(normalized);
  }
  try {
    return await argon2Verify(hash, normalized);
  } catch {
    // Malformed or unsupported PHC string: fail closed, at the usual cost.
    return burnVerification(normalized);
  }
}

let commonPasswords: ReadonlySet<string> | undefined;

/**
 * The shipped blocklist (NIST SP 800-63B §5.1.1.2: "passwords obtained from
 * previous breach corpuses"), read once on first use. Entries are normalised
 * the same way as candidates so a hand-edited line cannot slip through.
 */
function getCommonPasswords(): ReadonlySet<string> {
  if (commonPasswords === undefined) {
    const text = readFileSync(new URL('./common-passwords.txt', import.meta.url), 'utf8');
    const entries = new Set<string>();
    for (const line of text.split(/\r?\n/)) {
      if (line === '' || line.startsWith('#')) continue;
      entries.add(normalize(line).toLowerCase());
    }
    commonPasswords = entries;
  }
  return commonPasswords;
}

/** Number of Unicode code points, not UTF-16 units, so each emoji or CJK character counts once. */
function codePointLength(value: string): number {
  let count = 0;
  for (const _ of value) count += 1;
  return count;
}

/** Shortest username checked for inside a password; shorter ones match too many strong passwords by chance. */
const MIN_USERNAME_CHECK_LENGTH = 3;

/**
 * Enforces the password policy of NIST SP 800-63B §5.1.1.2: 12–128 code points
 * after NFKC, not a common password, not containing the username (all
 * case-insensitive). No composition rules, by design. Throws a ValidationError
 * listing every rule broken.
 */
export function checkPasswordPolicy(options: { password: string; username?: string }): void {
  const password = normalize(options.password);
  const lowered = password.toLowerCase();
  const length = codePointLength(password);
  const messages: string[] = [];

  if (length < MIN_PASSWORD_LENGTH) {
    messages.push(`The password must be at least ${MIN_PASSWORD_LENGTH} characters long.`);
  } else if (length > MAX_PASSWORD_LENGTH) {
    messages.push(`The password must be at most ${MAX_PASSWORD_LENGTH} characters long.`);
  }

  if (getCommonPasswords().has(lowered)) {
    messages.push('The password is too common; choose one that is harder to guess.');
  }

  if (options.username !== undefined) {
    const username = normalize(options.username).toLowerCase();
    if (codePointLength(username) >= MIN_USERNAME_CHECK_LENGTH && lowered.includes(username)) {
      messages.push('The password must not contain the username.');
    }
  }

  if (messages.length > 0) {
    throw new ValidationError(
      'The password does not meet the policy.',
      messages.map((message) => ({ path: 'password', message })),
    );
  }
}
