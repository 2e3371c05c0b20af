/**
 * The verifier's view of checkpoint-signing keys: a key is known only
 * through a certificate that a trusted (pinned) root signed. Certificates
 * come from the public certificate table and from anchors; the key table,
 * which a database superuser can write to, is never read, so a verifier needs
 * nothing from the database but the data and its certificates.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import type { Sql } from '../../db/client.ts';
import type { KeyCertificate, TrustedRoots } from '../rootKey.ts';

/** The outcome of checking a signature: valid, by a key no trusted root certified, or not valid. */
export type SignatureCheck = 'ok' | 'uncertified' | 'bad_signature';

/** Keys known through certificates signed by `roots`, read from `sql` and added from anchors. */
export class CertifiedKeys {
  private readonly known = new Map<string, KeyObject>();
  private readonly checked = new Set<string>();

  readonly roots: TrustedRoots;
  private readonly sql: Sql;
  constructor(
    roots: TrustedRoots,
    sql: Sql,
  ) {
    this.roots = roots;
    this.sql = sql;
  }

  /** Adds a certificate found elsewhere (an anchor); ignored unless a trusted root signed it. */
  add(cert: unknown): boolean {
    if (!this.roots.accepts(cert)) return false;
    this.known.set(cert.kid, publicKeyOf(cert));
    return true;
  }

  private async keyOf(kid: string): Promise<KeyObject | undefined> {
    const hit = this.known.get(kid);
    if (hit || this.checked.has(kid)) return hit;
    const rows = await this.sql`SELECT certificate FROM audit_key_certificates WHERE kid = ${kid}`;
    this.checked.add(kid);
    for (const r of rows) if (r.certificate && (r.certificate as KeyCertificate).kid === kid && this.add(r.certificate)) break;
    return this.known.get(kid);
  }

  /** Checks `signature` (ES256, r || s, base64url) of `payload` by key `kid`. */
  async check(kid: string, payload: string, signature: string): Promise<SignatureCheck> {
    const key = await this.keyOf(kid);
    if (!key) return 'uncertified';
    try {
      return verify('sha256', Buffer.from(payload, 'utf8'), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature, 'base64url')) ? 'ok' : 'bad_signature';
    } catch {
      return 'bad_signature';
    }
  }

  /** Whether the signature is valid and by a certified key. */
  async verify(kid: string, payload: string, signature: string): Promise<boolean> {
    return (await this.check(kid, payload, signature)) === 'ok';
  }
}

/** The P-256 public key a certificate names. */
export function publicKeyOf(cert: KeyCertificate): KeyObject {
  return createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: cert.x, y: cert.y }, format: 'jwk' });
}
