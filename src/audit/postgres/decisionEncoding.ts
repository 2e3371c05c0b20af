/**
 * The chain encoding of a decision record, computed in process: the text
 * custos_decision_enc (migration 0012) returns for the row the writer sends,
 * byte for byte. With it the writer links a batch itself (hash =
 * SHA-256(prev || SHA-256(encoding))) and the database only stores it: the
 * per-record JSON re-encoding and hashing were most of the database's work
 * per decision. Verification still recomputes every link in the database,
 * from the stored columns, with custos_decision_enc.
 *
 * Mirrors decisionRowText field for field (the values PostgreSQL parses
 * from that text are the values encoded here); a test compares both
 * encodings over edge cases, and the writer compares them again on live
 * batches (ChainedWriter's sampled self-check).
 */
import { hash } from 'node:crypto';
import type { DatasetFacts, PrincipalFacts } from '../../engine/types.ts';
import type { DecisionRecord } from '../decisionLog.ts';
import { jsonbNumber, jsonbString, jsonbText, NotRenderableError } from '../jsonbText.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A uuid column as uuid_out prints it (lower case); anything else is left to the database. */
function uuid(v: string | null | undefined): string {
  if (v === null || v === undefined) return 'null';
  if (!UUID.test(v)) throw new NotRenderableError('a uuid not in canonical form');
  return `"${v}"`;
}

function text(v: string | null | undefined): string {
  return v === null || v === undefined ? 'null' : jsonbString(v);
}

/** A timestamptz column as microseconds since the epoch. */
function micros(d: Date | null | undefined): string {
  if (!d) return 'null';
  const ms = d.getTime();
  if (!Number.isSafeInteger(ms)) throw new NotRenderableError('an invalid time');
  return ms === 0 ? '0' : `${ms}000`;
}

// The stored principal and dataset (see storedPrincipal in decisionLogWriter.ts) are memoised per facts object, as there.
const principalEncodings = new WeakMap<PrincipalFacts, string>();
const datasetEncodings = new WeakMap<DatasetFacts, string>();

function principalEncoding(p: PrincipalFacts): string {
  let t = principalEncodings.get(p);
  if (t === undefined) {
    t = jsonbText({ id: p.id, kind: p.kind, status: p.status, roles: p.roles, grants: p.grants.map((g) => g.id), vendor_id: p.vendorId });
    principalEncodings.set(p, t);
  }
  return t;
}

function datasetEncoding(d: DatasetFacts): string {
  let t = datasetEncodings.get(d);
  if (t === undefined) datasetEncodings.set(d, (t = jsonbText({ id: d.id, project: d.project, classification: d.classification })));
  return t;
}

/** The `input` column: the object decisionRowText writes, as jsonb prints it (keys in jsonb order). */
function inputEncoding(r: DecisionRecord): string {
  const { input } = r;
  const now = new Date(input.now).toISOString();
  const sponsor = input.principal.sponsor;
  // Keys by length, then bytewise: now; action source; columns context dataset purpose release sponsor; principal.
  // `source` is present only when known (see DecisionRecord.source).
  return (
    `{"now": "${now}", "action": ${jsonbString(input.action)}${r.source ? `, "source": ${jsonbString(r.source)}` : ''}, "columns": ${jsonbText(input.columns ?? null)}, "context": ${jsonbText(input.context ?? {})}` +
    `, "dataset": ${datasetEncoding(input.dataset)}, "purpose": ${jsonbString(input.purpose)}, "release": ${r.release ? 'true' : 'false'}` +
    `, "sponsor": ${sponsor ? principalEncoding(sponsor) : 'null'}, "principal": ${principalEncoding(input.principal)}}`
  );
}

/** custos_decision_enc of the record as the `seq`-th of `chain`; throws NotRenderableError where only the database can say. */
export function decisionEncoding(r: DecisionRecord, chain: string, seq: number): string {
  const { input, decision } = r;
  return (
    `[${uuid(chain)}, ${seq}, ${uuid(r.id)}, ${micros(r.at)}, ${text(r.requestId)}, ${uuid(r.callerId)}, ${uuid(input.principal.id)}` +
    `, ${uuid(input.principal.sponsor?.id)}, ${jsonbString(input.dataset.id)}, ${text(input.dataset.project)}, ${jsonbString(input.action)}, ${jsonbString(input.purpose)}` +
    `, ${jsonbString(decision.effect)}, ${jsonbText(decision.rules)}, ${jsonbText(decision.reasons)}, ${jsonbText(decision.grantedColumns)}, ${jsonbText(decision.deniedColumns)}` +
    `, ${jsonbText(decision.obligations)}, ${jsonbText(decision.grantIds)}, ${decision.breakGlass ? 'true' : 'false'}, ${jsonbString(decision.policyVersion)}` +
    `, ${jsonbNumber(Math.round(r.latencyUs))}, ${inputEncoding(r)}, ${text(r.token?.jti)}, ${micros(r.token?.expiresAt)}, ${r.token ? jsonbText(r.token.job) : 'null'}]`
  );
}

/** The link of a record: SHA-256(prev || SHA-256(encoding)). */
export function link(prev: Buffer, encoding: string): Buffer {
  // One-shot hashes: no hash object per record.
  const inner = hash('sha256', encoding, 'buffer');
  return hash('sha256', Buffer.concat([prev, inner], 64), 'buffer');
}
