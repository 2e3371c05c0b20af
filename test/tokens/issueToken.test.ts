/**
 * Token issuance (src/tokens/issueToken.ts) with no database: against a
 * fake decision service (facts in memory, the shipped policy through the real
 * engine, a decision log in an array that can fail or hold back its commit),
 * a fake client authenticator and a real ES256 key.
 *
 * Every refusal below starts from the request that gets a token (the first
 * test), changes one thing, and shows that the refusal came from the check
 * it names: the exact error, and how far the request got — whether the client
 * was authenticated, the decision evaluated, its record committed, a token
 * signed. The invariant under all of it: no token without its committed
 * record, and nothing signed for a record that failed.
 */
import { generateKeyPairSync } from 'node:crypto';
import * as jose from 'jose';
import jwt from 'jsonwebtoken';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RequestMeta } from '../../src/audit/log.ts';
import type { AuthContext } from '../../src/auth/context.ts';
import type { DatasetFacts, PrincipalFacts } from '../../src/engine/types.ts';
import { CustosError, NotFoundError, UnauthenticatedError, UnavailableError } from '../../src/errors.ts';
import { issueToken, type IssueTokenDeps, type TokenResponse } from '../../src/tokens/issueToken.ts';
import { OAuthError } from '../../src/tokens/oauthError.ts';
import type { ClientAuthenticator } from '../../src/tokens/oauthRequest.ts';
import { deferred } from '../support/deferred.ts';
import { AT, fakeDecisions, type FakeDecisions } from '../support/decisionService.ts';

const SCI = 'a0000000-0000-4000-8000-000000000001';
const JOB = 'a0000000-0000-4000-8000-000000000002';
const JIT = 'a0000000-0000-4000-8000-000000000003';
const ISSUER = 'https://custos.example.org';
const AUDIENCE = 'https://notes.example.org';
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const JOB_BASIC = `Basic ${Buffer.from('svc_job:secret').toString('base64')}`;
const JIT_BASIC = `Basic ${Buffer.from('svc_jit:secret').toString('base64')}`;
const JOB_ASSERTION = 'eyJ.assertion-of-the-job.sig';
const meta: RequestMeta = { ip: '192.0.2.1', requestId: 'req-1' };

const scientist: PrincipalFacts = {
  id: SCI, kind: 'user', status: 'active', projects: ['onc'], vendorId: null, baas: [], attributes: {}, roles: [{ role: 'data-scientist', project: 'onc' }], grants: [],
};
const job: PrincipalFacts = { ...scientist, id: JOB, kind: 'service', sponsor: scientist };
/** A job with no role: only a just-in-time grant (set per test) gives it access. */
const jitJob = (grantEnds: number): PrincipalFacts => ({
  ...job,
  id: JIT,
  roles: [],
  grants: [{ id: 'g-1', role: 'data-scientist', project: 'onc', datasetId: null, notBefore: AT - 3_600_000, expiresAt: grantEnds, breakGlass: false }],
});
const notes: DatasetFacts = {
  id: 'onc-notes', project: 'onc', owner: SCI, classification: 'phi', purposes: ['model-training'], audience: AUDIENCE,
  columns: [{ name: 'note_text' }, { name: 'admit_date', category: 'dates' }, { name: 'patient_name', category: 'names' }],
};

function context(principalId: string, clientId: string, over: Partial<AuthContext> = {}): AuthContext {
  const now = new Date(AT);
  return {
    via: 'client', principalId, principalName: clientId, clientId, sessionId: `client:${clientId}`, scope: 'full', amr: ['client_secret_basic'],
    authTime: now, expiresAt: now, mfaAt: null, mfaMethod: null, orgRoles: [], permissions: new Set(), ...over,
  };
}

const detail = (over: Record<string, unknown> = {}) => JSON.stringify([{ type: 'dataset_access', dataset: 'onc-notes', actions: ['read'], columns: ['note_text', 'admit_date'], purpose: 'model-training', ...over }]);
/** The request that gets a token; each refusal changes one thing. */
const good = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  grant_type: 'client_credentials',
  authorization_details: detail(),
  job_id: 'train-42',
  image_digest: `sha256:${'a'.repeat(64)}`,
  ...over,
});

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });

