/**
 * Impact simulation of a candidate (POST /v1/policy/simulate): logged
 * decision requests of a bounded range replayed against the candidate and
 * the live policy (simulate.ts), decided in a worker batch by batch under
 * the check deadline. Examples are logged requests (who asked for what,
 * when): a read of the decision log, so only a caller holding `audit:read`
 * gets them. Every run is itself audited (§164.312(b) audit controls): a
 * what-if over logged decisions is a trace, answered only once recorded.
 */
import type { RequestMeta } from '../audit/log.ts';
import type { AuthContext } from '../auth/context.ts';
import type { PolicyLimits } from '../config.ts';
import type { FactsStore } from '../decisions/facts.ts';
import { ValidationError } from '../errors.ts';
import { compilePolicy } from './compile.ts';
import { latestVersion, type PolicyDeps } from './deps.ts';
import { sourcesOf } from './loadLivePolicy.ts';
import { roleGraph } from './loadPolicy.ts';
import { simulatePolicy, type LoggedRequestSource, type SimulationReport } from './simulate.ts';
import type { PolicyFiles } from './store.ts';

/** Dependencies of {@link simulateCandidate}: the policy operations' and what a replay reads. */
export interface SimulationDeps extends Pick<PolicyDeps, 'store' | 'checker' | 'catalog' | 'audit' | 'clock' | 'holder'> {
  /** The logged requests (the decision log). */
  replay: LoggedRequestSource;
  /** Principals and datasets as they are now (uncached). */
  facts: FactsStore;
  /** The widest range, and the condition budget the candidate compiles under. */
  limits: Pick<PolicyLimits, 'simulationMaxWindowSeconds' | 'condition'>;
}

/** Options of {@link simulateCandidate}. */
export interface SimulateCandidateOptions {
  auth: AuthContext;
  meta: RequestMeta;
  documents: PolicyFiles;
  /** Default: 7 days before `to`. */
  from?: Date | undefined;
  /** Default: now. */
  to?: Date | undefined;
  /** Most logged requests replayed. */
  limit: number;
  /** Examples per group (withheld without `audit:read`). */
  examples: number;
}

/** The report, and whether its examples were withheld. */
export type SimulationResult = SimulationReport & { examples_withheld: boolean };

const WEEK_MS = 7 * 86_400_000;

/** Replays the range against both policies and records the run; throws ValidationError for an empty or too wide range, PolicyInvalidError for a candidate that does not compile. */
export async function simulateCandidate(deps: SimulationDeps, o: SimulateCandidateOptions): Promise<SimulationResult> {
  const now = deps.clock.now();
  const to = o.to ?? now;
  const from = o.from ?? new Date(to.getTime() - WEEK_MS);
  if (from >= to) throw new ValidationError('The range is empty.', [{ path: 'body.from', message: 'must be before `to`' }]);
  const maxWindow = deps.limits.simulationMaxWindowSeconds;
  // A replay reads the decision log: its range is bounded like any log query's cost.
  if (to.getTime() - from.getTime() > maxWindow * 1000) throw new ValidationError(`The range is wider than ${maxWindow} seconds.`, [{ path: 'body.from', message: `at most ${maxWindow} seconds before \`to\`` }]);
  const mayReadLog = o.auth.permissions.has('audit:read');
  const roles = await roleGraph(deps.catalog);
  // Compiled here for its issues (422); decided in a worker, batch by batch, under the check deadline.
  const candidate = compilePolicy({ documents: sourcesOf(o.documents), roles, version: 'candidate', conditionLimits: deps.limits.condition });
  const [base, liveVersion] = [await latestVersion(deps.store), deps.holder.current().version];
  const report = await deps.checker.simulate({ live: { documents: base.documents, roles, version: liveVersion }, candidate: { documents: o.documents, roles, version: candidate.version } }, (decide) =>
    simulatePolicy({ source: deps.replay, facts: deps.facts, decide, liveVersion, candidateVersion: candidate.version, from, to, limit: o.limit, now, examples: mayReadLog ? o.examples : 0 }),
  );
  await deps.audit.record({
    type: 'policy.simulated',
    outcome: 'success',
    actorId: o.auth.principalId,
    meta: o.meta,
    details: {
      from: report.from,
      to: report.to,
      limit: o.limit,
      replayed: report.replayed,
      skipped: report.skipped,
      truncated: report.truncated,
      unchanged: report.unchanged,
      flips: report.flips,
      examples: report.examples.length,
      examples_withheld: !mayReadLog,
      live_version: report.live_version,
      candidate_rules: candidate.rules.length,
    },
  });
  return { ...report, examples_withheld: !mayReadLog };
}
