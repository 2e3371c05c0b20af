/**
 * The audit root: an Ed25519 key that never lives in the database and
 * certifies each checkpoint-signing key. A verifier pins the root's public
 * key, so a key a database superuser inserts into the key table signs
 * nothing it accepts (the way CloudTrail's digest files are signed by a key
 * the account cannot change).
 *
 * The root is either derived from the encryption key (HKDF-SHA256, RFC 5869),
 * so `npm start` needs nothing more, or read from its own PKCS #8 file
 * (CUSTOS_AUDIT_ROOT_KEY_FILE), which keeps it away from anyone who holds
 * only the encryption key. Its public key is 32 bytes, written base64url
 * (RFC 8037's `x`); the fingerprint is the SHA-256 of those bytes.
 */
import { createHash, createPrivateKey, createPublicKey, hkdfSync, sign, verify, type KeyObject } from 'node:crypto';
import { ConfigError } from '../errors.ts';

/** PKCS #8 DER prefix of an Ed25519 private key (RFC 8410 §7); the 32-byte seed follows. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** A signing key's certificate: the root's word that this public key may sign checkpoints. */
export interface KeyCertificate {
  v: 1;
  kid: string;
  crv: 'P-256';
  x: string;
  y: string;
  /** When the key was made (ISO 8601). */
  created_at: string;
  /** The root's public key (base64url) that signed this certificate. */
  root: string;
  signature: string;
}

/** The exact text a certificate's signature covers. */
export function certificatePayload(c: Omit<KeyCertificate, 'signature'>): string {
  return ['custos-audit-key-certificate/v1', c.kid, c.crv, c.x, c.y, c.created_at, c.root].join('\n');
}

/** SHA-256 fingerprint (hex) of a root public key given base64url. */
export function rootFingerprint(publicKey: string): string {
  return createHash('sha256').update(Buffer.from(publicKey, 'base64url')).digest('hex');
}

/** The root with its private key: certifies signing keys. */
export class AuditRoot {
  /** The public key, base64url (32 bytes). */
  readonly publicKey: string;
  readonly fingerprint: string;

  private readonly key: KeyObject;
  private constructor(key: KeyObject) {
    this.key = key;
    this.publicKey = (createPublicKey(key).export({ format: 'jwk' }) as { x: string }).x;
    this.fingerprint = rootFingerprint(this.publicKey);
  }

  /** The root derived from the encryption key (domain-separated: it cannot decrypt, and the key cannot be recovered from it). */
  static derive(encryptionKey: Buffer): AuditRoot {
    const seed = Buffer.from(hkdfSync('sha256', encryptionKey, 'custos', 'custos-audit-root/v1', 32));
    return new AuditRoot(createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' }));
  }

  /** The root from a PEM PKCS #8 Ed25519 private key. */
  static fromPem(pem: string, source: string): AuditRoot {
    let key: KeyObject;
    try {
      key = createPrivateKey(pem);
    } catch {
      throw new ConfigError(`${source} is not a PEM private key.`);
    }
    if (key.asymmetricKeyType !== 'ed25519') throw new ConfigError(`${source} must be an Ed25519 key (openssl genpkey -algorithm ed25519).`);
    return new AuditRoot(key);
  }

  /** Certifies the P-256 public key `jwk` (kid = its RFC 7638 thumbprint) made at `createdAt`. */
  certify(jwk: { kid: string; x: string; y: string }, createdAt: Date): KeyCertificate {
    const body = { v: 1 as const, kid: jwk.kid, crv: 'P-256' as const, x: jwk.x, y: jwk.y, created_at: createdAt.toISOString(), root: this.publicKey };
    return { ...body, signature: sign(null, Buffer.from(certificatePayload(body), 'utf8'), this.key).toString('base64url') };
  }
}

/** The roots a verifier trusts (pinned public keys), and the checks of certificates against them. */
export class TrustedRoots {
  private readonly keys = new Map<string, KeyObject>();

  /** `publicKeys`: base64url Ed25519 public keys; throws ConfigError on one that is not. */
  constructor(publicKeys: readonly string[]) {
    for (const pk of publicKeys) {
      const bytes = Buffer.from(pk, 'base64url');
      if (bytes.length !== 32 || bytes.toString('base64url') !== pk) throw new ConfigError(`Not an audit root public key (32 bytes, base64url): ${pk}`);
      this.keys.set(pk, createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: pk }, format: 'jwk' }));
    }
    if (this.keys.size === 0) throw new ConfigError('At least one audit root public key must be trusted.');
  }

  /** The trusted public keys. */
  list(): string[] {
    return [...this.keys.keys()];
  }

  /** Whether `cert` is a well-formed certificate signed by a trusted root. */
  accepts(cert: unknown): cert is KeyCertificate {
    if (!cert || typeof cert !== 'object') return false;
    const c = cert as Partial<KeyCertificate>;
    if (c.v !== 1 || c.crv !== 'P-256' || typeof c.signature !== 'string' || typeof c.root !== 'string') return false;
    for (const f of [c.kid, c.x, c.y, c.created_at]) if (typeof f !== 'string') return false;
    const root = this.keys.get(c.root);
    if (!root) return false;
    const { signature, ...body } = c as KeyCertificate;
    try {
      return verify(null, Buffer.from(certificatePayload(body), 'utf8'), root, Buffer.from(signature, 'base64url'));
    } catch {
      return false;
    }
  }
}
