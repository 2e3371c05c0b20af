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

  constructor(
    initial: PolicySnapshot,
    private readonly load: () => Promise<PolicySnapshot>,
    private readonly onError: (err: unknown) => void = () => {},
  ) {
    this.snapshot = initial;
  }

  /** The snapshot to decide with now (never undefined, never partial). */
  current(): PolicySnapshot {
    return this.snapshot;
  }

  /** Compiles a new snapshot and swaps it in; on failure keeps the last good one. Concurrent calls share one reload. */
  reload(): Promise<ReloadResult> {
    this.reloading ??= this.load()
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
