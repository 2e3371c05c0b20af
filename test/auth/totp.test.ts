import { describe, it, expect } from 'vitest';
import * as OTPAuth from 'otpauth';
import { verify as otplibVerify } from 'otplib';
import {
  TOTP_DIGITS,
  TOTP_PERIOD,
  TOTP_SECRET_BYTES,
  assertTotpSecretStrength,
  createTotpSecret,
  totpUri,
  verifyTotp,
} from '../../src/auth/totp/totp.ts';
import { ValidationError } from '../../src/errors.ts';

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

// RFC 6238 Appendix B: one key per algorithm, 8-digit codes, T0 = 0, X = 30.
const RFC_KEYS = {
  sha1: ascii('12345678901234567890'),
  sha256: ascii('12345678901234567890123456789012'),
  sha512: ascii('1234567890123456789012345678901234567890123456789012345678901234'),
} as const;

const RFC_VECTORS: { time: number; step: number; sha1: string; sha256: string; sha512: string }[] = [
  { time: 59, step: 0x1, sha1: '94287082', sha256: '46119246', sha512: '90693936' },
  { time: 1111111109, step: 0x23523ec, sha1: '07081804', sha256: '68084774', sha512: '25091201' },
  { time: 1111111111, step: 0x23523ed, sha1: '14050471', sha256: '67062674', sha512: '99943326' },
  { time: 1234567890, step: 0x273ef07, sha1: '89005924', sha256: '91819424', sha512: '93441116' },
  { time: 2000000000, step: 0x3f940aa, sha1: '69279037', sha256: '90698825', sha512: '38618901' },
  { time: 20000000000, step: 0x27bc86aa, sha1: '65353130', sha256: '77737706', sha512: '47863826' },
];

const ALGORITHMS = ['sha1', 'sha256', 'sha512'] as const;

/** Code for `step` from the independent otpauth implementation. */
function otpauthCode(secret: string, step: number): string {
  const totp = new OTPAuth.TOTP({
    secret: OTPAuth.Secret.fromBase32(secret),
    digits: 6,
    period: 30,
    algorithm: 'SHA1',
  });
  return totp.generate({ timestamp: step * TOTP_PERIOD * 1000 });
}

/**
 * A fresh secret whose codes for steps `from..to` are pairwise distinct, so a
 * test about step N cannot pass or fail because a neighbouring step happens to
 * share its code (a ~1e-6 chance per pair with 6 digits).
 */
function secretWithDistinctCodes(from: number, to: number): { secret: string; codeAt: (step: number) => string } {
  for (;;) {
    const secret = createTotpSecret();
    const codes = new Map<number, string>();
    for (let step = from; step <= to; step++) codes.set(step, otpauthCode(secret, step));
    if (new Set(codes.values()).size === codes.size) {
      return {
        secret,
        codeAt: (step) => {
          const code = codes.get(step);
          if (code === undefined) throw new Error(`no code precomputed for step ${step}`);
          return code;
        },
      };
    }
  }
}

/** Same code with its last digit changed. */
function alterLastDigit(code: string): string {
  const last = Number(code.at(-1));
  return code.slice(0, -1) + String((last + 1) % 10);
}

// An arbitrary step well after the epoch; times below are seconds into it.
const N = 56_666_666;
const msAt = (step: number, secondsIntoStep = 0): number => (step * TOTP_PERIOD + secondsIntoStep) * 1000;

describe('constants', () => {
  it('are the values authenticator apps expect', () => {
    expect(TOTP_SECRET_BYTES).toBe(20);
    expect(TOTP_PERIOD).toBe(30);
    expect(TOTP_DIGITS).toBe(6);
  });
});

describe('verifyTotp against RFC 6238 Appendix B', () => {
  for (const vector of RFC_VECTORS) {
    for (const algorithm of ALGORITHMS) {
      const code = vector[algorithm];
      it(`accepts ${algorithm} ${code} at T=${vector.time} as step ${vector.step}`, async () => {
        const result = await verifyTotp({
          secret: RFC_KEYS[algorithm],
          code,
          nowMs: vector.time * 1000,
          digits: 8,
          algorithm,
        });
        expect(result).toEqual({ valid: true, timeStep: vector.step });
      });

      it(`refuses ${algorithm} ${code} with one digit altered at T=${vector.time}`, async () => {
        const result = await verifyTotp({
          secret: RFC_KEYS[algorithm],
          code: alterLastDigit(code),
          nowMs: vector.time * 1000,
          digits: 8,
          algorithm,
        });
        expect(result).toEqual({ valid: false, reason: 'mismatch' });
      });
    }
  }

  it('refuses a vector under another algorithm', async () => {
    const result = await verifyTotp({
      secret: RFC_KEYS.sha1,
      code: '46119246', // the SHA256 code at T=59
      nowMs: 59_000,
      digits: 8,
      algorithm: 'sha1',
    });
    expect(result.valid).toBe(false);
  });
});

