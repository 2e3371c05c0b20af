/**
 * The browser half of WebAuthn: Custos sends options as JSON (base64url
 * buffers, as @simplewebauthn/server writes them) and takes the credential
 * back as JSON. Browsers with the WebAuthn Level 3 JSON helpers use them;
 * others get the same conversion by hand.
 */
const b64urlToBytes = (s: string): Uint8Array<ArrayBuffer> => {
  const b = atob(s.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(s.length / 4) * 4, '='));
  return Uint8Array.from(b, (c) => c.charCodeAt(0));
};
const bytesToB64url = (buf: ArrayBuffer): string =>
  btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

type Json = Record<string, any>;
const PKC = () => globalThis.PublicKeyCredential as any;

export function webauthnAvailable(): boolean {
  return typeof PKC() === 'function' && !!navigator.credentials;
}

function toJSON(cred: PublicKeyCredential): Json {
  const c = cred as any;
  if (typeof c.toJSON === 'function') return c.toJSON();
  const r = cred.response as any;
  const response: Json = { clientDataJSON: bytesToB64url(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = bytesToB64url(r.attestationObject);
    response.transports = typeof r.getTransports === 'function' ? r.getTransports() : [];
  } else {
    response.authenticatorData = bytesToB64url(r.authenticatorData);
    response.signature = bytesToB64url(r.signature);
    if (r.userHandle) response.userHandle = bytesToB64url(r.userHandle);
  }
  return { id: cred.id, rawId: bytesToB64url(cred.rawId), type: cred.type, response, clientExtensionResults: cred.getClientExtensionResults(), authenticatorAttachment: cred.authenticatorAttachment ?? undefined };
}

/** navigator.credentials.create with options from /v1/me/webauthn/registration/options. */
export async function createCredential(options: Json): Promise<Json> {
  const publicKey = typeof PKC()?.parseCreationOptionsFromJSON === 'function'
    ? PKC().parseCreationOptionsFromJSON(options)
    : {
        ...options,
        challenge: b64urlToBytes(options.challenge),
        user: { ...options.user, id: b64urlToBytes(options.user.id) },
        excludeCredentials: (options.excludeCredentials ?? []).map((c: Json) => ({ ...c, id: b64urlToBytes(c.id) })),
      };
  const cred = (await navigator.credentials.create({ publicKey })) as PublicKeyCredential | null;
  if (!cred) throw new Error('No passkey was created.');
  return toJSON(cred);
}

/** navigator.credentials.get with options from a login, passkey or step-up options route. */
export async function getAssertion(options: Json): Promise<Json> {
  const publicKey = typeof PKC()?.parseRequestOptionsFromJSON === 'function'
    ? PKC().parseRequestOptionsFromJSON(options)
    : { ...options, challenge: b64urlToBytes(options.challenge), allowCredentials: (options.allowCredentials ?? []).map((c: Json) => ({ ...c, id: b64urlToBytes(c.id) })) };
  const cred = (await navigator.credentials.get({ publicKey })) as PublicKeyCredential | null;
  if (!cred) throw new Error('No passkey was used.');
  return toJSON(cred);
}
