/**
 * A service calling from a new source address: the caller of a release (an
 * enforcement point, or a job at the token endpoint) seen at an address it
 * never used before. Its first address is learned without an alert; every
 * later new one raises. Addresses are remembered for good (monitoring_seen).
 */
import type { MonitoringPolicy } from '../policy.ts';
import { evidenceOf } from '../records.ts';
import type { Detector } from './detector.ts';
import type { Seen } from './firstAccess.ts';

/** The new-source detector; `known` (caller → addresses) is its state, `remember` what to persist. */
export function newSourceDetector(settings: MonitoringPolicy['detectors']['new_source']): Detector & { known: Map<string, Set<string>>; remember: Seen[] } {
  const known = new Map<string, Set<string>>();
  const remember: Seen[] = [];
  return {
    name: 'new_source',
    windowMs: 0,
    known,
    remember,
    observe(r, replay) {
      if (replay || r.log !== 'decision_log' || !r.release || !r.callerId || !r.source) return [];
      let addresses = known.get(r.callerId);
      if (!addresses) known.set(r.callerId, (addresses = new Set()));
      if (addresses.has(r.source)) return [];
      const first = addresses.size === 0;
      addresses.add(r.source);
      remember.push({ kind: 'source', subject: r.callerId, value: r.source, at: r.at, recordId: r.id });
      if (first) return [];
      return [
        {
          detector: 'new_source',
          severity: settings.severity,
          subject: r.callerId,
          dedupeKey: `new_source:${r.callerId}:${r.source}`,
          title: `A service called from a new address (${r.source})`,
          details: { source: r.source, known: [...addresses].filter((a) => a !== r.source).slice(0, 20) },
          at: r.at,
          evidence: [evidenceOf(r)],
        },
      ];
    },
  };
}
