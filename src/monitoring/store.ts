/**
 * What the detection pipeline needs from the database: the chains and their
 * cursors, the records after them, the records before them (to rebuild
 * windows after a takeover), the one-consumer lock, and the commit of a pass
 * (alerts, evidence, notifications, remembered state and the cursor advance,
 * in one transaction). postgres/ implements it.
 */
import type { ChainedLog } from '../audit/postgres/chainedWriter.ts';
import type { PersistedState, StateChanges } from './detection.ts';
import type { Severity } from './policy.ts';
import type { AlertRaised, DetectorName, RecordSeen } from './records.ts';

/** A chain with records after its cursor. */
export interface PendingChain {
  chain: string;
  log: ChainedLog;
  /** The last seq judged (0: none). */
  cursor: number;
  head: number;
}

/** A cursor advance, applied only if the cursor still holds `from` (compare-and-set). */
export interface Advance {
  chain: string;
  log: ChainedLog;
  from: number;
  to: number;
}

/** One pass to commit. */
export interface PassCommit {
  /** The sum of every cursor the pass was judged from (refused if the table's differs). */
  cursorSum: number;
  advances: Advance[];
  alerts: AlertRaised[];
  changes: StateChanges;
}

/** What a commit raised: alert ids, new or repeated. */
export interface CommitResult {
  raised: string[];
  repeated: string[];
}

/** The state a takeover starts from. */
export interface Rebuild {
  state: PersistedState;
  /** The cursors the rebuild read up to (chain → seq); the state is exact for these. */
  cursors: Map<string, number>;
  /** Records of the longest window before the cursors. */
  records: RecordSeen[];
  /** Which detectors already used a record as evidence (by record id). */
  usedBy: Map<string, Set<DetectorName>>;
}

/** Another consumer committed the same records first: this one must stop and rebuild. */
export class CursorConflictError extends Error {
  constructor() {
    super('a monitoring cursor moved under this consumer');
  }
}

/** The one-consumer lock (a session advisory lock on a connection of its own). */
export interface ConsumerLock {
  /** `held`: still ours; `acquired`: newly ours (rebuild first); `busy`: another consumer has it. */
  hold(): Promise<'held' | 'acquired' | 'busy'>;
  /** Lets go (unlock and give the connection back). */
  release(): Promise<void>;
}

/** The pipeline's store. */
export interface MonitorStore {
  lock(): ConsumerLock;
  /** Chains with records after their cursor, and the sum of every cursor (they only move forward: a changed sum is another commit). */
  pending(): Promise<{ chains: PendingChain[]; cursorSum: number }>;
  read(chain: PendingChain, limit: number): Promise<RecordSeen[]>;
  rebuild(windowMs: number): Promise<Rebuild>;
  commit(pass: PassCommit): Promise<CommitResult>;
  /** Unresolved (open or acknowledged) alerts by severity. */
  openAlertCounts(): Promise<Record<Severity, number>>;
}
