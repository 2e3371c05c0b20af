-- Tamper-evident, append-only logs.
--
-- 1. Hash chains: every decision record and audit event belongs to a chain
--    (one per writing process and lane, so replicas never contend) with a
--    gap-free sequence number; hash = SHA-256(prev_hash || SHA-256(canonical
--    encoding of the record)). The encoding is the SQL function below, used
--    both when appending (custos_append_*) and when verifying, so writer and
--    verifier cannot disagree about bytes.
-- 2. Signed checkpoints of chain heads (written by the application, ES256).
-- 3. Monthly partitions (retention drops whole months, explicitly).
-- 4. An application role that may INSERT and SELECT the logs but never
--    UPDATE, DELETE or TRUNCATE them; triggers refuse those for everyone as a
--    second line (a superuser can still disable triggers: that is what the
--    chains and checkpoints are for).

-- The application's role (privileges are granted at the end).
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'custos_app') THEN
    CREATE ROLE custos_app NOLOGIN;
  END IF;
END;
$$;

CREATE TABLE audit_chains (
  id          uuid PRIMARY KEY,
  log         text NOT NULL CHECK (log IN ('decision_log', 'audit_events')),
  instance    text NOT NULL,
  started_at  timestamptz NOT NULL,
  head_seq    bigint NOT NULL DEFAULT 0,
  head_hash   bytea NOT NULL DEFAULT '\x0000000000000000000000000000000000000000000000000000000000000000'
);

-- decision_log, partitioned by month, with chain columns.
ALTER TABLE decision_log RENAME TO decision_log_unchained;
ALTER INDEX decision_log_pkey RENAME TO decision_log_unchained_pkey;
DROP INDEX decision_log_principal_at_idx;
DROP INDEX decision_log_dataset_at_idx;
DROP INDEX decision_log_at_brin;
DROP INDEX decision_log_token_jti_idx;

CREATE TABLE decision_log (
  id               uuid NOT NULL,
  at               timestamptz NOT NULL,
  request_id       text,
  caller_id        uuid,
  principal_id     uuid NOT NULL,
  sponsor_id       uuid,
  dataset_id       text NOT NULL,
  project_id       text,
  action           text NOT NULL,
  purpose          text NOT NULL,
  effect           text NOT NULL CHECK (effect IN ('allow', 'deny')),
  rules            text[] NOT NULL,
  reasons          text[] NOT NULL,
  granted_columns  text[] NOT NULL,
  denied_columns   text[] NOT NULL,
  obligations      jsonb NOT NULL,
  grant_ids        text[] NOT NULL,
  break_glass      boolean NOT NULL,
  policy_version   text NOT NULL,
  latency_us       integer NOT NULL,
  input            jsonb NOT NULL,
  token_jti        text,
  token_expires_at timestamptz,
  job              jsonb,
  chain_id         uuid NOT NULL,
  seq              bigint NOT NULL,
  prev_hash        bytea NOT NULL,
  hash             bytea NOT NULL,
  PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);
CREATE INDEX decision_log_principal_at_idx ON decision_log (principal_id, at);
CREATE INDEX decision_log_dataset_at_idx ON decision_log (dataset_id, at);
CREATE INDEX decision_log_at_brin ON decision_log USING brin (at);
CREATE INDEX decision_log_token_jti_idx ON decision_log (token_jti) WHERE token_jti IS NOT NULL;
CREATE INDEX decision_log_chain_idx ON decision_log (chain_id, seq);
CREATE TABLE decision_log_default PARTITION OF decision_log DEFAULT;

-- audit_events likewise.
ALTER TABLE audit_events RENAME TO audit_events_unchained;
ALTER INDEX audit_events_pkey RENAME TO audit_events_unchained_pkey;
DROP INDEX audit_events_at_idx;
DROP INDEX audit_events_actor_idx;
DROP INDEX audit_events_type_idx;

CREATE TABLE audit_events (
  id          uuid NOT NULL,
  at          timestamptz NOT NULL,
  type        text NOT NULL,
  outcome     text NOT NULL CHECK (outcome IN ('success', 'failure', 'info')),
  actor_id    uuid,
  subject_id  uuid,
  source_ip   text,
  request_id  text,
  details     jsonb NOT NULL DEFAULT '{}'::jsonb,
  chain_id    uuid NOT NULL,
  seq         bigint NOT NULL,
  prev_hash   bytea NOT NULL,
  hash        bytea NOT NULL,
  PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);
