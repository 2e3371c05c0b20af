/**
 * Lockouts on /metrics, from real traffic: wrong passwords for one account
 * up to its budget count as failures; the attempt past it starts a lockout
 * (and is refused, 429); later attempts are refused while it lasts. Each is
 * counted once, under the account scope.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { parseScrape, value } from '../support/prometheusText.ts';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ CUSTOS_LOCKOUT_ACCOUNT_ATTEMPTS: '3' });
});
afterAll(async () => app?.close());

it('counts failures up to the budget, one lockout, and the throttled attempts after it', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) statuses.push((await app.call('POST', '/v1/auth/login', { body: { username: 'mallory', password: `guess-${i}` } })).status);
  expect(statuses).toEqual([401, 401, 401, 429, 429, 429]);
  const s = parseScrape((await app.call('GET', '/metrics')).body as string);
  expect(value(s, 'custos_auth_failures_total', { method: 'password' })).toBe(3);
  expect(value(s, 'custos_auth_lockouts_total', { scope: 'account' })).toBe(1);
  expect(value(s, 'custos_auth_lockouts_total', { scope: 'source' })).toBe(0);
  expect(value(s, 'custos_auth_throttled_total', { scope: 'account' })).toBe(3);
  expect(value(s, 'custos_auth_throttled_total', { scope: 'source' })).toBe(0);
});
