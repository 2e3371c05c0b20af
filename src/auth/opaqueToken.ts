/**
 * Bearer secrets (session tokens, MFA challenge tokens, enrollment secrets):
 * 256 random bits with a readable prefix; stored only as SHA-256.
 */
import { createHash, randomBytes } from 'node:crypto';

/** A fresh secret and the digest to store. */
export interface OpaqueToken {
  token: string;
  hash: Buffer;
}

/** Generates `<prefix>_<43 base64url chars>`. */
export function newOpaqueToken(prefix: 'cst' | 'csr' | 'cmf' | 'cen' | 'crc'): OpaqueToken {
  const token = `${prefix}_${randomBytes(32).toString('base64url')}`;
  return { token, hash: hashOpaqueToken(token) };
}

/** The stored digest of a presented token. */
export function hashOpaqueToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}
