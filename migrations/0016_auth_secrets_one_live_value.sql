-- Authentication secrets have one live value. An enrollment secret dies when
-- a newer one is issued for the same person ('superseded') or when the person
-- enrolls with any of them ('enrolled'); a redeemed one is marked used_at as
-- before. Dead secrets stay as rows (hashes only) so the history can be audited.
ALTER TABLE enrollments ADD COLUMN revoked_at timestamptz;
ALTER TABLE enrollments ADD COLUMN revoked_reason text CHECK (revoked_reason IN ('superseded', 'enrolled'));
ALTER TABLE enrollments ADD CONSTRAINT enrollments_revoked_with_reason CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL));

-- The live secrets of a person, found without scanning spent ones.
CREATE INDEX enrollments_live_idx ON enrollments (principal_id) WHERE used_at IS NULL AND revoked_at IS NULL;
