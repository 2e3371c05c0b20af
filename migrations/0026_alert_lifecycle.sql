-- The alert lifecycle's change feed: every write to an alert (a detector's
-- raise or repeat, a reviewer's acknowledgement, assignment or resolution)
-- gets a `revision` from one sequence, `last_event` names what the write
-- was, and the alert as it stood after it is kept in `alert_changes`. The
-- reviewer console's stream (GET /v1/alerts/stream) sends one event per
-- change with its revision as the SSE `id:`, and replays the changes after
-- `Last-Event-ID` to a client that reconnects.
--
-- That replay is only honest if revisions are handed out in commit order (a
-- client that saw revision 11 must never have missed a revision 10 that
-- committed later). So every statement that writes alerts first takes one
-- transaction-scoped advisory lock, held to commit: alert writes, which are
-- rare, are serialised across replicas, and a later revision always commits
-- after an earlier one. The lock is taken by a statement-level trigger,
-- before the statement locks any row, so writers cannot deadlock on it
-- (a transaction that row-locks alerts with SELECT … FOR UPDATE before
-- writing must take the lock first: custos_alerts_write_order()).
ALTER TABLE alerts
  ADD COLUMN revision   bigint,
  ADD COLUMN last_event text NOT NULL DEFAULT 'raised'
    CHECK (last_event IN ('raised', 'repeated', 'acknowledged', 'assigned', 'resolved', 'updated')),
  ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now(),
  ADD COLUMN assigned_at timestamptz,
  ADD COLUMN assigned_by uuid REFERENCES principals(id);

CREATE SEQUENCE alerts_revision_seq AS bigint;
GRANT USAGE, SELECT ON SEQUENCE alerts_revision_seq TO custos_app;

-- Rows written before this migration (none in practice) get revisions in their order.
UPDATE alerts SET revision = nextval('alerts_revision_seq') WHERE revision IS NULL;
ALTER TABLE alerts ALTER COLUMN revision SET NOT NULL;
CREATE UNIQUE INDEX alerts_revision_idx ON alerts (revision);

-- The key of the advisory lock that orders alert writes ('custos_alerts' as a number).
CREATE FUNCTION custos_alerts_write_order() RETURNS void LANGUAGE sql AS $$
  SELECT pg_advisory_xact_lock(7283110424193357203)
$$;

CREATE FUNCTION custos_alerts_order_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM custos_alerts_write_order();
  RETURN NULL;
END
$$;

-- What a write was, worked out from the row itself, so a detector's plain
-- INSERT … ON CONFLICT DO UPDATE is named as well as a reviewer's change.
CREATE FUNCTION custos_alerts_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.revision := nextval('alerts_revision_seq');
  NEW.updated_at := clock_timestamp();
  IF TG_OP = 'INSERT' THEN
    NEW.last_event := 'raised';
  ELSIF NEW.status = 'resolved' AND OLD.status <> 'resolved' THEN
    NEW.last_event := 'resolved';
  ELSIF NEW.status = 'acknowledged' AND OLD.status = 'open' THEN
    NEW.last_event := 'acknowledged';
  ELSIF NEW.assignee_id IS DISTINCT FROM OLD.assignee_id THEN
    NEW.last_event := 'assigned';
  ELSIF NEW.occurrences > OLD.occurrences THEN
    NEW.last_event := 'repeated';
  ELSE
    NEW.last_event := 'updated';
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER alerts_write_order BEFORE INSERT OR UPDATE ON alerts
  FOR EACH STATEMENT EXECUTE FUNCTION custos_alerts_order_statement();
CREATE TRIGGER alerts_revision BEFORE INSERT OR UPDATE ON alerts
  FOR EACH ROW EXECUTE FUNCTION custos_alerts_revision();

-- One row per write to an alert, with the alert as it stood after it:
-- what streams send and replay (every change, not only the latest state).
-- Append-only for the application: history is not edited.
CREATE TABLE alert_changes (
  revision bigint PRIMARY KEY,
  alert_id uuid NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
  event    text NOT NULL,
  at       timestamptz NOT NULL DEFAULT clock_timestamp(),
  alert    jsonb NOT NULL
);
CREATE INDEX alert_changes_alert_idx ON alert_changes (alert_id, revision);
GRANT SELECT, INSERT ON alert_changes TO custos_app;
REVOKE UPDATE, DELETE, TRUNCATE ON alert_changes FROM custos_app;

CREATE FUNCTION custos_alerts_record_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO alert_changes (revision, alert_id, event, alert) VALUES (NEW.revision, NEW.id, NEW.last_event, to_jsonb(NEW));
  RETURN NULL;
END
$$;
CREATE TRIGGER alerts_record_change AFTER INSERT OR UPDATE ON alerts
  FOR EACH ROW EXECUTE FUNCTION custos_alerts_record_change();
