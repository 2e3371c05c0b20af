-- Token-signing keys (ES256). The private key is stored only encrypted
-- (AES-256-GCM under the configured key, bound to its kid). A retired key
-- stays published in the JWKS until every token it signed has expired.
CREATE TABLE signing_keys (
  kid            text PRIMARY KEY,
  alg            text NOT NULL CHECK (alg = 'ES256'),
  public_jwk     jsonb NOT NULL,
  private_enc    bytea NOT NULL,
  created_at     timestamptz NOT NULL,
  retired_at     timestamptz,
  publish_until  timestamptz,
  CHECK ((retired_at IS NULL) = (publish_until IS NULL))
);
-- At most one active (unretired) key.
CREATE UNIQUE INDEX signing_keys_one_active_idx ON signing_keys ((true)) WHERE retired_at IS NULL;
