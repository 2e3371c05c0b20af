-- The logs' partitions are analyzed and vacuumed at a steady pace. By
-- default autovacuum analyzes a table once 10 % of it is new and vacuums an
-- insert-only table once 20 % is: a month's partition starts empty, so in
-- its first days it was analyzed at every autovacuum round (once a minute)
-- and vacuumed every other, each time at full cost (an ANALYZE samples
-- 30,000 rows whatever the table's size), and late in the month hardly
-- ever. Appended rows change neither the distribution of principals and
-- datasets nor the newest times the planner needs (it reads the newest `at`
-- from the index), so a fixed count of new rows does: 200,000 for both.
-- Vacuuming still comes, and with it the visibility map and early freezing.
-- Every partition of decision_log and audit_events gets these settings:
-- those that exist (the default ones too), and those custos_ensure_partitions
-- makes from now on.
CREATE OR REPLACE FUNCTION custos_log_partition_settings(p_partition text) RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  EXECUTE format('ALTER TABLE %I SET (autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 200000, '
                 'autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 200000)', p_partition);
END;
$$;
REVOKE ALL ON FUNCTION custos_log_partition_settings(text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION custos_ensure_partitions(p_months_ahead integer) RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  m       date := date_trunc('month', now() - interval '1 month')::date;
  created integer := 0;
  t       text;
  name    text;
BEGIN
  FOR i IN 0..(p_months_ahead + 1) LOOP
    FOREACH t IN ARRAY ARRAY['decision_log', 'audit_events'] LOOP
      name := format('%s_%s', t, to_char(m + make_interval(months => i), 'YYYYMM'));
      IF to_regclass(name) IS NULL THEN
        BEGIN
          EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)', name, t,
                         m + make_interval(months => i), m + make_interval(months => i + 1));
          -- The application reaches log rows through the parent only.
          EXECUTE format('REVOKE ALL ON %I FROM custos_app', name);
          PERFORM custos_log_partition_settings(name);
          created := created + 1;
        EXCEPTION WHEN check_violation OR duplicate_table THEN
          -- Rows for that month already sit in the default partition (or a replica made it): leave them there.
          NULL;
        END;
      END IF;
    END LOOP;
  END LOOP;
  RETURN created;
END;
$$;

DO $$
DECLARE
  p text;
BEGIN
  FOR p IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class parent ON parent.oid = i.inhparent
           WHERE parent.relname IN ('decision_log', 'audit_events') LOOP
    PERFORM custos_log_partition_settings(p);
  END LOOP;
END;
$$;
