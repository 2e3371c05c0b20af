/**
 * CUSTOS_METRICS_ALLOW: addresses and CIDRs of both families, IPv4 peers
 * seen through a dual-stack socket, `none`, and entries refused at start-up.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { sourceAllow } from '../../src/metrics/sourceAllow.ts';

describe('the metrics allow list', () => {
  it('is loopback only by default', () => {
    const allowed = sourceAllow(loadConfig({ CUSTOS_ENV: 'test' }).metricsAllow);
    expect(allowed('127.0.0.1')).toBe(true);
    expect(allowed('127.8.9.1')).toBe(true);
    expect(allowed('::1')).toBe(true);
    expect(allowed('::ffff:127.0.0.1')).toBe(true);
    expect(allowed('10.0.0.1')).toBe(false);
    expect(allowed('::ffff:10.0.0.1')).toBe(false);
    expect(allowed(undefined)).toBe(false);
    expect(allowed('')).toBe(false);
    expect(allowed('not an address')).toBe(false);
  });

  it('matches addresses and CIDRs of both families', () => {
    const allowed = sourceAllow(loadConfig({ CUSTOS_ENV: 'test', CUSTOS_METRICS_ALLOW: '10.0.5.10, 10.0.6.0/24,fd00::/8' }).metricsAllow);
    expect(allowed('10.0.5.10')).toBe(true);
    expect(allowed('10.0.5.11')).toBe(false);
    expect(allowed('10.0.6.200')).toBe(true);
    expect(allowed('10.0.7.1')).toBe(false);
    expect(allowed('fd12::1')).toBe(true);
    expect(allowed('fe80::1')).toBe(false);
    expect(allowed('127.0.0.1')).toBe(false);
  });

  it('`none` allows no address', () => {
    const config = loadConfig({ CUSTOS_ENV: 'test', CUSTOS_METRICS_ALLOW: 'none' });
    expect(config.metricsAllow).toEqual([]);
    expect(sourceAllow(config.metricsAllow)('127.0.0.1')).toBe(false);
  });

  it.each(['10.0.0.0/33', '999.1.1.1', 'fd00::/129', 'localhost', '10.0.0.1,', 'none,10.0.0.1'])('refuses %s at start-up', (v) => {
    expect(() => loadConfig({ CUSTOS_ENV: 'test', CUSTOS_METRICS_ALLOW: v })).toThrow(/CUSTOS_METRICS_ALLOW/);
  });
});
