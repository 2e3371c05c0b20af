/**
 * `npm run bench -- faults [--smoke]`: faults at load, at full size. Three
 * replicas (`node src/main.ts`, one process each) on a PostgreSQL of the
 * bench's own; clients issue tokens and decisions (and revoke every third
 * token: a transaction with its audit event), retrying onto the next
 * replica after a 503 or no answer. One fault after another, each under a
 * fresh load: every Custos connection terminated, PostgreSQL read-only
 * then back, a policy change, PostgreSQL restarted, kill -9 of a replica.
 *
 * For every fault: `lost_records` (2xx answers whose decision record is
 * missing) and `tokens_without_record` (tokens with no record naming their
 * decision id and jti), both 0 or the run fails; the 503s and attempts
 * without an answer; how long clients saw failures (`outage_ms`); how soon
 * each replica answered 2xx again after the fault ended (`recovery_ms`);
 * and for the policy change, how soon each replica decided with it.
 * The test suite runs the same faults at small size (test/faults).
 */
import os from 'node:os';
import { checkRecords, dedicatedDatabase, faultWorld, FaultLoad, outage, recoveryMs, setReadOnly, sleep, terminateCustosConnections, type Attempt, type FaultWorld } from '../test/support/faults.ts';
import { startServer, type ServerProcess } from '../test/support/servers.ts';
import { printTable, writeResult } from './util.ts';

/** The figures of one fault. */
interface FaultResult {
  lost_records: number;
  tokens_without_record: number;
  tokens_issued: number;
  decisions_answered: number;
  attempts: number;
  count_503: number;
  no_answer: number;
  unexpected: number;
  /** From the first failed attempt to the last (with a replica killed: as long as clients kept trying it). */
  outage_ms: number;
  /** The longest time no client got a 2xx answer: the outage as the clients lived it. */
  longest_gap_ms: number;
  /** Per replica: ms from the end of the fault to its first 2xx (null: the replica was killed). */
  recovery_ms: (number | null)[];
  /** Failed attempts after every replica had recovered (must be 0). */
  failures_after_recovery: number;
  /** Slowest answer after recovery (ms): a connection that cannot come back shows as seconds here. */
  max_latency_after_recovery_ms: number;
  [k: string]: unknown;
}

