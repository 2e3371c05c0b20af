/**
 * The group committer's metrics hook: told once per batch (never per item)
 * with the batch's size, its duration and whether it committed; and how many
 * items wait for the next batch while one is in flight.
 */
import { describe, expect, it } from 'vitest';
import { GroupCommitter } from '../../src/audit/groupCommit.ts';

describe('group commit hooks', () => {
  it('reports each batch once, committed or failed, and the items waiting meanwhile', async () => {
    const flushed: { size: number; seconds: number; ok: boolean }[] = [];
    let release!: () => void;
    let fail = false;
    const gate = new Promise<void>((r) => (release = r));
    const c = new GroupCommitter<number>({
      maxBatch: 10,
      maxQueue: 100,
      concurrency: 1,
      flush: async () => {
        await gate;
        if (fail) throw new Error('database away');
      },
      onFlushed: (size, seconds, ok) => flushed.push({ size, seconds, ok }),
    });
    // Three in the first batch (one turn of the event loop), held at the gate.
    const first = [c.submit(1), c.submit(2), c.submit(3)];
    await new Promise((r) => setImmediate(r));
    expect(c.waiting).toBe(0);
    // Two more wait behind the batch in flight (concurrency 1).
    const second = [c.submit(4), c.submit(5)];
    expect(c.waiting).toBe(2);
    release();
    await Promise.all(first);
    fail = true;
    await expect(Promise.all(second)).rejects.toThrow();
    expect(flushed.map((f) => [f.size, f.ok])).toEqual([
      [3, true],
      [2, false],
    ]);
    expect(flushed.every((f) => f.seconds >= 0 && f.seconds < 5)).toBe(true);
    expect(c.waiting).toBe(0);
  });
});
