/**
 * autocannon over the rotating workload: each connection, at each turn,
 * takes the next decision of the list (a shared counter, so connections
 * rotate through all of it rather than repeat one body). A decision is one
 * HTTP call, or two for Cerbos when a service's own answer allows and its
 * sponsor must be asked too; decisions/s and the decision latency
 * percentiles are counted per decision, from the first call's send to the
 * last call's answer, so both engines are measured on the same unit.
 */
import autocannon from 'autocannon';
import { percentile } from '../util.ts';

/** One decision's HTTP bodies: the first call, and a second asked only if `needSecond` says so of the first answer. */
export interface DecisionCalls {
  first: string;
  second: string | null;
}

export interface LoadResult {
  decisions: number;
  decisions_per_s: number;
  p50_ms: number;
  p99_ms: number;
  /** HTTP calls, and those not answered 200. */
  calls: number;
  non_2xx: number;
  errors: number;
  seconds: number;
}

interface Ctx {
  item?: DecisionCalls;
  t0?: number;
  second?: boolean;
}

/** Runs `seconds` of load on `base + path` with `connections` connections. */
export async function rotatingLoad(o: {
  base: string;
  path: string;
  headers: Record<string, string>;
  calls: readonly DecisionCalls[];
  needSecond?: (firstAnswer: string) => boolean;
  seconds: number;
  connections: number;
}): Promise<LoadResult> {
  let next = 0;
  const latencies: number[] = [];
  const finish = (ctx: Ctx) => latencies.push(performance.now() - ctx.t0!);
  const first: autocannon.Request = {
    method: 'POST',
    path: o.path,
    headers: o.headers,
    setupRequest: (req, context) => {
      const ctx = context as Ctx;
      ctx.item = o.calls[next++ % o.calls.length]!;
      ctx.t0 = performance.now();
      return { ...req, body: ctx.item.first };
    },
    onResponse: (status, body, context) => {
      const ctx = context as Ctx;
      ctx.second = status === 200 && ctx.item!.second !== null && (o.needSecond?.(body) ?? true);
      if (!ctx.second) finish(ctx);
    },
  };
  // Asked only when the first answer calls for it; otherwise the connection starts the next decision.
  const second: autocannon.Request = {
    method: 'POST',
    path: o.path,
    headers: o.headers,
    setupRequest: (req, context) => {
      const ctx = context as Ctx;
      return ctx.second ? { ...req, body: ctx.item!.second! } : (undefined as unknown as autocannon.Request);
    },
    onResponse: (_status, _body, context) => finish(context as Ctx),
  };
  const twoCalls = o.calls.some((c) => c.second !== null);
  const started = performance.now();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    autocannon(
      { url: o.base, requests: twoCalls ? [first, second] : [first], duration: o.seconds, connections: o.connections, pipelining: 1 },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
  });
  const seconds = (performance.now() - started) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  return {
    decisions: latencies.length,
    decisions_per_s: Math.round(latencies.length / seconds),
    p50_ms: round(percentile(sorted, 50)),
    p99_ms: round(percentile(sorted, 99)),
    calls: result.requests.total,
    non_2xx: result.non2xx,
    errors: result.errors,
    seconds: round(seconds),
  };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
