/**
 * The second half of a decision: its durable record, with what the caller
 * attaches to it (the token an allow yields, whether data is released),
 * appended through the group-committing decision log. `record` resolves only
 * once the record has committed, and the caller answers only then: no
 * answer, and no token, exists without its record. A record that cannot be
 * committed rejects (UnavailableError: 503), and nothing is answered.
 */
import type { DecisionLogWriter, DecisionRecord } from '../audit/decisionLog.ts';
import type { IdGenerator } from '../clock.ts';
import type { Decision } from '../engine/types.ts';
import type { Evaluation } from './evaluate.ts';

/** Dependencies of {@link record}. */
export interface RecordDeps {
  log: DecisionLogWriter;
  ids: IdGenerator;
  /** Told of each decision once its record has committed (metrics: effects, deny reasons). */
  committed?: ((decision: Decision) => void) | undefined;
}

/** A token issued on an allow, committed in its decision's record. */
export interface TokenRecord {
  jti: string;
  expiresAt: Date;
  job: Record<string, unknown>;
}

/** What is recorded with a decision besides the decision itself. */
export interface Attachments {
  /** Who asked: the enforcement point, administrator or token endpoint's client. */
  callerId: string | null;
  requestId: string | undefined;
  /**
   * Whether data leaves on this answer if it allows: an enforcement point's
   * question, or a token issued (§164.528 lists releases only). False for an
   * administrator's "what if" (decisions/whatIf.ts) and for a token request
   * that yields no token. The accounting of disclosures errs toward listing,
   * never toward leaving out.
   */
  release: boolean;
  /** The token an allow yields (token endpoint only). */
  token?: TokenRecord | undefined;
  /** The caller's address, when known (see DecisionRecord.source). */
  source?: string | undefined;
}

/** Commits the evaluation's record; resolves with it once committed. */
export async function record(deps: RecordDeps, evaluation: Evaluation, attachments: Attachments): Promise<DecisionRecord> {
  // Fail closed: a record must never say a token went out on a deny.
  if (attachments.token && evaluation.decision.effect !== 'allow') throw new Error('a token was attached to a deny');
  const entry: DecisionRecord = {
    id: deps.ids(),
    at: evaluation.at,
    requestId: attachments.requestId,
    callerId: attachments.callerId,
    input: evaluation.input,
    decision: evaluation.decision,
    latencyUs: evaluation.latencyUs,
    token: attachments.token,
    release: attachments.release,
    ...(attachments.source ? { source: attachments.source } : {}),
  };
  await deps.log.append(entry);
  deps.committed?.(entry.decision);
  return entry;
}
