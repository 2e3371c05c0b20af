/**
 * The TTL cache of client contexts: entries expire, clear() drops loads in
 * flight, and with a trust epoch nothing is served while notifications are
 * not heard, nor anything loaded before trust was lost.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.ts';
import { TtlCache } from '../src/ttlCache.ts';
import { deferred } from './support/deferred.ts';

/** A loader that counts its calls and returns the call's number. */
function counter() {
  let n = 0;
  const load = () => Promise.resolve(++n);
  return { load, calls: () => n };
}

describe('TtlCache', () => {
  it('serves an entry until its lifetime ends, then loads again', async () => {
    const clock = new ManualClock();
    const cache = new TtlCache<number>(clock, 1000);
    const c = counter();
    expect(await cache.get('k', c.load)).toBe(1);
    clock.advance(999);
    expect(await cache.get('k', c.load)).toBe(1);
    clock.advance(1);
    expect(await cache.get('k', c.load)).toBe(2);
  });

  it('drops a load still in flight on clear(): its value is not served afterwards', async () => {
    const cache = new TtlCache<number>(new ManualClock(), 60_000);
    const slow = deferred<number>();
    const first = cache.get('k', () => slow.promise);
    cache.clear();
    const c = counter();
    expect(await cache.get('k', c.load)).toBe(1);
    slow.resolve(99);
    expect(await first).toBe(99);
    expect(await cache.get('k', c.load)).toBe(1);
  });

  it('does not keep a failed load', async () => {
    const cache = new TtlCache<number>(new ManualClock(), 60_000);
    await expect(cache.get('k', () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    expect(await cache.get('k', () => Promise.resolve(7))).toBe(7);
  });

  it('while the epoch is undefined (notifications not heard), loads on every lookup and keeps nothing', async () => {
    let epoch: number | undefined = undefined;
    const cache = new TtlCache<number>(new ManualClock(), 60_000, { epoch: () => epoch });
    const c = counter();
    expect(await cache.get('k', c.load)).toBe(1);
    expect(await cache.get('k', c.load)).toBe(2);
    expect(cache.size).toBe(0);
    epoch = 1;
    expect(await cache.get('k', c.load)).toBe(3);
    expect(await cache.get('k', c.load)).toBe(3);
  });

  it('while the epoch is undefined, concurrent lookups of a key share one load, and a clear() stops the sharing', async () => {
    const cache = new TtlCache<number>(new ManualClock(), 60_000, { epoch: () => undefined });
    const slow = deferred<number>();
    let calls = 0;
    const load = () => (++calls, slow.promise);
    const first = cache.get('k', load);
    const second = cache.get('k', load);
    expect(calls).toBe(1);
    cache.clear();
    void cache.get('k', load);
    expect(calls).toBe(2);
    slow.resolve(5);
    expect([await first, await second]).toEqual([5, 5]);
    expect(cache.size).toBe(0);
    // Settled: the next lookup loads again.
    await cache.get('k', () => Promise.resolve(6));
    expect(await cache.get('k', () => Promise.resolve(7))).toBe(7);
  });

  it('serves nothing loaded under an earlier epoch, even when trust came back before the next lookup', async () => {
    let epoch: number | undefined = 1;
    const cache = new TtlCache<number>(new ManualClock(), 60_000, { epoch: () => epoch });
    const c = counter();
    expect(await cache.get('k', c.load)).toBe(1);
    // Trust lost and regained between two lookups: the listener may have missed a change.
    epoch = 2;
    expect(await cache.get('k', c.load)).toBe(2);
    expect(await cache.get('k', c.load)).toBe(2);
  });

  it('serves nothing loaded under an earlier epoch that was still in flight when it changed', async () => {
    let epoch: number | undefined = 1;
    const cache = new TtlCache<number>(new ManualClock(), 60_000, { epoch: () => epoch });
    const slow = deferred<number>();
    const first = cache.get('k', () => slow.promise);
    epoch = 2;
    const c = counter();
    expect(await cache.get('k', c.load)).toBe(1);
    slow.resolve(99);
    await first;
    expect(await cache.get('k', c.load)).toBe(1);
  });

  it('drops everything past its size bound', async () => {
    const cache = new TtlCache<number>(new ManualClock(), 60_000, { maxEntries: 2 });
    const c = counter();
    await cache.get('a', c.load);
    await cache.get('b', c.load);
    expect(cache.size).toBe(2);
    await cache.get('c', c.load);
    expect(cache.size).toBe(1);
    expect(await cache.get('a', c.load)).toBe(4);
  });
});
