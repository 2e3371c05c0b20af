/**
 * All enabled detectors over one stream of records: the pure part of the
 * pipeline. `observe` judges new records (in time order) and returns the
 * alerts they complete; `replay` rebuilds windows from records already
 * judged, raising nothing. The persisted state (first accesses, known
 * addresses, volume baselines) is loaded with `load` and read back for the
 * commit with `drain`.
 */
import type { Detector, Replay } from './detectors/detector.ts';
import { denyBurstDetector } from './detectors/denyBurst.ts';
import { firstAccessDetector, type Seen } from './detectors/firstAccess.ts';
import { identifierRefusalsDetector } from './detectors/identifierRefusals.ts';
import { mfaFailuresDetector } from './detectors/mfaFailures.ts';
import { newSourceDetector } from './detectors/newSource.ts';
import { phiAfterHoursDetector } from './detectors/phiAfterHours.ts';
import { breakGlassDetector, chainVerificationDetector, webauthnCounterDetector } from './detectors/singleEvents.ts';
import { volumeAnomalyDetector, type Baseline } from './detectors/volumeAnomaly.ts';
import type { MonitoringPolicy } from './policy.ts';
import { compareRecords, type AlertRaised, type DetectorName, type RecordSeen } from './records.ts';

/** The persisted state detection starts from. */
export interface PersistedState {
  seen: Seen[];
  baselines: Map<string, Baseline>;
}

/** What a pass commits besides its alerts. */
export interface StateChanges {
  seen: Seen[];
  baselines: Map<string, Baseline>;
}

/** The detectors of a policy, composed. */
export class Detection {
  readonly detectors: Detector[];
  private readonly firstAccess;
  private readonly newSource;
  private readonly volume;

  constructor(policy: MonitoringPolicy) {
    const d = policy.detectors;
    this.firstAccess = firstAccessDetector(d.first_access);
    this.newSource = newSourceDetector(d.new_source);
    this.volume = volumeAnomalyDetector(d.volume_anomaly);
    const all: [boolean, Detector][] = [
      [d.deny_burst.enabled, denyBurstDetector(d.deny_burst)],
      [d.phi_after_hours.enabled, phiAfterHoursDetector(policy)],
      [d.volume_anomaly.enabled, this.volume],
      [d.first_access.enabled, this.firstAccess],
      [d.new_source.enabled, this.newSource],
      [d.break_glass.enabled, breakGlassDetector(d.break_glass)],
      [d.mfa_failures.enabled, mfaFailuresDetector(d.mfa_failures)],
      [d.webauthn_counter.enabled, webauthnCounterDetector(d.webauthn_counter)],
      [d.identifier_refusals.enabled, identifierRefusalsDetector(d.identifier_refusals)],
      [d.chain_verification.enabled, chainVerificationDetector(d.chain_verification)],
    ];
    this.detectors = all.filter(([on]) => on).map(([, det]) => det);
  }

  /** The longest window any detector rebuilds from records (ms). */
  get windowMs(): number {
    return Math.max(0, ...this.detectors.map((d) => d.windowMs));
  }

  /** Starts from the persisted state (after a takeover, before `replay`). */
  load(state: PersistedState): void {
    for (const s of state.seen) {
      const map = s.kind === 'first_access' ? this.firstAccess.seen : this.newSource.known;
      let set = map.get(s.subject);
      if (!set) map.set(s.subject, (set = new Set()));
      set.add(s.value);
    }
    for (const [p, b] of state.baselines) this.volume.baselines.set(p, { ...b });
  }

  /** Rebuilds windows from records already judged (`usedBy`: the detectors that used each as evidence). */
  replay(records: RecordSeen[], usedBy: (r: RecordSeen) => ReadonlySet<DetectorName>): void {
    for (const r of [...records].sort(compareRecords)) {
      const mark: Replay = { usedBy: usedBy(r) };
      for (const d of this.detectors) d.observe(r, mark);
    }
  }

  /** Judges new records; the alerts they complete, in order. */
  observe(records: RecordSeen[]): AlertRaised[] {
    const out: AlertRaised[] = [];
    const sorted = [...records].sort(compareRecords);
    for (const r of sorted) for (const d of this.detectors) for (const a of d.observe(r)) out.push(a);
    const newest = sorted.length ? sorted[sorted.length - 1]!.at : undefined;
    if (newest !== undefined) for (const d of this.detectors) d.prune?.(newest);
    return out;
  }

  /** The state changes since the last drain (to commit with the alerts); emptied. */
  drain(): StateChanges {
    const seen = [...this.firstAccess.remember.splice(0), ...this.newSource.remember.splice(0)];
    const baselines = new Map<string, Baseline>();
    for (const p of this.volume.dirty) baselines.set(p, { ...this.volume.baselines.get(p)! });
    this.volume.dirty.clear();
    return { seen, baselines };
  }
}
