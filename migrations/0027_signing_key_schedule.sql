-- Signing keys published ahead of their use. A verifier that caches the JWK
-- Set (jose's createRemoteJWKSet, express-oauth2-jwt-bearer: up to ten
-- minutes, re-fetching an unknown kid at most every 30 s) refuses tokens
-- signed with a key it has not fetched yet. So a rotation now inserts the
-- next key at once (published from then on) with `activates_at` in the
-- future, and schedules the current key's retirement for that same moment:
-- every process switches when its clock reaches `activates_at`, with no
-- timer and no second write.
--
-- A key signs during [activates_at, retired_at) (retired_at NULL: until the
-- next rotation); it is published from its insertion until publish_until.
-- `immediate` marks a key that signed at once, without the publish-ahead
-- period: the first key, or an emergency rotation. Keys that exist already
-- became active when they were created, at once.
ALTER TABLE signing_keys
  ADD COLUMN activates_at timestamptz,
  ADD COLUMN immediate    boolean NOT NULL DEFAULT false;
UPDATE signing_keys SET activates_at = created_at, immediate = true;
ALTER TABLE signing_keys
  ALTER COLUMN activates_at SET NOT NULL,
  ADD CHECK (activates_at >= created_at);
