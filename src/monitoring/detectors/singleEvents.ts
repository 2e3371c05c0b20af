/**
 * Detectors that raise on one audit event: a break-glass activation
 * (§164.312(a)(2)(ii), emergency access, always reviewed), a WebAuthn sign
 * counter that did not increase (a cloned authenticator, WebAuthn §6.1.1),
 * and a failed chain verification or a witness refusing anchors (the audit
 * log's integrity, §164.312(c)(1)).
 */
import type { MonitoringPolicy } from '../policy.ts';
import { evidenceOf, type AlertRaised, type AuditSeen, type DetectorName } from '../records.ts';
import type { Detector } from './detector.ts';

/** A detector raising one alert per matching event. */
function singleEvent(name: DetectorName, match: (e: AuditSeen) => Omit<AlertRaised, 'detector' | 'at' | 'evidence'> | undefined): Detector {
  return {
    name,
    windowMs: 0,
    observe(r, replay) {
      if (replay || r.log !== 'audit_events') return [];
      const a = match(r);
      return a ? [{ ...a, detector: name, at: r.at, evidence: [evidenceOf(r)] }] : [];
    },
  };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Break-glass activations. */
export function breakGlassDetector(settings: MonitoringPolicy['detectors']['break_glass']): Detector {
  return singleEvent('break_glass', (e) => {
    if (e.type !== 'break_glass.activated' || e.outcome !== 'success') return undefined;
    const who = e.actorId ?? e.subjectId ?? 'unknown';
    return {
      severity: settings.severity,
      subject: who,
      // Each activation is its own alert (its own review).
      dedupeKey: `break_glass:${str(e.details.grant_id) ?? e.id}`,
      title: 'Break-glass access activated',
      details: { grant_id: e.details.grant_id ?? null, role: e.details.role ?? null, project: e.details.project ?? null, dataset: e.details.dataset ?? null, expires_at: e.details.expires_at ?? null, justification: e.details.justification ?? null },
    };
  });
}

/** WebAuthn counter anomalies. */
export function webauthnCounterDetector(settings: MonitoringPolicy['detectors']['webauthn_counter']): Detector {
  return singleEvent('webauthn_counter', (e) => {
    if (e.type !== 'webauthn.counter_anomaly') return undefined;
    const factor = str(e.details.factor_id) ?? 'unknown';
    return {
      severity: settings.severity,
      subject: e.subjectId ?? factor,
      dedupeKey: `webauthn_counter:${factor}`,
      title: 'A WebAuthn authenticator reported a sign counter that did not increase (possible clone)',
      details: { factor_id: factor, stored_counter: e.details.stored_counter ?? null, reported_counter: e.details.reported_counter ?? null, source_ip: e.sourceIp },
    };
  });
}

/** Failed verifications of the audit chains, and witnesses failing. */
export function chainVerificationDetector(settings: MonitoringPolicy['detectors']['chain_verification']): Detector {
  return singleEvent('chain_verification', (e) => {
    if (e.type === 'audit.verified' && e.outcome === 'failure') {
      return { severity: settings.severity, subject: 'audit-log', dedupeKey: 'chain_verification:verify', title: 'Audit log verification failed', details: { ...e.details } };
    }
    if (e.type === 'audit.witness_failed') {
      return { severity: settings.severity, subject: 'audit-witness', dedupeKey: 'chain_verification:witness', title: 'An audit witness failed: checkpoints are not being anchored', details: { ...e.details } };
    }
    return undefined;
  });
}