CREATE INDEX audit_events_at_idx ON audit_events (at);
CREATE INDEX audit_events_actor_idx ON audit_events (actor_id, at);
CREATE INDEX audit_events_type_idx ON audit_events (type, at);
CREATE INDEX audit_events_chain_idx ON audit_events (chain_id, seq);
CREATE TABLE audit_events_default PARTITION OF audit_events DEFAULT;

-- The canonical encodings: a JSON array of every stored field in a fixed
-- order (timestamps as microseconds since the epoch), as jsonb renders it.
CREATE FUNCTION custos_decision_enc(d decision_log) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT jsonb_build_array(
    d.chain_id, d.seq, d.id, (extract(epoch FROM d.at) * 1000000)::bigint, d.request_id, d.caller_id, d.principal_id,
    d.sponsor_id, d.dataset_id, d.project_id, d.action, d.purpose, d.effect, d.rules, d.reasons, d.granted_columns,
    d.denied_columns, d.obligations, d.grant_ids, d.break_glass, d.policy_version, d.latency_us, d.input, d.token_jti,
    (extract(epoch FROM d.token_expires_at) * 1000000)::bigint, d.job)::text
$$;

CREATE FUNCTION custos_audit_enc(e audit_events) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT jsonb_build_array(
    e.chain_id, e.seq, e.id, (extract(epoch FROM e.at) * 1000000)::bigint, e.type, e.outcome, e.actor_id, e.subject_id,
    e.source_ip, e.request_id, e.details)::text
$$;

-- Appends records to a chain in one transaction: takes the chain's head
-- under a row lock, links each record to the previous one, moves the head.
-- A failed transaction leaves head and records as they were: no gaps.
-- hash = SHA-256(prev_hash || SHA-256(encoding)).
CREATE FUNCTION custos_append_decisions(p_chain uuid, p_rows jsonb) RETURNS bigint LANGUAGE plpgsql
  SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_seq  bigint;
  v_hash bytea;
  v_rows decision_log[];
  n      integer;
BEGIN
  SELECT c.head_seq, c.head_hash INTO v_seq, v_hash FROM audit_chains c WHERE c.id = p_chain AND c.log = 'decision_log' FOR UPDATE;
  IF NOT FOUND THEN RAISE EXCEPTION 'unknown chain % of decision_log', p_chain; END IF;
  SELECT array_agg(r ORDER BY t.o) INTO v_rows
  FROM jsonb_array_elements(p_rows) WITH ORDINALITY AS t(e, o), LATERAL jsonb_populate_record(NULL::decision_log, t.e) AS r;
  n := coalesce(array_length(v_rows, 1), 0);
  FOR i IN 1..n LOOP
    v_rows[i].chain_id := p_chain;
    v_rows[i].seq := v_seq + i;
    v_rows[i].prev_hash := v_hash;
    v_hash := sha256(v_hash || sha256(convert_to(custos_decision_enc(v_rows[i]), 'UTF8')));
    v_rows[i].hash := v_hash;
  END LOOP;
  INSERT INTO decision_log SELECT * FROM unnest(v_rows);
  UPDATE audit_chains SET head_seq = v_seq + n, head_hash = v_hash WHERE id = p_chain;
  RETURN v_seq + n;
END;
$$;

CREATE FUNCTION custos_append_audit(p_chain uuid, p_rows jsonb) RETURNS bigint LANGUAGE plpgsql
  SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_seq  bigint;
  v_hash bytea;
  v_rows audit_events[];
  n      integer;
BEGIN
  SELECT c.head_seq, c.head_hash INTO v_seq, v_hash FROM audit_chains c WHERE c.id = p_chain AND c.log = 'audit_events' FOR UPDATE;
  IF NOT FOUND THEN RAISE EXCEPTION 'unknown chain % of audit_events', p_chain; END IF;
  SELECT array_agg(r ORDER BY t.o) INTO v_rows
  FROM jsonb_array_elements(p_rows) WITH ORDINALITY AS t(e, o), LATERAL jsonb_populate_record(NULL::audit_events, t.e) AS r;
  n := coalesce(array_length(v_rows, 1), 0);
  FOR i IN 1..n LOOP
    v_rows[i].chain_id := p_chain;
    v_rows[i].seq := v_seq + i;
    v_rows[i].prev_hash := v_hash;
    v_hash := sha256(v_hash || sha256(convert_to(custos_audit_enc(v_rows[i]), 'UTF8')));
    v_rows[i].hash := v_hash;
  END LOOP;
  INSERT INTO audit_events SELECT * FROM unnest(v_rows);
  UPDATE audit_chains SET head_seq = v_seq + n, head_hash = v_hash WHERE id = p_chain;
  RETURN v_seq + n;
