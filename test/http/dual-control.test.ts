/**
 * Dual control over real HTTP against a real PostgreSQL ("no one alone",
 * docs/security-model.md): privilege-widening role edits, assignments of administrative,
 * approver and reviewer roles, and policy pushes that change test files
 * wait as pending changes until a second administrator approves them with
 * fresh MFA; nobody approves their own change or one that widens them; an
 * unapproved change expires; every step is audited.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminOf, loginAs, personDirect, startTestApp, type Person, type TestApp } from '../support/app.ts';

const TTL = 3600;
let app: TestApp;
/** The bootstrapped administrator; also holds the plain custom role `ops-lead`. */
let ada: Person;
/** A second administrator who does not hold `ops-lead`. */
let bea: Person;
/** A plain person. */
let carl: Person;

beforeAll(async () => {
  app = await startTestApp({ CUSTOS_CHANGE_TTL_SECONDS: String(TTL), CUSTOS_IDLE_TIMEOUT_SECONDS: '7200', CUSTOS_SESSION_TTL_SECONDS: '7200' });
  ada = await adminOf(app);
  bea = await personDirect(app, 'bea', [{ role: 'system-administrator' }]);
  carl = await personDirect(app, 'carl', []);
  await app.wired.catalog.createRole({ id: 'ops-lead', description: 'runs the on-call rota' });
  await app.wired.catalog.assignRole({ principal_id: ada.id, role_id: 'ops-lead', project_id: null }, null);
  await app.wired.policy.reload();
  await app.wired.invalidate();
});
afterAll(async () => app?.close());

const call = (method: string, path: string, who: Person, body?: unknown, headers?: Record<string, string>) => app.call(method, path, { token: who.token, body, headers });
const approve = (id: string, who: Person) => call('POST', `/v1/changes/${id}/approve`, who, {});

/** Audit events of one change, in order. */
async function changeEvents(id: string) {
  const rows = await app.db.sql`SELECT type, outcome, actor_id, details FROM audit_events WHERE details->>'change_id' = ${id} ORDER BY at, seq`;
  return rows.map((r) => ({ type: r.type as string, outcome: r.outcome as string, actor: r.actor_id as string | null, reason: (r.details as Record<string, unknown>).reason ?? null }));
}

const rolesOf = async (p: Person) => (await app.call('GET', `/v1/role-assignments?principal_id=${p.id}`, { token: ada.token })).body.items.map((a: { role_id: string }) => a.role_id).sort();

