-- Just-in-time access: requests, their approvals, the grants they produce,
-- break-glass review items, and an outbox of webhook notifications.

CREATE TABLE access_requests (
  id                 uuid PRIMARY KEY,
  requester_id       uuid NOT NULL REFERENCES principals(id),
  role_id            text NOT NULL REFERENCES roles(id),
  project_id         text REFERENCES projects(id),
  dataset_id         text REFERENCES datasets(id),
  justification      text NOT NULL,
  duration_seconds   integer NOT NULL CHECK (duration_seconds > 0),
  -- Requested start; NULL means "as soon as approved".
  starts_at          timestamptz,
  approvals_required integer NOT NULL CHECK (approvals_required >= 1),
  status             text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'denied', 'cancelled')),
  decided_by         uuid REFERENCES principals(id),
  decided_at         timestamptz,
  decision_reason    text,
  grant_id           uuid,
  created_at         timestamptz NOT NULL,
  CHECK ((project_id IS NULL) <> (dataset_id IS NULL))
);
CREATE INDEX access_requests_requester_idx ON access_requests (requester_id, created_at);
CREATE INDEX access_requests_pending_idx ON access_requests (created_at) WHERE status = 'pending';

-- One row per approver: a second approval by the same person is the same row.
CREATE TABLE access_request_approvals (
  request_id  uuid NOT NULL REFERENCES access_requests(id),
  approver_id uuid NOT NULL REFERENCES principals(id),
  comment     text,
  created_at  timestamptz NOT NULL,
  PRIMARY KEY (request_id, approver_id)
);

ALTER TABLE grants
  ADD COLUMN request_id     uuid REFERENCES access_requests(id),
  ADD COLUMN justification  text,
  ADD COLUMN created_by     uuid REFERENCES principals(id),
  ADD COLUMN revoked_at     timestamptz,
  ADD COLUMN revoked_by     uuid REFERENCES principals(id),
  ADD COLUMN revoke_reason  text,
  -- When the lifecycle notifications went out (they are sent once, by whichever replica claims them).
  ADD COLUMN activated_notified_at timestamptz,
  ADD COLUMN expired_notified_at   timestamptz;
ALTER TABLE access_requests ADD CONSTRAINT access_requests_grant_fk FOREIGN KEY (grant_id) REFERENCES grants(id);
CREATE INDEX grants_lifecycle_idx ON grants (not_before, expires_at) WHERE expired_notified_at IS NULL;

-- Every break-glass activation leaves an item a security reviewer must close with a finding.
CREATE TABLE review_items (
  id          uuid PRIMARY KEY,
  kind        text NOT NULL CHECK (kind IN ('break_glass')),
  grant_id    uuid NOT NULL UNIQUE REFERENCES grants(id),
  status      text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
  outcome     text CHECK (outcome IN ('justified', 'unjustified')),
  finding     text,
  closed_by   uuid REFERENCES principals(id),
  closed_at   timestamptz,
  created_at  timestamptz NOT NULL
);
CREATE INDEX review_items_open_idx ON review_items (created_at) WHERE status = 'open';

-- Outbox: a notification is written in the same transaction as what it
-- announces, then delivered (signed, retried with backoff) and its delivery recorded.
CREATE TABLE webhook_deliveries (
  id              uuid PRIMARY KEY,
  event           text NOT NULL,
  payload         jsonb NOT NULL,
  status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  last_status     integer,
  last_error      text,
  delivered_at    timestamptz,
  created_at      timestamptz NOT NULL
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
