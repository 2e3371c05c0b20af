/**
 * The registry on its own (no server): what each hook counts, that the
 * registry is Custos's own (not prom-client's global one), and that open
 * alerts report nothing until their source is wired — then exactly what it
 * returns, and nothing again when it fails.
 */
import { register as globalRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { Decision } from '../../src/engine/types.ts';
import { createMetrics, type MetricsOptions } from '../../src/metrics/metrics.ts';
import { REASON_CLASSES } from '../../src/metrics/reasonClass.ts';
import { count, parseScrape, sum, value } from '../support/prometheusText.ts';

const options: MetricsOptions = { version: '9.9.9', decisionLogQueue: () => 7, dbPoolMax: 12 };

const deny = (reasons: string[]): Decision => ({
  effect: 'deny',
  rules: [],
  reasons,
  grantedColumns: [],
  deniedColumns: [],
  obligations: [],
  grantIds: [],
  grantsExpireAt: null,
  breakGlass: false,
  policyVersion: 'v1',
});

describe('the metrics registry', () => {
  it('is its own registry, not the global default', async () => {
    const m = createMetrics(options);
    expect(m.registry).not.toBe(globalRegistry);
    expect(await globalRegistry.getSingleMetric('custos_decisions_total')).toBeUndefined();
    expect(m.registry.getSingleMetric('custos_decisions_total')).toBeDefined();
  });

  it('counts effects, and each reason class once per deny', async () => {
    const m = createMetrics(options);
    m.decided({ ...deny([]), effect: 'allow' });
    // Two reasons of one class and one of another: no_allowing_rule once, condition_not_met once.
    m.decided(deny(['no rule allows dataset:read on phi dataset d for purpose research with role(s) member', 'condition of rule a not met', 'condition of rule b not met']));
    m.decided(deny(['denied by rule x']));
    const s = parseScrape(await m.registry.metrics());
    expect(value(s, 'custos_decisions_total', { effect: 'allow' })).toBe(1);
    expect(value(s, 'custos_decisions_total', { effect: 'deny' })).toBe(2);
    expect(value(s, 'custos_decision_denials_total', { reason: 'no_allowing_rule' })).toBe(1);
    expect(value(s, 'custos_decision_denials_total', { reason: 'condition_not_met' })).toBe(1);
    expect(value(s, 'custos_decision_denials_total', { reason: 'denied_by_rule' })).toBe(1);
    expect(value(s, 'custos_decision_denials_total', { reason: 'baa' })).toBe(0);
    // Exactly one series per class: the label's values are the fixed set.
    expect(s.get('custos_decision_denials_total')!.metrics.map((x) => x.labels!.reason).sort()).toEqual([...REASON_CLASSES].sort());
  });

  it('counts token outcomes by a bounded set of error codes', async () => {
    const m = createMetrics(options);
    m.tokenIssued();
    m.tokenRefused('access_denied');
    m.tokenRefused('invalid_client');
    m.tokenRefused('made_up_code');
    const s = parseScrape(await m.registry.metrics());
    expect(value(s, 'custos_tokens_issued_total')).toBe(1);
    expect(value(s, 'custos_tokens_refused_total', { error: 'access_denied' })).toBe(1);
    expect(value(s, 'custos_tokens_refused_total', { error: 'invalid_client' })).toBe(1);
    expect(value(s, 'custos_tokens_refused_total', { error: 'server_error' })).toBe(1);
    expect(s.get('custos_tokens_refused_total')!.metrics.some((x) => x.labels!.error === 'made_up_code')).toBe(false);
  });

  it('observes lanes, log commits, queue depth, pool size and the build', async () => {
    const m = createMetrics(options);
    m.decisionTime('decision', 0.002);
    m.decisionTime('token', 0.2);
    m.logCommitted('decision_log', 5, 0.004, true);
    m.logCommitted('decision_log', 3, 0.5, false);
    const s = parseScrape(await m.registry.metrics());
    expect(count(s, 'custos_decision_duration_seconds', { lane: 'decision' })).toBe(1);
    expect(count(s, 'custos_decision_duration_seconds', { lane: 'token' })).toBe(1);
    expect(count(s, 'custos_decision_duration_seconds', { lane: 'batch' })).toBe(0);
    expect(sum(s, 'custos_log_commit_batch_size', { log: 'decision_log' })).toBe(8);
    expect(count(s, 'custos_log_commit_batch_size', { log: 'decision_log' })).toBe(2);
    expect(value(s, 'custos_log_commit_batch_size_bucket', { log: 'decision_log', le: '4' })).toBe(1);
    expect(value(s, 'custos_log_commit_failures_total', { log: 'decision_log' })).toBe(1);
    expect(value(s, 'custos_decision_log_queue_depth')).toBe(7);
    expect(value(s, 'custos_db_pool_max_connections')).toBe(12);
    expect(value(s, 'custos_build_info', { version: '9.9.9', node_version: process.versions.node })).toBe(1);
    expect(s.has('process_cpu_user_seconds_total')).toBe(true);
  });

  it('counts authentication failures, lockouts and throttled attempts from audit events', async () => {
    const m = createMetrics(options);
    m.audited({ type: 'auth.password', outcome: 'failure' });
    m.audited({ type: 'auth.password', outcome: 'success' });
    m.audited({ type: 'client.auth', outcome: 'failure', details: { method: 'private_key_jwt' } });
    m.audited({ type: 'auth.lockout', outcome: 'failure', details: { key_kind: 'account' } });
    m.audited({ type: 'auth.throttled', outcome: 'failure', details: { key_kind: 'source' } });
    const s = parseScrape(await m.registry.metrics());
    expect(value(s, 'custos_auth_failures_total', { method: 'password' })).toBe(1);
    expect(value(s, 'custos_auth_failures_total', { method: 'client_assertion' })).toBe(1);
    expect(value(s, 'custos_auth_failures_total', { method: 'client_secret' })).toBe(0);
    expect(value(s, 'custos_auth_lockouts_total', { scope: 'account' })).toBe(1);
    expect(value(s, 'custos_auth_throttled_total', { scope: 'source' })).toBe(1);
  });

  it('reports no open alerts until their source is wired (no zeros from nowhere)', async () => {
    const s = parseScrape(await createMetrics(options).registry.metrics());
    expect(s.get('custos_alerts_open')?.metrics ?? []).toEqual([]);
  });

  it('reports what the wired alert source returns, and nothing when it fails', async () => {
    let fail = false;
    const errors: unknown[] = [];
    const m = createMetrics({
      ...options,
      openAlerts: async () => {
        if (fail) throw new Error('database away');
        return { low: 4, medium: 0, high: 2, critical: 1 };
      },
      onCollectError: (err) => errors.push(err),
    });
    const s = parseScrape(await m.registry.metrics());
    expect(value(s, 'custos_alerts_open', { severity: 'low' })).toBe(4);
    expect(value(s, 'custos_alerts_open', { severity: 'medium' })).toBe(0);
    expect(value(s, 'custos_alerts_open', { severity: 'high' })).toBe(2);
    expect(value(s, 'custos_alerts_open', { severity: 'critical' })).toBe(1);
    fail = true;
    const after = parseScrape(await m.registry.metrics());
    expect(after.get('custos_alerts_open')?.metrics ?? []).toEqual([]);
    expect(errors).toHaveLength(1);
  });
});
