/**
 * Group commit, without a database: a submit settles only when its batch's
 * flush settles; a failed flush fails every item of its batch (503) and the
 * committer keeps working; one turn of the event loop shares one flush;
 * batches, the queue and flushes in flight are bounded; and nothing is ever
 * dropped silently: every submit resolves (its item was flushed) or rejects.
 */
import { describe, expect, it } from 'vitest';
import { GroupCommitter } from '../../src/audit/groupCommit.ts';
import { CustosError, UnavailableError } from '../../src/errors.ts';
import { deferred, type Deferred } from '../support/deferred.ts';

/** Lets setImmediate callbacks and the promise jobs they start run. */
const turn = () => new Promise<void>((r) => setImmediate(r));
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await turn();
}

type Outcome = { state: 'pending' } | { state: 'resolved' } | { state: 'rejected'; error: unknown };

/** Observes a promise's outcome without awaiting it. */
function watch(p: Promise<void>): { readonly outcome: Outcome } {
  const w: { outcome: Outcome } = { outcome: { state: 'pending' } };
  p.then(
    () => (w.outcome = { state: 'resolved' }),
    (error: unknown) => (w.outcome = { state: 'rejected', error }),
  );
  return w;
}

/** A flush the test controls batch by batch: each call waits for its own deferred. */
function manualFlush<T>() {
  const calls: { batch: T[]; done: Deferred }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const flush = (batch: T[]): Promise<void> => {
    const done = deferred();
    calls.push({ batch: [...batch], done });
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    return done.promise.finally(() => {
      inFlight--;
    });
  };
  return {
    flush,
    calls,
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
  };
}

const opts = { maxBatch: 100, maxQueue: 1000, concurrency: 1 };

describe('a submit settles with its batch', () => {
  it('resolves only after the flush of its batch resolves, not before', async () => {
    const f = manualFlush<string>();
    const gc = new GroupCommitter<string>({ ...opts, flush: f.flush });
    const a = watch(gc.submit('a'));
    await turns(5);
    expect(f.calls).toHaveLength(1);
    expect(f.calls[0]!.batch).toEqual(['a']);
    // The flush has not committed yet: the caller must not be answered.
    expect(a.outcome.state).toBe('pending');
    await turns(5);
    expect(a.outcome.state).toBe('pending');
    f.calls[0]!.done.resolve();
    await turns(2);
    expect(a.outcome.state).toBe('resolved');
    expect(gc.stats).toMatchObject({ batches: 1, items: 1, failedBatches: 0 });
  });

  it('a failing flush rejects every item of that batch with UnavailableError, and the next batch still commits', async () => {
    const f = manualFlush<number>();
    const gc = new GroupCommitter<number>({ ...opts, flush: f.flush });
    const first = [1, 2, 3].map((n) => watch(gc.submit(n)));
    await turns(3);
    expect(f.calls).toHaveLength(1);
    expect(f.calls[0]!.batch).toEqual([1, 2, 3]);
    const dbError = Object.assign(new Error('permission denied for table decision_log'), { code: '42501' });
    f.calls[0]!.done.reject(dbError);
    await turns(2);
    for (const w of first) {
      expect(w.outcome.state).toBe('rejected');
      const err = (w.outcome as { error: unknown }).error;
      expect(err).toBeInstanceOf(UnavailableError);
      expect((err as CustosError).code).toBe('unavailable');
      // The database's words stay in `detail` (logs), never in the client-facing message.
      expect((err as CustosError).message).not.toContain('decision_log');
    }
    expect(gc.stats).toMatchObject({ batches: 0, items: 0, failedBatches: 1 });

    // The committer is not wedged: the next batch commits.
    const next = [4, 5].map((n) => watch(gc.submit(n)));
    await turns(3);
    expect(f.calls).toHaveLength(2);
    expect(f.calls[1]!.batch).toEqual([4, 5]);
    f.calls[1]!.done.resolve();
    await turns(2);
    for (const w of next) expect(w.outcome.state).toBe('resolved');
    expect(gc.stats).toMatchObject({ batches: 1, items: 2, failedBatches: 1 });
  });

  it('an UnavailableError from the flush is passed through as it is', async () => {
    const original = new UnavailableError({ reason: 'test' });
    const gc = new GroupCommitter<number>({ ...opts, flush: () => Promise.reject(original) });
    await expect(gc.submit(1)).rejects.toBe(original);
  });
});

