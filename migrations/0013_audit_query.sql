-- The security reviewer's queries (src/audit/query.ts). The decision log
-- already has (principal_id, at), (dataset_id, at) and a BRIN index on at
-- (0004, 0007); it gets no new index here, since every index costs the
-- decision hot path a write. Audit events are written far less often:
-- filtering them by subject gets its own index, like actor and type (0003).
CREATE INDEX IF NOT EXISTS audit_events_subject_idx ON audit_events (subject_id, at);
