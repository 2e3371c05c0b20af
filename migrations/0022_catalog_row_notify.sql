-- Every Custos process holds the facts decisions are made on in memory and
-- keeps them true through these notifications, with no timer. A row change
-- of a table those facts come from names the table and the key of what
-- changed (the principal, the vendor, the dataset), so a process re-reads
-- that key alone; an update that moves a row to another key names both.
-- A TRUNCATE names the table alone: everything is read again.
CREATE FUNCTION custos_notify_catalog_row() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  old_key text;
  new_key text;
BEGIN
  IF TG_OP <> 'INSERT' THEN old_key := to_jsonb(OLD) ->> TG_ARGV[0]; END IF;
  IF TG_OP <> 'DELETE' THEN new_key := to_jsonb(NEW) ->> TG_ARGV[0]; END IF;
  IF new_key IS NOT NULL THEN PERFORM pg_notify('custos_catalog', TG_TABLE_NAME || ':' || new_key); END IF;
  IF old_key IS NOT NULL AND old_key IS DISTINCT FROM new_key THEN PERFORM pg_notify('custos_catalog', TG_TABLE_NAME || ':' || old_key); END IF;
  RETURN NULL;
END;
$$;

DO $$
DECLARE
  t text[];
BEGIN
  FOREACH t SLICE 1 IN ARRAY ARRAY[['principals', 'id'], ['role_assignments', 'principal_id'], ['grants', 'principal_id'], ['baas', 'vendor_id'], ['datasets', 'id']]
  LOOP
    EXECUTE format('DROP TRIGGER %I ON %I', t[1] || '_notify', t[1]);
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %I FOR EACH ROW EXECUTE FUNCTION custos_notify_catalog_row(%L)', t[1] || '_notify', t[1], t[2]);
    EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION custos_notify_catalog()', t[1] || '_notify_truncate', t[1]);
  END LOOP;
END;
$$;
