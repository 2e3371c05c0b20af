/**
 * The public keys a service may register for private_key_jwt (RFC 7523):
 * what is acceptable, checked before anything is stored.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { ValidationError } from '../../errors.ts';

/** Checks a registered public JWK: EC P-256 or RSA of at least 2048 bits, and no private members. */
export function assertPublicJwk(jwk: Record<string, unknown>, path: string): void {
  const bad = (message: string) => new ValidationError('The client keys are not acceptable.', [{ path, message }]);
  if ('d' in jwk || 'p' in jwk || 'q' in jwk) throw bad('a private key was sent: register only the public part');
  let key: KeyObject;
  try {
    key = createPublicKey({ key: jwk as never, format: 'jwk' });
  } catch {
    throw bad('not a public JWK');
  }
  const d = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec' ? d?.namedCurve !== 'prime256v1' : key.asymmetricKeyType !== 'rsa' || (d?.modulusLength ?? 0) < 2048) {
    throw bad('use an EC P-256 key or an RSA key of at least 2048 bits');
  }
}
