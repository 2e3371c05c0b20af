-- Dataset tokens: a token's record is its decision's record, committed in the
-- same write before the token leaves the server (jti, expiry, job metadata).
-- Revoked tokens are remembered until they would have expired anyway.
ALTER TABLE decision_log ADD COLUMN token_jti text;
ALTER TABLE decision_log ADD COLUMN token_expires_at timestamptz;
ALTER TABLE decision_log ADD COLUMN job jsonb;
CREATE UNIQUE INDEX decision_log_token_jti_idx ON decision_log (token_jti) WHERE token_jti IS NOT NULL;

CREATE TABLE revoked_tokens (
  jti         text PRIMARY KEY,
  revoked_at  timestamptz NOT NULL,
  expires_at  timestamptz NOT NULL
);
