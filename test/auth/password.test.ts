import { readFileSync } from 'node:fs';
import { describe, it, expect, vi, beforeEach } from 'vitest';
import * as argon2 from '@node-rs/argon2';
import {
  checkPasswordPolicy,
  hashPassword,
  MAX_PASSWORD_LENGTH,
  MIN_PASSWORD_LENGTH,
  verifyPassword,
} from '../../src/auth/password.ts';
import { ValidationError } from '../../src/errors.ts';

// Wrap the real argon2 verify in a spy so tests can see which hash the
// unknown-user path spends its work on, without relying on wall-clock timing.
vi.mock('@node-rs/argon2', async (importOriginal) => {
  const actual = await importOriginal<typeof import('@node-rs/argon2')>();
  return { ...actual, verify: vi.fn(actual.verify) };
});

const OWASP_PREFIX = '$argon2id$v=19$m=19456,t=2,p=1$';
const STRONG_12 = 'vT7#qLm2!xRw';

/** Runs the policy and returns the ValidationError it threw, failing the test if it did not throw one. */
function policyError(options: { password: string; username?: string }): ValidationError {
  try {
    checkPasswordPolicy(options);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error(`expected the policy to refuse ${JSON.stringify(options.password)}`);
}

describe('hashPassword / verifyPassword', () => {
  beforeEach(() => {
    vi.mocked(argon2.verify).mockClear();
  });

  it('hashes with argon2id and the OWASP parameters, and round-trips', async () => {
    const stored = await hashPassword('correct horse battery staple');
    expect(stored.startsWith(OWASP_PREFIX)).toBe(true);
    expect(argon2.parseOptions(stored)).toMatchObject({
      memoryCost: 19_456,
      timeCost: 2,
      parallelism: 1,
      saltLen: 16,
    });
    expect(await verifyPassword(stored, 'correct horse battery staple')).toBe(true);
  });

  it('salts every hash', async () => {
    const a = await hashPassword('same password here');
    const b = await hashPassword('same password here');
    expect(a).not.toBe(b);
  });

  it('rejects a wrong password', async () => {
    const stored = await hashPassword('correct horse battery staple');
    expect(await verifyPassword(stored, 'correct horse battery stapler')).toBe(false);
    expect(await verifyPassword(stored, 'Correct horse battery staple')).toBe(false);
    expect(await verifyPassword(stored, '')).toBe(false);
  });

  it('treats NFKC-equivalent spellings as the same password (NIST SP 800-63B §5.1.1.2)', async () => {
    const stored = await hashPassword('ﬁnal Ｐａｓｓ phrase');
    expect(await verifyPassword(stored, 'final Pass phrase')).toBe(true);
  });

  it('returns false for an unknown user, after a full argon2id verification against a dummy hash', async () => {
    expect(await verifyPassword(undefined, 'whatever password')).toBe(false);
    const verify = vi.mocked(argon2.verify);
    expect(verify).toHaveBeenCalledTimes(1);
    const [dummy] = verify.mock.calls[0] ?? [];
    expect(typeof dummy).toBe('string');
    expect((dummy as string).startsWith(OWASP_PREFIX)).toBe(true);

    // The dummy hash is made once and reused.
    expect(await verifyPassword(undefined, 'another password')).toBe(false);
    expect(verify).toHaveBeenCalledTimes(2);
    expect(verify.mock.calls[1]?.[0]).toBe(dummy);
  });

  it('returns false, without throwing, for a malformed hash', async () => {
    for (const malformed of ['', 'not-a-hash', '$argon2id$v=19$m=19456,t=2,p=1$abc', '$2b$10$abcdefghijklmnopqrstuv']) {
      await expect(verifyPassword(malformed, 'whatever password')).resolves.toBe(false);
    }
  });

  it('spends a dummy verification on a malformed hash too', async () => {
    expect(await verifyPassword('garbage', 'whatever password')).toBe(false);
    const calls = vi.mocked(argon2.verify).mock.calls.map(([stored]) => stored);
    expect(calls[0]).toBe('garbage');
    expect(String(calls[1]).startsWith(OWASP_PREFIX)).toBe(true);
  });
});

describe('checkPasswordPolicy', () => {
  it('exports the NIST-aligned bounds', () => {
    expect(MIN_PASSWORD_LENGTH).toBe(12);
    expect(MAX_PASSWORD_LENGTH).toBe(128);
  });

  it('refuses 11 characters and accepts 12', () => {
    const error = policyError({ password: STRONG_12.slice(0, 11) });
    expect(error.issues.some((issue) => issue.message.includes('at least 12'))).toBe(true);
    expect(() => checkPasswordPolicy({ password: STRONG_12 })).not.toThrow();
  });

  it('refuses 129 characters and accepts 128', () => {
    const long = 'Zx9!kQ2#mW7$pL4&'.repeat(8); // 128 characters, no dictionary word
    expect(long).toHaveLength(128);
    expect(() => checkPasswordPolicy({ password: long })).not.toThrow();
    const error = policyError({ password: `${long}a` });
    expect(error.issues.some((issue) => issue.message.includes('at most 128'))).toBe(true);
  });

  it('counts Unicode code points, not UTF-16 units', () => {
    // 11 astral characters are 22 UTF-16 units but only 11 code points.
    policyError({ password: '🦊'.repeat(11) });
    expect(() => checkPasswordPolicy({ password: '🦊'.repeat(12) })).not.toThrow();
    // 128 astral characters are 256 UTF-16 units: still within the limit.
    expect(() => checkPasswordPolicy({ password: '🦊🐙'.repeat(64) })).not.toThrow();
  });

  it('counts length after NFKC normalisation', () => {
    // U+FB01 (ﬁ) becomes "fi" under NFKC: 6 raw code points, 12 normalised.
    expect(() => checkPasswordPolicy({ password: 'ﬁ'.repeat(6) })).not.toThrow();
  });

  it.each(['password1234', 'qwertyuiop123', '123456789012', 'iloveyou1234', 'passwordpassword'])(
    'refuses the common password %s',
    (password) => {
      const error = policyError({ password });
      expect(error.issues.some((issue) => issue.message.includes('too common'))).toBe(true);
    },
  );

  it('refuses common passwords case-insensitively and after NFKC', () => {
    policyError({ password: 'PASSWORD1234' });
    policyError({ password: 'PassWord1234' });
    policyError({ password: 'ｐａｓｓｗｏｒｄ１２３４' }); // full-width forms
  });

  it('refuses a password that contains or equals the username, ignoring case', () => {
    const containing = policyError({ password: 'MyJSmithPass-2024!', username: 'jsmith' });
    expect(containing.issues.some((issue) => issue.message.includes('username'))).toBe(true);
    policyError({ password: 'Dr.Alice.Wong', username: 'dr.alice.wong' });
    // Same password, different username: accepted, so the refusal above was the username rule.
    expect(() => checkPasswordPolicy({ password: 'MyJSmithPass-2024!', username: 'mjones' })).not.toThrow();
  });

  it('ignores usernames shorter than 3 characters', () => {
    expect(() => checkPasswordPolicy({ password: 'vT7#qLm2!xRwab', username: 'ab' })).not.toThrow();
    policyError({ password: 'vT7#qLm2!xRwabc', username: 'abc' });
  });

  it('imposes no composition rules', () => {
    expect(() => checkPasswordPolicy({ password: 'purple elephants dance quietly' })).not.toThrow();
    expect(() => checkPasswordPolicy({ password: '8350276194837261' })).not.toThrow();
  });

  it('throws a ValidationError with code invalid_request and an issue at path password', () => {
    const error = policyError({ password: 'short' });
    expect(error.code).toBe('invalid_request');
    expect(error.message).toBe('The password does not meet the policy.');
    expect(error.issues.length).toBeGreaterThan(0);
    expect(error.issues.every((issue) => issue.path === 'password')).toBe(true);
  });

  it('reports every broken rule', () => {
    const error = policyError({ password: 'password', username: 'password' });
    expect(error.issues.map((issue) => issue.message)).toEqual([
      expect.stringContaining('at least 12'),
      expect.stringContaining('too common'),
      expect.stringContaining('username'),
    ]);
  });
});

describe('common-passwords.txt', () => {
  const text = readFileSync(new URL('../../src/auth/common-passwords.txt', import.meta.url), 'utf8');
  const entries = text.split('\n').filter((line) => line !== '' && !line.startsWith('#'));

  it('names its source and licence', () => {
    expect(text.split('\n')[0]).toMatch(/^# source: \S+@\d+\.\d+\.\d+ \((MIT|ISC|BSD-\d-Clause|Apache-2\.0)\)/);
  });

  it('is read with its # lines as comments, not passwords', () => {
    const comment = text.split('\n').find((line) => line.startsWith('# ') && line.length >= MIN_PASSWORD_LENGTH);
    expect(comment).toBeDefined();
    expect(() => checkPasswordPolicy({ password: comment ?? '' })).not.toThrow();
  });

  it('has at least 10,000 lowercase, unique entries', () => {
    expect(entries.length).toBeGreaterThanOrEqual(10_000);
    expect(new Set(entries).size).toBe(entries.length);
    expect(entries.filter((entry) => entry !== entry.normalize('NFKC').toLowerCase())).toEqual([]);
  });
});