describe('a role edit that widens an administrator', () => {
  it('regression: an administrator adding security-reviewer to a role they hold is held (202), and the decision logs stay closed (403)', async () => {
    await loginAs(app, ada);
    const edit = await call('PATCH', '/v1/roles/ops-lead', ada, { inherits: ['security-reviewer'] });
    expect(edit.status, JSON.stringify(edit.body)).toBe(202);
    expect(edit.body).toMatchObject({ kind: 'role.update', target: 'ops-lead', status: 'pending', proposer_id: ada.id });
    expect(edit.body.reasons).toEqual(expect.arrayContaining(['proposer-holds-role', 'held-by-administrator', 'confers-administrative-role']));
    expect(edit.headers.get('location')).toBe(`/v1/changes/${edit.body.id}`);
    expect((await app.call('GET', '/v1/roles/ops-lead', { token: ada.token })).body.inherits).toEqual([]);
    const logs = await call('GET', '/v1/decision-logs', ada);
    expect(logs.status).toBe(403);
    expect(logs.body.code).toBe('forbidden');
    // Withdrawn, so the next test starts from a clean slate.
    expect((await call('POST', `/v1/changes/${edit.body.id}/reject`, ada, { reason: 'test' })).body.status).toBe('withdrawn');
  });

  it('waits with its diff, is refused to its proposer (self-approval), refused without fresh MFA, applied by a second administrator; every step audited', async () => {
    await loginAs(app, ada);
    const edit = await call('PATCH', '/v1/roles/ops-lead', ada, { inherits: ['security-reviewer'] });
    expect(edit.status).toBe(202);
    const id: string = edit.body.id;

    const shown = await call('GET', `/v1/changes/${id}`, bea);
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({ status: 'pending', before: { id: 'ops-lead', inherits: [] }, after: { id: 'ops-lead', inherits: ['security-reviewer'] } });
    expect((await call('GET', '/v1/changes?status=pending', bea)).body.items.map((c: { id: string }) => c.id)).toContain(id);
    // A plain person does not see it.
    expect((await call('GET', `/v1/changes/${id}`, carl)).status).toBe(404);
    expect((await call('GET', '/v1/changes?status=pending', carl)).body.items.map((c: { id: string }) => c.id)).not.toContain(id);

    // Ada has roles:assign and a second factor proven just now: only the self-approval check stands in the way.
    await loginAs(app, ada);
    const self = await approve(id, ada);
    expect(self.status).toBe(403);
    expect(self.body.code).toBe('forbidden');
    expect(self.body.detail).toMatch(/your own change/);

    // Bea's second factor is 11 minutes old: refused by the step-up check.
    await loginAs(app, bea);
    app.clock.advance(660_000);
    const stale = await approve(id, bea);
    expect(stale.status).toBe(401);
    expect(stale.body.code).toBe('step_up_required');
    expect((await call('GET', `/v1/changes/${id}`, bea)).body.status).toBe('pending');

    await loginAs(app, bea);
    const ok = await approve(id, bea);
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body).toMatchObject({ status: 'applied', decided_by: bea.id });
    expect((await app.call('GET', '/v1/roles/ops-lead', { token: ada.token })).body.inherits).toEqual(['security-reviewer']);
    expect((await call('GET', '/v1/decision-logs', ada)).status).toBe(200);

    expect(await changeEvents(id)).toEqual([
      { type: 'change.proposed', outcome: 'info', actor: ada.id, reason: null },
      { type: 'change.approval_refused', outcome: 'failure', actor: ada.id, reason: 'own-change' },
      { type: 'change.approval_refused', outcome: 'failure', actor: bea.id, reason: 'step-up-required' },
      { type: 'catalog.role.updated', outcome: 'success', actor: bea.id, reason: null },
      { type: 'change.approved', outcome: 'success', actor: bea.id, reason: null },
      { type: 'change.applied', outcome: 'success', actor: bea.id, reason: null },
    ]);
    // Undo (a narrowing of a role ada holds: held too, approved by bea) so later tests start from a plain ops-lead.
    await loginAs(app, ada);
    const undo = await call('PATCH', '/v1/roles/ops-lead', ada, { inherits: [] });
    expect(undo.status).toBe(202);
    await loginAs(app, bea);
    expect((await approve(undo.body.id, bea)).status).toBe(200);
  });

  it('is refused to someone without the approving permission, and applied exactly once when two administrators approve at once', async () => {
    const rev = await personDirect(app, 'rev', [{ role: 'security-reviewer' }]);
    const cara = await personDirect(app, 'cara', [{ role: 'system-administrator' }]);
    await loginAs(app, ada);
    const edit = await call('PATCH', '/v1/roles/ops-lead', ada, { inherits: ['approver'] });
    expect(edit.status).toBe(202);
    // The reviewer sees it (audit:read) and has a fresh second factor, but not roles:assign.
    await loginAs(app, rev);
    expect((await call('GET', `/v1/changes/${edit.body.id}`, rev)).status).toBe(200);
    const denied = await approve(edit.body.id, rev);
    expect(denied.status).toBe(403);
    expect(denied.body.detail).toMatch(/roles:assign/);

    await loginAs(app, bea);
    await loginAs(app, cara);
    const both = await Promise.all([approve(edit.body.id, bea), approve(edit.body.id, cara)]);
    expect(both.map((r) => r.status).sort()).toEqual([200, 409]);
    const events = (await changeEvents(edit.body.id)).map((e) => `${e.type}:${e.reason ?? ''}`);
    expect(events.filter((e) => e === 'change.applied:')).toHaveLength(1);
    expect(events).toContain('change.approval_refused:missing-permission');
    expect(events).toContain('change.approval_refused:not-pending');
    expect((await app.call('GET', '/v1/roles/ops-lead', { token: bea.token })).body.inherits).toEqual(['approver']);
    // Back to plain for the tests below.
    await loginAs(app, ada);
    const undo = await call('PATCH', '/v1/roles/ops-lead', ada, { inherits: [] });
    await loginAs(app, bea);
    expect((await approve(undo.body.id, bea)).status).toBe(200);
  });

  it('expires unapproved: after the TTL approval is refused and the change reads as expired (audited)', async () => {
    await loginAs(app, ada);
    const edit = await call('PATCH', '/v1/roles/ops-lead', ada, { inherits: ['approver'] });
    expect(edit.status).toBe(202);
    const id: string = edit.body.id;
    app.clock.advance((TTL + 1) * 1000);
    await loginAs(app, bea);
    expect((await call('GET', `/v1/changes/${id}`, bea)).body.status).toBe('expired');
    const late = await approve(id, bea);
    expect(late.status).toBe(409);
    expect(late.body.detail).toMatch(/expired/);
    expect((await call('GET', `/v1/changes/${id}`, bea)).body.status).toBe('expired');
    expect((await app.call('GET', '/v1/roles/ops-lead', { token: bea.token })).body.inherits).toEqual([]);
    expect(await changeEvents(id)).toEqual([
      { type: 'change.proposed', outcome: 'info', actor: ada.id, reason: null },
      { type: 'change.expired', outcome: 'info', actor: null, reason: null },
      { type: 'change.approval_refused', outcome: 'failure', actor: bea.id, reason: 'expired' },
    ]);
  });

  it('fails instead of applying a stale diff when the role changed since the proposal', async () => {
    await loginAs(app, ada);
    const edit = await call('PATCH', '/v1/roles/ops-lead', ada, { inherits: ['approver'] });
    expect(edit.status).toBe(202);
    // A description-only edit widens nobody and applies at once; it changes the role's fingerprint.
    expect((await call('PATCH', '/v1/roles/ops-lead', ada, { description: 'runs the rota and the pager' })).status).toBe(200);
    await loginAs(app, bea);
    const r = await approve(edit.body.id, bea);
    expect(r.status).toBe(409);
    expect(r.body.detail).toMatch(/target changed/);
    expect((await call('GET', `/v1/changes/${edit.body.id}`, bea)).body).toMatchObject({ status: 'failed', decision_reason: 'target-changed' });
    expect((await app.call('GET', '/v1/roles/ops-lead', { token: bea.token })).body.inherits).toEqual([]);
    expect((await changeEvents(edit.body.id)).map((e) => `${e.type}:${e.reason ?? ''}`)).toEqual(['change.proposed:', 'change.failed:target-changed']);
  });

  it('a role nobody privileged holds, staying unprivileged, is edited at once as before', async () => {
    await loginAs(app, ada);
    expect((await call('POST', '/v1/roles', ada, { id: 'junior-analyst' })).status).toBe(201);
    await app.wired.catalog.assignRole({ principal_id: carl.id, role_id: 'junior-analyst', project_id: null }, null);
    const r = await call('PATCH', '/v1/roles/junior-analyst', ada, { inherits: ['ai-researcher'] });
    expect(r.status).toBe(200);
    expect(r.body.inherits).toEqual(['ai-researcher']);
    // Making it a reviewer role waits, though only carl holds it.
    const up = await call('PATCH', '/v1/roles/junior-analyst', ada, { inherits: ['ai-researcher', 'security-reviewer'] });
    expect(up.status).toBe(202);
    expect(up.body.reasons).toEqual(['confers-administrative-role']);
  });
});

