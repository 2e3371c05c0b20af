import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { CustosError } from '../errors.ts';

// Layout: version (1) || nonce (12) || ciphertext (n) || tag (16).
// The version byte lets a future key or algorithm change coexist with old rows.
const VERSION = 0x01;
const KEY_BYTES = 32;
// 96-bit nonces are GCM's native size; random ones are safe for far more seals
// per key (2^32) than a secret store will ever make.
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + NONCE_BYTES;
const MIN_SEALED_BYTES = HEADER_BYTES + TAG_BYTES;

/** Encrypts `plaintext` with AES-256-GCM under `key`, bound to `aad`; returns version || nonce || ciphertext || tag. */
export function seal(key: Buffer, plaintext: Buffer, aad?: string): Buffer {
  assertKey(key);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(associatedData(aad));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.of(VERSION), nonce, ciphertext, cipher.getAuthTag()]);
}

/** Verifies and decrypts a `seal` output; throws CustosError 'decryption_failed' if anything about it is wrong. */
export function open(key: Buffer, sealed: Buffer, aad?: string): Buffer {
  assertKey(key);
  if (sealed.length < MIN_SEALED_BYTES) throw decryptionFailed('input too short');
  if (sealed[0] !== VERSION) throw decryptionFailed('unsupported version');
  const nonce = sealed.subarray(1, HEADER_BYTES);
  const ciphertext = sealed.subarray(HEADER_BYTES, sealed.length - TAG_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  try {
    // authTagLength pins the tag size so a shortened tag can never be accepted.
    const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(associatedData(aad));
    decipher.setAuthTag(tag);
    // GCM only authenticates in final(): nothing is returned before it succeeds,
    // so unauthenticated plaintext never leaves this function.
    const plaintext = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
    return plaintext;
  } catch {
    // One generic error for wrong key, wrong aad and tampering alike: telling them
    // apart would help an attacker and helps no legitimate caller.
    throw decryptionFailed('authentication failed');
  }
}

function assertKey(key: Buffer): void {
  // A wrong-sized key is a configuration bug, not tampering, so it is not reported
  // as 'decryption_failed'; AES-256 needs exactly 32 bytes and we never derive or pad.
  if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) {
    throw new RangeError(`secretbox key must be exactly ${KEY_BYTES} bytes`);
  }
}

function associatedData(aad: string | undefined): Buffer {
  // The version byte is authenticated too, so the header cannot be swapped for
  // another version's without failing. An absent aad is the same as ''.
  return Buffer.concat([Buffer.of(VERSION), Buffer.from(aad ?? '', 'utf8')]);
}

function decryptionFailed(reason: string): CustosError {
  // The message is deliberately generic; the reason is for logs only (`detail`).
  return new CustosError('decryption_failed', 'The data could not be decrypted.', { reason });
}
