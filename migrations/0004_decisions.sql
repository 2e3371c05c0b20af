-- Decisions: service credentials for enforcement points and training jobs,
-- just-in-time grants as the engine reads them (the request/approval
-- workflow comes later), and the durable decision log.

CREATE TABLE service_credentials (
  id            uuid PRIMARY KEY,
  principal_id  uuid NOT NULL REFERENCES principals(id),
  client_id     text NOT NULL UNIQUE,
  -- argon2id of the generated secret (shown once at creation).
  secret_hash   text NOT NULL,
  created_by    uuid REFERENCES principals(id),
  created_at    timestamptz NOT NULL DEFAULT now(),
  revoked_at    timestamptz
);
CREATE INDEX service_credentials_principal_idx ON service_credentials (principal_id);

-- A just-in-time grant: an extra role for one principal in one scope, in
-- force only while not_before <= now < expires_at and status = 'active'.
CREATE TABLE grants (
  id            uuid PRIMARY KEY,
  principal_id  uuid NOT NULL REFERENCES principals(id),
  role_id       text NOT NULL REFERENCES roles(id),
  project_id    text REFERENCES projects(id),
  dataset_id    text REFERENCES datasets(id),
  not_before    timestamptz NOT NULL,
  expires_at    timestamptz NOT NULL,
  status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
  break_glass   boolean NOT NULL DEFAULT false,
  created_at    timestamptz NOT NULL DEFAULT now(),
  CHECK (expires_at > not_before)
);
CREATE INDEX grants_principal_idx ON grants (principal_id, expires_at);

-- Every decision, allow or deny, committed before its answer leaves the server.
CREATE TABLE decision_log (
  id              uuid PRIMARY KEY,
  at              timestamptz NOT NULL,
  request_id      text,
  caller_id       uuid,
  principal_id    uuid NOT NULL,
  sponsor_id      uuid,
  dataset_id      text NOT NULL,
  project_id      text,
  action          text NOT NULL,
  purpose         text NOT NULL,
  effect          text NOT NULL CHECK (effect IN ('allow', 'deny')),
  rules           text[] NOT NULL,
  reasons         text[] NOT NULL,
  granted_columns text[] NOT NULL,
  denied_columns  text[] NOT NULL,
  obligations     jsonb NOT NULL,
  grant_ids       text[] NOT NULL,
  break_glass     boolean NOT NULL,
  policy_version  text NOT NULL,
  latency_us      integer NOT NULL,
  input           jsonb NOT NULL
);
CREATE INDEX decision_log_principal_at_idx ON decision_log (principal_id, at);
CREATE INDEX decision_log_dataset_at_idx ON decision_log (dataset_id, at);
CREATE INDEX decision_log_at_idx ON decision_log (at);
