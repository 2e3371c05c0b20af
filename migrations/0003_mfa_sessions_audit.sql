-- Phishing-resistant MFA and session hardening:
-- * WebAuthn credentials and single-use challenges;
-- * recovery codes (HMAC-SHA-256 under a server key, single use);
-- * sessions become families: short-lived access tokens and rotating
--   refresh tokens in session_tokens; reuse of a spent refresh token revokes
--   the family; last_seen_at drives the idle timeout (automatic logoff,
--   §164.312(a)(2)(iii)); mfa_at / mfa_method drive step-up;
-- * throttling counters for password, TOTP and WebAuthn attempts;
-- * the audit event log (append-only; hash chain and checkpoints come with
--   the audit work).

CREATE TABLE webauthn_credentials (
  id            text PRIMARY KEY,             -- base64url credential id
  principal_id  uuid NOT NULL REFERENCES principals(id),
  name          text NOT NULL,
  public_key    bytea NOT NULL,
  counter       bigint NOT NULL DEFAULT 0,
  transports    text[] NOT NULL DEFAULT '{}',
  device_type   text NOT NULL,
  backed_up     boolean NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz
);
CREATE INDEX webauthn_credentials_principal_idx ON webauthn_credentials (principal_id);

-- The WebAuthn user handle of a person (random, not the principal id).
ALTER TABLE principals ADD COLUMN webauthn_user_id bytea;

CREATE TABLE webauthn_challenges (
  challenge     text PRIMARY KEY,             -- base64url, as in clientDataJSON
  purpose       text NOT NULL CHECK (purpose IN ('register', 'second-factor', 'passkey', 'step-up')),
  principal_id  uuid REFERENCES principals(id),
  session_id    uuid,
  mfa_challenge_id uuid,
  expires_at    timestamptz NOT NULL,
  consumed_at   timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE recovery_codes (
  id            uuid PRIMARY KEY,
  principal_id  uuid NOT NULL REFERENCES principals(id),
  code_hmac     bytea NOT NULL UNIQUE,
  used_at       timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX recovery_codes_principal_idx ON recovery_codes (principal_id);

-- Sessions: one row per login (a token family).
ALTER TABLE sessions DROP COLUMN token_hash;
ALTER TABLE sessions ADD COLUMN last_seen_at timestamptz;
ALTER TABLE sessions ADD COLUMN mfa_at timestamptz;
ALTER TABLE sessions ADD COLUMN mfa_method text;
UPDATE sessions SET last_seen_at = created_at, mfa_at = auth_time;
ALTER TABLE sessions ALTER COLUMN last_seen_at SET NOT NULL;

CREATE TABLE session_tokens (
  token_hash  bytea PRIMARY KEY,
  session_id  uuid NOT NULL REFERENCES sessions(id),
  kind        text NOT NULL CHECK (kind IN ('access', 'refresh')),
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX session_tokens_session_idx ON session_tokens (session_id);

CREATE TABLE auth_throttle (
  key           text PRIMARY KEY,
  attempts      integer NOT NULL DEFAULT 0,
  locked_until  timestamptz,
  lockouts      integer NOT NULL DEFAULT 0,
  updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE audit_events (
  id            uuid PRIMARY KEY,
  at            timestamptz NOT NULL,
  type          text NOT NULL,
  outcome       text NOT NULL CHECK (outcome IN ('success', 'failure', 'info')),
  actor_id      uuid,
  subject_id    uuid,
  source_ip     text,
  request_id    text,
  details       jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_events_at_idx ON audit_events (at);
CREATE INDEX audit_events_actor_idx ON audit_events (actor_id, at);
CREATE INDEX audit_events_type_idx ON audit_events (type, at);
