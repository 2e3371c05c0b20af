-- Reviewers filter audit events by subject (who an event is about) over time.
CREATE INDEX IF NOT EXISTS audit_events_subject_idx ON audit_events (subject_id, at);
