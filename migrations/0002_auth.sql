-- People's credentials, second factors, one-time enrollment secrets, MFA
-- challenges and sessions. Secrets are never stored in clear: passwords as
-- argon2id hashes; enrollment secrets and bearer tokens as SHA-256 digests
-- (they are 256-bit random values, so a fast hash suffices and allows lookup);
-- TOTP seeds encrypted with AES-256-GCM.

CREATE TABLE passwords (
  principal_id uuid PRIMARY KEY REFERENCES principals(id),
  hash         text NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now()
);

-- A one-time secret that lets a new person set a password and enroll a factor.
CREATE TABLE enrollments (
  id           uuid PRIMARY KEY,
  principal_id uuid NOT NULL REFERENCES principals(id),
  secret_hash  bytea NOT NULL UNIQUE,
  expires_at   timestamptz NOT NULL,
  used_at      timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX enrollments_principal_idx ON enrollments (principal_id);

CREATE TABLE totp_factors (
  id             uuid PRIMARY KEY,
  principal_id   uuid NOT NULL REFERENCES principals(id),
  label          text NOT NULL DEFAULT 'Authenticator app',
  secret_enc     bytea NOT NULL,
  -- RFC 6238 time step of the last accepted code; a step is never accepted twice.
  last_time_step bigint,
  confirmed_at   timestamptz,
  created_at     timestamptz NOT NULL DEFAULT now()
);
-- One confirmed TOTP factor per person (re-enrolling replaces it).
CREATE UNIQUE INDEX totp_one_confirmed_idx ON totp_factors (principal_id) WHERE confirmed_at IS NOT NULL;

-- After the password step: proof that the first factor passed, waiting for the second.
CREATE TABLE mfa_challenges (
  id           uuid PRIMARY KEY,
  principal_id uuid NOT NULL REFERENCES principals(id),
  token_hash   bytea NOT NULL UNIQUE,
  expires_at   timestamptz NOT NULL,
  consumed_at  timestamptz,
  failures     integer NOT NULL DEFAULT 0,
  created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sessions (
  id           uuid PRIMARY KEY,
  principal_id uuid NOT NULL REFERENCES principals(id),
  token_hash   bytea NOT NULL UNIQUE,
  -- 'full' after password + second factor; 'enrollment' may only set up a first factor.
  scope        text NOT NULL CHECK (scope IN ('full', 'enrollment')),
  amr          text[] NOT NULL,
  auth_time    timestamptz NOT NULL,
  expires_at   timestamptz NOT NULL,
  revoked_at   timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sessions_principal_idx ON sessions (principal_id);
