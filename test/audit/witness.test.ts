/**
 * Witnesses of anchors, without a database: publications are written in
 * order and exactly once even when they overlap; a failing witness keeps
 * its anchors and writes them, in order, when it comes back; its failure and
 * recovery are reported once each.
 */
import { describe, expect, it } from 'vitest';
import type { Anchor } from '../../src/audit/anchors.ts';
import { Witnesses, type Witness, type WitnessStatus } from '../../src/audit/witness.ts';
import { createLogger } from '../../src/logger.ts';

const log = createLogger({ level: 'silent' });
const anchor = (n: number): Anchor => ({ type: 'registry', at_ms: n, chains: [], kid: 'k', signature: 's' });
const times = (xs: readonly Anchor[]) => xs.map((a) => (a.type === 'registry' ? a.at_ms : -1));

/** A witness that records what it was given, slowly, and fails while `down` says so. */
function recorder() {
  const written: Anchor[] = [];
  let down = false;
  const w: Witness & { written: Anchor[]; setDown(v: boolean): void } = {
    name: 'file',
    written,
    setDown: (v) => (down = v),
    async write(anchors) {
      await new Promise((r) => setTimeout(r, 5));
      if (down) throw Object.assign(new Error('no'), { code: 'EROFS' });
      written.push(...anchors);
    },
  };
  return w;
}

describe('Witnesses', () => {
  it('writes overlapping publications in order, each anchor once', async () => {
    const w = recorder();
    const ws = new Witnesses([w], { log });
    await Promise.all([ws.publish([anchor(1), anchor(2)]), ws.publish([anchor(3)]), ws.publish([anchor(4), anchor(5)])]);
    expect(times(w.written)).toEqual([1, 2, 3, 4, 5]);
    expect(ws.status()[0]).toMatchObject({ ok: true, pending: 0, failures: 0 });
  });

  it('keeps a failing witness\'s anchors, reports the failure and the recovery once each, and catches up in order', async () => {
    const w = recorder();
    const changes: WitnessStatus[] = [];
    const ws = new Witnesses([w], { log, onChange: async (s) => void changes.push(s) });
    w.setDown(true);
    await ws.publish([anchor(1)]);
    await ws.publish([anchor(2)]);
    expect(ws.status()[0]).toMatchObject({ name: 'file', ok: false, pending: 2, failures: 2, last_error: 'EROFS' });
    expect(changes.map((c) => c.ok)).toEqual([false]);
    w.setDown(false);
    await ws.publish([anchor(3)]);
    expect(times(w.written)).toEqual([1, 2, 3]);
    expect(ws.status()[0]).toMatchObject({ ok: true, pending: 0, failing_since: null });
    expect(changes.map((c) => c.ok)).toEqual([false, true]);
  });
});
