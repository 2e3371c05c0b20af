-- Account recovery waits for a second administrator: a new enrollment
-- secret for someone who has enrolled lets its holder become that person
-- (src/changes/holdRecovery.ts). It is a pending change of its own kind.
ALTER TABLE pending_changes DROP CONSTRAINT pending_changes_kind_check;
ALTER TABLE pending_changes ADD CONSTRAINT pending_changes_kind_check
  CHECK (kind IN ('role.update', 'role.assign', 'role.unassign', 'policy.update', 'principal.recover'));
