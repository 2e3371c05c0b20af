-- Pending access requests expire: each carries the time it lapses (checked
-- at use against the server clock), and a lapsed request is closed as
-- 'expired'. Requests filed before this change lapse seven days after filing
-- (the default CUSTOS_ACCESS_REQUEST_TTL_SECONDS).
ALTER TABLE access_requests ADD COLUMN expires_at timestamptz;
UPDATE access_requests SET expires_at = created_at + interval '7 days';
ALTER TABLE access_requests ALTER COLUMN expires_at SET NOT NULL;
ALTER TABLE access_requests DROP CONSTRAINT access_requests_status_check;
ALTER TABLE access_requests ADD CONSTRAINT access_requests_status_check CHECK (status IN ('pending', 'approved', 'denied', 'cancelled', 'expired'));
CREATE INDEX access_requests_expiry_idx ON access_requests (expires_at) WHERE status = 'pending';

-- Retention drop records are signed with the audit key, like checkpoints:
-- verification excuses a gap only on a drop record whose signature verifies.
-- Records written before this change have neither column and are reported
-- as unsigned.
ALTER TABLE audit_partition_drops ADD COLUMN kid text, ADD COLUMN signature text;
