-- Dual control (PRODUCT §5 "no one alone"): a privilege-widening change
-- (a role edit that could widen an administrator, assigning an
-- administrative, approver or reviewer role, removing one of your own
-- roles, a policy push that changes its test files) waits here until a
-- second administrator approves it with fresh MFA, or it is rejected,
-- withdrawn or expires. `base` fingerprints the target as it was when the
-- change was proposed: approval applies the change only while the target is
-- still in that state, never a stale diff.
CREATE TABLE pending_changes (
  id              uuid PRIMARY KEY,
  kind            text NOT NULL CHECK (kind IN ('role.update', 'role.assign', 'role.unassign', 'policy.update')),
  target          text NOT NULL CHECK (length(target) <= 200),
  payload         jsonb NOT NULL CHECK (jsonb_typeof(payload) = 'object'),
  -- NULL: nothing before (a new assignment) or after (a removal).
  before          jsonb,
  after           jsonb,
  base            text NOT NULL CHECK (length(base) <= 200),
  reasons         text[] NOT NULL CHECK (cardinality(reasons) >= 1),
  comment         text CHECK (length(comment) <= 2000),
  proposer_id     uuid NOT NULL REFERENCES principals (id),
  proposed_at     timestamptz NOT NULL,
  expires_at      timestamptz NOT NULL CHECK (expires_at > proposed_at),
  status          text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'applied', 'rejected', 'withdrawn', 'expired', 'failed')),
  decided_by      uuid REFERENCES principals (id),
  decided_at      timestamptz,
  decision_reason text CHECK (length(decision_reason) <= 2000),
  CHECK ((status = 'pending') = (decided_at IS NULL))
);
CREATE INDEX pending_changes_open_idx ON pending_changes (proposed_at) WHERE status = 'pending';
CREATE INDEX pending_changes_proposer_idx ON pending_changes (proposer_id, proposed_at);

-- The server proposes and decides changes; it never deletes their history.
GRANT SELECT, INSERT, UPDATE ON pending_changes TO custos_app;
REVOKE DELETE, TRUNCATE ON pending_changes FROM custos_app;