describe('assigning roles', () => {
  it('an administrative, approver or reviewer role waits for a second administrator; a plain role is assigned at once', async () => {
    await loginAs(app, bea);
    const reviewer = await call('POST', '/v1/role-assignments', bea, { principal_id: carl.id, role_id: 'security-reviewer' });
    expect(reviewer.status, JSON.stringify(reviewer.body)).toBe(202);
    expect(reviewer.body).toMatchObject({ kind: 'role.assign', target: carl.id, status: 'pending', reasons: ['administrative-role'] });
    const approver = await call('POST', '/v1/role-assignments', bea, { principal_id: carl.id, role_id: 'approver', project_id: null });
    expect(approver.status).toBe(202);
    const admin = await call('POST', '/v1/role-assignments', bea, { principal_id: carl.id, role_id: 'system-administrator' });
    expect(admin.status).toBe(202);
    expect(await rolesOf(carl)).toEqual(['junior-analyst']);

    const plain = await call('POST', '/v1/role-assignments', bea, { principal_id: carl.id, role_id: 'ai-researcher' });
    expect(plain.status).toBe(201);
    expect(await rolesOf(carl)).toEqual(['ai-researcher', 'junior-analyst']);

    await loginAs(app, ada);
    const ok = await approve(reviewer.body.id, ada);
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(await rolesOf(carl)).toEqual(['ai-researcher', 'junior-analyst', 'security-reviewer']);
    const events = await changeEvents(reviewer.body.id);
    expect(events.map((e) => e.type)).toEqual(['change.proposed', 'role.assigned', 'change.approved', 'change.applied']);
    expect((await call('POST', `/v1/changes/${approver.body.id}/reject`, ada, { reason: 'not needed' })).body.status).toBe('rejected');
    expect((await changeEvents(approver.body.id)).map((e) => e.type)).toEqual(['change.proposed', 'change.rejected']);
    expect((await call('POST', `/v1/changes/${admin.body.id}/reject`, bea)).body.status).toBe('withdrawn');
  });

  it('the one assigned may not approve their own assignment', async () => {
    await loginAs(app, bea);
    const r = await call('POST', '/v1/role-assignments', bea, { principal_id: ada.id, role_id: 'approver' });
    expect(r.status).toBe(202);
    await loginAs(app, ada);
    const self = await approve(r.body.id, ada);
    expect(self.status).toBe(403);
    expect(self.body.detail).toMatch(/widens your own permissions/);
    expect((await changeEvents(r.body.id)).map((e) => `${e.type}:${e.reason ?? ''}`)).toEqual(['change.proposed:', 'change.approval_refused:own-permissions']);
    expect(await rolesOf(ada)).toEqual(['ops-lead', 'system-administrator']);
  });

  it('removing one of your own roles waits (it can lift a deny); removing someone else’s applies at once', async () => {
    await loginAs(app, ada);
    const mine = (await app.call('GET', `/v1/role-assignments?principal_id=${ada.id}`, { token: ada.token })).body.items.find((a: { role_id: string }) => a.role_id === 'ops-lead');
    const r = await call('DELETE', `/v1/role-assignments/${mine.id}`, ada);
    expect(r.status).toBe(202);
    expect(r.body.reasons).toEqual(['own-assignment']);
    expect(await rolesOf(ada)).toContain('ops-lead');
    const theirs = (await app.call('GET', `/v1/role-assignments?principal_id=${carl.id}`, { token: ada.token })).body.items.find((a: { role_id: string }) => a.role_id === 'ai-researcher');
    expect((await call('DELETE', `/v1/role-assignments/${theirs.id}`, ada)).status).toBe(204);
  });
});

