/**
 * The rate-limit settings (src/config.ts, CUSTOS_RATE_LIMIT_*): defaults,
 * `rate:burst` per class, clients' own limits by id, off, and refusals of
 * what cannot be meant.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';

const base = { CUSTOS_ENV: 'test' as const };

describe('rate-limit settings', () => {
  it('are on by default, with a limit per class and none per client', () => {
    const r = loadConfig(base).rateLimits!;
    expect(r.classes).toEqual({ service: { rate: 10000, burst: 20000 }, user: { rate: 500, burst: 1000 }, address: { rate: 20000, burst: 40000 } });
    expect(r.clients.size).toBe(0);
    expect(r.leaseFraction).toBe(0.1);
    expect(r.auditWindowSeconds).toBe(60);
  });

  it('read `rate:burst` per class and `id=rate:burst` per client', () => {
    const r = loadConfig({ ...base, CUSTOS_RATE_LIMIT_SERVICE: '200:400', CUSTOS_RATE_LIMIT_USER: ' 20 : 40 ', CUSTOS_RATE_LIMIT_ADDRESS: '1000:1', CUSTOS_RATE_LIMIT_CLIENTS: 'feature-store=5000:10000, 0198c0de-0000-7000-8000-000000000001=10:10', CUSTOS_RATE_LIMIT_LEASE: '0.05' }).rateLimits!;
    expect(r.classes).toEqual({ service: { rate: 200, burst: 400 }, user: { rate: 20, burst: 40 }, address: { rate: 1000, burst: 1 } });
    expect([...r.clients]).toEqual([
      ['feature-store', { rate: 5000, burst: 10000 }],
      ['0198c0de-0000-7000-8000-000000000001', { rate: 10, burst: 10 }],
    ]);
    expect(r.leaseFraction).toBe(0.05);
  });

  it('are off with CUSTOS_RATE_LIMITS=false', () => {
    expect(loadConfig({ ...base, CUSTOS_RATE_LIMITS: 'false' }).rateLimits).toBeUndefined();
  });

  it('refuse a zero, a fraction, a missing burst, a client named twice, and a lease above a second', () => {
    for (const env of [
      { CUSTOS_RATE_LIMIT_SERVICE: '0:10' },
      { CUSTOS_RATE_LIMIT_SERVICE: '1.5:10' },
      { CUSTOS_RATE_LIMIT_USER: '100' },
      { CUSTOS_RATE_LIMIT_CLIENTS: 'a=1:1,a=2:2' },
      { CUSTOS_RATE_LIMIT_CLIENTS: 'a b=1:1' },
      { CUSTOS_RATE_LIMIT_LEASE: '2' },
    ]) {
      expect(() => loadConfig({ ...base, ...env }), JSON.stringify(env)).toThrow(ConfigError);
    }
  });
});
