/**
 * Bursts of denies: ≥ threshold denied decisions for one principal within
 * the window, and likewise for one calling service (an enforcement point or
 * a job asking for many principals). Repeated refusals are how a probe for
 * access looks (§164.308(a)(1)(ii)(D), information system activity review).
 */
import type { MonitoringPolicy } from '../policy.ts';
import { evidenceOf, type AlertRaised } from '../records.ts';
import { BurstWindows } from '../window.ts';
import type { Detector } from './detector.ts';

/** The deny-burst detector. */
export function denyBurstDetector(settings: MonitoringPolicy['detectors']['deny_burst']): Detector {
  const windowMs = settings.window_seconds * 1000;
  const windows = new BurstWindows({ windowMs, threshold: settings.threshold });
  return {
    name: 'deny_burst',
    windowMs,
    observe(r, replay) {
      if (r.log !== 'decision_log' || r.effect !== 'deny') return [];
      if (replay?.usedBy.has('deny_burst')) return [];
      const out: AlertRaised[] = [];
      const subjects: [string, string][] = [['principal', r.principalId]];
      if (r.callerId && r.callerId !== r.principalId) subjects.push(['caller', r.callerId]);
      for (const [kind, id] of subjects) {
        const fired = windows.add(`${kind}:${id}`, evidenceOf(r));
        if (!fired || replay) continue;
        out.push({
          detector: 'deny_burst',
          severity: settings.severity,
          subject: id,
          dedupeKey: `deny_burst:${kind}:${id}`,
          title: kind === 'principal' ? `${fired.length} denied decisions for one principal within ${settings.window_seconds} s` : `${fired.length} denied decisions asked by one service within ${settings.window_seconds} s`,
          details: { kind, count: fired.length, window_seconds: settings.window_seconds, threshold: settings.threshold },
          at: r.at,
          evidence: fired,
        });
      }
      return out;
    },
    prune: (now) => windows.prune(now),
  };
}
