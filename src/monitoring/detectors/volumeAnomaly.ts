/**
 * Volume anomalies: a principal's decisions per interval against that
 * principal's own history. Each closed interval's count updates an
 * exponentially weighted mean and variance (weight `alpha` for the newest;
 * intervals without decisions count as zero). The interval in progress
 * alerts, at most once, as soon as its count exceeds
 * mean + z_threshold × max(standard deviation, 1) and min_count.
 *
 * Cold start: no alert until the principal has `min_intervals` closed
 * intervals of history (counted from its first decision), so a new job's
 * first hour never reads as an anomaly.
 *
 * The state is persisted with each commit (monitoring_baselines): a baseline
 * spans hours, longer than anything a takeover could replay.
 */
import type { MonitoringPolicy } from '../policy.ts';
import { evidenceOf, type Evidence } from '../records.ts';
import type { Detector } from './detector.ts';

/** One principal's baseline. */
export interface Baseline {
  /** Interval being counted (index = floor(time / interval)). */
  interval: number;
  count: number;
  mean: number;
  variance: number;
  /** Closed intervals behind the mean. */
  intervals: number;
  /** The last interval that raised (one alert per interval). */
  alerted: number | null;
}

/** Zero intervals folded at most for a gap (beyond it the mean is near zero anyway). */
const MAX_GAP = 10_000;
/** Evidence kept per alert: the interval's latest records. */
const MAX_EVIDENCE = 100;

/** Folds one closed interval's count into the baseline (West/Finch incremental EWMA variance). */
export function fold(b: Baseline, x: number, alpha: number): void {
  if (b.intervals === 0) {
    b.mean = x;
    b.variance = 0;
  } else {
    const diff = x - b.mean;
    const incr = alpha * diff;
    b.mean += incr;
    b.variance = (1 - alpha) * (b.variance + diff * incr);
  }
  b.intervals++;
}

/** The volume detector; `baselines` and `dirty` are its state, loaded and saved by the pipeline. */
export function volumeAnomalyDetector(settings: MonitoringPolicy['detectors']['volume_anomaly']): Detector & { baselines: Map<string, Baseline>; dirty: Set<string> } {
  const intervalMs = settings.interval_seconds * 1000;
  const baselines = new Map<string, Baseline>();
  const dirty = new Set<string>();
  /** The current interval's records seen by this consumer (evidence only). */
  const recent = new Map<string, Evidence[]>();
  return {
    name: 'volume_anomaly',
    // Nothing to replay: the counts are persisted with every commit.
    windowMs: 0,
    baselines,
    dirty,
    observe(r, replay) {
      if (replay || r.log !== 'decision_log') return [];
      const p = r.principalId;
      const idx = Math.floor(r.at / intervalMs);
      let b = baselines.get(p);
      if (!b) baselines.set(p, (b = { interval: idx, count: 0, mean: 0, variance: 0, intervals: 0, alerted: null }));
      if (idx > b.interval) {
        fold(b, b.count, settings.alpha);
        for (let gap = Math.min(idx - b.interval - 1, MAX_GAP); gap > 0; gap--) fold(b, 0, settings.alpha);
        b.interval = idx;
        b.count = 0;
        recent.delete(p);
      }
      // A record of an earlier interval arriving late counts in the current one.
      b.count++;
      dirty.add(p);
      let ev = recent.get(p);
      if (!ev) recent.set(p, (ev = []));
      ev.push(evidenceOf(r));
      if (ev.length > MAX_EVIDENCE) ev.shift();
      if (b.intervals < settings.min_intervals || b.count < settings.min_count || b.alerted === b.interval) return [];
      const sd = Math.sqrt(b.variance);
      const limit = b.mean + settings.z_threshold * Math.max(sd, 1);
      if (b.count <= limit) return [];
      b.alerted = b.interval;
      return [
        {
          detector: 'volume_anomaly',
          severity: settings.severity,
          subject: p,
          dedupeKey: `volume_anomaly:${p}`,
          title: `${b.count} decisions in ${settings.interval_seconds} s, against a baseline of ${b.mean.toFixed(1)}`,
          details: { count: b.count, mean: b.mean, sd, z: sd > 0 ? (b.count - b.mean) / sd : null, interval_seconds: settings.interval_seconds, intervals: b.intervals, interval_start: new Date(b.interval * intervalMs).toISOString() },
          at: r.at,
          evidence: [...ev],
        },
      ];
    },
  };
}