describe('verifyTotp window (codes from the independent otpauth package)', () => {
  // Start, middle and last second of step N: the window must be exactly ±1 step
  // wherever "now" falls inside the step.
  for (const secondsIntoStep of [0, 15, 29]) {
    it(`accepts steps N-1, N, N+1 and refuses N-2, N+2 at ${secondsIntoStep}s into step N`, async () => {
      const { secret, codeAt } = secretWithDistinctCodes(N - 2, N + 2);
      const nowMs = msAt(N, secondsIntoStep);

      for (const delta of [-1, 0, 1]) {
        const result = await verifyTotp({ secret, code: codeAt(N + delta), nowMs });
        expect(result, `delta ${delta}`).toEqual({ valid: true, timeStep: N + delta });
      }
      for (const delta of [-2, 2]) {
        const result = await verifyTotp({ secret, code: codeAt(N + delta), nowMs });
        expect(result, `delta ${delta}`).toEqual({ valid: false, reason: 'mismatch' });
      }
    });
  }

  it('with window 0 accepts only the current step', async () => {
    const { secret, codeAt } = secretWithDistinctCodes(N - 1, N + 1);
    const nowMs = msAt(N, 10);
    expect(await verifyTotp({ secret, code: codeAt(N), nowMs, window: 0 })).toEqual({ valid: true, timeStep: N });
    expect((await verifyTotp({ secret, code: codeAt(N - 1), nowMs, window: 0 })).valid).toBe(false);
    expect((await verifyTotp({ secret, code: codeAt(N + 1), nowMs, window: 0 })).valid).toBe(false);
  });

  it('accepts a lower-case secret (as some apps and users type it)', async () => {
    const { secret, codeAt } = secretWithDistinctCodes(N, N);
    const result = await verifyTotp({ secret: secret.toLowerCase(), code: codeAt(N), nowMs: msAt(N, 3) });
    expect(result).toEqual({ valid: true, timeStep: N });
  });
});

describe('verifyTotp replay protection', () => {
  it('refuses the same code again once its step is recorded', async () => {
    const { secret, codeAt } = secretWithDistinctCodes(N - 1, N + 1);
    const nowMs = msAt(N, 12);

    const first = await verifyTotp({ secret, code: codeAt(N), nowMs, lastTimeStep: N - 5 });
    expect(first).toEqual({ valid: true, timeStep: N });

    const again = await verifyTotp({ secret, code: codeAt(N), nowMs: nowMs + 5000, lastTimeStep: N });
    expect(again).toEqual({ valid: false, reason: 'replayed' });
  });

  it('refuses an older code (step N-1) as replayed after step N was used', async () => {
    const { secret, codeAt } = secretWithDistinctCodes(N - 1, N + 1);
    const result = await verifyTotp({ secret, code: codeAt(N - 1), nowMs: msAt(N, 12), lastTimeStep: N });
    expect(result).toEqual({ valid: false, reason: 'replayed' });
  });

  it('still accepts the next step after step N was used', async () => {
    const { secret, codeAt } = secretWithDistinctCodes(N - 1, N + 1);
    const result = await verifyTotp({ secret, code: codeAt(N + 1), nowMs: msAt(N, 29), lastTimeStep: N });
    expect(result).toEqual({ valid: true, timeStep: N + 1 });
  });

  it('keeps "replayed" distinct from "mismatch"', async () => {
    // Step N+5's code is outside the window and (by construction) not equal to any code in it.
    const { secret, codeAt } = secretWithDistinctCodes(N - 1, N + 5);
    const wrong = await verifyTotp({ secret, code: codeAt(N + 5), nowMs: msAt(N, 12), lastTimeStep: N });
    expect(wrong).toEqual({ valid: false, reason: 'mismatch' });
  });

  it('refuses (does not throw) when lastTimeStep is ahead of the whole window', async () => {
    // E.g. the server clock stepped back after a code was accepted.
    const { secret, codeAt } = secretWithDistinctCodes(N - 1, N + 1);
    const result = await verifyTotp({ secret, code: codeAt(N), nowMs: msAt(N, 12), lastTimeStep: N + 10 });
    expect(result).toEqual({ valid: false, reason: 'replayed' });
  });

  it('treats null lastTimeStep as "nothing used yet"', async () => {
    const { secret, codeAt } = secretWithDistinctCodes(N, N);
    expect(await verifyTotp({ secret, code: codeAt(N), nowMs: msAt(N), lastTimeStep: null })).toEqual({
      valid: true,
      timeStep: N,
    });
  });

  describe('when one code is valid at two steps of the window', () => {
    // Found by search: with this key the SHA1 6-digit codes of steps S and S+2
    // are both 278158 (step S+1 is 377419). Checked below with otpauth.
    const key = ascii('custos-totp-collisio');
    const S = 60428223;
    const code = '278158';

    it('the fixture really collides (per otpauth)', () => {
      const totp = new OTPAuth.TOTP({
        secret: new OTPAuth.Secret({ buffer: key.slice().buffer }),
        digits: 6,
        period: 30,
        algorithm: 'SHA1',
      });
      expect(totp.generate({ timestamp: S * 30_000 })).toBe(code);
      expect(totp.generate({ timestamp: (S + 1) * 30_000 })).not.toBe(code);
      expect(totp.generate({ timestamp: (S + 2) * 30_000 })).toBe(code);
    });

    it('matches the earlier step when neither is used', async () => {
      expect(await verifyTotp({ secret: key, code, nowMs: msAt(S + 1, 5) })).toEqual({ valid: true, timeStep: S });
    });

    it('accepts the later, unused step when the earlier one is used', async () => {
      const result = await verifyTotp({ secret: key, code, nowMs: msAt(S + 1, 5), lastTimeStep: S });
      expect(result).toEqual({ valid: true, timeStep: S + 2 });
    });

    it('refuses as replayed when both are used', async () => {
      const result = await verifyTotp({ secret: key, code, nowMs: msAt(S + 1, 5), lastTimeStep: S + 2 });
      expect(result).toEqual({ valid: false, reason: 'replayed' });
    });
  });
});

