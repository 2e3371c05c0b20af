-- Incidents: a reviewer's investigation of possible unauthorized use or
-- disclosure of PHI, opened from alerts or directly, with the breach
-- notification clock of 45 CFR §164.404(b) (60 calendar days from
-- discovery, counted in the covered entity's time zone) and, when closed,
-- the determination and the four-factor risk assessment of §164.402(2).
CREATE TABLE incidents (
  id              uuid PRIMARY KEY,
  title           text NOT NULL,
  description     text NOT NULL,
  status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
  discovered_at   timestamptz NOT NULL,
  -- The IANA zone the calendar days are counted in, and the clock as computed at opening.
  time_zone       text NOT NULL,
  discovery_date  date NOT NULL,
  deadline_date   date NOT NULL,
  deadline_at     timestamptz NOT NULL,
  -- What the scope reads from the decision log: the time window, and (when not empty) only these principals and datasets.
  window_from     timestamptz NOT NULL,
  window_to       timestamptz NOT NULL,
  principal_ids   uuid[] NOT NULL DEFAULT '{}',
  dataset_ids     text[] NOT NULL DEFAULT '{}',
  opened_by       uuid NOT NULL REFERENCES principals(id),
  created_at      timestamptz NOT NULL,
  closed_at       timestamptz,
  closed_by       uuid REFERENCES principals(id),
  determination   text CHECK (determination IN ('breach', 'not_breach')),
  -- The four factors and the conclusion on the probability of compromise.
  assessment      jsonb,
  CHECK (window_to >= window_from),
  CHECK (deadline_at > discovered_at),
  CHECK (status = 'open' OR (closed_at IS NOT NULL AND closed_by IS NOT NULL AND determination IS NOT NULL AND assessment IS NOT NULL))
);
CREATE INDEX incidents_status_idx ON incidents (status, deadline_at);

CREATE TABLE incident_alerts (
  incident_id uuid NOT NULL REFERENCES incidents(id),
  alert_id    uuid NOT NULL REFERENCES alerts(id),
  linked_at   timestamptz NOT NULL,
  linked_by   uuid NOT NULL REFERENCES principals(id),
  PRIMARY KEY (incident_id, alert_id)
);
CREATE INDEX incident_alerts_alert_idx ON incident_alerts (alert_id);

-- Reminders before the deadline: one row per point, claimed once (sent_at)
-- in the transaction that queues its webhook delivery.
CREATE TABLE incident_reminders (
  incident_id uuid NOT NULL REFERENCES incidents(id),
  days_before integer NOT NULL CHECK (days_before >= 0),
  due_at      timestamptz NOT NULL,
  sent_at     timestamptz,
  PRIMARY KEY (incident_id, days_before)
);
CREATE INDEX incident_reminders_due_idx ON incident_reminders (due_at) WHERE sent_at IS NULL;

-- A closed incident is a record of a determination: nothing about it
-- changes afterwards, whoever writes (the application checks first; this
-- holds against any other path).
CREATE FUNCTION custos_incident_closed_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.status = 'closed' THEN
    RAISE EXCEPTION 'incident % is closed and cannot change', OLD.id USING ERRCODE = 'check_violation';
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE FUNCTION custos_incident_link_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  target uuid := CASE WHEN TG_OP = 'INSERT' THEN NEW.incident_id ELSE OLD.incident_id END;
BEGIN
  IF EXISTS (SELECT 1 FROM incidents WHERE id = target AND status = 'closed') THEN
    RAISE EXCEPTION 'incident % is closed and cannot change', target USING ERRCODE = 'check_violation';
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE TRIGGER incidents_closed_guard BEFORE UPDATE OR DELETE ON incidents FOR EACH ROW EXECUTE FUNCTION custos_incident_closed_guard();
CREATE TRIGGER incident_alerts_closed_guard BEFORE INSERT OR UPDATE OR DELETE ON incident_alerts FOR EACH ROW EXECUTE FUNCTION custos_incident_link_guard();
