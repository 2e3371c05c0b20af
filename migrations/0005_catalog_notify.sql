-- Every change to what decisions are made on is announced on the
-- custos_catalog channel, so each replica drops its cached facts within
-- milliseconds (caches also expire after one second as a safety net).
CREATE FUNCTION custos_notify_catalog() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('custos_catalog', TG_TABLE_NAME);
  RETURN NULL;
END;
$$;

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['principals', 'roles', 'role_inherits', 'role_assignments', 'grants', 'datasets', 'vendors', 'baas', 'service_credentials', 'sessions']
  LOOP
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION custos_notify_catalog()', t || '_notify', t);
  END LOOP;
END;
$$;
