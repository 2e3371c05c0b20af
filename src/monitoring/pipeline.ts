/**
 * The detection pipeline: after the answer, never on the decision path. It
 * tails the committed decision records and audit events chain by chain from
 * cursors stored in the database, runs the detectors, and commits alerts,
 * evidence, notifications, remembered state and the cursor advance in one
 * transaction.
 *
 * Exactly once with several replicas:
 *  - one consumer at a time: a session advisory lock on a connection of its
 *    own (postgres/consumerLock.ts); every replica runs the loop, and only
 *    the holder reads; when its connection goes, another takes over;
 *  - the cursors advance by compare-and-set in the commit, which is refused
 *    unless every cursor is where this consumer judged from (their sum): two
 *    consumers can never both commit the same records, nor one commit on
 *    windows that miss another's records (a refused pass rebuilds);
 *  - on takeover (and after any failed pass) the detectors' state is rebuilt:
 *    the persisted state, then the records of the longest window before the
 *    cursors replayed without raising (records already used as evidence by a
 *    detector are skipped by it, so its windows are exactly as the previous
 *    consumer left them).
 * A failure (the database away) is logged and retried with backoff; the
 * loop never throws.
 */
import type { Logger } from '../logger.ts';
import { Detection } from './detection.ts';
import type { MonitoringPolicy } from './policy.ts';
import type { RecordSeen } from './records.ts';
import { CursorConflictError, type Advance, type ConsumerLock, type MonitorStore } from './store.ts';

/** Settings of the pipeline. */
export interface PipelineOptions {
  store: MonitorStore;
  policy: MonitoringPolicy;
  log: Logger;
  /** Pause between passes that found nothing (ms). */
  pollMs: number;
  /** Records read per chain per pass. */
  batch: number;
}

/** Longest pause after repeated failures (ms). */
const MAX_BACKOFF_MS = 10_000;

/** The detection loop of one replica. */
export class MonitorPipeline {
  private readonly o: PipelineOptions;
  private readonly lock: ConsumerLock;
  /** The detectors' state; undefined until rebuilt (after a takeover or a failed pass). */
  private detection: Detection | undefined;
  /** The cursors that state stands at (chain → seq; absent: 0). */
  private cursors = new Map<string, number>();
  private running: Promise<void> | undefined;
  private stopped = true;
  private wake: (() => void) | undefined;
  private failures = 0;
  /** Whether this replica is the consumer (held the lock at its last pass). */
  consumer = false;

  constructor(o: PipelineOptions) {
    this.o = o;
    this.lock = o.store.lock();
  }

  /** Starts the loop. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.running = this.loop();
  }

  /** Stops the loop, waits for the pass in progress and lets the lock go (another replica takes over). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.wake?.();
    await this.running;
    await this.lock.release().catch(() => {});
    this.consumer = false;
    this.detection = undefined;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      let delay = this.o.pollMs;
      try {
        const full = await this.pass();
        this.failures = 0;
        if (full) delay = 0;
      } catch (err) {
        this.failures++;
        // Whatever was judged in memory may not have committed: judge again from the database.
        this.detection = undefined;
        if (err instanceof CursorConflictError) {
          // A previous consumer's commit, in flight when it lost the lock, landed first: those records are
          // judged. This consumer still holds the lock (checked every pass); it rebuilds and goes on.
          this.o.log.warn('monitoring: the cursors moved under this consumer (a previous consumer committed); rebuilding');
        } else {
          this.o.log.warn({ err, failures: this.failures }, 'monitoring pass failed; retrying');
        }
        delay = Math.min(MAX_BACKOFF_MS, this.o.pollMs * 2 ** Math.min(this.failures, 10));
      }
      if (!this.stopped && delay > 0) await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  /**
   * One pass: hold the lock (rebuilding after a takeover), read what the
   * chains committed after their cursors, judge it, commit. True when a
   * chain had more than one batch waiting (the next pass runs at once).
   */
  async pass(): Promise<boolean> {
    const held = await this.lock.hold();
    if (held === 'busy') {
      if (this.consumer) this.o.log.info('monitoring: no longer the consumer');
      this.consumer = false;
      this.detection = undefined;
      return false;
    }
    if (held === 'acquired' || !this.detection) {
      if (held === 'acquired') this.o.log.info('monitoring: this replica is now the consumer');
      this.consumer = true;
      this.detection = await this.rebuild();
    }
    const detection = this.detection;
    const { chains: pending, cursorSum } = await this.o.store.pending();
    // Cursors not where this state stands were moved by another commit (a previous consumer's, in flight when
    // it lost the lock): judging on would miss its records in the windows, or count them twice.
    let expected = 0;
    for (const seq of this.cursors.values()) expected += seq;
    if (expected !== cursorSum) throw new CursorConflictError();
    if (!pending.length) return false;
    const records: RecordSeen[] = [];
    const advances: Advance[] = [];
    let full = false;
    for (const c of pending) {
      const got = await this.o.store.read(c, this.o.batch);
      if (!got.length) continue;
      records.push(...got);
      advances.push({ chain: c.chain, log: c.log, from: c.cursor, to: got[got.length - 1]!.seq });
      if (got.length === this.o.batch && c.head > got[got.length - 1]!.seq) full = true;
    }
    if (!advances.length) return false;
    const alerts = detection.observe(records);
    await this.o.store.commit({ cursorSum, advances, alerts, changes: detection.drain() });
    for (const a of advances) this.cursors.set(a.chain, a.to);
    return full;
  }

  /** Fresh detectors from the persisted state and the records of the longest window before the cursors. */
  private async rebuild(): Promise<Detection> {
    const detection = new Detection(this.o.policy);
    const r = await this.o.store.rebuild(detection.windowMs);
    this.cursors = r.cursors;
    detection.load(r.state);
    const none = new Set<never>();
    detection.replay(r.records, (rec) => r.usedBy.get(rec.id) ?? none);
    return detection;
  }
}
