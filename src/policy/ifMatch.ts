/**
 * The precondition of every policy edit (RFC 9110 §13.1.1 If-Match): the
 * request names, by its ETag, the version it is based on, so an edit made on
 * a version someone has replaced since is refused instead of silently
 * undoing theirs (no lost update). Pure: the operations audit the refusal.
 *
 * Comparison is strong (§8.8.3.2): a weak tag (`W/"…"`) never matches, and
 * neither does `*`, which would match whatever is current and so defeat the
 * point — an edit must name its base. A list matches when any entry does.
 */
import { ConflictError, PreconditionRequiredError, type CustosError } from '../errors.ts';
import { policyEtag } from './store.ts';

/** Why an If-Match header does not name the current version. */
export type IfMatchFailure = 'missing' | 'stale';

/** Whether `header` names `etag`: undefined when it does, else why not. */
export function ifMatchFailure(header: string | undefined, etag: string): IfMatchFailure | undefined {
  if (header === undefined || header.trim() === '') return 'missing';
  return header.split(',').some((t) => t.trim() === etag) ? undefined : 'stale';
}

/** Options of {@link preconditionError}. */
export interface PreconditionOptions {
  /** The If-Match header as received. */
  header: string | undefined;
  /** The latest version. */
  current: { version: number; digest: string };
  /**
   * What a missing header is answered: `conflict` (409, as PUT /v1/policy
   * always has) or `required` (428 precondition_required, RFC 6585 §3).
   */
  missing: 'conflict' | 'required';
  /** How the message names the request: an edit, based on a version; a rollback, replacing one. */
  what: 'edit' | 'rollback';
}

/** The error that refuses the request, or undefined when If-Match names the current version. */
export function preconditionError(o: PreconditionOptions): CustosError | undefined {
  const etag = policyEtag(o.current);
  const failure = ifMatchFailure(o.header, etag);
  if (failure === undefined) return undefined;
  if (failure === 'stale') return new ConflictError(`The policy has changed since you read it (current: ${etag}): reload it and reapply your edit.`);
  const message =
    o.what === 'rollback'
      ? `A rollback must send If-Match with the ETag of the version it replaces (current: ${etag}).`
      : `An edit must send If-Match with the ETag of the version it is based on (current: ${etag}).`;
  return o.missing === 'required' ? new PreconditionRequiredError(message) : new ConflictError(message);
}

/** The header as an audit event keeps it: at most 100 characters, null when absent. */
export function ifMatchForAudit(header: string | undefined): string | null {
  return header?.slice(0, 100) ?? null;
}