export async function run({ smoke }: { smoke: boolean }): Promise<void> {
  const size = smoke ? { concurrency: 8, warmMs: 1000, faultMs: 1000, observeMs: 3000 } : { concurrency: Number(process.env.BENCH_CONNECTIONS ?? 32), warmMs: 3000, faultMs: 3000, observeMs: 10_000 };
  // The machine is shared: how busy it was when the run began.
  const loadAverage = os.loadavg()[0]!;
  const pg = await dedicatedDatabase();
  const db = pg.db;
  const replicas: ServerProcess[] = [];
  const results: Record<string, FaultResult> = {};
  try {
    const world = await faultWorld(db);
    const env = { CUSTOS_WORKERS: '1', CUSTOS_LOG_LEVEL: 'info', CUSTOS_POLICY_RELOAD_SECONDS: '3600' };
    replicas.push(...(await Promise.all([0, 1, 2].map(() => startServer(db, { env, ready: 'custos is listening', timeoutMs: 60_000 })))));
    const urls = replicas.map((r) => r.url);

    /** Runs `inject` under a fresh load; `inject` returns when the fault is over (ms on the load's clock). */
    const fault = async (name: string, inject: (l: FaultLoad) => Promise<number>, o: { expected?: (a: Attempt) => boolean; extra?: (l: FaultLoad, from: number, over: number) => Record<string, unknown> } = {}) => {
      const l = new FaultLoad({ replicas: urls, concurrency: size.concurrency, world });
      l.start();
      await sleep(size.warmMs);
      const from = l.now();
      const over = await inject(l);
      await sleep(size.observeMs);
      await l.stop();
      const records = await checkRecords(db.sql, l.attempts);
      const out = outage(l.attempts, from, Infinity, o.expected);
      const recovery = recoveryMs(l.attempts, replicas.length, over);
      const settledAt = over + Math.max(0, ...recovery.map((m) => m ?? 0)) + 500;
      const after = l.attempts.filter((a) => a.start > settledAt && urls[a.replica] !== undefined && replicas[a.replica]!.child.exitCode === null && replicas[a.replica]!.child.signalCode === null);
      results[name] = {
        ...records,
        attempts: l.attempts.length,
        count_503: out.count_503,
        no_answer: out.no_answer,
        unexpected: out.unexpected,
        outage_ms: out.outage_ms,
        longest_gap_ms: out.longest_gap_ms,
        fault_ms: Math.round(over - from),
        recovery_ms: recovery.map((m) => m ?? null),
        failures_after_recovery: after.filter((a) => a.status !== 200 && !(o.expected?.(a) ?? false)).length,
        max_latency_after_recovery_ms: Math.round(Math.max(0, ...after.map((a) => a.end - a.start))),
        ...o.extra?.(l, from, over),
      };
      process.stdout.write(`${name}: ${JSON.stringify(results[name])}\n`);
    };

    await fault('connections_terminated', async (l) => {
      // Three rounds a moment apart: connections killed idle, mid group commit, inside transactions, while reconnecting.
      for (let i = 0; i < 3; i++) {
        await terminateCustosConnections(db.admin, db.name);
        await sleep(250);
      }
      return l.now();
    });

    await fault('read_only', async (l) => {
      await setReadOnly(db.admin, true);
      await sleep(size.faultMs);
      await setReadOnly(db.admin, false);
      return l.now();
    });

    const base = (await world.wired.app.policies.store.latest())!;
    let pushedAt = 0;
    let pushedVersion = 0;
    await fault(
      'policy_change',
      async (l) => {
        const v = await pushPolicy(world, base.version, denyScientists(base.documents), 'pause scientists');
        pushedAt = l.now();
        pushedVersion = v;
        return pushedAt;
      },
      {
        // Tokens refused under the new rule are denials, not failures.
        expected: (a) => a.status === 400 && a.code === 'access_denied',
        extra: (l) => ({ propagation_ms: propagation(l.attempts, replicas.length, pushedAt, pushedVersion) }),
      },
    );
    await pushPolicy(world, pushedVersion, base.documents, 'resume');
    await sleep(500);

    await fault('postgres_restarted', async (l) => {
      await pg.restart(size.faultMs);
      return l.now();
    });

    await fault('replica_killed', async (l) => {
      replicas[0]!.kill();
      await replicas[0]!.exited;
      return l.now();
    });

    for (const [i, r] of replicas.entries()) {
      if (i > 0 && r.child.exitCode !== null) throw new Error(`replica ${i} exited:\n${r.out().slice(-3000)}`);
      if (/uncaught|TypeError|unhandled/i.test(r.out())) throw new Error(`replica ${i} printed a crash:\n${r.out().slice(-3000)}`);
    }
    printTable(`Faults at load (3 replicas, ${size.concurrency} clients; lost records and tokens without record must be 0)`, [
      ...Object.entries(results).map(([name, r]): [string, string] => [
        name,
        `lost ${r.lost_records}, tokens w/o record ${r.tokens_without_record}, tokens ${r.tokens_issued}, 503s ${r.count_503}, no answer ${r.no_answer}, no 2xx for ${r.longest_gap_ms} ms at most, recovery ${r.recovery_ms.map((m) => (m === null ? '-' : m)).join('/')} ms` +
          (r.propagation_ms ? `, policy seen after ${(r.propagation_ms as number[]).join('/')} ms` : ''),
      ]),
    ]);
    const bad = Object.entries(results).filter(([, r]) => r.lost_records || r.tokens_without_record || r.unexpected || r.failures_after_recovery);
    writeResult('faults', { faults: results, replicas: replicas.length, clients: size.concurrency, warm_ms: size.warmMs, observe_ms: size.observeMs, load_average_at_start: loadAverage, smoke });
    if (bad.length) throw new Error(`faults with lost records, tokens without record or failures after recovery: ${bad.map(([n]) => n).join(', ')}`);
  } finally {
    for (const r of replicas) r.kill();
    await Promise.all(replicas.map((r) => r.exited));
    await pg.stop();
  }
}

/** The default policy with a deny for data scientists on PHI first: decisions and tokens flip to deny. */
function denyScientists(documents: Record<string, string>): Record<string, string> {
  const deny = `  - id: bench-scientists-paused
    effect: deny
    roles: [data-scientist]
    actions: [dataset:read]
    resource: { classification: [phi, limited] }
`;
  return { ...documents, 'default.yaml': documents['default.yaml']!.replace('rules:\n', `rules:\n${deny}`) };
}

/** Stores the next policy version with its audit event, as an edit does; returns its number. */
async function pushPolicy(world: FaultWorld, basedOn: number, documents: Record<string, string>, comment: string): Promise<number> {
  const store = world.wired.app.policies.store;
  const tests = (await store.latest())!.tests;
  const v = await store.create({ basedOn, documents, tests, authorId: null, comment, at: new Date() }, (tx, created) =>
    world.wired.audit.recordIn(tx, { type: 'policy.updated', outcome: 'success', actorId: null, details: { version: created.version, comment } }),
  );
  return v.version;
}

/**
 * Per replica: ms after the commit until the latest decision asked after it
 * that still answered with the old version, or the first one with the new
 * version, whichever is later (what a client could have seen).
 */
function propagation(attempts: readonly Attempt[], replicas: number, at: number, version: number): number[] {
  return Array.from({ length: replicas }, (_, r) => {
    const mine = attempts.filter((a) => a.kind === 'decision' && a.status === 200 && a.replica === r && a.start >= at);
    const stale = mine.filter((a) => !a.policyVersion!.startsWith(`v${version}.`)).map((a) => a.end - at);
    const first = mine.find((a) => a.policyVersion!.startsWith(`v${version}.`));
    return Math.round(Math.max(0, ...stale, first ? first.end - at : Infinity));
  });
}
