-- Monitoring: alerts raised by detectors over the committed decision and
-- audit records, and the evidence behind each. An alert is raised once per
-- `dedupe_key` (a detector's subject and window), whichever replica detects
-- it: repeats of the same pattern are grouped into it (`occurrences`,
-- `last_at`) while it is not resolved.
CREATE TABLE alerts (
  id              uuid PRIMARY KEY,
  detector        text NOT NULL,
  severity        text NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
  -- What the alert is about: a principal's id, a chain's id, a dataset's id.
  subject         text NOT NULL,
  dedupe_key      text NOT NULL,
  title           text NOT NULL,
  details         jsonb NOT NULL DEFAULT '{}'::jsonb,
  status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'resolved')),
  assignee_id     uuid REFERENCES principals(id),
  first_at        timestamptz NOT NULL,
  last_at         timestamptz NOT NULL,
  occurrences     integer NOT NULL DEFAULT 1 CHECK (occurrences >= 1),
  created_at      timestamptz NOT NULL DEFAULT now(),
  acknowledged_at timestamptz,
  acknowledged_by uuid REFERENCES principals(id),
  resolved_at     timestamptz,
  resolved_by     uuid REFERENCES principals(id),
  -- Required to resolve: what the reviewer found.
  finding         text,
  CHECK (status <> 'resolved' OR (finding IS NOT NULL AND resolved_at IS NOT NULL))
);
-- One unresolved alert per pattern: a repeat while it is open joins it.
CREATE UNIQUE INDEX alerts_open_dedupe_idx ON alerts (dedupe_key) WHERE status <> 'resolved';
CREATE INDEX alerts_status_idx ON alerts (status, severity, last_at DESC);
CREATE INDEX alerts_subject_idx ON alerts (subject, last_at DESC);

-- The decision records and audit events behind an alert.
CREATE TABLE alert_evidence (
  alert_id  uuid NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
  log       text NOT NULL CHECK (log IN ('decision_log', 'audit_events')),
  record_id uuid NOT NULL,
  at        timestamptz NOT NULL,
  PRIMARY KEY (alert_id, log, record_id)
);
