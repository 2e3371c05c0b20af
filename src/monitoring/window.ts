/**
 * A sliding time window per key, for the burst detectors: records of the
 * last `windowMs`; when `threshold` of them are in it, they are handed back
 * (the alert's evidence) and the window starts empty again, so a sustained
 * burst of k × threshold records is k occurrences, never one per record.
 *
 * Because a fired window's records all become evidence, the state at any
 * point is exactly "the key's records of the last window not yet used as
 * evidence": a takeover rebuilds it from the records before the cursors
 * (see detection.ts) and continues as the previous consumer would have.
 */
import type { Evidence } from './records.ts';

/** Burst windows keyed by subject. */
export class BurstWindows {
  private readonly windows = new Map<string, Evidence[]>();
  private readonly windowMs: number;
  private readonly threshold: number;
  constructor(o: { windowMs: number; threshold: number }) {
    this.windowMs = o.windowMs;
    this.threshold = o.threshold;
  }

  /** Adds a record; the window's records once they reach the threshold (the window is then emptied), else undefined. */
  add(key: string, e: Evidence): Evidence[] | undefined {
    let w = this.windows.get(key);
    if (!w) this.windows.set(key, (w = []));
    // Records of several chains arrive nearly, not exactly, in time order: keep the window sorted.
    let i = w.length;
    while (i > 0 && w[i - 1]!.at > e.at) i--;
    w.splice(i, 0, e);
    const newest = w[w.length - 1]!.at;
    let drop = 0;
    while (drop < w.length && w[drop]!.at <= newest - this.windowMs) drop++;
    if (drop) w.splice(0, drop);
    if (w.length < this.threshold) return undefined;
    this.windows.delete(key);
    return w;
  }

  /** The record time before which prune() has nothing to do. */
  private nextPrune = -Infinity;

  /**
   * Forgets windows whose newest record is older than `before` (keeps memory
   * bounded; an expired window holds nothing `add` would keep). A pass visits
   * every key, so it runs at most once per quarter window of record time,
   * not on every detection pass (ten a second under load, over as many keys
   * as principals): a window outlives its last record by 1.25 windows at most.
   */
  prune(before: number): void {
    if (before < this.nextPrune) return;
    this.nextPrune = before + this.windowMs / 4;
    const cutoff = before - this.windowMs;
    this.windows.forEach((w, k) => {
      if (!w.length || w[w.length - 1]!.at <= cutoff) this.windows.delete(k);
    });
  }

  /** Keys with records in their window. */
  get size(): number {
    return this.windows.size;
  }
}
