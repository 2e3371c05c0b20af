-- Monitoring's own state: where detection has read up to in each chain, and
-- what the detectors must remember beyond their windows (first accesses,
-- known source addresses, per-principal volume baselines). All of it is
-- written in the same transaction as the alerts it leads to, so a takeover by
-- another replica resumes exactly where the last commit left off.

-- How far detection has read each chain (the last `seq` whose alerts are
-- committed). Advanced by compare-and-set on the old value.
CREATE TABLE monitoring_cursors (
  chain_id   uuid PRIMARY KEY REFERENCES audit_chains(id),
  log        text NOT NULL CHECK (log IN ('decision_log', 'audit_events')),
  seq        bigint NOT NULL CHECK (seq >= 0),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Detection starts now: records written before this migration are not
-- scanned (an upgrade must not raise alerts about years of history).
INSERT INTO monitoring_cursors (chain_id, log, seq)
SELECT id, log, head_seq FROM audit_chains WHERE head_seq > 0;

-- Pairs seen once and remembered for good: a service's first access to a
-- dataset (`first_access`), a service's source addresses (`source`).
CREATE TABLE monitoring_seen (
  kind      text NOT NULL CHECK (kind IN ('first_access', 'source')),
  subject   text NOT NULL,
  value     text NOT NULL,
  first_at  timestamptz NOT NULL,
  record_id uuid NOT NULL,
  PRIMARY KEY (kind, subject, value)
);

-- The volume detector's per-principal baseline: the interval being counted,
-- its count, the exponentially weighted mean and variance of the closed
-- intervals, how many intervals are behind it, and the last interval alerted.
CREATE TABLE monitoring_baselines (
  principal_id     uuid PRIMARY KEY,
  interval_index   bigint NOT NULL,
  count            integer NOT NULL,
  mean             double precision NOT NULL,
  variance         double precision NOT NULL,
  intervals        integer NOT NULL,
  alerted_interval bigint,
  updated_at       timestamptz NOT NULL DEFAULT now()
);

-- The commit of one detection pass, as ONE statement (so one transaction,
-- with no client-side BEGIN/ROLLBACK to send on a connection that may have
-- died mid-pass):
--  1. the cursor advances, each a compare-and-set on the value read, after
--     checking (under a transaction lock) that no cursor moved since the
--     consumer judged; any difference aborts everything (SQLSTATE CU412);
--  2. per alert: insert, or group into the unresolved alert with the same
--     dedupe key (occurrences, last_at, latest details); its evidence; for a
--     new alert, its webhook outbox row when p_pass.webhook; a notification
--     on `custos_alerts` ({"id", "event": "raised" | "repeated"}, delivered
--     at commit);
--  3. the detectors' remembered pairs and volume baselines.
-- Returns {"raised": [ids], "repeated": [ids]}.
CREATE FUNCTION custos_monitoring_commit(p_pass jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  adv      jsonb;
  a        jsonb;
  n        integer;
  v_id     uuid;
  v_new    boolean;
  raised   jsonb := '[]'::jsonb;
  repeated jsonb := '[]'::jsonb;
BEGIN
  -- Commits of passes one after another, and each only from exactly the cursors its consumer judged from
  -- (their sum: cursors only move forward). A pass judged on state another commit has since moved is refused
  -- whole, even if it advances other chains than that commit did.
  PERFORM pg_advisory_xact_lock(7166484312653502);
  IF (SELECT coalesce(sum(seq), 0) FROM monitoring_cursors) <> (p_pass->>'cursor_sum')::numeric THEN
    RAISE EXCEPTION 'monitoring cursors moved under this consumer' USING ERRCODE = 'CU412';
  END IF;
  FOR adv IN SELECT * FROM jsonb_array_elements(p_pass->'advances') LOOP
    IF (adv->>'from')::bigint = 0 THEN
      INSERT INTO monitoring_cursors (chain_id, log, seq) VALUES ((adv->>'chain')::uuid, adv->>'log', (adv->>'to')::bigint)
      ON CONFLICT (chain_id) DO NOTHING;
    ELSE
      UPDATE monitoring_cursors SET seq = (adv->>'to')::bigint, updated_at = now()
      WHERE chain_id = (adv->>'chain')::uuid AND seq = (adv->>'from')::bigint;
    END IF;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n <> 1 THEN
      RAISE EXCEPTION 'monitoring cursor of chain % moved from %', adv->>'chain', adv->>'from' USING ERRCODE = 'CU412';
    END IF;
  END LOOP;

  FOR a IN SELECT * FROM jsonb_array_elements(p_pass->'alerts') LOOP
    INSERT INTO alerts (id, detector, severity, subject, dedupe_key, title, details, first_at, last_at)
    VALUES ((a->>'id')::uuid, a->>'detector', a->>'severity', a->>'subject', a->>'dedupe_key', a->>'title', a->'details',
            (a->>'at')::timestamptz, (a->>'at')::timestamptz)
    ON CONFLICT (dedupe_key) WHERE status <> 'resolved'
    DO UPDATE SET occurrences = alerts.occurrences + 1, last_at = greatest(alerts.last_at, EXCLUDED.last_at), details = EXCLUDED.details
    RETURNING id, (xmax = 0) INTO v_id, v_new;
    INSERT INTO alert_evidence (alert_id, log, record_id, at)
    SELECT v_id, e.log, e.record_id, e.at FROM jsonb_to_recordset(a->'evidence') AS e(log text, record_id uuid, at timestamptz)
    ON CONFLICT DO NOTHING;
    IF v_new THEN
      raised := raised || to_jsonb(v_id);
      IF (p_pass->>'webhook')::boolean THEN
        INSERT INTO webhook_deliveries (id, event, payload, next_attempt_at, created_at)
        VALUES ((a->'delivery'->>'id')::uuid, a->'delivery'->>'event', a->'delivery', now(), (a->'delivery'->>'created_at')::timestamptz);
      END IF;
    ELSE
      repeated := repeated || to_jsonb(v_id);
    END IF;
    PERFORM pg_notify('custos_alerts', jsonb_build_object('id', v_id, 'event', CASE WHEN v_new THEN 'raised' ELSE 'repeated' END)::text);
  END LOOP;

  INSERT INTO monitoring_seen (kind, subject, value, first_at, record_id)
  SELECT * FROM jsonb_to_recordset(coalesce(p_pass->'seen', '[]'::jsonb)) AS x(kind text, subject text, value text, first_at timestamptz, record_id uuid)
  ON CONFLICT DO NOTHING;

  INSERT INTO monitoring_baselines (principal_id, interval_index, count, mean, variance, intervals, alerted_interval)
  SELECT * FROM jsonb_to_recordset(coalesce(p_pass->'baselines', '[]'::jsonb))
    AS x(principal_id uuid, interval_index bigint, count integer, mean double precision, variance double precision, intervals integer, alerted_interval bigint)
  ON CONFLICT (principal_id) DO UPDATE SET interval_index = EXCLUDED.interval_index, count = EXCLUDED.count, mean = EXCLUDED.mean,
    variance = EXCLUDED.variance, intervals = EXCLUDED.intervals, alerted_interval = EXCLUDED.alerted_interval, updated_at = now();

  RETURN jsonb_build_object('raised', raised, 'repeated', repeated);
END;
$$;