let service: FakeDecisions;
let authenticated: string[];
let authenticate: Map<string, AuthContext>;
let keyFailure: unknown;
let deps: IssueTokenDeps;
let sign: ReturnType<typeof vi.spyOn>;

beforeEach(() => {
  service = fakeDecisions([scientist, job], [notes]);
  authenticated = [];
  authenticate = new Map([
    [JOB_BASIC, context(JOB, 'svc_job')],
    [JOB_ASSERTION, context(JOB, 'svc_job', { amr: ['private_key_jwt'] })],
  ]);
  keyFailure = undefined;
  const lookup = async (credential: string) => {
    authenticated.push(credential);
    const ctx = authenticate.get(credential);
    if (!ctx) throw new UnauthenticatedError('The client credentials are not valid.', { reason: 'unknown client or wrong secret' });
    return ctx;
  };
  const clients: ClientAuthenticator = { basic: (header) => lookup(header), assertion: (assertion) => lookup(assertion) };
  const keys = {
    activeKey: async () => {
      if (keyFailure !== undefined) throw keyFailure;
      return { kid: 'kid-1', privateKey };
    },
  };
  deps = { clients, decisions: service.deps, keys, settings: { issuer: ISSUER, ttlSeconds: 900, maxSeconds: 3600 } };
  sign = vi.spyOn(jwt, 'sign');
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** Runs one token request (`null`: no Authorization header); the token, or what it was refused with. */
async function ask(form: Record<string, unknown>, authorization: string | null = JOB_BASIC): Promise<{ token?: TokenResponse; error?: unknown }> {
  try {
    return { token: await issueToken(deps, { authorization: authorization ?? undefined, form, meta }) };
  } catch (error) {
    return { error };
  }
}

/** How far requests got: clients authenticated, facts read (evaluated), records committed, tokens signed. */
function progress() {
  return { authenticated: authenticated.length, evaluated: service.lookups() > 0, recorded: service.deps.log.records.length, signed: sign.mock.calls.length };
}
const NOTHING = { authenticated: 0, evaluated: false, recorded: 0, signed: 0 };
const AUTHENTICATED = { authenticated: 1, evaluated: false, recorded: 0, signed: 0 };

/** The refusal is this error, with this message (and, for an OAuthError, this code). */
function expectRefusal(r: { token?: TokenResponse; error?: unknown }, type: new (...a: never[]) => CustosError<string>, code: string, message: string | RegExp) {
  expect(r.token).toBeUndefined();
  expect(r.error).toBeInstanceOf(type);
  const e = r.error as CustosError<string>;
  expect(e.code).toBe(code);
  if (typeof message === 'string') expect(e.message).toBe(message);
  else expect(e.message).toMatch(message);
}

describe('a token', () => {
  it('is issued for the granted columns once its record has committed, and verifies as an RFC 9068 token', async () => {
    const r = await ask(good());
    expect(r.error).toBeUndefined();
    expect(progress()).toEqual({ authenticated: 1, evaluated: true, recorded: 1, signed: 1 });
    const [rec] = service.deps.log.records;
    expect(r.token).toEqual({
      access_token: expect.any(String),
      token_type: 'Bearer',
      expires_in: 900,
      authorization_details: [{ type: 'dataset_access', dataset: 'onc-notes', actions: ['read'], columns: ['note_text', 'admit_date'], purpose: 'model-training' }],
    });
    const { payload, protectedHeader } = await jose.jwtVerify(r.token!.access_token, publicKey, {
      algorithms: ['ES256'], issuer: ISSUER, audience: AUDIENCE, typ: 'at+jwt', currentDate: new Date(AT),
    });
    expect(protectedHeader).toEqual({ alg: 'ES256', typ: 'at+jwt', kid: 'kid-1' });
    const iat = Math.floor(AT / 1000);
    expect(payload).toEqual({
      iss: ISSUER, sub: JOB, aud: AUDIENCE, iat, nbf: iat, exp: iat + 900, jti: rec!.token!.jti, client_id: 'svc_job',
      authorization_details: r.token!.authorization_details, purpose: 'model-training', decision_id: rec!.id,
      job: { job_id: 'train-42', image_digest: `sha256:${'a'.repeat(64)}` }, sponsor: SCI,
      obligations: [{ type: 'no-export' }, { type: 'review-within-24h' }],
    });
    // The record carries the token as it went out, and counts as a release.
    expect(rec).toMatchObject({
      callerId: JOB, requestId: 'req-1', release: true, decision: { effect: 'allow' },
      token: { expiresAt: new Date((iat + 900) * 1000), job: { job_id: 'train-42', image_digest: `sha256:${'a'.repeat(64)}` } },
    });
  });

  it('is issued to a client authenticated by private_key_jwt (no Authorization header)', async () => {
    const r = await ask(good({ client_assertion_type: JWT_BEARER, client_assertion: JOB_ASSERTION }), null);
    expect(r.error).toBeUndefined();
    expect(authenticated).toEqual([JOB_ASSERTION]);
    expect(jose.decodeJwt(r.token!.access_token).sub).toBe(JOB);
  });

  it('ignores parameters it does not use (scope, resource, others) and accepts a client_id naming the authenticated client', async () => {
    const r = await ask(good({ scope: 'read', resource: 'https://elsewhere.example.org', audience: 'x', foo: ['a', 'b'], client_id: 'svc_job' }));
    expect(r.error).toBeUndefined();
    expect(jose.decodeJwt(r.token!.access_token).aud).toBe(AUDIENCE);
  });

  it('lives no longer than the grant it relies on, and names it', async () => {
    service.principals.set(JIT, jitJob(AT + 120_600));
    authenticate.set(JIT_BASIC, context(JIT, 'svc_jit'));
    const r = await ask(good(), JIT_BASIC);
    expect(r.error).toBeUndefined();
    const p = jose.decodeJwt(r.token!.access_token);
    expect(p.exp).toBe(Math.floor((AT + 120_600) / 1000));
    expect(p.grant_ids).toEqual(['g-1']);
    expect(r.token!.expires_in).toBe(p.exp! - p.iat!);
  });

  it('is not answered before its record has committed, and is signed only then', async () => {
    const commit = deferred();
    service.deps.log.hold = commit.promise;
    let settled = false;
    const pending = ask(good()).finally(() => (settled = true));
    await vi.waitFor(() => expect(service.deps.log.appended).toHaveLength(1));
    await new Promise((r) => setTimeout(r, 20));
    expect(settled).toBe(false);
    expect(progress()).toEqual({ authenticated: 1, evaluated: true, recorded: 0, signed: 0 });
    commit.resolve();
    const r = await pending;
    expect(r.error).toBeUndefined();
    expect(progress()).toEqual({ authenticated: 1, evaluated: true, recorded: 1, signed: 1 });
  });
});

describe('refused before the client is authenticated', () => {
  it('no client authentication at all: invalid_client, and no field is looked at', async () => {
    expectRefusal(await ask({ ...good(), grant_type: ['a', 'b'] }, null), UnauthenticatedError, 'unauthenticated', 'Client authentication is required.');
    expectRefusal(await ask(good(), 'Bearer abc'), UnauthenticatedError, 'unauthenticated', 'Client authentication is required.');
    expect(progress()).toEqual(NOTHING);
  });

  it('two authentication methods (Basic and an assertion): invalid_request', async () => {
    expectRefusal(await ask(good({ client_assertion_type: JWT_BEARER, client_assertion: JOB_ASSERTION })), OAuthError, 'invalid_request', 'Use one client authentication method.');
    expect(progress()).toEqual(NOTHING);
  });

  it('a malformed assertion (wrong type, repeated, missing, too long): invalid_client', async () => {
    for (const over of [
      { client_assertion_type: 'urn:other', client_assertion: JOB_ASSERTION },
      { client_assertion_type: [JWT_BEARER, JWT_BEARER], client_assertion: JOB_ASSERTION },
      { client_assertion_type: JWT_BEARER, client_assertion: [JOB_ASSERTION, JOB_ASSERTION] },
      { client_assertion_type: JWT_BEARER },
      { client_assertion_type: JWT_BEARER, client_assertion: 'x'.repeat(20_001) },
    ]) {
      expectRefusal(await ask(good(over), null), UnauthenticatedError, 'unauthenticated', 'The client assertion is not valid.');
    }
    expect(progress()).toEqual(NOTHING);
  });
});

describe('refused by client authentication', () => {
  it('credentials the authenticator refuses: invalid_client, whatever the fields (none is looked at)', async () => {
    const wrong = `Basic ${Buffer.from('svc_job:wrong').toString('base64')}`;
    expectRefusal(await ask({ grant_type: ['x', 'y'], job_id: 'j'.repeat(5000) }, wrong), UnauthenticatedError, 'unauthenticated', 'The client credentials are not valid.');
    expect(progress()).toEqual(AUTHENTICATED);
  });

  it('a client_id naming another client than the one authenticated (or named twice): invalid_client', async () => {
    for (const clientId of ['svc_other', ['svc_job', 'svc_job']]) {
      const r = await ask(good({ client_id: clientId }));
      expectRefusal(r, UnauthenticatedError, 'unauthenticated', 'The client credentials are not valid.');
      expect((r.error as CustosError).detail).toMatchObject({ reason: 'client_id names another client than the one authenticated' });
    }
    expect(progress()).toEqual({ ...AUTHENTICATED, authenticated: 2 });
  });

  it('an authenticated caller that is not a service client: unauthorized_client', async () => {
    authenticate.set(JOB_BASIC, context(JOB, 'svc_job', { via: 'session' }));
    expectRefusal(await ask(good()), OAuthError, 'unauthorized_client', 'Only service clients may use this grant.');
    expect(progress()).toEqual(AUTHENTICATED);
  });
});

describe('refused by the fields, after authentication and before any decision', () => {
  it('a repeated parameter: invalid_request naming it', async () => {
    for (const key of ['grant_type', 'authorization_details', 'job_id', 'image_digest']) {
      const form = good();
      expectRefusal(await ask({ ...form, [key]: [form[key], form[key]] }), OAuthError, 'invalid_request', `${key} must not be repeated.`);
    }
    expect(progress()).toEqual({ ...AUTHENTICATED, authenticated: 4 });
  });

  it('a field out of its bounds: invalid_request naming it', async () => {
    for (const [key, value] of [
      ['grant_type', undefined],
      ['grant_type', 'g'.repeat(101)],
      ['authorization_details', 'a'.repeat(20_001)],
      ['job_id', 'j'.repeat(201)],
      ['image_digest', 'i'.repeat(101)],
    ] as const) {
      expectRefusal(await ask(good({ [key]: value })), OAuthError, 'invalid_request', new RegExp(`^${key}: `));
    }
    expect(progress()).toEqual({ ...AUTHENTICATED, authenticated: 5 });
  });

  it('another grant type: unsupported_grant_type', async () => {
    expectRefusal(await ask(good({ grant_type: 'password' })), OAuthError, 'unsupported_grant_type', 'Only client_credentials is supported.');
    expect(progress()).toEqual(AUTHENTICATED);
  });

  it('malformed authorization details: invalid_authorization_details saying what is wrong', async () => {
    const one = (d: unknown) => JSON.stringify([d]);
    const base = JSON.parse(detail())[0];
    const cases: [unknown, string | RegExp][] = [
      [undefined, 'authorization_details must be a non-empty JSON array.'],
      ['{not json', 'authorization_details is not valid JSON.'],
      ['{}', 'authorization_details must be a non-empty JSON array.'],
      ['[]', 'authorization_details must be a non-empty JSON array.'],
      [JSON.stringify([base, base]), 'Request one dataset_access detail per token.'],
      [one({ ...base, type: 'other' }), /^authorization_details\[0\]\.type: /],
      [one({ ...base, dataset: 'Bad Name' }), /^authorization_details\[0\]\.dataset: /],
      [one({ ...base, actions: ['write'] }), /^authorization_details\[0\]\.actions\.0: /],
      [one({ ...base, purpose: 'marketing' }), /^authorization_details\[0\]\.purpose: /],
      [one({ ...base, columns: [] }), /^authorization_details\[0\]\.columns: /],
      [one({ ...base, extra: 1 }), 'authorization_details[0].: unknown field(s) extra'],
      [one({ ...base, columns: ['note_text', 'admit_date', 'note_text'] }), 'authorization_details[0].columns.2: this column is already listed'],
    ];
    for (const [value, message] of cases) expectRefusal(await ask(good({ authorization_details: value })), OAuthError, 'invalid_authorization_details', message);
    expect(progress()).toEqual({ ...AUTHENTICATED, authenticated: cases.length });
  });

  it('missing or malformed job metadata: invalid_request naming the field', async () => {
    expectRefusal(await ask(good({ job_id: undefined })), OAuthError, 'invalid_request', /^job metadata: job_id /);
    expectRefusal(await ask(good({ job_id: '' })), OAuthError, 'invalid_request', /^job metadata: job_id /);
    expectRefusal(await ask(good({ job_id: 'has space' })), OAuthError, 'invalid_request', 'job metadata: job_id printable ASCII');
    expectRefusal(await ask(good({ image_digest: 'sha256:abc' })), OAuthError, 'invalid_request', 'job metadata: image_digest sha256:<64 hex>');
    expect(progress()).toEqual({ ...AUTHENTICATED, authenticated: 4 });
  });
});

describe('refused by the decision, with its record', () => {
  it('an unknown dataset: not found, nothing recorded', async () => {
    expectRefusal(await ask(good({ authorization_details: detail({ dataset: 'nope' }) })), NotFoundError, 'not_found', 'Dataset nope was not found.');
    expect(progress()).toEqual({ authenticated: 1, evaluated: true, recorded: 0, signed: 0 });
  });

  it('a deny: access_denied naming the decision and what was missing; recorded with no token and no release, nothing signed', async () => {
    const r = await ask(good({ authorization_details: detail({ columns: ['note_text', 'patient_name'] }) }));
    const [rec] = service.deps.log.records;
    expectRefusal(r, OAuthError, 'access_denied', new RegExp(`^decision ${rec!.id}: .*patient_name`));
    expect(rec).toMatchObject({ decision: { effect: 'deny' }, token: undefined, release: false, callerId: JOB });
    expect(progress()).toEqual({ authenticated: 1, evaluated: true, recorded: 1, signed: 0 });
  });

  it('an allow on a grant that ends within this second: access_denied, recorded with no token and no release, nothing signed', async () => {
    service.principals.set(JIT, jitJob(AT + 500));
    authenticate.set(JIT_BASIC, context(JIT, 'svc_jit'));
    const r = await ask(good(), JIT_BASIC);
    const [rec] = service.deps.log.records;
    expectRefusal(r, OAuthError, 'access_denied', `decision ${rec!.id}: the grant it relies on ends now`);
    expect(rec).toMatchObject({ decision: { effect: 'allow', grantIds: ['g-1'] }, token: undefined, release: false });
    expect(progress()).toEqual({ authenticated: 1, evaluated: true, recorded: 1, signed: 0 });
  });
});

describe('fails closed on the way to a token', () => {
  it('a record that cannot be committed: the log\'s error (503), nothing committed and nothing signed', async () => {
    const down = new UnavailableError({ reason: 'decision log queue full' });
    service.deps.log.fail = down;
    const r = await ask(good());
    expect(r.token).toBeUndefined();
    expect(r.error).toBe(down);
    expect(service.deps.log.appended).toHaveLength(1);
    expect(progress()).toEqual({ authenticated: 1, evaluated: true, recorded: 0, signed: 0 });
  });

  it('a commit that fails after a wait: nothing signed', async () => {
    const commit = deferred();
    service.deps.log.hold = commit.promise;
    const pending = ask(good());
    await vi.waitFor(() => expect(service.deps.log.appended).toHaveLength(1));
    commit.reject(new UnavailableError({ reason: 'batch failed' }));
    expectRefusal(await pending, UnavailableError, 'unavailable', 'The service is temporarily unavailable.');
    expect(progress()).toEqual({ authenticated: 1, evaluated: true, recorded: 0, signed: 0 });
  });

  it('no signing key: unavailable before anything is recorded (no record names a token that was never signed)', async () => {
    keyFailure = new UnavailableError({ reason: 'no active signing key' });
    expectRefusal(await ask(good()), UnavailableError, 'unavailable', 'The service is temporarily unavailable.');
    expect(service.deps.log.appended).toHaveLength(0);
    expect(progress()).toEqual({ authenticated: 1, evaluated: true, recorded: 0, signed: 0 });
  });
});
