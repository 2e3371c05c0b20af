/**
 * The first half of a decision: load the facts about the principal and the
 * dataset at the decision's time and decide against the policy in force
 * (the engine's pure `decide`). Nothing is written and nothing is answered
 * here: `record.ts` commits the decision first.
 */
import type { Clock } from '../clock.ts';
import { decide } from '../engine/decide.ts';
import type { DatasetFacts, Decision, DecisionInput, PrincipalFacts } from '../engine/types.ts';
import { NotFoundError } from '../errors.ts';
import type { PolicyHolder } from '../policy/holder.ts';
import type { FactsStore } from './facts.ts';

/** Dependencies of {@link evaluate}. */
export interface EvaluateDeps {
  facts: FactsStore;
  policy: PolicyHolder;
  clock: Clock;
}

/** A decision request as callers phrase it. */
export interface DecisionRequest {
  principalId: string;
  datasetId: string;
  action: string;
  purpose: string;
  columns: string[] | '*';
  context?: Record<string, unknown> | undefined;
}

/** A decision made and not yet recorded: what {@link record} commits. */
export interface Evaluation {
  /** When it was decided (the input's `now`). */
  at: Date;
  /** The request with every fact it was decided on. */
  input: DecisionInput;
  decision: Decision;
  /** Microseconds from the start of the evaluation to the decision (facts and engine; not the commit). */
  latencyUs: number;
}

/** Decides one request; an unknown principal or dataset is a NotFoundError. */
export async function evaluate(deps: EvaluateDeps, request: DecisionRequest): Promise<Evaluation> {
  const start = performance.now();
  const at = deps.clock.now();
  const [principal, dataset] = await Promise.all([deps.facts.principal(request.principalId, at), deps.facts.dataset(request.datasetId, at)]);
  return decideOn(deps, request, principal, dataset, at, start);
}

/**
 * Decides several requests at one time. Every principal and dataset is
 * resolved before anything is decided, and an unknown one fails the whole
 * batch, so none of its decisions can be recorded (no record exists for an
 * answer never sent).
 */
export async function evaluateAll(deps: EvaluateDeps, requests: readonly DecisionRequest[]): Promise<Evaluation[]> {
  const start = performance.now();
  const at = deps.clock.now();
  const facts = await Promise.all(requests.map((r) => Promise.all([deps.facts.principal(r.principalId, at), deps.facts.dataset(r.datasetId, at)])));
  return requests.map((r, i) => decideOn(deps, r, facts[i]![0], facts[i]![1], at, start));
}

/** Decides on the facts loaded; an unknown principal or dataset is a NotFoundError. */
function decideOn(
  deps: EvaluateDeps,
  request: DecisionRequest,
  principal: PrincipalFacts | undefined,
  dataset: DatasetFacts | undefined,
  at: Date,
  start: number,
): Evaluation {
  if (!principal) throw new NotFoundError(`Principal ${request.principalId}`);
  if (!dataset) throw new NotFoundError(`Dataset ${request.datasetId}`);
  const input: DecisionInput = {
    now: at.getTime(),
    action: request.action,
    purpose: request.purpose,
    columns: request.columns,
    principal,
    dataset,
    context: request.context,
  };
  const decision = decide(input, deps.policy.current());
  return { at, input, decision, latencyUs: (performance.now() - start) * 1000 };
}
