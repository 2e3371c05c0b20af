-- Certificates of the checkpoint-signing keys, signed by the audit root (a
-- key that is never stored here). Verification reads public keys from these
-- certificates only, never from audit_keys, and accepts a certificate only
-- when a pinned root signed it: a key a superuser inserts signs nothing a
-- verifier accepts. A key may hold certificates by several roots (the root
-- can be replaced; old certificates stay verifiable under the old root).
CREATE TABLE audit_key_certificates (
  kid          text NOT NULL,
  root         text NOT NULL,
  certificate  jsonb NOT NULL,
  created_at   timestamptz NOT NULL,
  PRIMARY KEY (kid, root)
);

-- Append-only, like the checkpoints.
CREATE TRIGGER audit_key_certificates_append_only BEFORE UPDATE OR DELETE ON audit_key_certificates
  FOR EACH ROW EXECUTE FUNCTION custos_refuse_change();
CREATE TRIGGER audit_key_certificates_no_truncate BEFORE TRUNCATE ON audit_key_certificates
  FOR EACH STATEMENT EXECUTE FUNCTION custos_refuse_change();
REVOKE UPDATE, DELETE, TRUNCATE ON audit_key_certificates FROM custos_app;
GRANT SELECT, INSERT ON audit_key_certificates TO custos_app;