describe('batching', () => {
  it('submits of one turn of the event loop share one flush, in submit order', async () => {
    const f = manualFlush<number>();
    const gc = new GroupCommitter<number>({ ...opts, concurrency: 4, flush: f.flush });
    const items = Array.from({ length: 50 }, (_, i) => i);
    const ws = items.map((n) => watch(gc.submit(n)));
    await turns(3);
    expect(f.calls).toHaveLength(1);
    expect(f.calls[0]!.batch).toEqual(items);
    f.calls[0]!.done.resolve();
    await turns(2);
    expect(ws.every((w) => w.outcome.state === 'resolved')).toBe(true);
    expect(gc.stats).toMatchObject({ batches: 1, items: 50 });
  });

  it('items submitted while a flush is in flight go into the next batch together', async () => {
    const f = manualFlush<string>();
    const gc = new GroupCommitter<string>({ ...opts, concurrency: 1, flush: f.flush });
    const a = watch(gc.submit('a'));
    await turns(3);
    const later = ['b', 'c', 'd'].map((s) => watch(gc.submit(s)));
    await turns(3);
    // concurrency 1: nothing else starts while the first flush is in flight.
    expect(f.calls).toHaveLength(1);
    f.calls[0]!.done.resolve();
    await turns(3);
    expect(a.outcome.state).toBe('resolved');
    expect(f.calls).toHaveLength(2);
    expect(f.calls[1]!.batch).toEqual(['b', 'c', 'd']);
    expect(later.every((w) => w.outcome.state === 'pending')).toBe(true);
    f.calls[1]!.done.resolve();
    await turns(2);
    expect(later.every((w) => w.outcome.state === 'resolved')).toBe(true);
  });

  it('never puts more than maxBatch items in one flush', async () => {
    const batches: number[][] = [];
    const gc = new GroupCommitter<number>({
      maxBatch: 7,
      maxQueue: 1000,
      concurrency: 2,
      flush: async (b) => {
        batches.push([...b]);
        await turn();
      },
    });
    const items = Array.from({ length: 40 }, (_, i) => i);
    await Promise.all(items.map((n) => gc.submit(n)));
    expect(batches.every((b) => b.length >= 1 && b.length <= 7)).toBe(true);
    expect(batches.length).toBeGreaterThanOrEqual(Math.ceil(40 / 7));
    // Every item flushed exactly once, in order.
    expect(batches.flat()).toEqual(items);
    expect(gc.stats).toMatchObject({ batches: batches.length, items: 40 });
  });
});

describe('bounded queue: 503 at once, nothing dropped silently', () => {
  it('rejects at once with UnavailableError past maxQueue waiting items, and every submit settles', async () => {
    const f = manualFlush<string>();
    const gc = new GroupCommitter<string>({ maxBatch: 1, maxQueue: 3, concurrency: 1, flush: f.flush });
    const submitted = new Map<string, { readonly outcome: Outcome }>();
    const submit = (s: string) => submitted.set(s, watch(gc.submit(s)));

    // Three wait in the queue; the fourth is refused.
    for (const s of ['a', 'b', 'c', 'd']) submit(s);
    await Promise.resolve();
    await Promise.resolve();
    // "At once": refused before any flush ran, not after a timeout.
    expect(f.calls).toHaveLength(0);
    const d = submitted.get('d')!.outcome;
    expect(d.state).toBe('rejected');
    expect((d as { error: unknown }).error).toBeInstanceOf(UnavailableError);
    expect(((d as { error: unknown }).error as CustosError).code).toBe('unavailable');
    expect(gc.stats.rejectedFull).toBe(1);

    // 'a' moves into flight: one place frees up, the next one after it is refused again.
    await turns(3);
    expect(f.calls.map((c) => c.batch)).toEqual([['a']]);
    submit('e');
    submit('f');
    await Promise.resolve();
    expect(submitted.get('e')!.outcome.state).toBe('pending');
    expect(submitted.get('f')!.outcome.state).toBe('rejected');
    expect(gc.stats.rejectedFull).toBe(2);

    // Let everything drain, one batch at a time (concurrency 1, maxBatch 1).
    for (let i = 0; i < 20 && [...submitted.values()].some((w) => w.outcome.state === 'pending'); i++) {
      for (const c of f.calls) c.done.resolve();
      await turns(2);
    }
    const flushed = f.calls.flatMap((c) => c.batch).sort();
    const resolved = [...submitted].filter(([, w]) => w.outcome.state === 'resolved').map(([s]) => s).sort();
    const rejected = [...submitted].filter(([, w]) => w.outcome.state === 'rejected').map(([s]) => s).sort();
    // Every submit settled; resolved exactly when flushed; the refused ones never flushed.
    expect(resolved.length + rejected.length).toBe(submitted.size);
    expect(resolved).toEqual(flushed);
    expect(resolved).toEqual(['a', 'b', 'c', 'e']);
    expect(rejected).toEqual(['d', 'f']);
    expect(gc.stats).toMatchObject({ batches: 4, items: 4, rejectedFull: 2 });
  });

  it('under a burst against a slow store: accepted + refused = submitted, and accepted = flushed', async () => {
    const flushed: number[] = [];
    const gc = new GroupCommitter<number>({
      maxBatch: 5,
      maxQueue: 20,
      concurrency: 2,
      flush: async (b) => {
        await new Promise((r) => setTimeout(r, 2));
        flushed.push(...b);
      },
    });
    const n = 300;
    const results = await Promise.allSettled(Array.from({ length: n }, (_, i) => gc.submit(i)));
    const ok = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
    const refused = results.filter((r) => r.status === 'rejected');
    expect(ok.length + refused.length).toBe(n);
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(UnavailableError);
    expect([...flushed].sort((a, b) => a - b)).toEqual(ok);
    expect(gc.stats.items).toBe(ok.length);
    expect(gc.stats.rejectedFull).toBe(refused.length);
  });
});

