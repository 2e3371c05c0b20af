/**
 * What the policy administration operations need (pushPolicy.ts,
 * updatePolicy.ts, rollbackPolicy.ts, validateCandidate.ts,
 * simulateCandidate.ts), and the one read they all start from: the latest
 * stored version.
 */
import type { AuditLog } from '../audit/log.ts';
import type { CatalogStore } from '../catalog/store.ts';
import type { ChangeDeps } from '../changes/deps.ts';
import type { Clock } from '../clock.ts';
import { ConflictError } from '../errors.ts';
import type { PolicyChecker } from './checkInWorker.ts';
import type { PolicyHolder } from './holder.ts';
import type { PolicyStore, PolicyVersion } from './store.ts';

/** Dependencies of the policy administration operations. */
export interface PolicyDeps {
  /** The numbered versions; a new one commits with its audit event. */
  store: PolicyStore;
  /** Compiles a candidate and runs its tests in a worker, within time and memory limits. */
  checker: PolicyChecker;
  /** The role graph a candidate compiles against. */
  catalog: CatalogStore;
  /** Dual control: a push that changes or removes test files waits for a second administrator. */
  changes: ChangeDeps;
  audit: AuditLog;
  clock: Clock;
  /** The snapshot in force: this replica recompiles at once after a push. */
  holder: PolicyHolder;
}

/** The latest version; ConflictError while the store is still empty (start-up has not seeded it). */
export async function latestVersion(store: Pick<PolicyStore, 'latest'>): Promise<PolicyVersion> {
  const v = await store.latest();
  // The store is seeded at start-up; an empty one means start-up has not finished.
  if (!v) throw new ConflictError('No policy version exists yet.');
  return v;
}
