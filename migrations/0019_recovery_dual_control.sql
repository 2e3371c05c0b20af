-- No one alone reaches a person's account (src/changes/holdRecovery.ts,
-- src/changes/assignRole.ts). Account recovery waits for a second
-- administrator: a new enrollment secret for someone who has enrolled lets its
-- holder become that person; it is a pending change of its own kind. And an
-- enrollment secret remembers who received it: whoever could hold a person's
-- secret cannot alone give that person roles.
ALTER TABLE pending_changes DROP CONSTRAINT pending_changes_kind_check;
ALTER TABLE pending_changes ADD CONSTRAINT pending_changes_kind_check
  CHECK (kind IN ('role.update', 'role.assign', 'role.unassign', 'policy.update', 'principal.recover'));
-- NULL: issued by the bootstrap or the host operator (`custos admin recover`), or before this version.
ALTER TABLE enrollments ADD COLUMN issued_by uuid REFERENCES principals (id);
