/**
 * The request deadline (src/http/middleware.ts `deadline`): a response not
 * finished by its due time is answered by the timeout handler once, a
 * finished one is let go and never timed out, and none is lost when more
 * are in flight than the sweeper's first slots hold.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { DeadlineExceededError } from '../../src/http/errorMapper.ts';
import { deadline } from '../../src/http/middleware.ts';
import type { NodeRequest, NodeResponse } from '../../src/http/transport.ts';

/** The parts of a response the deadline reads. */
function fakeResponse(): NodeResponse & { finish(): void } {
  const res = { writableEnded: false, destroyed: false, headersSent: false, locals: {} as Record<string, unknown> };
  return Object.assign(res, { finish: () => void (res.writableEnded = true) }) as unknown as NodeResponse & { finish(): void };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const req = {} as NodeRequest;
const next = () => {};

let timedOut: { res: NodeResponse; err: DeadlineExceededError }[] = [];
afterEach(() => {
  timedOut = [];
});

describe('request deadline', () => {
  it('times out an unfinished response once, and lets a finished one go', async () => {
    const handler = deadline(40, (res, err) => timedOut.push({ res, err }));
    const slow = fakeResponse();
    const quick = fakeResponse();
    handler(req, slow, next);
    handler(req, quick, next);
    quick.finish();
    await sleep(150);
    expect(timedOut.map((t) => t.res)).toEqual([slow]);
    expect(timedOut[0]!.err).toBeInstanceOf(DeadlineExceededError);
    expect(slow.locals.timedOut).toBe(true);
    expect(quick.locals.timedOut).toBeUndefined();
  });

  it('does not answer a response whose headers went out already', async () => {
    const handler = deadline(40, (res, err) => timedOut.push({ res, err }));
    const streaming = fakeResponse();
    handler(req, streaming, next);
    (streaming as { headersSent: boolean }).headersSent = true;
    await sleep(150);
    expect(timedOut).toEqual([]);
  });

  it('keeps every request when more are in flight than its first slots hold', async () => {
    const handler = deadline(60, (res, err) => timedOut.push({ res, err }));
    const all = Array.from({ length: 1000 }, fakeResponse);
    for (const res of all) handler(req, res, next);
    // Every third finishes in time; the others must each time out exactly once.
    all.forEach((res, i) => i % 3 === 0 && res.finish());
    await sleep(250);
    const expected = all.filter((_r, i) => i % 3 !== 0);
    expect(timedOut).toHaveLength(expected.length);
    expect(new Set(timedOut.map((t) => t.res))).toEqual(new Set(expected));
  });

  it('holds no finished response after a sweep', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const handler = deadline(40, (res, err) => timedOut.push({ res, err }));
    const refs = (() => {
      const all = Array.from({ length: 300 }, fakeResponse);
      for (const res of all) handler(req, res, next);
      for (const res of all) res.finish();
      return all.map((res) => new WeakRef(res));
    })();
    await sleep(100);
    gc();
    expect(refs.filter((r) => r.deref() !== undefined)).toHaveLength(0);
    expect(timedOut).toEqual([]);
  });
});