END;
$$;

-- Records written before chaining existed join one chain each, in time order.
DO $$
DECLARE
  legacy_d uuid := '00000000-0000-7000-8000-000000000001';
  legacy_a uuid := '00000000-0000-7000-8000-000000000002';
BEGIN
  INSERT INTO audit_chains (id, log, instance, started_at) VALUES (legacy_d, 'decision_log', 'before-chaining', now()), (legacy_a, 'audit_events', 'before-chaining', now());
  PERFORM custos_append_decisions(legacy_d, coalesce((SELECT jsonb_agg(to_jsonb(o) ORDER BY o.at, o.id) FROM decision_log_unchained o), '[]'::jsonb));
  PERFORM custos_append_audit(legacy_a, coalesce((SELECT jsonb_agg(to_jsonb(o) ORDER BY o.at, o.id) FROM audit_events_unchained o), '[]'::jsonb));
END;
$$;
DROP TABLE decision_log_unchained;
DROP TABLE audit_events_unchained;

-- Signed checkpoints of chain heads: consecutive per chain, each naming the
-- digest of the one before, so a removed checkpoint is noticed too.
CREATE TABLE audit_checkpoints (
  chain_id    uuid NOT NULL REFERENCES audit_chains(id),
  cp_seq      bigint NOT NULL,
  upto_seq    bigint NOT NULL,
  head_hash   bytea NOT NULL,
  at          timestamptz NOT NULL,
  prev_digest bytea NOT NULL,
  kid         text NOT NULL,
  signature   text NOT NULL,
  PRIMARY KEY (chain_id, cp_seq)
);

-- The key that signs checkpoints (ES256), its private part sealed like token keys.
CREATE TABLE audit_keys (
  kid          text PRIMARY KEY,
  public_jwk   jsonb NOT NULL,
  private_enc  bytea NOT NULL,
  created_at   timestamptz NOT NULL
);

-- Monthly partitions, created ahead by this function (the application role
-- may call it; it runs with the owner's rights).
CREATE FUNCTION custos_ensure_partitions(p_months_ahead integer) RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
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
SELECT custos_ensure_partitions(3);

-- Partitions dropped under the retention policy (an explicit, audited command).
CREATE TABLE audit_partition_drops (
  partition   text PRIMARY KEY,
  log         text NOT NULL,
  month_start date NOT NULL,
  month_end   date NOT NULL,
  dropped_at  timestamptz NOT NULL,
  dropped_by  text NOT NULL
);

-- Second line: nobody updates, deletes or truncates a log row.
CREATE FUNCTION custos_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END;
$$;
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['decision_log', 'audit_events', 'audit_checkpoints'] LOOP
    EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON %I FOR EACH ROW EXECUTE FUNCTION custos_refuse_change()', t || '_append_only', t);
    EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION custos_refuse_change()', t || '_no_truncate', t);
  END LOOP;
END;
$$;

-- The application's role. The server connects with it (SET ROLE at
-- connection time); migrations and retention run as the owner.
DO $$
BEGIN
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    EXECUTE format('GRANT custos_app TO %I', current_user);
  END IF;
END;
$$;
GRANT USAGE ON SCHEMA public TO custos_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO custos_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO custos_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO custos_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO custos_app;
-- The logs are read directly but written only through the append functions
-- (which run with the owner's rights): no row, sequence number or link of the
-- application's own making. Retention records and keys are the owner's too.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON decision_log, audit_events FROM custos_app;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_checkpoints FROM custos_app;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON audit_partition_drops FROM custos_app;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_keys FROM custos_app;
-- Partitions are tables too: the application writes through the parent only.
DO $$
DECLARE p text;
BEGIN
  FOR p IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class parent ON parent.oid = i.inhparent
           WHERE parent.relname IN ('decision_log', 'audit_events') LOOP
    EXECUTE format('REVOKE ALL ON %I FROM custos_app', p);
  END LOOP;
END;
$$;
-- The migration history is the owner's.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON schema_migrations FROM custos_app;
-- Chain heads move only inside the append functions; the application only registers new, empty chains.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON audit_chains FROM custos_app;
GRANT INSERT (id, log, instance, started_at) ON audit_chains TO custos_app;