describe('concurrency', () => {
  it('never has more than `concurrency` flushes in flight, and uses them', async () => {
    const f = manualFlush<number>();
    const gc = new GroupCommitter<number>({ maxBatch: 1, maxQueue: 1000, concurrency: 3, flush: f.flush });
    const ws = Array.from({ length: 12 }, (_, i) => watch(gc.submit(i)));
    await turns(3);
    expect(f.calls).toHaveLength(3);
    expect(f.inFlight).toBe(3);
    // Resolve one at a time: each completion lets exactly one more start.
    for (let done = 0; done < 12; done++) {
      f.calls[done]!.done.resolve();
      await turns(3);
      expect(f.inFlight).toBeLessThanOrEqual(3);
    }
    expect(f.maxInFlight).toBe(3);
    expect(f.calls).toHaveLength(12);
    expect(ws.every((w) => w.outcome.state === 'resolved')).toBe(true);
  });

  it('with random flush times, in flight stays within the limit and every item commits once', async () => {
    let inFlight = 0;
    let max = 0;
    const seen: number[] = [];
    const gc = new GroupCommitter<number>({
      maxBatch: 4,
      maxQueue: 10_000,
      concurrency: 2,
      flush: async (b) => {
        inFlight++;
        max = Math.max(max, inFlight);
        await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 3)));
        seen.push(...b);
        inFlight--;
      },
    });
    const waves: Promise<void>[] = [];
    for (let w = 0; w < 10; w++) {
      for (let i = 0; i < 20; i++) waves.push(gc.submit(w * 20 + i));
      await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all(waves);
    expect(max).toBeLessThanOrEqual(2);
    expect(max).toBe(2);
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });

  it('a failed flush frees its slot (in-flight count does not leak)', async () => {
    let calls = 0;
    const gc = new GroupCommitter<number>({
      maxBatch: 1,
      maxQueue: 100,
      concurrency: 1,
      flush: async () => {
        calls++;
        if (calls <= 3) throw new Error('boom');
      },
    });
    for (let i = 0; i < 3; i++) await expect(gc.submit(i)).rejects.toBeInstanceOf(UnavailableError);
    await expect(gc.submit(99)).resolves.toBeUndefined();
  });
});

describe('robustness of the flush contract', () => {
  // A flush typed `(batch) => Promise<void>` may still throw before returning
  // a promise (a non-async function, a mapping bug). Its batch must be
  // rejected like any failed flush and its slot freed; otherwise the items
  // hang forever, `inFlight` leaks until the committer is wedged, and the
  // throw escapes as an unhandled rejection (which ends a Node process).
  it('a flush that throws synchronously rejects its batch with UnavailableError and does not wedge the committer', async () => {
    let calls = 0;
    const gc = new GroupCommitter<number>({
      maxBatch: 1,
      maxQueue: 10,
      concurrency: 1,
      flush: () => {
        calls++;
        if (calls === 1) throw new Error('mapping bug');
        return Promise.resolve();
      },
    });
    const within = (p: Promise<void>) =>
      Promise.race([
        p.then(
          () => 'resolved',
          (e: unknown) => (e instanceof UnavailableError ? 'unavailable' : 'other error'),
        ),
        new Promise<string>((r) => setTimeout(() => r('still pending'), 300)),
      ]);
    expect(await within(gc.submit(1))).toBe('unavailable');
    expect(await within(gc.submit(2))).toBe('resolved');
  });
});
