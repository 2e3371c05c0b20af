/**
 * The security reviewer's side of the logs: filtered, keyset-paginated reads
 * of the decision log and the audit event log, and the same filters as a
 * batched stream for exports. Readers and the PDP's writers are kept apart
 * (see docs/design-notes.md): nothing here writes.
 *
 * Every filter value reaches PostgreSQL as a bound parameter of a postgres.js
 * tagged template (never `sql.unsafe`); ids are validated as UUIDs and other
 * strings are bounded and free of control characters before they get here.
 * Column lists are explicit (the tables gain columns over time).
 */
import { z } from 'zod';
import type { Sql } from '../../db/client.ts';
import { ValidationError } from '../../errors.ts';

type Row = Record<string, unknown>;
type Fragment = ReturnType<Sql>;

const hasControl = (s: string) => [...s].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);

/** A bounded filter string with no control characters (a NUL byte cannot even be stored in text). */
export const FilterText = (max: number) => z.string().min(1).max(max).refine((s) => !hasControl(s), 'no control characters');
const Text = FilterText;
const Iso = z.iso.datetime({ offset: true });

/** Time range and order shared by both logs: `from` inclusive, `to` exclusive. */
const common = {
  from: Iso.optional().describe('earliest time, inclusive (ISO 8601)'),
  to: Iso.optional().describe('latest time, exclusive (ISO 8601)'),
  order: z.enum(['desc', 'asc']).default('desc').describe('by time, then id: desc = newest first (default)'),
};

/** Filters of the decision log (HTTP query parameters and CLI options). */
export const DecisionFilter = z.strictObject({
  principal: z.uuid().optional().describe('principal decided for'),
  sponsor: z.uuid().optional().describe("the service's sponsor"),
  dataset: Text(128).optional(),
  project: Text(63).optional(),
  effect: z.enum(['allow', 'deny']).optional(),
  purpose: Text(64).optional(),
  rule: Text(128).optional().describe('a deciding rule id (records whose rules contain it)'),
  grant: z.uuid().optional().describe('a just-in-time grant id the decision relied on'),
  break_glass: z.enum(['true', 'false']).optional(),
  decision: z.uuid().optional().describe('one decision id'),
  reason: Text(200).optional().describe("text contained in one of a deny's reasons, ignoring case (e.g. `not permitted`, `expired`, a rule id)"),
  job: Text(200).optional().describe('a token (its jti) or the training job a token was requested for (its job_id)'),
  ...common,
});
/** A parsed decision log filter. */
export type DecisionFilter = z.infer<typeof DecisionFilter>;

/** Filters of the audit event log. */
export const AuditEventFilter = z.strictObject({
  actor: z.uuid().optional(),
  subject: z.uuid().optional(),
  type: Text(128).optional().describe('event type, exactly (e.g. login.success, audit.export)'),
  outcome: z.enum(['success', 'failure', 'info']).optional(),
  event: z.uuid().optional().describe('one audit event id (the links of an alert\'s evidence)'),
  ...common,
});
/** A parsed audit event filter. */
export type AuditEventFilter = z.infer<typeof AuditEventFilter>;

/** Page size and position. */
export const PageParams = {
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(200).optional().describe('next_cursor of the previous page'),
};

/** One log as a reviewer reads it: its table, columns, filters and row shape. */
export interface LogSource<F> {
  name: 'decision_log' | 'audit_events';
  /** Column names, in output (and CSV) order. */
  columns: readonly string[];
  where(sql: Sql, filter: F): Fragment[];
  toItem(row: Row): Row;
}

const iso = (v: unknown): string | null => (v === null || v === undefined ? null : new Date(v as string | Date).toISOString());

/** Columns of a decision record, as stored (migrations 0004, 0009). */
export const DECISION_COLUMNS = [
  'id', 'at', 'request_id', 'caller_id', 'principal_id', 'sponsor_id', 'dataset_id', 'project_id', 'action', 'purpose', 'effect',
  'rules', 'reasons', 'granted_columns', 'denied_columns', 'obligations', 'grant_ids', 'break_glass', 'policy_version', 'latency_us',
  'input', 'token_jti', 'token_expires_at', 'job',
] as const;

/** Columns of an audit event (migration 0003). */
export const AUDIT_EVENT_COLUMNS = ['id', 'at', 'type', 'outcome', 'actor_id', 'subject_id', 'source_ip', 'request_id', 'details'] as const;

function timeRange(sql: Sql, f: { from?: string | undefined; to?: string | undefined }): Fragment[] {
  const out: Fragment[] = [];
  if (f.from) out.push(sql`at >= ${new Date(f.from)}`);
  if (f.to) out.push(sql`at < ${new Date(f.to)}`);
  return out;
}

/** The decision log. */
export const decisionLog: LogSource<DecisionFilter> = {
  name: 'decision_log',
  columns: DECISION_COLUMNS,
  where(sql, f) {
    const w = timeRange(sql, f);
    if (f.principal) w.push(sql`principal_id = ${f.principal}`);
    if (f.sponsor) w.push(sql`sponsor_id = ${f.sponsor}`);
    if (f.dataset) w.push(sql`dataset_id = ${f.dataset}`);
    if (f.project) w.push(sql`project_id = ${f.project}`);
    if (f.effect) w.push(sql`effect = ${f.effect}`);
    if (f.purpose) w.push(sql`purpose = ${f.purpose}`);
    if (f.rule) w.push(sql`rules @> ARRAY[${f.rule}]::text[]`);
    if (f.grant) w.push(sql`grant_ids @> ARRAY[${f.grant}]::text[]`);
    if (f.break_glass) w.push(sql`break_glass = ${f.break_glass === 'true'}`);
    if (f.decision) w.push(sql`id = ${f.decision}`);
    // strpos, not LIKE: the reviewer's text is matched as written (`%`, `_` and `\` are ordinary characters).
    if (f.reason) w.push(sql`EXISTS (SELECT 1 FROM unnest(reasons) AS r(reason) WHERE strpos(lower(r.reason), lower(${f.reason})) > 0)`);
    if (f.job) w.push(sql`(token_jti = ${f.job} OR job->>'job_id' = ${f.job})`);
    return w;
  },
  toItem: (r) => ({ ...r, at: iso(r.at), token_expires_at: iso(r.token_expires_at), latency_us: Number(r.latency_us) }),
};

