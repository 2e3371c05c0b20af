/**
 * A job's or service's first access to a dataset: the first allowed release
 * for a (service, dataset) pair. Pairs are remembered for good
 * (monitoring_seen, committed with the alert), so neither a restart nor
 * another replica raises the same first access twice.
 */
import type { MonitoringPolicy } from '../policy.ts';
import { evidenceOf } from '../records.ts';
import type { Detector } from './detector.ts';

/** A pair to remember, committed with the pass. */
export interface Seen {
  kind: 'first_access' | 'source';
  subject: string;
  value: string;
  at: number;
  recordId: string;
}

/** The first-access detector; `seen` (service → datasets) is its state, `remember` what to persist. */
export function firstAccessDetector(settings: MonitoringPolicy['detectors']['first_access']): Detector & { seen: Map<string, Set<string>>; remember: Seen[] } {
  const seen = new Map<string, Set<string>>();
  const remember: Seen[] = [];
  return {
    name: 'first_access',
    windowMs: 0,
    seen,
    remember,
    observe(r, replay) {
      if (replay || r.log !== 'decision_log' || r.effect !== 'allow' || !r.release || r.principalKind !== 'service') return [];
      let sets = seen.get(r.principalId);
      if (!sets) seen.set(r.principalId, (sets = new Set()));
      if (sets.has(r.datasetId)) return [];
      sets.add(r.datasetId);
      remember.push({ kind: 'first_access', subject: r.principalId, value: r.datasetId, at: r.at, recordId: r.id });
      return [
        {
          detector: 'first_access',
          severity: settings.severity,
          subject: r.principalId,
          dedupeKey: `first_access:${r.principalId}:${r.datasetId}`,
          title: `First access of a service to dataset ${r.datasetId}`,
          details: { dataset: r.datasetId, classification: r.classification },
          at: r.at,
          evidence: [evidenceOf(r)],
        },
      ];
    },
  };
}
