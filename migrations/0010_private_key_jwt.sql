-- private_key_jwt client authentication (RFC 7523): a credential is either a
-- generated secret (argon2id hash) or the client's registered public keys.
-- Assertion ids are remembered until the assertion expires, so none is
-- accepted twice.
ALTER TABLE service_credentials ALTER COLUMN secret_hash DROP NOT NULL;
ALTER TABLE service_credentials ADD COLUMN jwks jsonb;
ALTER TABLE service_credentials ADD CONSTRAINT service_credentials_one_method
  CHECK ((secret_hash IS NULL) <> (jwks IS NULL));

CREATE TABLE client_assertion_jtis (
  client_id   text NOT NULL,
  jti         text NOT NULL,
  expires_at  timestamptz NOT NULL,
  PRIMARY KEY (client_id, jti)
);