/** The audit event log. */
export const auditEvents: LogSource<AuditEventFilter> = {
  name: 'audit_events',
  columns: AUDIT_EVENT_COLUMNS,
  where(sql, f) {
    const w = timeRange(sql, f);
    if (f.actor) w.push(sql`actor_id = ${f.actor}`);
    if (f.subject) w.push(sql`subject_id = ${f.subject}`);
    if (f.type) w.push(sql`type = ${f.type}`);
    if (f.outcome) w.push(sql`outcome = ${f.outcome}`);
    if (f.event) w.push(sql`id = ${f.event}`);
    return w;
  },
  toItem: (r) => ({ ...r, at: iso(r.at) }),
};

/** Where a page ended: the last row's time (to the microsecond) and id. */
interface Position {
  at: string;
  id: string;
  order: 'asc' | 'desc';
}

/** An opaque cursor: base64url of the last row's (time, id) and the order it was read in. */
export function encodeLogCursor(p: Position): string {
  return Buffer.from(JSON.stringify([p.at, p.id, p.order]), 'utf8').toString('base64url');
}

/** Decodes a cursor made by {@link encodeLogCursor} for the same order; refuses anything else. */
export function decodeLogCursor(cursor: string, order: 'asc' | 'desc'): Position {
  const refuse = () => new ValidationError('The cursor is not valid.', [{ path: 'query.cursor', message: 'not a cursor from this API for this order' }]);
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(cursor)) throw refuse();
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw refuse();
  }
  if (
    !Array.isArray(v) ||
    v.length !== 3 ||
    typeof v[0] !== 'string' ||
    !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/.test(v[0]) ||
    typeof v[1] !== 'string' ||
    !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(v[1]) ||
    v[2] !== order
  ) {
    throw refuse();
  }
  return { at: v[0], id: v[1], order };
}

/** `a AND b AND …` (TRUE when empty). */
function and(sql: Sql, parts: Fragment[]): Fragment {
  return parts.reduce((acc, p) => sql`${acc} AND ${p}`, sql`TRUE`);
}

/** The SELECT of a log with its filters, position and order; `at_key` is the microsecond time for cursors. */
function select<F>(sql: Sql, source: LogSource<F>, filter: F, order: 'asc' | 'desc', after: Position | undefined, limit: number | undefined): Fragment {
  const where = source.where(sql, filter);
  if (after) {
    // Sent as text: postgres.js would pass a timestamptz parameter through a JS Date, dropping the microseconds.
    const at = sql`(${after.at}::text)::timestamptz`;
    where.push(order === 'desc' ? sql`(at, id) < (${at}, ${after.id}::uuid)` : sql`(at, id) > (${at}, ${after.id}::uuid)`);
  }
  const by = order === 'desc' ? sql`ORDER BY at DESC, id DESC` : sql`ORDER BY at ASC, id ASC`;
  return sql`
    SELECT ${sql(source.columns as string[])}, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at_key
    FROM ${sql(source.name)}
    WHERE ${and(sql, where)}
    ${by}
    ${limit === undefined ? sql`` : sql`LIMIT ${limit}`}`;
}

/** One page of a log. */
export interface LogPage {
  items: Row[];
  next_cursor: string | null;
}

/** Options of {@link queryLog}. */
export interface QueryLogOptions<F> {
  filter: F & { order: 'asc' | 'desc' };
  limit: number;
  cursor?: string | undefined;
}

/**
 * A page of a log, ordered by (time, id): stable and complete across pages,
 * equal timestamps included, however many rows arrive meanwhile.
 */
export async function queryLog<F>(sql: Sql, source: LogSource<F>, o: QueryLogOptions<F>): Promise<LogPage> {
  const order = o.filter.order;
  const after = o.cursor === undefined ? undefined : decodeLogCursor(o.cursor, order);
  const rows = (await select(sql, source, o.filter, order, after, o.limit + 1)) as unknown as Row[];
  const page = rows.slice(0, o.limit);
  const last = page[page.length - 1];
  return {
    items: page.map((r) => source.toItem(strip(r))),
    next_cursor: rows.length > o.limit && last ? encodeLogCursor({ at: last.at_key as string, id: last.id as string, order }) : null,
  };
}

function strip(r: Row): Row {
  const { at_key: _k, ...rest } = r;
  return rest;
}

/**
 * Every row matching the filter, in batches of `batch` rows read through a
 * server-side cursor (postgres.js `.cursor`), so memory stays bounded by the
 * batch size whatever the number of rows. Stop iterating to close the cursor.
 */
export async function* streamLog<F>(sql: Sql, source: LogSource<F>, filter: F & { order: 'asc' | 'desc' }, batch = 500): AsyncGenerator<Row[]> {
  for await (const rows of select(sql, source, filter, filter.order, undefined, undefined).cursor(batch)) {
    yield (rows as unknown as Row[]).map((r) => source.toItem(strip(r)));
  }
}

/** The filters actually given (for audit events: what was looked at). */
export function filtersUsed(filter: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(filter)) if (v !== undefined) out[k] = v;
  return out;
}
