/**
 * The one error mapper and its two renderers, over real HTTP: every kind of
 * failure (domain error, OAuth error, body reader, deadline, unreachable
 * database, bug) answered as a problem document and as an RFC 6749 §5.2
 * body, with the status, body and headers each has always had. The table is
 * the contract the route-level tests in this folder rely on.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditUnavailableError, ForbiddenError, NotFoundError, RateLimitedError, UnauthenticatedError, UnavailableError, ValidationError } from '../../src/errors.ts';
import { DeadlineExceededError, errorResponder } from '../../src/http/errorMapper.ts';
import { withLocals } from '../../src/http/transport.ts';
import { capturedLog } from '../support/capturedLog.ts';
import { OAuthError } from '../../src/tokens/oauthError.ts';

const DB_DOWN = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
const { log, lines: logs } = capturedLog();
const respond = errorResponder(log, (err) => err === DB_DOWN);

let server: Server;
let current: { err: unknown; style: 'problem' | 'oauth' };

beforeAll(async () => {
  server = createServer((req, res) => {
    withLocals(res);
    res.locals.requestId = 'req-1';
    if (current.style === 'oauth') res.locals.errorStyle = 'oauth';
    respond(current.err, res, req);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** The answer to a request that fails with `err`, rendered in `style`. */
function answer(style: 'problem' | 'oauth', err: unknown): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Record<string, unknown> }> {
  current = { err, style };
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, method: 'POST', path: '/x?y=1' }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(text) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end();
  });
}

const bodyError = (type: string) => Object.assign(new Error(type), { type, expose: true });

