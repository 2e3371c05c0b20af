-- The live policy as numbered, immutable versions. Each version holds every
-- rule document and every policy test file as text (name → YAML), so a
-- version can be shown, diffed and restored exactly as it was written.
-- The primary key makes concurrent edits safe: of two edits based on the
-- same version, exactly one can insert the next number.
CREATE TABLE policy_versions (
  version     integer PRIMARY KEY CHECK (version > 0),
  documents   jsonb NOT NULL CHECK (jsonb_typeof(documents) = 'object'),
  tests       jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(tests) = 'object'),
  digest      text NOT NULL CHECK (digest ~ '^[0-9a-f]{64}$'),
  author_id   uuid REFERENCES principals (id),
  created_at  timestamptz NOT NULL,
  comment     text CHECK (length(comment) <= 2000),
  rollback_of integer REFERENCES policy_versions (version)
);

-- Every replica reloads on a new version (the same channel as catalog changes;
-- the payload names the table).
CREATE TRIGGER policy_versions_notify AFTER INSERT ON policy_versions
  FOR EACH STATEMENT EXECUTE FUNCTION custos_notify_catalog();

-- History is append-only for the server: an edit is a new version, a rollback too.
REVOKE UPDATE, DELETE, TRUNCATE ON policy_versions FROM custos_app;
