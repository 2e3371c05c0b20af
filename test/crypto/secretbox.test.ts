import { describe, it, expect } from 'vitest';
import { createDecipheriv, randomBytes } from 'node:crypto';
import { open, seal } from '../../src/crypto/secretbox.ts';
import { CustosError } from '../../src/errors.ts';

const key = randomBytes(32);
const plaintext = Buffer.from('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', 'utf8');
const aad = 'totp:factor-1';

/** Runs `fn` and asserts it threw the generic decryption error. */
function expectDecryptionFailed(fn: () => unknown): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(CustosError);
  const error = caught as CustosError;
  expect(error.code).toBe('decryption_failed');
  // Generic: says nothing about which check failed.
  expect(error.message).toBe('The data could not be decrypted.');
}

/** Copy of `buf` with the byte at `index` (negative counts from the end) flipped. */
function flipByte(buf: Buffer, index: number): Buffer {
  const copy = Buffer.from(buf);
  const i = index < 0 ? copy.length + index : index;
  copy[i] = (copy[i] ?? 0) ^ 0x01;
  return copy;
}

describe('secretbox', () => {
  it('round-trips with and without aad, including empty plaintext', () => {
    expect(open(key, seal(key, plaintext, aad), aad).equals(plaintext)).toBe(true);
    expect(open(key, seal(key, plaintext)).equals(plaintext)).toBe(true);
    expect(open(key, seal(key, Buffer.alloc(0), aad), aad).length).toBe(0);
  });

  it('lays out version 1 || 12-byte nonce || ciphertext || 16-byte tag as standard AES-256-GCM', () => {
    const sealed = seal(key, plaintext, aad);
    expect(sealed.length).toBe(1 + 12 + plaintext.length + 16);
    expect(sealed[0]).toBe(1);
    // Decrypt with node:crypto directly to pin the format (AAD = version byte || aad).
    const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(1, 13), { authTagLength: 16 });
    decipher.setAAD(Buffer.concat([Buffer.of(1), Buffer.from(aad)]));
    decipher.setAuthTag(sealed.subarray(-16));
    const out = Buffer.concat([decipher.update(sealed.subarray(13, -16)), decipher.final()]);
    expect(out.equals(plaintext)).toBe(true);
    // And the plaintext is not sitting in the output.
    expect(sealed.includes(plaintext)).toBe(false);
  });

  it('uses a fresh random nonce for every seal', () => {
    const a = seal(key, plaintext, aad);
    const b = seal(key, plaintext, aad);
    expect(a.equals(b)).toBe(false);
    expect(a.subarray(1, 13).equals(b.subarray(1, 13))).toBe(false);
  });

  it('refuses a tampered ciphertext byte', () => {
    const sealed = seal(key, plaintext, aad);
    expectDecryptionFailed(() => open(key, flipByte(sealed, 13), aad));
    expectDecryptionFailed(() => open(key, flipByte(sealed, 13 + plaintext.length - 1), aad));
  });

  it('refuses a tampered tag', () => {
    const sealed = seal(key, plaintext, aad);
    expectDecryptionFailed(() => open(key, flipByte(sealed, -1), aad));
    expectDecryptionFailed(() => open(key, flipByte(sealed, -16), aad));
  });

  it('refuses a tampered nonce', () => {
    expectDecryptionFailed(() => open(key, flipByte(seal(key, plaintext, aad), 1), aad));
  });

  it('refuses an unknown version byte', () => {
    const sealed = seal(key, plaintext, aad);
    const other = Buffer.from(sealed);
    other[0] = 2;
    expectDecryptionFailed(() => open(key, other, aad));
    other[0] = 0;
    expectDecryptionFailed(() => open(key, other, aad));
  });

  it('refuses the wrong key', () => {
    const sealed = seal(key, plaintext, aad);
    expectDecryptionFailed(() => open(randomBytes(32), sealed, aad));
  });

  it('refuses the wrong aad (a ciphertext copied to another row)', () => {
    const sealed = seal(key, plaintext, 'totp:factor-1');
    expectDecryptionFailed(() => open(key, sealed, 'totp:factor-2'));
    expectDecryptionFailed(() => open(key, sealed));
    expectDecryptionFailed(() => open(key, seal(key, plaintext), 'totp:factor-1'));
  });

  it('refuses truncated or short input', () => {
    const sealed = seal(key, plaintext, aad);
    expectDecryptionFailed(() => open(key, sealed.subarray(0, sealed.length - 1), aad));
    expectDecryptionFailed(() => open(key, sealed.subarray(0, 13 + 16), aad)); // header + tag-sized tail, wrong tag
    expectDecryptionFailed(() => open(key, sealed.subarray(0, 28), aad)); // shorter than header + tag
    expectDecryptionFailed(() => open(key, Buffer.alloc(0), aad));
    // Dropping bytes from the middle (keeping the real tag) fails too.
    expectDecryptionFailed(() => open(key, Buffer.concat([sealed.subarray(0, 14), sealed.subarray(-16)]), aad));
  });

  it('refuses keys that are not exactly 32 bytes', () => {
    const sealed = seal(key, plaintext, aad);
    for (const bad of [randomBytes(16), randomBytes(31), randomBytes(33), Buffer.alloc(0)]) {
      expect(() => seal(bad, plaintext, aad)).toThrow(RangeError);
      expect(() => open(bad, sealed, aad)).toThrow(RangeError);
    }
  });
});