describe('verifyTotp wrong and malformed codes', () => {
  it('refuses a wrong code with valid === false although otplib\'s raw result is truthy', async () => {
    const { secret, codeAt } = secretWithDistinctCodes(N - 1, N + 1);
    const inWindow = new Set([codeAt(N - 1), codeAt(N), codeAt(N + 1)]);
    let wrong = codeAt(N);
    while (inWindow.has(wrong)) wrong = String((Number(wrong) + 1) % 1_000_000).padStart(6, '0');
    const nowMs = msAt(N, 7);

    const result = await verifyTotp({ secret, code: wrong, nowMs });
    expect(result.valid).toBe(false);
    expect(result).toEqual({ valid: false, reason: 'mismatch' });

    // Why verifyTotp compares `.valid === true`: otplib answers a wrong code with
    // an object, and an object is truthy. `if (await verify(...))` would accept it.
    const raw = await otplibVerify({ secret, token: wrong, epoch: Math.floor(nowMs / 1000), epochTolerance: 30 });
    expect(raw).toBeTruthy();
    expect(raw.valid).toBe(false);
  });

  for (const code of ['12345', '1234567', 'abcdef', ' 123456', '', '123456\n', '12345a', '１２３４５６', '+12345', '1e5000']) {
    it(`refuses ${JSON.stringify(code)} as malformed`, async () => {
      const { secret } = secretWithDistinctCodes(N, N);
      expect(await verifyTotp({ secret, code, nowMs: msAt(N) })).toEqual({ valid: false, reason: 'malformed' });
    });
  }

  it('refuses a correct code with surrounding whitespace as malformed (no trimming)', async () => {
    const { secret, codeAt } = secretWithDistinctCodes(N, N);
    for (const code of [` ${codeAt(N)}`, `${codeAt(N)} `, `${codeAt(N)}\n`]) {
      expect(await verifyTotp({ secret, code, nowMs: msAt(N, 1) })).toEqual({ valid: false, reason: 'malformed' });
    }
  });

  it('refuses a 6-digit code when 8 digits are configured', async () => {
    const result = await verifyTotp({ secret: RFC_KEYS.sha1, code: '287082', nowMs: 59_000, digits: 8 });
    expect(result).toEqual({ valid: false, reason: 'malformed' });
  });

  it('decides "malformed" before calling otplib', async () => {
    // otplib would throw on a 1-byte secret; getting an answer proves it was not called.
    expect(await verifyTotp({ secret: new Uint8Array(1), code: 'abc', nowMs: 0 })).toEqual({
      valid: false,
      reason: 'malformed',
    });
  });

  it('throws on arguments that would weaken the check', async () => {
    const { secret, codeAt } = secretWithDistinctCodes(N, N);
    const code = codeAt(N);
    const nowMs = msAt(N);
    await expect(verifyTotp({ secret, code, nowMs, lastTimeStep: Number.NaN })).rejects.toThrow(RangeError);
    await expect(verifyTotp({ secret, code, nowMs, lastTimeStep: N + 0.5 })).rejects.toThrow(RangeError);
    await expect(verifyTotp({ secret, code, nowMs, window: -1 })).rejects.toThrow(RangeError);
    await expect(verifyTotp({ secret, code, nowMs, window: 1.5 })).rejects.toThrow(RangeError);
    await expect(verifyTotp({ secret, code, nowMs: Number.NaN })).rejects.toThrow(RangeError);
  });
});