describe('problem documents (the default renderer)', () => {
  const cases: [string, unknown, number, string, string, Record<string, string>?][] = [
    ['a validation error', new ValidationError('The request body is not valid.', [{ path: 'body.x', message: 'Required' }]), 400, 'invalid_request', 'The request body is not valid.'],
    ['no caller', new UnauthenticatedError(), 401, 'unauthenticated', 'Authentication is required.', { 'www-authenticate': 'Bearer realm="custos"' }],
    ['a refusal', new ForbiddenError('No.'), 403, 'forbidden', 'No.'],
    ['too many attempts', new RateLimitedError(7), 429, 'rate_limited', 'Too many attempts. Try again later.', { 'retry-after': '7' }],
    ['an audit event that cannot be written', new AuditUnavailableError(), 503, 'audit_unavailable', 'The change was not made: its audit event could not be recorded. Try again later.'],
    ['an unavailable dependency (thrown)', new UnavailableError(), 503, 'unavailable', 'The service is temporarily unavailable.'],
    ['the deadline', new DeadlineExceededError(100), 503, 'unavailable', 'The service is temporarily unavailable.', { 'retry-after': '1' }],
    ['an unreachable database', DB_DOWN, 503, 'unavailable', 'The service is temporarily unavailable.', { 'retry-after': '1' }],
    ['an oversized body', bodyError('entity.too.large'), 413, 'payload_too_large', 'The request body is too large.', { connection: 'close' }],
    ['too many form parameters', bodyError('parameters.too.many'), 413, 'payload_too_large', 'The request body is too large.', { connection: 'close' }],
    ['unparsable JSON', bodyError('entity.parse.failed'), 400, 'invalid_request', 'The request body is not valid JSON.'],
    ['a body in another charset', bodyError('charset.unsupported'), 415, 'unsupported_media_type', 'The request body encoding is not supported.'],
    ['an aborted body', bodyError('request.aborted'), 400, 'invalid_request', 'The request body could not be read.'],
    ['a bug', new TypeError('x is undefined'), 500, 'internal_error', 'An unexpected error occurred.'],
  ];
  it.each(cases)('%s', async (_name, err, status, code, detail, headers = {}) => {
    const r = await answer('problem', err);
    expect(r.status).toBe(status);
    expect(r.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(r.body).toMatchObject({ type: `urn:custos:problem:${code}`, status, code, detail, request_id: 'req-1' });
    expect(r.body.title).toEqual(expect.any(String));
    for (const [k, v] of Object.entries(headers)) expect(r.headers[k], k).toBe(v);
    if (!headers['retry-after']) expect(r.headers['retry-after']).toBeUndefined();
    if (status !== 401) expect(r.headers['www-authenticate']).toBeUndefined();
  });

  it('lists the fields of a validation error, and an error’s safe extension members (never over standard ones)', async () => {
    const v = await answer('problem', new ValidationError('bad', [{ path: 'body.x', message: 'Required' }]));
    expect(v.body.errors).toEqual([{ path: 'body.x', message: 'Required' }]);
    const withExtensions = Object.assign(new ValidationError('bad'), { problemExtensions: { issues: [{ line: 3 }], status: 200 } });
    const e = await answer('problem', withExtensions);
    expect(e.body).toMatchObject({ status: 400, issues: [{ line: 3 }] });
    expect(e.body.errors).toBeUndefined();
  });

  it('logs each failure once, with the request id: refusals at info, the rest at error', async () => {
    logs.length = 0;
    await answer('problem', new ForbiddenError('No.'));
    await answer('problem', new TypeError('boom'));
    expect(logs.map((l) => [l.level, l.msg])).toEqual([
      ['info', 'No.'],
      ['error', 'unexpected error'],
    ]);
  });
});

describe('RFC 6749 §5.2 bodies (routes that declare errors: oauth)', () => {
  const cases: [string, unknown, number, string, string, Record<string, string>?][] = [
    ['an OAuth error', new OAuthError('unsupported_grant_type', 'Only client_credentials is supported.'), 400, 'unsupported_grant_type', 'Only client_credentials is supported.'],
    ['an OAuth invalid_client', new OAuthError('invalid_client', 'Client authentication failed.'), 401, 'invalid_client', 'Client authentication failed.'],
    ['no client authentication', new UnauthenticatedError(), 401, 'invalid_client', 'Client authentication failed.', { 'www-authenticate': 'Basic realm="custos"' }],
    ['too many attempts', new RateLimitedError(7), 429, 'slow_down', 'Too many attempts. Try again later.', { 'retry-after': '7' }],
    ['a client without the permission', new ForbiddenError('This client may not introspect tokens.'), 403, 'unauthorized_client', 'This client may not introspect tokens.'],
    ['an unknown dataset', new NotFoundError('Dataset x'), 400, 'invalid_authorization_details', 'Dataset x was not found.'],
    ['a validation error (no field names)', new ValidationError('The request body contains a forbidden key.', [{ path: 'body.__proto__', message: 'forbidden key' }]), 400, 'invalid_request', 'The request is malformed.'],
    ['an audit event that cannot be written', new AuditUnavailableError(), 503, 'temporarily_unavailable', 'The service is temporarily unavailable.', { 'retry-after': '1' }],
    ['the deadline', new DeadlineExceededError(100), 503, 'temporarily_unavailable', 'The service is temporarily unavailable.', { 'retry-after': '1' }],
    ['an unreachable database', DB_DOWN, 503, 'temporarily_unavailable', 'The service is temporarily unavailable.', { 'retry-after': '1' }],
    ['an oversized form', bodyError('entity.too.large'), 413, 'invalid_request', 'The request body is too large.', { connection: 'close' }],
    ['a form in another charset', bodyError('charset.unsupported'), 415, 'invalid_request', 'The request body encoding is not supported.'],
    ['an aborted form', bodyError('request.aborted'), 400, 'invalid_request', 'The request body could not be read.'],
    ['a bug', new TypeError('x is undefined'), 500, 'server_error', 'An unexpected error occurred.'],
  ];
  it.each(cases)('%s', async (_name, err, status, error, description, headers = {}) => {
    const r = await answer('oauth', err);
    expect(r.status).toBe(status);
    expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(r.headers.pragma).toBe('no-cache');
    expect(r.body).toEqual({ error, error_description: description });
    for (const [k, v] of Object.entries(headers)) expect(r.headers[k], k).toBe(v);
    if (!headers['www-authenticate']) expect(r.headers['www-authenticate']).toBeUndefined();
  });
});
