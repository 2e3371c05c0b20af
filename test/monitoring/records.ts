/**
 * Records for detector tests, stamped by an injected clock: each record gets
 * the clock's time, a fresh id and the next seq of its chain.
 */
import { randomUUID } from 'node:crypto';
import { ManualClock } from '../../src/clock.ts';
import { parseMonitoringPolicy, type MonitoringPolicy } from '../../src/monitoring/policy.ts';
import type { AuditSeen, DecisionSeen } from '../../src/monitoring/records.ts';
import { readFileSync } from 'node:fs';
import { DEFAULT_MONITORING_FILE } from '../../src/monitoring/policy.ts';

/** The shipped policy, with overrides merged into `detectors`. */
export function policyWith(detectors: Record<string, Record<string, unknown>> = {}, top: Partial<MonitoringPolicy> = {}): MonitoringPolicy {
  const base = parseMonitoringPolicy(readFileSync(DEFAULT_MONITORING_FILE, 'utf8'), 'shipped');
  const d: Record<string, unknown> = { ...base.detectors };
  for (const [k, v] of Object.entries(detectors)) d[k] = { ...(d[k] as object), ...v };
  return { ...base, ...top, detectors: d as MonitoringPolicy['detectors'] };
}

/** Makes records at the clock's time. */
export class Recorder {
  readonly clock: ManualClock;
  private seq = 0;
  readonly chain = randomUUID();
  constructor(start: number = Date.UTC(2026, 5, 1, 15, 0, 0)) {
    // Monday 1 June 2026, 11:00 in New York: inside the shipped working hours.
    this.clock = new ManualClock(start);
  }

  decision(o: Partial<DecisionSeen> = {}): DecisionSeen {
    return {
      log: 'decision_log',
      id: randomUUID(),
      at: this.clock.now().getTime(),
      chain: this.chain,
      seq: ++this.seq,
      principalId: 'p-1',
      principalKind: 'user',
      callerId: 'pep-1',
      datasetId: 'notes',
      classification: 'phi',
      effect: 'allow',
      grantedIdentifiers: [],
      deniedIdentifiers: [],
      release: true,
      source: '10.0.0.1',
      ...o,
    };
  }

  event(o: Partial<AuditSeen> & { type: string }): AuditSeen {
    return {
      log: 'audit_events',
      id: randomUUID(),
      at: this.clock.now().getTime(),
      chain: this.chain,
      seq: ++this.seq,
      outcome: 'failure',
      actorId: null,
      subjectId: null,
      sourceIp: '192.0.2.7',
      details: {},
      ...o,
    };
  }
}

