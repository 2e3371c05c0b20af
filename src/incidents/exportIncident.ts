/**
 * An incident with its evidence, as one document a regulator, counsel or
 * another system can keep: the incident and its clock, the linked alerts,
 * the scope, the determination, the audit trail and every decision in
 * scope. Streamed: memory is bounded by one batch of decisions, however
 * many there are.
 *
 * JSON: one object; `decisions` is its last member, written batch by batch.
 * CSV (RFC 4180, through audit/export.ts, formula cells neutralised): one
 * table, a `record` column saying what each row is (incident,
 * determination, alert, principal, dataset, column, audit, decision), the
 * rest of a record's fields as JSON in `details`.
 */
import type { Writable } from 'node:stream';
import type { StoredAuditEvent } from '../audit/log.ts';
import { drained, writeExport, type ExportResult } from '../audit/export.ts';
import type { IncidentView } from './deps.ts';
import type { LinkedAlert, Scope } from './store.ts';

/** Export formats of an incident. */
export type IncidentExportFormat = 'json' | 'csv';

/** Content types of the formats. */
export const INCIDENT_CONTENT_TYPES: Record<IncidentExportFormat, string> = {
  json: 'application/json; charset=utf-8',
  csv: 'text/csv; charset=utf-8; header=present',
};

/** The CSV columns, in order. */
export const INCIDENT_CSV_COLUMNS = ['record', 'id', 'at', 'principal_id', 'dataset_id', 'effect', 'columns', 'token_jti', 'token_expires_at', 'details'] as const;

/** Everything but the decisions, read before the first byte is written. */
export interface IncidentEvidence {
  exported_at: string;
  incident: IncidentView;
  alerts: LinkedAlert[];
  scope: Scope;
  trail: StoredAuditEvent[];
}

/** Options of {@link writeIncidentExport}. */
export interface WriteIncidentExportOptions {
  format: IncidentExportFormat;
  evidence: IncidentEvidence;
  decisions: AsyncIterable<Record<string, unknown>[]>;
  out: Writable;
}

/** The determination part of the export (null while open). */
function determinationOf(i: IncidentView) {
  return i.determination ? { determination: i.determination, assessment: i.assessment, closed_at: i.closed_at, closed_by: i.closed_by } : null;
}

/** Writes the export to `out` with backpressure (without ending it); `rows` counts the decisions, in either format. */
export async function writeIncidentExport(o: WriteIncidentExportOptions): Promise<ExportResult> {
  if (o.format === 'json') return writeJson(o);
  const head = csvHead(o.evidence);
  const r = await writeExport({ format: 'csv', columns: INCIDENT_CSV_COLUMNS, batches: csvBatches(head, o.decisions), out: o.out });
  return { rows: Math.max(0, r.rows - head.length), complete: r.complete };
}

async function writeJson(o: WriteIncidentExportOptions): Promise<ExportResult> {
  const gone = () => o.out.destroyed || o.out.writableEnded;
  const send = async (text: string) => o.out.write(text) || (await drained(o.out));
  const e = o.evidence;
  const head = {
    format: 'custos-incident-export/1',
    exported_at: e.exported_at,
    incident: e.incident,
    alerts: e.alerts,
    scope: e.scope,
    determination: determinationOf(e.incident),
    audit_trail: e.trail,
  };
  let rows = 0;
  // The head object without its closing brace, then the decisions array.
  if (!(await send(JSON.stringify(head).slice(0, -1) + ',"decisions":['))) return { rows, complete: false };
  for await (const batch of o.decisions) {
    if (gone()) return { rows, complete: false };
    const chunk = batch.map((d, i) => (rows + i === 0 ? '' : ',') + JSON.stringify(d)).join('');
    rows += batch.length;
    if (!(await send(chunk))) return { rows, complete: false };
  }
  if (!(await send(']}\n'))) return { rows, complete: false };
  return { rows, complete: !gone() };
}

const json = (v: unknown) => JSON.stringify(v);

/** The records before the decisions: the incident, its determination, alerts, scope and trail. */
function csvHead(e: IncidentEvidence): Record<string, unknown>[] {
  const { alerts, scope, trail, incident } = e;
  const head: Record<string, unknown>[] = [{ record: 'incident', id: incident.id, at: incident.discovered_at, details: json({ ...incident, exported_at: e.exported_at }) }];
  const d = determinationOf(incident);
  if (d) head.push({ record: 'determination', id: incident.id, at: d.closed_at, principal_id: d.closed_by, details: json(d) });
  for (const a of alerts) head.push({ record: 'alert', id: a.id, at: a.first_at, details: json(a) });
  head.push({ record: 'scope', id: incident.id, details: json({ decisions: scope.decisions, truncated: scope.truncated }) });
  for (const p of scope.principals) head.push({ record: 'principal', id: p.id, at: p.first_at, principal_id: p.id, details: json(p) });
  for (const s of scope.datasets) head.push({ record: 'dataset', id: s.id, dataset_id: s.id, details: json(s) });
  for (const c of scope.columns) head.push({ record: 'column', id: `${c.dataset_id}.${c.column}`, dataset_id: c.dataset_id, columns: c.column, details: json(c) });
  for (const t of trail) head.push({ record: 'audit', id: t.id, at: t.at, principal_id: t.actor_id, details: json(t) });
  return head;
}

async function* csvBatches(head: Record<string, unknown>[], decisions: AsyncIterable<Record<string, unknown>[]>): AsyncGenerator<Record<string, unknown>[]> {
  yield head;
  for await (const batch of decisions) {
    yield batch.map((r) => ({
      record: 'decision',
      id: r.id,
      at: r.at,
      principal_id: r.principal_id,
      dataset_id: r.dataset_id,
      effect: r.effect,
      columns: (r.granted_columns as string[] | null)?.join(' ') ?? '',
      token_jti: r.token_jti,
      token_expires_at: r.token_expires_at,
      details: json({ sponsor_id: r.sponsor_id, purpose: r.purpose, action: r.action, rules: r.rules, reasons: r.reasons, denied_columns: r.denied_columns, break_glass: r.break_glass, grant_ids: r.grant_ids, policy_version: r.policy_version, job: r.job }),
    }));
  }
}