describe('createTotpSecret', () => {
  it('returns base32 of 20 random bytes', () => {
    const secret = createTotpSecret();
    expect(secret).toMatch(/^[A-Z2-7]+=*$/);
    expect(OTPAuth.Secret.fromBase32(secret).bytes.length).toBe(20);
    expect(createTotpSecret()).not.toBe(secret);
  });
});

describe('assertTotpSecretStrength', () => {
  it('refuses a 10-byte secret', () => {
    expect(() => assertTotpSecretStrength('JBSWY3DPEHPK3PXP')).toThrow(ValidationError);
  });

  it('accepts a secret from createTotpSecret', () => {
    expect(() => assertTotpSecretStrength(createTotpSecret())).not.toThrow();
  });

  it('draws the line at 16 bytes (128 bits)', () => {
    expect(() => assertTotpSecretStrength(new Uint8Array(15))).toThrow(ValidationError);
    expect(() => assertTotpSecretStrength(new Uint8Array(16))).not.toThrow();
    expect(() => assertTotpSecretStrength(new OTPAuth.Secret({ size: 15 }).base32)).toThrow(ValidationError);
    expect(() => assertTotpSecretStrength(new OTPAuth.Secret({ size: 16 }).base32)).not.toThrow();
  });

  it('refuses secrets otplib could never verify (too long, not base32)', () => {
    expect(() => assertTotpSecretStrength(new Uint8Array(65))).toThrow(ValidationError);
    expect(() => assertTotpSecretStrength('not base32 at all!')).toThrow(ValidationError);
    expect(() => assertTotpSecretStrength('')).toThrow(ValidationError);
  });

  it('accepts the RFC 6238 test keys', () => {
    for (const key of Object.values(RFC_KEYS)) expect(() => assertTotpSecretStrength(key)).not.toThrow();
  });
});

describe('totpUri', () => {
  it('is an otpauth URI for SHA1, 6 digits, 30 s', () => {
    const secret = createTotpSecret();
    const uri = totpUri({ secret, issuer: 'Custos Health', account: 'alice@example.org' });

    expect(uri.startsWith('otpauth://totp/')).toBe(true);
    expect(uri).toContain(encodeURIComponent('Custos Health'));
    expect(uri).toContain(`secret=${secret}`);
    // Either stated explicitly or left to the defaults apps assume (30 s, 6, SHA1).
    if (uri.includes('period=')) expect(uri).toContain('period=30');
    if (uri.includes('digits=')) expect(uri).toContain('digits=6');
    if (uri.includes('algorithm=')) expect(uri).toContain('algorithm=SHA1');

    // And an independent parser reads it back the same way.
    const parsed = OTPAuth.URI.parse(uri);
    expect(parsed).toBeInstanceOf(OTPAuth.TOTP);
    const totp = parsed as OTPAuth.TOTP;
    expect(totp.issuer).toBe('Custos Health');
    expect(totp.label).toBe('alice@example.org');
    expect(totp.period).toBe(30);
    expect(totp.digits).toBe(6);
    expect(totp.algorithm).toBe('SHA1');
    expect(totp.secret.base32).toBe(secret);
  });

  it('refuses a colon in issuer or account (it would split the label wrongly)', () => {
    const secret = createTotpSecret();
    expect(() => totpUri({ secret, issuer: 'A:B', account: 'alice' })).toThrow(ValidationError);
    expect(() => totpUri({ secret, issuer: 'Custos', account: 'x:alice' })).toThrow(ValidationError);
    expect(() => totpUri({ secret, issuer: '', account: 'alice' })).toThrow(ValidationError);
  });
});
