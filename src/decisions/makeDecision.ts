/**
 * The decision service as the decision API uses it: evaluate, then record,
 * and answer only with the committed record. The token endpoint runs the same
 * two halves with its own step between them (src/tokens/issueToken.ts).
 */
import type { DecisionRecord } from '../audit/decisionLog.ts';
import { evaluate, evaluateAll, type DecisionRequest, type EvaluateDeps } from './evaluate.ts';
import { record, type Attachments, type RecordDeps } from './record.ts';

/** Dependencies of the decision service: both halves'. */
export interface DecisionDeps extends EvaluateDeps, RecordDeps {}

/** Decides one request and commits its record; resolves with the record once committed. */
export async function makeDecision(deps: DecisionDeps, request: DecisionRequest, attachments: Attachments): Promise<DecisionRecord> {
  return record(deps, await evaluate(deps, request), attachments);
}

/**
 * Decides several requests and commits a record for each. An unknown
 * principal or dataset fails the batch before anything is recorded.
 */
export async function makeDecisions(deps: DecisionDeps, requests: readonly DecisionRequest[], attachments: Attachments): Promise<DecisionRecord[]> {
  const evaluations = await evaluateAll(deps, requests);
  return Promise.all(evaluations.map((e) => record(deps, e, attachments)));
}
