/**
 * Policy administration over real HTTP against a real PostgreSQL: the
 * seeded version 1, edits under If-Match (one of two concurrent edits wins,
 * the other gets 409 and nothing is lost), the policy's own test files as
 * the gate of every push, validation pointing at document, rule and field,
 * diffs, rollback that restores earlier decisions, impact simulation over a
 * seeded decision log with exact flip counts, and edits without a fresh
 * second factor refused and audited.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminOf, personDirect, startTestApp, type Person, type TestApp } from '../support/app.ts';

let app: TestApp;
let admin: Person;
let sam: Person;
let rita: Person;
let v1: { documents: Record<string, string>; tests: Record<string, string>; etag: string };

const DATASET = 'onc.notes';
const DEID = 'onc.deid';

beforeAll(async () => {
  app = await startTestApp({ CUSTOS_IDLE_TIMEOUT_SECONDS: '3600', CUSTOS_SESSION_TTL_SECONDS: '3600' });
  admin = await adminOf(app);
  const c = app.wired.catalog;
  await c.createProject({ id: 'onc', name: 'Oncology' });
  await c.createDataset({
    id: DATASET,
    project_id: 'onc',
    owner_id: admin.id,
    purposes: ['model-training', 'research'],
    columns: [{ name: 'patient_name', category: 'names' }, { name: 'diagnosis' }],
  } as never);
  await c.createDataset({ id: DEID, project_id: 'onc', owner_id: admin.id, purposes: ['research'], columns: [{ name: 'outcome' }] } as never);
  sam = await personDirect(app, 'sam', [{ role: 'data-scientist', project: 'onc' }]);
  rita = await personDirect(app, 'rita', [{ role: 'ai-researcher' }]);
  await app.wired.invalidate();
});
afterAll(async () => app?.close());

/** A decision by the live policy, asked as the administrator. */
async function decide(principal: Person, dataset = DATASET, purpose = 'model-training', columns = ['diagnosis']) {
  const r = await app.call('POST', '/v1/decisions', { token: admin.token, body: { principal_id: principal.id, dataset, purpose, columns } });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body as { effect: string; rules: string[]; policy_version: string };
}

/** The shipped document with one rule removed (YAML text edit). */
function without(ruleId: string, text = v1.documents['default.yaml']!): string {
  const start = text.indexOf(`  - id: ${ruleId}\n`);
  expect(start).toBeGreaterThan(0);
  const next = text.indexOf('\n  - id: ', start + 1);
  const end = next > 0 ? next + 1 : text.indexOf('\n# Just-in-time access');
  return text.slice(0, start) + text.slice(end);
}

const put = (body: unknown, etag?: string, token = admin.token) => app.call('PUT', '/v1/policy', { token, body, headers: etag === undefined ? {} : { 'if-match': etag } });
const live = async () => {
  const r = await app.call('GET', '/v1/policy', { token: admin.token });
  expect(r.status).toBe(200);
  return r;
};

describe('the live version', () => {
  it('is version 1, seeded from policies/rules and policies/tests, with an ETag', async () => {
    const r = await live();
    expect(r.body).toMatchObject({ version: 1, author_id: null, rollback_of: null });
    expect(Object.keys(r.body.documents)).toEqual(['default.yaml']);
    expect(Object.keys(r.body.tests).sort()).toEqual(['break-glass.yaml', 'role-table.yaml']);
    expect(r.headers.get('etag')).toMatch(/^"1-[0-9a-f]{16}"$/);
    expect(r.body.live_snapshot).toMatch(/^v1\./);
    v1 = { documents: r.body.documents, tests: r.body.tests, etag: r.headers.get('etag')! };
    expect((await decide(sam)).policy_version).toBe(r.body.live_snapshot);
  });

  it('is readable by a security reviewer, but not editable by one', async () => {
    const rev = await personDirect(app, 'rev', [{ role: 'security-reviewer' }]);
    expect((await app.call('GET', '/v1/policy', { token: rev.token })).status).toBe(200);
    expect((await put({ documents: v1.documents }, v1.etag, rev.token)).status).toBe(403);
    expect((await app.call('GET', '/v1/policy', { token: sam.token })).status).toBe(403);
  });
});

