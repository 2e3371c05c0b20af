/**
 * Repeated refusals of identifier columns: ≥ threshold denies per principal
 * within the window whose denied columns carry a Safe Harbor identifier
 * category (§164.514(b)(2)): someone insisting on names, MRNs or SSNs they
 * are not granted (minimum necessary, §164.502(b)).
 */
import type { MonitoringPolicy } from '../policy.ts';
import { evidenceOf } from '../records.ts';
import { BurstWindows } from '../window.ts';
import type { Detector } from './detector.ts';

/** The identifier-refusals detector. */
export function identifierRefusalsDetector(settings: MonitoringPolicy['detectors']['identifier_refusals']): Detector {
  const windowMs = settings.window_seconds * 1000;
  const windows = new BurstWindows({ windowMs, threshold: settings.threshold });
  return {
    name: 'identifier_refusals',
    windowMs,
    observe(r, replay) {
      if (r.log !== 'decision_log' || r.effect !== 'deny' || !r.deniedIdentifiers.length) return [];
      if (replay?.usedBy.has('identifier_refusals')) return [];
      const fired = windows.add(r.principalId, evidenceOf(r));
      if (!fired || replay) return [];
      return [
        {
          detector: 'identifier_refusals',
          severity: settings.severity,
          subject: r.principalId,
          dedupeKey: `identifier_refusals:${r.principalId}`,
          title: `${fired.length} refused requests for identifier columns within ${settings.window_seconds} s`,
          details: { count: fired.length, window_seconds: settings.window_seconds, threshold: settings.threshold, dataset: r.datasetId, columns: r.deniedIdentifiers },
          at: r.at,
          evidence: fired,
        },
      ];
    },
    prune: (now) => windows.prune(now),
  };
}
