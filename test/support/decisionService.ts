/**
 * A decision service with no database: facts held in memory, the shipped
 * policy through the real engine, a frozen clock, counting ids, and a
 * decision log that keeps what it commits in an array and that a test can
 * make fail or hold back. It counts what happened, so a test can tell how
 * far a request got (facts read, records committed).
 */
import type { DecisionLogWriter, DecisionRecord } from '../../src/audit/decisionLog.ts';
import { ManualClock } from '../../src/clock.ts';
import type { DecisionDeps } from '../../src/decisions/makeDecision.ts';
import type { DatasetFacts, PrincipalFacts } from '../../src/engine/types.ts';
import { compilePolicy } from '../../src/policy/compile.ts';
import { PolicyHolder } from '../../src/policy/holder.ts';
import { defaultDocuments, defaultRoles } from '../engine/support.ts';

/** 2026-06-01T12:00:00.250Z: a quarter second into a whole second, so rounding to seconds shows. */
export const AT = Date.UTC(2026, 5, 1, 12) + 250;

/** The fake's log: commits into `records`, unless `fail` or `hold` say otherwise. */
export interface FakeLog extends DecisionLogWriter {
  /** Committed records, in order. */
  records: DecisionRecord[];
  /** Records handed to append (committed or not). */
  appended: DecisionRecord[];
  /** When set, append rejects with it and commits nothing. */
  fail?: unknown;
  /** When set, append commits only once this promise resolves (and rejects if it rejects). */
  hold?: Promise<void>;
}

/** The fake service and what it counts. */
export interface FakeDecisions {
  deps: DecisionDeps & { clock: ManualClock; log: FakeLog };
  /** Facts by id; add or change them freely. */
  principals: Map<string, PrincipalFacts>;
  datasets: Map<string, DatasetFacts>;
  /** How many facts lookups ran (a request got as far as evaluation). */
  lookups: () => number;
}

/** The shipped policy, compiled once per test file. */
let shipped: ReturnType<typeof compilePolicy> | undefined;

/** A decision service over the given facts. */
export function fakeDecisions(principals: PrincipalFacts[], datasets: DatasetFacts[]): FakeDecisions {
  shipped ??= compilePolicy({ documents: defaultDocuments(), roles: defaultRoles(), version: 'shipped' });
  const snapshot = shipped;
  const p = new Map(principals.map((x) => [x.id, x]));
  const d = new Map(datasets.map((x) => [x.id, x]));
  let lookups = 0;
  const log: FakeLog = {
    records: [],
    appended: [],
    async append(r) {
      log.appended.push(r);
      if (log.fail !== undefined) throw log.fail;
      if (log.hold) await log.hold;
      log.records.push(r);
    },
  };
  let n = 0;
  const deps = {
    facts: {
      principal: async (id: string) => (lookups++, p.get(id)),
      dataset: async (id: string) => (lookups++, d.get(id)),
    },
    policy: new PolicyHolder(snapshot, async () => snapshot),
    log,
    clock: new ManualClock(AT),
    ids: () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`,
  };
  return { deps, principals: p, datasets: d, lookups: () => lookups };
}