describe('validation', () => {
  it('points at the document, rule and field, and saves nothing', async () => {
    const bad = v1.documents['default.yaml']!.replace('effect: deny', 'effect: maybe').replace('when: resource.project in principal.projects', 'when: x ) || ( true');
    const r = await app.call('POST', '/v1/policy/validate', { token: admin.token, body: { documents: { 'default.yaml': bad } } });
    expect(r.status).toBe(200);
    expect(r.body.valid).toBe(false);
    expect(r.body.issues).toEqual(expect.arrayContaining([expect.objectContaining({ document: 'default.yaml', rule: 'sysadmin-never-reads-phi', field: 'effect' })]));
    const ok = await app.call('POST', '/v1/policy/validate', { token: admin.token, body: { documents: v1.documents } });
    expect(ok.body).toMatchObject({ valid: true, compiles: true, rules: 6, tests: { ok: true, cases: 13, passed: 13 } });
    expect((await live()).body.version).toBe(1);
  });

  it('refuses to store an invalid policy (422 with the issues)', async () => {
    const r = await put({ documents: { 'default.yaml': 'rules:\n  - id: x\n    effect: allow\n    roles: [nobody]\n    actions: [dataset:read]\n' } }, v1.etag);
    expect(r.status).toBe(422);
    expect(r.body.code).toBe('policy_invalid');
    expect(r.body.issues).toEqual([{ document: 'default.yaml', rule: 'x', field: 'roles.0', message: 'unknown role nobody' }]);
  });
});

describe('the test files gate every push', () => {
  it('refuses a push whose tests fail, listing each failing case with expected and actual', async () => {
    const r = await put({ documents: { 'default.yaml': without('sysadmin-never-reads-phi') }, comment: 'let admins read' }, v1.etag);
    expect(r.status, JSON.stringify(r.body)).toBe(422);
    expect(r.body.code).toBe('policy_tests_failed');
    const cases = r.body.failures.map((f: { file: string; case: string }) => `${f.file}: ${f.case}`);
    expect(cases).toEqual(['role-table.yaml: a system administrator never reads PHI', 'role-table.yaml: the administrator deny overrides the scientist allow']);
    const f = r.body.failures[1];
    expect(f.expected).toMatchObject({ effect: 'deny', rules: ['sysadmin-never-reads-phi'] });
    expect(f.actual).toMatchObject({ effect: 'allow', rules: ['scientist-own-project-phi'] });
    expect(f.mismatches).toEqual(expect.arrayContaining([{ field: 'effect', expected: 'deny', actual: 'allow' }]));
    expect(r.body.tests).toMatchObject({ files: 2, cases: 13, passed: 11 });
    expect((await live()).body.version).toBe(1);
    const refused = await app.wired.app.audit.recent({ type: 'policy.updated_refused', limit: 10 });
    const ev = refused.find((e) => e.details.reason === 'policy_tests_failed');
    expect(ev!.details.failing_cases).toEqual(cases);
    expect(ev, JSON.stringify(refused)).toMatchObject({ outcome: 'failure', actor_id: admin.id, details: { reason: 'policy_tests_failed', before: { version: 1 } } });
  });

});