describe('policy pushes', () => {
  let docs: Record<string, string>;
  let tests: Record<string, string>;
  const live = async () => {
    const r = await app.call('GET', '/v1/policy', { token: ada.token });
    return { etag: r.headers.get('etag')!, version: r.body.version as number, documents: r.body.documents as Record<string, string>, tests: r.body.tests as Record<string, string> };
  };
  const put = async (who: Person, body: unknown) => call('PUT', '/v1/policy', who, body, { 'if-match': (await live()).etag });

  beforeAll(async () => {
    const l = await live();
    docs = l.documents;
    tests = l.tests;
  });

  it('rules and test files in one push wait for a second administrator, who applies them', async () => {
    await loginAs(app, ada);
    const before = await live();
    const documents = { 'default.yaml': docs['default.yaml']!.replace('AI researchers read de-identified datasets only.', 'AI researchers read de-identified data only.') };
    const changedTests = { ...tests, 'role-table.yaml': tests['role-table.yaml']!.replace('Every push of the policy must keep these.', 'Pushes keep these.') };
    const r = await put(ada, { documents, tests: changedTests, comment: 'wording' });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect(r.body).toMatchObject({ kind: 'policy.update', status: 'pending', reasons: ['policy-tests-changed'], before: { version: before.version } });
    expect(r.body.after).toMatchObject({ changed_rules: ['researcher-deidentified'], tests_changed: ['role-table.yaml'], tests_removed: [] });
    expect((await live()).version).toBe(before.version);

    await loginAs(app, ada);
    expect((await approve(r.body.id, ada)).status).toBe(403);
    await loginAs(app, bea);
    const ok = await approve(r.body.id, bea);
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    const after = await live();
    expect(after.version).toBe(before.version + 1);
    expect(after.tests['role-table.yaml']).toContain('Pushes keep these.');
    expect((await changeEvents(r.body.id)).map((e) => `${e.type}:${e.reason ?? ''}`)).toEqual([
      'change.proposed:',
      'change.approval_refused:own-change',
      'policy.updated:',
      'change.approved:',
      'change.applied:',
    ]);
    docs = after.documents;
    tests = after.tests;
  });

  it('a push of rules only goes through at once, as before', async () => {
    await loginAs(app, ada);
    const v = (await live()).version;
    const documents = { 'default.yaml': docs['default.yaml']!.replace('AI researchers read de-identified data only.', 'AI researchers read de-identified datasets only.') };
    const r = await put(ada, { documents, tests });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.version).toBe(v + 1);
    // Omitting the tests keeps them: a rules-only push too.
    expect((await put(ada, { documents: docs })).status).toBe(200);
    docs = (await live()).documents;
  });

  it('test files only: changing or removing one waits (it weakens the gate of every later push); adding one goes through', async () => {
    await loginAs(app, ada);
    const v = (await live()).version;
    const { 'break-glass.yaml': _dropped, ...fewer } = tests;
    const removed = await put(ada, { documents: docs, tests: fewer });
    expect(removed.status).toBe(202);
    expect(removed.body.after).toMatchObject({ tests_changed: [], tests_removed: ['break-glass.yaml'], changed_rules: [] });
    const added = await put(ada, { documents: docs, tests: { ...tests, 'extra.yaml': tests['role-table.yaml']! } });
    expect(added.status, JSON.stringify(added.body)).toBe(200);
    expect(added.body.version).toBe(v + 1);
    // The held removal was based on an older version: approving it now fails rather than dropping the new file.
    await loginAs(app, bea);
    const stale = await approve(removed.body.id, bea);
    expect(stale.status).toBe(409);
    expect((await live()).tests).toHaveProperty('break-glass.yaml');
  });

  it('a rollback that restores other test files waits like a push', async () => {
    await loginAs(app, ada);
    const before = await live();
    const r = await call('POST', '/v1/policy/rollback', ada, { version: 1 }, { 'if-match': before.etag });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect(r.body.after).toMatchObject({ tests_changed: ['role-table.yaml'], tests_removed: ['extra.yaml'] });
    expect((await live()).version).toBe(before.version);
    await loginAs(app, bea);
    expect((await approve(r.body.id, bea)).status).toBe(200);
    const after = await live();
    expect(after.version).toBe(before.version + 1);
    expect(after.tests).not.toHaveProperty('extra.yaml');
    const [v] = await app.db.sql`SELECT rollback_of, author_id FROM policy_versions WHERE version = ${after.version}`;
    expect(v).toMatchObject({ rollback_of: 1, author_id: ada.id });
    expect((await changeEvents(r.body.id)).map((e) => e.type)).toEqual(['change.proposed', 'policy.rolled_back', 'change.approved', 'change.applied']);
  });
});
