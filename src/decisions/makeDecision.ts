/**
 * One decision, end to end: load the facts, decide against the snapshot in
 * force, and commit the record before answering. If the record cannot be
 * committed the caller gets 503 — never an answer without its record.
 */
import type { DecisionLogWriter } from '../audit/decisionLog.ts';
import type { RequestMeta } from '../audit/log.ts';
import type { Clock, IdGenerator } from '../clock.ts';
import { decide } from '../engine/decide.ts';
import type { Decision, DecisionInput } from '../engine/types.ts';
import { NotFoundError } from '../errors.ts';
import type { PolicyHolder } from '../policy/holder.ts';
import type { FactsStore } from './facts.ts';

/** Dependencies of {@link makeDecision}. */
export interface DecisionDeps {
  facts: FactsStore;
  policy: PolicyHolder;
  log: DecisionLogWriter;
  clock: Clock;
  ids: IdGenerator;
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

/** Token metadata decided with a decision and recorded with it. */
export interface TokenRecord {
  jti: string;
  expiresAt: Date;
  job: Record<string, unknown>;
}

/** A committed decision. */
export interface RecordedDecision extends Decision {
  decisionId: string;
  at: Date;
  input: DecisionInput;
  token?: TokenRecord | undefined;
  /** Data leaves on this answer if it allows: an enforcement point asked, or a token was issued (false: a what-if, or no token); see {@link DecisionCaller.whatIf}. */
  release: boolean;
}

/** Caller of a decision, and (for the token endpoint) how to describe the token an allow yields. */
export interface DecisionCaller {
  callerId: string | null;
  meta: RequestMeta;
  /** Called with an allow before it is recorded; what it returns (if anything) is committed in the same record. */
  tokenFor?: (decision: Decision, at: Date) => TokenRecord | undefined;
  /**
   * An administrator asking "what if": nothing is released on this answer,
   * so it is no disclosure (§164.528). Anything else — a token, an
   * enforcement point's question — is recorded as a release: the accounting
   * of disclosures errs toward listing, never toward leaving out.
   */
  whatIf?: boolean | undefined;
}

/** Decides and durably records one request. */
export async function makeDecision(deps: DecisionDeps, request: DecisionRequest, caller: DecisionCaller): Promise<RecordedDecision> {
  const start = performance.now();
  const at = deps.clock.now();
  const [p, d] = await factsOf(deps, request, at);
  return decideAndRecord(deps, request, p, d, at, start, caller);
}

/**
 * Decides and records several requests. Every principal and dataset is
 * resolved first, so a batch with an unknown one fails before any decision
 * is recorded (no record exists for an answer that was never sent).
 */
export async function makeDecisions(deps: DecisionDeps, requests: readonly DecisionRequest[], caller: DecisionCaller): Promise<RecordedDecision[]> {
  const start = performance.now();
  const at = deps.clock.now();
  const facts = await Promise.all(requests.map((r) => factsOf(deps, r, at)));
  return Promise.all(requests.map((r, i) => decideAndRecord(deps, r, facts[i]![0], facts[i]![1], at, start, caller)));
}

type Principal = NonNullable<Awaited<ReturnType<FactsStore['principal']>>>;
type Dataset = NonNullable<Awaited<ReturnType<FactsStore['dataset']>>>;

/** The principal's and dataset's facts at `at`; an unknown one is a NotFoundError. */
async function factsOf(deps: DecisionDeps, request: DecisionRequest, at: Date): Promise<[Principal, Dataset]> {
  const [p, d] = await Promise.all([deps.facts.principal(request.principalId, at), deps.facts.dataset(request.datasetId, at)]);
  if (!p) throw new NotFoundError(`Principal ${request.principalId}`);
  if (!d) throw new NotFoundError(`Dataset ${request.datasetId}`);
  return [p, d];
}

async function decideAndRecord(
  deps: DecisionDeps,
  request: DecisionRequest,
  principal: Principal,
  dataset: Dataset,
  at: Date,
  start: number,
  caller: DecisionCaller,
): Promise<RecordedDecision> {
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
  const decisionId = deps.ids();
  const latencyUs = (performance.now() - start) * 1000;
  // Fail closed: the answer exists only once its record is committed.
  const token = decision.effect === 'allow' && caller.tokenFor ? caller.tokenFor(decision, at) : undefined;
  // Data leaves on a token only if one is issued; on an enforcement point's allow always; on a what-if never.
  const release = caller.tokenFor ? token !== undefined : caller.whatIf !== true;
  await deps.log.append({ id: decisionId, at, requestId: caller.meta.requestId, callerId: caller.callerId, input, decision, latencyUs, token, release });
  return { ...decision, decisionId, at, input, token, release };
}