describe('edits under If-Match', () => {
  const edit = () => ({ documents: { 'default.yaml': without('scientist-deidentified') }, comment: 'scientists read de-identified data only through projects' });

  it('refuses an edit without If-Match or with a stale ETag (409), changing nothing', async () => {
    expect((await put(edit())).status).toBe(409);
    expect((await put(edit(), '"1-0000000000000000"')).status).toBe(409);
    expect((await live()).body.version).toBe(1);
  });

  it('of two concurrent edits on the same version exactly one wins; the other gets 409 and can reapply', async () => {
    const other = { documents: { 'default.yaml': v1.documents['default.yaml']!.replace('max_duration: 3d', 'max_duration: 2d') }, comment: 'shorter researcher grants' };
    const results = await Promise.all([put(edit(), v1.etag), put(other, v1.etag)]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
    const winner = results.find((r) => r.status === 200)!;
    expect(winner.body.version).toBe(2);
    expect(winner.headers.get('etag')).toBe(winner.body.etag);
    // The loser reads the new version and reapplies: nothing lost.
    const now = await live();
    const loserBody = results[0]!.status === 409 ? edit() : other;
    const base = now.body.documents['default.yaml'] as string;
    const reapplied = loserBody === other ? base.replace('max_duration: 3d', 'max_duration: 2d') : without('scientist-deidentified', base);
    const r = await put({ documents: { 'default.yaml': reapplied } }, now.headers.get('etag')!);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.version).toBe(3);
    const v3 = (await live()).body.documents['default.yaml'] as string;
    expect(v3).toContain('max_duration: 2d');
    expect(v3).not.toContain('id: scientist-deidentified');
    const history = await app.call('GET', '/v1/policy/versions?limit=2', { token: admin.token });
    expect(history.body.items.map((v: { version: number }) => v.version)).toEqual([3, 2]);
    expect(history.body.next_cursor).toBe('2');
    const rest = await app.call('GET', '/v1/policy/versions?cursor=2', { token: admin.token });
    expect(rest.body.items.map((v: { version: number }) => v.version)).toEqual([1]);
  });

  it('audits each edit with before and after versions, digests and the changed rule ids', async () => {
    const events = await app.wired.app.audit.recent({ type: 'policy.updated', limit: 5 });
    const e = events.find((x) => (x.details.after as { version: number }).version === 2)!;
    expect(e).toMatchObject({ outcome: 'success', actor_id: admin.id });
    expect(e.details.before).toEqual({ version: 1, digest: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect((e.details.after as { digest: string }).digest).toMatch(/^[0-9a-f]{64}$/);
    expect(Array.isArray(e.details.changed_rules)).toBe(true);
  });

  it('diffs two versions: rule ids per document and a unified diff', async () => {
    const r = await app.call('GET', '/v1/policy/diff?from=1&to=3', { token: admin.token });
    expect(r.status).toBe(200);
    expect(r.body.documents).toHaveLength(1);
    expect(r.body.documents[0]).toMatchObject({ name: 'default.yaml', status: 'changed', rules: { added: [], removed: ['scientist-deidentified'], changed: [] } });
    expect(r.body.documents[0].unified).toMatch(/^--- a\/default\.yaml\n\+\+\+ b\/default\.yaml\n@@ /);
    expect(r.body.documents[0].unified).toContain('\n-  - id: scientist-deidentified\n');
    expect(r.body.documents[0].unified).toContain('\n-      max_duration: 3d\n+      max_duration: 2d\n');
    expect(r.body.changed_rules).toEqual(['scientist-deidentified']);
    expect((await app.call('GET', '/v1/policy/versions/99', { token: admin.token })).status).toBe(404);
  });
});

describe('rollback', () => {
  it('restores earlier decisions as a new version whose content equals the earlier one', async () => {
    expect(await decide(sam)).toMatchObject({ effect: 'allow', rules: ['scientist-own-project-phi'] });
    const cur = await live();
    // Freeze one PHI dataset for scientists.
    const freeze = (cur.body.documents['default.yaml'] as string).replace('rules:\n', `rules:\n  - id: freeze-phi\n    effect: deny\n    roles: [data-scientist]\n    actions: [dataset:read]\n    resource: { datasets: [${DATASET}] }\n`);
    const pushed = await put({ documents: { 'default.yaml': freeze } }, cur.headers.get('etag')!);
    expect(pushed.status, JSON.stringify(pushed.body)).toBe(200);
    expect(pushed.body.changed_rules).toEqual(['freeze-phi']);
    expect(await decide(sam)).toMatchObject({ effect: 'deny', rules: ['freeze-phi'] });

    const back = await app.call('POST', '/v1/policy/rollback', { token: admin.token, body: { version: cur.body.version }, headers: { 'if-match': pushed.headers.get('etag')! } });
    expect(back.status, JSON.stringify(back.body)).toBe(200);
    expect(back.body).toMatchObject({ version: pushed.body.version + 1, rollback_of: cur.body.version, digest: cur.body.digest, changed_rules: ['freeze-phi'] });
    expect(back.body.documents).toEqual(cur.body.documents);
    expect(back.body.tests).toEqual(cur.body.tests);
    expect(await decide(sam)).toMatchObject({ effect: 'allow', rules: ['scientist-own-project-phi'], policy_version: back.body.live_snapshot });
    const [ev] = await app.wired.app.audit.recent({ type: 'policy.rolled_back', limit: 1 });
    expect(ev!.details).toMatchObject({ before: { version: pushed.body.version }, after: { version: back.body.version, digest: cur.body.digest }, rollback_of: cur.body.version, changed_rules: ['freeze-phi'] });
  });
});

describe('rollback under If-Match', () => {
  it('refuses a rollback without If-Match (428) or with a stale ETag (409), audits it and changes nothing', async () => {
    const cur = await live();
    const etag = cur.headers.get('etag')!;
    const missing = await app.call('POST', '/v1/policy/rollback', { token: admin.token, body: { version: 1 } });
    expect(missing.status, JSON.stringify(missing.body)).toBe(428);
    expect(missing.body.code).toBe('precondition_required');
    expect(missing.body.detail).toContain(etag);
    const stale = await app.call('POST', '/v1/policy/rollback', { token: admin.token, body: { version: 1 }, headers: { 'if-match': '"1-0000000000000000"' } });
    expect(stale.status).toBe(409);
    expect(stale.body.code).toBe('conflict');
    expect((await live()).body.version).toBe(cur.body.version);
    const refused = await app.wired.app.audit.recent({ type: 'policy.rolled_back_refused', actorId: admin.id, limit: 2 });
    expect(refused.map((e) => [e.outcome, e.details.reason, e.details.if_match, e.details.rollback_of]).sort((a, b) => String(a[2]).localeCompare(String(b[2])))).toEqual([
      ['failure', 'precondition', '"1-0000000000000000"', 1],
      ['failure', 'precondition', null, 1],
    ]);
    // The same rollback with the current ETag goes through.
    const ok = await app.call('POST', '/v1/policy/rollback', { token: admin.token, body: { version: 1 }, headers: { 'if-match': etag } });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body).toMatchObject({ version: cur.body.version + 1, rollback_of: 1 });
  });
});

describe('simulation', () => {
  it('reports the exact number of decisions that would flip, by direction, rule, principal and dataset, and changes nothing', async () => {
    app.clock.advance(1000);
    const from = app.clock.now().toISOString();
    // The seeded log: 5 allows of sam on PHI, 3 denies of rita on PHI, 2 allows of rita on de-identified data.
    for (let i = 0; i < 5; i++) expect((await decide(sam)).effect).toBe('allow');
    for (let i = 0; i < 3; i++) expect((await decide(rita, DATASET, 'research')).effect).toBe('deny');
    for (let i = 0; i < 2; i++) expect((await decide(rita, DEID, 'research', ['outcome'])).effect).toBe('allow');
    app.clock.advance(1000);
    const to = app.clock.now().toISOString();

    const cur = await live();
    // Candidate: scientists lose PHI (5 allow → deny); researchers gain PHI for research (3 deny → allow).
    const candidate = without('scientist-own-project-phi', cur.body.documents['default.yaml']).replace(
      'rules:\n',
      'rules:\n  - id: researcher-phi-research\n    effect: allow\n    roles: [ai-researcher]\n    actions: [dataset:read]\n    resource: { classification: [phi] }\n    purposes: [research]\n',
    );
    // A security reviewer may read the decision log (audit:read): the report carries examples.
    const reviewer = await personDirect(app, 'simrev', [{ role: 'security-reviewer' }]);
    const r = await app.call('POST', '/v1/policy/simulate', { token: reviewer.token, body: { documents: { 'default.yaml': candidate }, from, to } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.examples_withheld).toBe(false);
    expect(r.body, JSON.stringify(r.body)).toMatchObject({ replayed: 10, skipped: 0, truncated: false, unchanged: 2, flips: { allow_to_deny: 5, deny_to_allow: 3 } });
    expect(r.body.by_rule.map((g: any) => [g.key, g.allow_to_deny, g.deny_to_allow])).toEqual([
      ['scientist-own-project-phi', 5, 0],
      ['researcher-phi-research', 0, 3],
    ]);
    expect(r.body.by_principal.map((g: any) => [g.key, g.allow_to_deny, g.deny_to_allow])).toEqual([
      [sam.id, 5, 0],
      [rita.id, 0, 3],
    ]);
    expect(r.body.by_dataset.map((g: any) => [g.key, g.allow_to_deny, g.deny_to_allow])).toEqual([[DATASET, 5, 3]]);
    expect(r.body.by_rule[0].examples).toHaveLength(3);
    expect(r.body.by_rule[0].examples[0]).toMatchObject({ principal_id: sam.id, live: { effect: 'allow' }, candidate: { effect: 'deny' } });

    // An administrator holds policy:read but not audit:read: the same counts, no logged request.
    const agg = await app.call('POST', '/v1/policy/simulate', { token: admin.token, body: { documents: { 'default.yaml': candidate }, from, to, examples: 20 } });
    expect(agg.status, JSON.stringify(agg.body)).toBe(200);
    expect(agg.body).toMatchObject({ replayed: 10, unchanged: 2, flips: { allow_to_deny: 5, deny_to_allow: 3 }, examples: [], examples_withheld: true });
    expect(agg.body.by_rule.map((g: any) => [g.key, g.allow_to_deny, g.deny_to_allow])).toEqual(r.body.by_rule.map((g: any) => [g.key, g.allow_to_deny, g.deny_to_allow]));
    for (const g of [...agg.body.by_rule, ...agg.body.by_principal, ...agg.body.by_dataset]) expect(g.examples).toEqual([]);
    expect(JSON.stringify(agg.body)).not.toContain('decision_id');

    // Every run is audited: who, the range, the counts, whether examples were shown.
    const runs = await app.wired.app.audit.recent({ type: 'policy.simulated', limit: 5 });
    const byActor = (id: string) => runs.find((e) => e.actor_id === id)!;
    expect(byActor(admin.id)).toMatchObject({ outcome: 'success', details: { from, to, replayed: 10, flips: { allow_to_deny: 5, deny_to_allow: 3 }, examples: 0, examples_withheld: true } });
    expect(byActor(reviewer.id)).toMatchObject({ outcome: 'success', details: { from, to, replayed: 10, examples: 6, examples_withheld: false } });

    // Bounded: a limit stops the replay and says so.
    const cut = await app.call('POST', '/v1/policy/simulate', { token: admin.token, body: { documents: { 'default.yaml': candidate }, from, to, limit: 4 } });
    expect(cut.body).toMatchObject({ replayed: 4, truncated: true });
    expect(cut.body.flips.allow_to_deny + cut.body.flips.deny_to_allow + cut.body.unchanged).toBe(4);

    // Nothing changed.
    expect((await live()).body.version).toBe(cur.body.version);
    expect(await decide(sam)).toMatchObject({ effect: 'allow' });
    expect((await app.call('POST', '/v1/policy/simulate', { token: admin.token, body: { documents: { 'default.yaml': 'rules: [{ id: x }]' } } })).status).toBe(422);
  });
});

describe('simulation range', () => {
  it('refuses a range wider than the configured window (400) before reading the log, and audits nothing', async () => {
    const cur = await live();
    const before = (await app.wired.app.audit.recent({ type: 'policy.simulated', limit: 50 })).length;
    const to = app.clock.now();
    const from = new Date(to.getTime() - 31 * 86_400_000 - 1000);
    const r = await app.call('POST', '/v1/policy/simulate', { token: admin.token, body: { documents: cur.body.documents, from: from.toISOString(), to: to.toISOString() } });
    expect(r.status, JSON.stringify(r.body)).toBe(400);
    expect(r.body.code).toBe('invalid_request');
    expect(r.body.detail).toContain('wider than 2678400 seconds');
    // Exactly the window is fine.
    const ok = await app.call('POST', '/v1/policy/simulate', { token: admin.token, body: { documents: cur.body.documents, from: new Date(to.getTime() - 2_678_400_000).toISOString(), to: to.toISOString() } });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect((await app.wired.app.audit.recent({ type: 'policy.simulated', limit: 50 })).length).toBe(before + 1);
  });
});

describe('edits need a fresh second factor', () => {
  it('refuses PUT and rollback once the step-up window has passed, and audits each refusal', async () => {
    const cur = await live();
    app.clock.advance(601_000);
    const r = await put({ documents: cur.body.documents }, cur.headers.get('etag')!);
    expect(r.status).toBe(401);
    expect(r.body.code).toBe('step_up_required');
    const rb = await app.call('POST', '/v1/policy/rollback', { token: admin.token, body: { version: 1 } });
    expect(rb.status).toBe(401);
    expect(rb.body.code).toBe('step_up_required');
    const refusals = await app.wired.app.audit.recent({ type: 'auth.step_up_required', actorId: admin.id, limit: 2 });
    expect(refusals.map((e) => e.details.action).sort()).toEqual(['POST /v1/policy/rollback', 'PUT /v1/policy']);
    expect((await live()).body.version).toBe(cur.body.version);
    // Reads still work without step-up.
    expect((await app.call('GET', '/v1/policy/versions', { token: admin.token })).status).toBe(200);
  });
});
