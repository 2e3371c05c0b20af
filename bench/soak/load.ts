/**
 * One window of the soak's load, paced: `rate` calls a second, started at
 * even intervals (every 5 ms, as many as are due), whatever the answers
 * take, as many independent clients would send them. autocannon's rate
 * limit sends each second's quota in a burst at its start, which is not a
 * steady load. Calls go out over at most `connections` keep-alive
 * connections; a call waiting for a free connection counts that wait in its
 * latency (the time is taken when it was due). Each call is the next of a
 * shared rotating list (decision requests of many principals and datasets,
 * with token requests of several clients among them), and is counted by
 * kind. `rate` 0: every connection sends its next call as soon as the last
 * is answered (as fast as the server goes).
 */
import { Agent as HttpAgent, request, type Agent } from 'node:http';
import { percentile } from '../util.ts';

/** One HTTP call of the rotation. */
export interface SoakCall {
  kind: 'decision' | 'token';
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** What one kind of call did in the window. */
export interface KindFigures {
  answered: number;
  per_s: number;
  p50_ms: number;
  p99_ms: number;
  non_2xx: number;
}

export interface WindowResult {
  seconds: number;
  /** Every call of the window. */
  all: KindFigures;
  decision: KindFigures;
  token: KindFigures;
  /** Calls with no answer (connection errors, or none within 30 s). */
  errors: number;
  /** Calls not sent because 1,000 were already waiting (the server had stalled). */
  dropped: number;
  /** A few failures, for the report. */
  samples: string[];
}

const MAX_WAITING = 1000;

/**
 * The connections the soak's windows share, kept open from one window to the
 * next. Node's agent honours the server's `Keep-Alive: timeout=5` hint (it
 * lets an idle connection go a second before the server would) only when the
 * agent has a timeout of its own: without one it reuses connections the
 * server is closing, and a call now and then fails with ECONNRESET.
 */
export function soakAgent(connections: number): Agent {
  return new HttpAgent({ keepAlive: true, maxSockets: connections, timeout: 60_000 });
}

/** Runs `seconds` of load on `base`; `start` is where in the rotation this window begins (returned advanced). */
export async function soakWindow(o: { base: string; agent: Agent; calls: readonly SoakCall[]; seconds: number; connections: number; rate: number; start: number }): Promise<WindowResult & { next: number }> {
  const agent = o.agent;
  const url = new URL(o.base);
  let next = o.start;
  let inFlight = 0;
  let errors = 0;
  let dropped = 0;
  const lat = { decision: [] as number[], token: [] as number[] };
  const bad = { decision: 0, token: 0 };
  const samples: string[] = [];
  const note = (s: string) => samples.length < 5 && samples.push(s);

  const send = (due: number) =>
    new Promise<void>((resolve) => {
      const call = o.calls[next++ % o.calls.length]!;
      inFlight++;
      const done = () => {
        inFlight--;
        resolve();
      };
      const req = request({ host: url.hostname, port: url.port, method: 'POST', path: call.path, headers: call.headers, agent, timeout: 30_000 }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => (text += d));
        res.on('end', () => {
          lat[call.kind].push(performance.now() - due);
          const status = res.statusCode!;
          if (status < 200 || status > 299) {
            bad[call.kind]++;
            note(`${call.kind} ${status}: ${text.slice(0, 300)}`);
          }
          done();
        });
      });
      req.on('timeout', () => req.destroy(new Error('no answer within 30 s')));
      req.on('error', (err) => {
        errors++;
        note(`${call.kind}: ${err.message}`);
        done();
      });
      req.end(call.body);
    });

  const started = performance.now();
  const until = started + o.seconds * 1000;
  if (o.rate > 0) {
    let sent = 0;
    const pending = new Set<Promise<void>>();
    await new Promise<void>((resolve) => {
      const tick = () => {
        const now = performance.now();
        const due = Math.floor(((Math.min(now, until) - started) / 1000) * o.rate);
        for (; sent < due; sent++) {
          if (inFlight >= MAX_WAITING) {
            dropped++;
            continue;
          }
          // Due at its own moment, not at this tick's: lateness of the pacer counts against the latency too.
          const p = send(started + (sent / o.rate) * 1000);
          pending.add(p);
          void p.then(() => pending.delete(p));
        }
        if (now >= until) {
          clearInterval(timer);
          resolve();
        }
      };
      const timer = setInterval(tick, 5);
    });
    await Promise.all(pending);
  } else {
    await Promise.all(
      Array.from({ length: o.connections }, async () => {
        while (performance.now() < until) await send(performance.now());
      }),
    );
  }
  const seconds = (performance.now() - started) / 1000;
  const figures = (xs: number[], nonOk: number): KindFigures => {
    const sorted = Float64Array.from(xs).sort();
    return { answered: xs.length, per_s: Math.round(xs.length / seconds), p50_ms: round(percentile(sorted, 50)), p99_ms: round(percentile(sorted, 99)), non_2xx: nonOk };
  };
  return {
    seconds: round(seconds),
    all: figures([...lat.decision, ...lat.token], bad.decision + bad.token),
    decision: figures(lat.decision, bad.decision),
    token: figures(lat.token, bad.token),
    errors,
    dropped,
    samples,
    next,
  };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
