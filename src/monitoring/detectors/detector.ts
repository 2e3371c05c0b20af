/**
 * The detector contract: records in, alerts out, state explicit. A detector
 * sees committed records in time order; `observe` returns the alerts a
 * record completes. Replayed records (a takeover rebuilding windows from the
 * records before the cursors) only rebuild state: nothing they complete is
 * raised again. Only denies and failed audit events are replayed (see
 * postgres/records.ts): a detector with a window over anything else must
 * widen that query.
 */
import type { AlertRaised, DetectorName, RecordSeen } from '../records.ts';

/** How a replayed record was already used. */
export interface Replay {
  /** The detectors whose alerts already list this record as evidence. */
  usedBy: ReadonlySet<DetectorName>;
}

/** One detector. */
export interface Detector {
  readonly name: DetectorName;
  /** How far back its state reaches (ms): the records a takeover replays for it (0: none). */
  readonly windowMs: number;
  /** Reads one record; `replay` set when rebuilding (nothing is raised then). */
  observe(r: RecordSeen, replay?: Replay): AlertRaised[];
  /** Drops state older than the window before `now` (record time). */
  prune?(now: number): void;
}
