/**
 * Holds the policy snapshot in force. A reload compiles the new snapshot off
 * to the side and swaps it in only when complete; while it runs, and after
 * it fails, the last good snapshot keeps serving (unlike casbin's
 * loadPolicy(), which clears the policy first).
 */
import type { PolicySnapshot } from '../engine/snapshot.ts';

/** Outcome of a reload. */
export type ReloadResult = { ok: true; version: string } | { ok: false; error: unknown; version: string };

/** The current snapshot and how to replace it. */
export class PolicyHolder {
  private snapshot: PolicySnapshot;
  private reloading: Promise<ReloadResult> | undefined;
  /** A change arrived while a reload was running: that reload may have read the old state. */
  private again: Promise<ReloadResult> | undefined;

  private readonly load: () => Promise<PolicySnapshot>;
  private readonly onError: (err: unknown) => void;
  constructor(initial: PolicySnapshot, load: () => Promise<PolicySnapshot>, onError: (err: unknown) => void = () => {}) {
    this.load = load;
    this.onError = onError;
    this.snapshot = initial;
  }

  /** The snapshot to decide with now (never undefined, never partial). */
  current(): PolicySnapshot {
    return this.snapshot;
  }

  /**
   * Compiles a new snapshot and swaps it in; on failure keeps the last good
   * one. A call during a running reload gets a fresh reload after it (calls
   * arriving meanwhile share that one), so no change is missed.
   */
  reload(): Promise<ReloadResult> {
    if (this.reloading) {
      this.again ??= this.reloading.then(() => {
        this.again = undefined;
        return this.reload();
      });
      return this.again;
    }
    let loading: Promise<PolicySnapshot>;
    try {
      loading = this.load();
    } catch (err) {
      loading = Promise.reject(err); // a synchronous throw is a failed reload too
    }
    this.reloading = loading
      .then(
        (next): ReloadResult => {
          this.snapshot = next;
          return { ok: true, version: next.version };
        },
        (error: unknown): ReloadResult => {
          this.onError(error);
          return { ok: false, error, version: this.snapshot.version };
        },
      )
      .finally(() => {
        this.reloading = undefined;
      });
    return this.reloading;
  }
}
