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
