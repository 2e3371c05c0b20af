-- Dataset tokens: one audience per dataset, and resource servers tied to the
-- datasets they serve.

-- A token's `aud` names the one dataset server that may accept it (RFC 9068
-- §3, RFC 7519 §4.1.3). Two datasets sharing an audience would let either
-- server accept the other's tokens, so the audience in force (the configured
-- one, or urn:custos:dataset:<id>) is unique. Existing duplicates stop the
-- migration with their names: an operator must give one of them another
-- audience first (nothing is renamed behind anyone's back).
DO $$
DECLARE dup text;
BEGIN
  SELECT string_agg(format('%s (%s)', a, ids), '; ') INTO dup FROM (
    SELECT coalesce(audience, 'urn:custos:dataset:' || id) AS a, string_agg(id, ', ' ORDER BY id) AS ids
    FROM datasets GROUP BY 1 HAVING count(*) > 1) d;
  IF dup IS NOT NULL THEN
    RAISE EXCEPTION 'datasets share a token audience: %. Give each dataset its own audience, then migrate again.', dup;
  END IF;
END;
$$;
CREATE UNIQUE INDEX datasets_audience_key ON datasets ((coalesce(audience, 'urn:custos:dataset:' || id)));

-- The datasets each resource server (a service principal with the
-- enforcement-point permission) serves. Introspection and revocation by a
-- resource server reach only tokens for these datasets (RFC 7662 §4); a
-- server with no row sees no token at all (fail closed).
CREATE TABLE resource_server_datasets (
  principal_id uuid NOT NULL REFERENCES principals(id),
  dataset_id   text NOT NULL REFERENCES datasets(id),
  created_by   uuid REFERENCES principals(id),
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (principal_id, dataset_id)
);
GRANT SELECT, INSERT, DELETE ON resource_server_datasets TO custos_app;
REVOKE UPDATE, TRUNCATE ON resource_server_datasets FROM custos_app;
-- Cached client contexts carry the list: every replica drops them when it changes.
CREATE TRIGGER resource_server_datasets_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON resource_server_datasets
  FOR EACH STATEMENT EXECUTE FUNCTION custos_notify_catalog();
