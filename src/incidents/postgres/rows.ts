/**
 * Rows of the incident tables as the domain types (timestamps as ISO 8601,
 * dates as `YYYY-MM-DD`).
 */
import type { Assessment, Incident, LinkedAlert } from '../store.ts';

/** A row as postgres.js returns it: untyped until mapped. */
export type Row = Record<string, any>;

/** The incident columns, in the order every read selects them (dates as text, so no zone shifts them). */
export const INCIDENT_COLUMNS =
  'id, title, description, status, discovered_at, time_zone, discovery_date::text AS discovery_date, deadline_date::text AS deadline_date, deadline_at, ' +
  'window_from, window_to, principal_ids::text[] AS principal_ids, dataset_ids, opened_by, created_at, closed_at, closed_by, determination, assessment';

const iso = (v: unknown): string => new Date(v as string).toISOString();
const isoOrNull = (v: unknown): string | null => (v == null ? null : iso(v));

/** An incident row. */
export function toIncident(r: Row): Incident {
  return {
    id: r.id,
    title: r.title,
    description: r.description,
    status: r.status,
    discovered_at: iso(r.discovered_at),
    time_zone: r.time_zone,
    discovery_date: r.discovery_date,
    deadline_date: r.deadline_date,
    deadline_at: iso(r.deadline_at),
    window_from: iso(r.window_from),
    window_to: iso(r.window_to),
    principal_ids: r.principal_ids ?? [],
    dataset_ids: r.dataset_ids ?? [],
    opened_by: r.opened_by,
    created_at: iso(r.created_at),
    closed_at: isoOrNull(r.closed_at),
    closed_by: r.closed_by ?? null,
    determination: r.determination ?? null,
    assessment: (r.assessment as Assessment | null) ?? null,
  };
}

/** An alert row (with its link, where read through one). */
export function toAlert(r: Row): LinkedAlert {
  return {
    id: r.id,
    detector: r.detector,
    severity: r.severity,
    subject: r.subject,
    title: r.title,
    status: r.status,
    first_at: iso(r.first_at),
    last_at: iso(r.last_at),
    occurrences: Number(r.occurrences),
    linked_at: isoOrNull(r.linked_at),
    linked_by: r.linked_by ?? null,
  };
}
