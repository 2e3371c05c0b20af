/**
 * PHI accessed outside working hours: an allowed release on a `phi` or
 * `limited` dataset, or one granting identifier columns, at a time outside
 * the policy's days and hours in its time zone. What-ifs (no release) are
 * not access and are left out.
 */
import { withinWorkingHours } from '../hours.ts';
import type { MonitoringPolicy } from '../policy.ts';
import { evidenceOf } from '../records.ts';
import type { Detector } from './detector.ts';

/** The after-hours detector. */
export function phiAfterHoursDetector(policy: MonitoringPolicy): Detector {
  const settings = policy.detectors.phi_after_hours;
  return {
    name: 'phi_after_hours',
    windowMs: 0,
    observe(r, replay) {
      if (replay || r.log !== 'decision_log' || r.effect !== 'allow' || !r.release) return [];
      const phi = r.classification === 'phi' || r.classification === 'limited';
      if (!phi && !r.grantedIdentifiers.length) return [];
      if (withinWorkingHours(r.at, policy)) return [];
      return [
        {
          detector: 'phi_after_hours',
          severity: settings.severity,
          subject: r.principalId,
          dedupeKey: `phi_after_hours:${r.principalId}`,
          title: 'PHI released outside working hours',
          details: { dataset: r.datasetId, classification: r.classification, identifier_columns: r.grantedIdentifiers, timezone: policy.timezone },
          at: r.at,
          evidence: [evidenceOf(r)],
        },
      ];
    },
  };
}
