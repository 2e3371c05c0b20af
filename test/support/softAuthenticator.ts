/**
 * A software WebAuthn authenticator (plus the browser's part of a ceremony)
 * in node:crypto, so server tests can shape every byte: ES256 (P-256) keys,
 * 'none' attestation in CBOR, authenticator data with rpIdHash, flags,
 * counter and attested credential data (COSE EC2 key), clientDataJSON, and
 * DER signatures over authData || SHA-256(clientDataJSON).
 *
 * Knobs: origin, RP id, UP/UV flags, the counter to report, the user handle,
 * the ceremony type, and the challenge. Independent of the server's library:
 * its CBOR encoder is its own.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import type { AuthenticationResponseJSON, PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON, RegistrationResponseJSON } from '@simplewebauthn/server';

type CborValue = number | string | Uint8Array | CborValue[] | Map<CborValue, CborValue>;

function cborHead(major: number, n: number): Buffer {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 0x100) return Buffer.from([(major << 5) | 24, n]);
  if (n < 0x10000) {
    const b = Buffer.alloc(3);
    b[0] = (major << 5) | 25;
    b.writeUInt16BE(n, 1);
    return b;
  }
  const b = Buffer.alloc(5);
  b[0] = (major << 5) | 26;
  b.writeUInt32BE(n, 1);
  return b;
}

/** Minimal canonical-enough CBOR (RFC 8949) for attestation objects and COSE keys. */
export function cbor(v: CborValue): Buffer {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error('integers only');
    return v >= 0 ? cborHead(0, v) : cborHead(1, -1 - v);
  }
  if (typeof v === 'string') {
    const s = Buffer.from(v, 'utf8');
    return Buffer.concat([cborHead(3, s.length), s]);
  }
  if (v instanceof Uint8Array) return Buffer.concat([cborHead(2, v.length), v]);
  if (Array.isArray(v)) return Buffer.concat([cborHead(4, v.length), ...v.map(cbor)]);
  const parts: Buffer[] = [cborHead(5, v.size)];
  for (const [k, val] of v) parts.push(cbor(k), cbor(val));
  return Buffer.concat(parts);
}

const b64u = (b: Uint8Array | string) => Buffer.from(b).toString('base64url');
const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest();

/** Authenticator data flags (WebAuthn §6.1). */
export const FLAGS = { UP: 0x01, UV: 0x04, BE: 0x08, BS: 0x10, AT: 0x40 } as const;

/** One credential held by the soft authenticator. */
export interface SoftCredential {
  id: Buffer;
  privateKey: KeyObject;
  rpId: string;
  userHandle: Buffer;
  /** Last counter reported; `synced` credentials always report 0. */
  counter: number;
  synced: boolean;
}

/** How to bend a ceremony. */
export interface CeremonyKnobs {
  /** clientDataJSON origin (default: the authenticator's). */
  origin?: string;
  /** The RP id hashed into authenticator data (default: the authenticator's). */
  rpId?: string;
  /** User verified flag (default true). */
  uv?: boolean;
  /** User present flag (default true). */
  up?: boolean;
  /** Counter to report (default: last + 1, or 0 for a synced passkey). */
  counter?: number;
  /** clientDataJSON type (default webauthn.create / webauthn.get). */
  type?: string;
  /** Challenge to answer (default: the options'). */
  challenge?: string;
}

/** Knobs of an assertion. */
export interface AssertionKnobs extends CeremonyKnobs {
  /** Which credential signs (default: the first allowed one this authenticator holds). */
  credential?: SoftCredential;
  /** Present this credential id instead of the signer's (another person's, say). */
  claimId?: string;
  /** base64url user handle to return; null omits it (default: the stored one). */
  userHandle?: string | null;
}

/** A software authenticator for one RP id and origin. */
export class SoftAuthenticator {
  readonly credentials: SoftCredential[] = [];
  readonly origin: string;
  readonly rpId: string;

  constructor(o: { origin: string; rpId: string }) {
    this.origin = o.origin;
    this.rpId = o.rpId;
  }

