/**
 * Paths and transport: routing is case-sensitive and strict on both lanes,
 * and with HOST beyond loopback and no TLS of its own, Custos answers only
 * requests that its named TLS-terminating proxy forwarded as HTTPS
 * (§164.312(e)(1)); health probes excepted.
 */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';
import { adminOf, startTestApp, type Person, type TestApp } from '../support/app.ts';

/** One request from a chosen loopback source address (a stand-in for "the proxy" and "anyone else"). */
function from(app: TestApp, source: string, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const url = new URL(app.url);
    const req = httpRequest({ host: url.hostname, port: url.port, method, path, localAddress: source, headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('routing is case-sensitive and strict', () => {
  let app: TestApp;
  let admin: Person;
  beforeAll(async () => {
    app = await startTestApp();
    admin = await adminOf(app);
  });
  afterAll(async () => app?.close());

  it('serves /v1/principals, and neither /V1/PRINCIPALS nor /v1/principals/', async () => {
    expect((await app.call('GET', '/v1/principals', { token: admin.token })).status).toBe(200);
    for (const path of ['/V1/PRINCIPALS', '/v1/Principals', '/v1/principals/']) {
      const r = await app.call('GET', path, { token: admin.token });
      expect(r.status, path).toBe(404);
      expect(r.body.code).toBe('not_found');
    }
  });

  it('the hot lane too: POST /V1/DECISIONS and /oauth2/TOKEN are not routes', async () => {
    expect((await app.call('POST', '/V1/DECISIONS', { body: {} })).status).toBe(404);
    expect((await app.call('POST', '/oauth2/TOKEN', { body: 'grant_type=client_credentials', headers: { 'content-type': 'application/x-www-form-urlencoded' } })).status).toBe(404);
    // The real paths answer (401: no caller), so the 404s above come from routing.
    expect((await app.call('POST', '/v1/decisions', { body: {} })).status).toBe(401);
  });
});

describe('behind a TLS-terminating proxy (HOST=0.0.0.0, no TLS here)', () => {
  const PROXY = '127.0.0.5';
  const OTHER = '127.0.0.9';
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ HOST: '0.0.0.0', CUSTOS_TRUST_PROXY: PROXY });
    expect(app.config.proxyOnly).toBe(true);
  });
  afterAll(async () => app?.close());

  it('serves what the proxy forwards as HTTPS', async () => {
    const r = await from(app, PROXY, 'GET', '/v1/principals', { 'x-forwarded-proto': 'https' });
    // Past the transport check: the route itself asks for a caller.
    expect(r.status).toBe(401);
    expect(r.body.code).toBe('unauthenticated');
    expect((await from(app, PROXY, 'GET', '/openapi.json', { 'x-forwarded-proto': 'https' })).status).toBe(200);
  });

  it('refuses what the proxy forwards as plain HTTP, or without saying', async () => {
    for (const headers of [{ 'x-forwarded-proto': 'http' }, {}, { 'x-forwarded-proto': 'http, https' }] as Record<string, string>[]) {
      const r = await from(app, PROXY, 'GET', '/openapi.json', headers);
      expect(r.status, JSON.stringify(headers)).toBe(403);
      expect(r.body.code).toBe('https_required');
    }
  });

  it('refuses anyone else, whatever they claim, on both lanes', async () => {
    for (const [method, path, body] of [
      ['GET', '/openapi.json', undefined],
      ['GET', '/v1/principals', undefined],
      ['POST', '/v1/decisions', '{}'],
      ['POST', '/v1/auth/login', '{"username":"a","password":"b"}'],
    ] as const) {
      const r = await from(app, OTHER, method, path, { 'x-forwarded-proto': 'https', 'x-forwarded-for': PROXY }, body);
      expect(r.status, `${method} ${path}`).toBe(403);
      expect(r.body.code).toBe('https_required');
    }
  });

  it('answers health probes from anywhere', async () => {
    expect((await from(app, OTHER, 'GET', '/healthz')).status).toBe(200);
    expect((await from(app, OTHER, 'GET', '/readyz')).status).toBe(200);
  });
});

describe('configuration', () => {
  const noFiles = () => {
    throw new Error('no files');
  };
  it.each(['1', '2', 'loopback', '10.0.0.1, loopback'])('refuses CUSTOS_TRUST_PROXY=%s with HOST=0.0.0.0 and no TLS', (trust) => {
    expect(() => loadConfig({ HOST: '0.0.0.0', CUSTOS_TRUST_PROXY: trust }, noFiles)).toThrow(ConfigError);
    expect(() => loadConfig({ HOST: '0.0.0.0', CUSTOS_TRUST_PROXY: trust }, noFiles)).toThrow(/address or CIDR of the TLS-terminating proxy/);
  });

  it('keeps hop counts and loopback for a loopback HOST, where nothing else can connect', () => {
    expect(loadConfig({ HOST: '127.0.0.1', CUSTOS_TRUST_PROXY: '1' }, noFiles).proxyOnly).toBe(false);
    expect(loadConfig({ HOST: '127.0.0.1', CUSTOS_TRUST_PROXY: 'loopback' }, noFiles).proxyOnly).toBe(false);
  });

  it('a named proxy address or CIDR turns the proxy-only mode on', () => {
    expect(loadConfig({ HOST: '0.0.0.0', CUSTOS_TRUST_PROXY: '10.0.0.0/8' }, noFiles).proxyOnly).toBe(true);
  });
});
