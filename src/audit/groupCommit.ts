/**
 * Group commit: many concurrent writers share one transaction (one fsync)
 * instead of paying one each. A submit resolves only after its batch is
 * committed, and rejects if the batch fails — callers answer only then.
 * The queue is bounded: past `maxQueue` waiting items, submit rejects at once
 * (the caller answers 503) instead of letting memory grow. Records are never
 * dropped silently.
 */
import { UnavailableError } from '../errors.ts';

function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && code.startsWith('22');
}

/** Options of {@link GroupCommitter}. */
export interface GroupCommitOptions<T> {
  /** Writes one batch durably (one transaction). */
  flush: (batch: T[]) => Promise<void>;
  /** Largest batch per transaction. */
  maxBatch: number;
  /** Items allowed to wait; beyond it submit fails fast. */
  maxQueue: number;
  /** Transactions in flight at once (each on its own connection). */
  concurrency: number;
  /**
   * Told after each batch's transaction, committed or not (metrics): its
   * size and how long it took. Called once per batch, never per item.
   */
  onFlushed?: (size: number, seconds: number, ok: boolean) => void;
}

interface Pending<T> {
  item: T;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Batches concurrent writes into shared commits. */
export class GroupCommitter<T> {
  private queue: Pending<T>[] = [];
  private inFlight = 0;
  private scheduled = false;
  /** Batches committed and items written, for metrics and tests. */
  readonly stats = { batches: 0, items: 0, failedBatches: 0, rejectedFull: 0 };

  private readonly options: GroupCommitOptions<T>;
  constructor(options: GroupCommitOptions<T>) {
    this.options = options;
  }

  /** Items waiting for a batch (not yet in a transaction). */
  get waiting(): number {
    return this.queue.length;
  }

  /** Resolves once `item` is durably committed; rejects with UnavailableError otherwise. */
  submit(item: T): Promise<void> {
    if (this.queue.length >= this.options.maxQueue) {
      this.stats.rejectedFull++;
      return Promise.reject(new UnavailableError({ reason: 'decision log queue full' }));
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.options.concurrency) return;
    this.scheduled = true;
    // Let every submit of this turn of the event loop join the batch.
    setImmediate(() => {
      this.scheduled = false;
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length && this.inFlight < this.options.concurrency) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      this.inFlight++;
      const started = performance.now();
      const flushed = this.options.onFlushed;
      // Promise.resolve().then: a flush that throws synchronously still rejects its batch.
      void Promise.resolve()
        .then(() => this.options.flush(batch.map((p) => p.item)))
        .then(
          () => {
            flushed?.(batch.length, (performance.now() - started) / 1000, true);
            this.stats.batches++;
            this.stats.items += batch.length;
            for (const p of batch) p.resolve();
          },
          async (err: unknown) => {
            flushed?.(batch.length, (performance.now() - started) / 1000, false);
            this.stats.failedBatches++;
            // A record the database refuses as data (SQLSTATE class 22) must not
            // take its batch-mates down with it: retry each on its own.
            if (batch.length > 1 && isDataError(err)) {
              // One at a time: writers that chain records need their appends in order.
              for (const p of batch) {
                try {
                  await this.options.flush([p.item]);
                  this.stats.items++;
                  p.resolve();
                } catch (e) {
                  p.reject(e instanceof UnavailableError ? e : new UnavailableError(e));
                }
              }
              return;
            }
            const e = err instanceof UnavailableError ? err : new UnavailableError(err);
            for (const p of batch) p.reject(e);
          },
        )
        .finally(() => {
          this.inFlight--;
          if (this.queue.length) this.schedule();
        });
    }
  }
}