  private clientData(type: string, challenge: string, origin: string): Buffer {
    return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }), 'utf8');
  }

  private flags(k: CeremonyKnobs, extra = 0, cred?: SoftCredential): number {
    let f = extra;
    if (k.up ?? true) f |= FLAGS.UP;
    if (k.uv ?? true) f |= FLAGS.UV;
    if (cred?.synced) f |= FLAGS.BE | FLAGS.BS;
    return f;
  }

  /** navigator.credentials.create(): a new ES256 credential and its 'none' attestation. */
  create(options: PublicKeyCredentialCreationOptionsJSON, knobs: CeremonyKnobs & { synced?: boolean } = {}): { response: RegistrationResponseJSON; credential: SoftCredential } {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const credential: SoftCredential = {
      id: randomBytes(32),
      privateKey,
      rpId: knobs.rpId ?? this.rpId,
      userHandle: Buffer.from(options.user.id, 'base64url'),
      counter: knobs.counter ?? 0,
      synced: knobs.synced ?? false,
    };
    // COSE_Key (RFC 9053): kty EC2 (2), alg ES256 (-7), crv P-256 (1), x, y.
    const coseKey = cbor(
      new Map<CborValue, CborValue>([
        [1, 2],
        [3, -7],
        [-1, 1],
        [-2, Buffer.from(jwk.x!, 'base64url')],
        [-3, Buffer.from(jwk.y!, 'base64url')],
      ]),
    );
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(credential.counter);
    const idLen = Buffer.alloc(2);
    idLen.writeUInt16BE(credential.id.length);
    const authData = Buffer.concat([
      sha256(credential.rpId),
      Buffer.from([this.flags(knobs, FLAGS.AT, credential)]),
      counter,
      Buffer.alloc(16), // AAGUID: none
      idLen,
      credential.id,
      coseKey,
    ]);
    const attestationObject = cbor(
      new Map<CborValue, CborValue>([
        ['fmt', 'none'],
        ['attStmt', new Map()],
        ['authData', authData],
      ]),
    );
    const clientDataJSON = this.clientData(knobs.type ?? 'webauthn.create', knobs.challenge ?? options.challenge, knobs.origin ?? this.origin);
    this.credentials.push(credential);
    return {
      credential,
      response: {
        id: b64u(credential.id),
        rawId: b64u(credential.id),
        type: 'public-key',
        response: { clientDataJSON: b64u(clientDataJSON), attestationObject: b64u(attestationObject), transports: ['internal'] },
        clientExtensionResults: {},
        authenticatorAttachment: 'platform',
      },
    };
  }

  /** navigator.credentials.get(): an assertion signed by one of this authenticator's credentials. */
  get(options: PublicKeyCredentialRequestOptionsJSON, knobs: AssertionKnobs = {}): AuthenticationResponseJSON {
    const allowed = options.allowCredentials?.map((c) => c.id);
    const cred = knobs.credential ?? this.credentials.find((c) => !allowed || allowed.includes(b64u(c.id)));
    if (!cred) throw new Error('soft authenticator: no matching credential');
    const reported = knobs.counter ?? (cred.synced ? 0 : cred.counter + 1);
    cred.counter = reported;
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(reported);
    const authData = Buffer.concat([sha256(knobs.rpId ?? cred.rpId), Buffer.from([this.flags(knobs, 0, cred)]), counter]);
    const clientDataJSON = this.clientData(knobs.type ?? 'webauthn.get', knobs.challenge ?? options.challenge, knobs.origin ?? this.origin);
    // ECDSA over authData || SHA-256(clientDataJSON); node signs EC keys in DER, as WebAuthn wants.
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), cred.privateKey);
    const userHandle = knobs.userHandle === undefined ? b64u(cred.userHandle) : knobs.userHandle;
    const id = knobs.claimId ?? b64u(cred.id);
    return {
      id,
      rawId: id,
      type: 'public-key',
      response: {
        clientDataJSON: b64u(clientDataJSON),
        authenticatorData: b64u(authData),
        signature: b64u(signature),
        ...(userHandle === null ? {} : { userHandle }),
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }
}
