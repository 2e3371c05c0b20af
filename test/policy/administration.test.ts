/**
 * The policy administration operations (src/policy/updatePolicy.ts,
 * rollbackPolicy.ts, pushPolicy.ts, validateCandidate.ts,
 * simulateCandidate.ts) called directly, on a real PostgreSQL with the real
 * checking workers: each refusal is audited with the event the HTTP tests
 * do not look at (an edit's precondition, a lost race, a candidate that
 * does not compile, capped issues and failing cases), nothing is written
 * when refused, the precondition is checked before anything else, and a
 * rollback names what it restores.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthContext } from '../../src/auth/context.ts';
import { ConflictError, NotFoundError, PreconditionRequiredError, ValidationError } from '../../src/errors.ts';
import { PolicyTestsFailedError } from '../../src/policy/checkPolicy.ts';
import { PolicyInvalidError } from '../../src/policy/compile.ts';
import type { PolicyDeps } from '../../src/policy/deps.ts';
import { pushPolicy } from '../../src/policy/pushPolicy.ts';
import { rollbackPolicy } from '../../src/policy/rollbackPolicy.ts';
import { simulateCandidate, type SimulationDeps } from '../../src/policy/simulateCandidate.ts';
import { policyEtag, type PolicyVersion } from '../../src/policy/store.ts';
import { updatePolicy } from '../../src/policy/updatePolicy.ts';
import { validateCandidate } from '../../src/policy/validateCandidate.ts';
import { adminOf, startTestApp, type TestApp } from '../support/app.ts';

let app: TestApp;
let deps: PolicyDeps;
let auth: AuthContext;
let v1: PolicyVersion;
let n = 0;
/** Each call its own request id: its events are found by it (the frozen clock gives every event the same time). */
const fresh = () => ({ ip: '192.0.2.7', requestId: `req-${++n}` });

beforeAll(async () => {
  app = await startTestApp();
  const admin = await adminOf(app);
  const d = app.wired.app;
  deps = { store: d.policies.store, checker: d.policies.checker, catalog: d.catalog, changes: d.changes, audit: d.audit, clock: d.clock, holder: d.decisions.policy };
  // The operations read only who acts and what they may do.
  auth = { principalId: admin.id, permissions: new Set(['policy:read', 'policy:write']) } as unknown as AuthContext;
  v1 = (await deps.store.latest())!;
});
afterAll(async () => app?.close());

const versions = async () => (await app.db.sql`SELECT count(*)::int AS n FROM policy_versions`)[0]!.n as number;
/** The events a request recorded. */
const eventsOf = async (meta: { requestId: string }) =>
  (await app.db.sql`SELECT type, outcome, actor_id, request_id, details FROM audit_events WHERE request_id = ${meta.requestId} ORDER BY id`) as unknown as { type: string; outcome: string; actor_id: string; request_id: string; details: Record<string, unknown> }[];
/** The live rule document with a comment line added: compiles and passes the shipped tests. */
const edited = (base: PolicyVersion, note: string) => ({ ...base.documents, 'default.yaml': `# ${note}\n${base.documents['default.yaml']}` });

describe('updatePolicy', () => {
  it('refuses without If-Match or with a stale one (409) before checking anything, audits the header it got, and writes nothing', async () => {
    const before = await versions();
    // An invalid candidate: a check would have answered policy_invalid, so a conflict proves the precondition came first.
    const documents = { 'default.yaml': 'rules: [{ id: x }]' };
    for (const ifMatch of [undefined, '"1-0000000000000000"']) {
      const meta = fresh();
      const err = await updatePolicy(deps, { auth, meta, ifMatch, documents }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConflictError);
      expect((err as Error).message).toContain(policyEtag(v1));
      const events = await eventsOf(meta);
      expect(events).toEqual([
        { type: 'policy.updated_refused', outcome: 'failure', actor_id: auth.principalId, request_id: meta.requestId, details: { reason: 'precondition', before: { version: v1.version, digest: v1.digest }, if_match: ifMatch ?? null } },
      ]);
    }
    expect(await versions()).toBe(before);
  });

  it('keeps the live test files when it brings none', async () => {
    const r = await updatePolicy(deps, { auth, meta: fresh(), ifMatch: policyEtag((await deps.store.latest())!), documents: edited(v1, 'kept tests') });
    expect(r.status).toBe('applied');
    if (r.status !== 'applied') return;
    expect(r.version.tests).toEqual(v1.tests);
    expect(r.reloaded).toBe(true);
    expect(r.liveSnapshot).toBe(deps.holder.current().version);
    expect(r.liveSnapshot).toMatch(new RegExp(`^v${r.version.version}\\.`));
  });
});

describe('pushPolicy', () => {
  it('a push based on a version that is no longer the latest loses: ConflictError, audited as a conflict, nothing written', async () => {
    const latest = (await deps.store.latest())!;
    expect(latest.version).toBeGreaterThan(v1.version);
    const before = await versions();
    const meta = fresh();
    const err = await pushPolicy(deps, { auth, meta, base: v1, documents: edited(v1, 'late'), tests: v1.tests, type: 'policy.updated' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect(await versions()).toBe(before);
    expect(await eventsOf(meta)).toEqual([
      { type: 'policy.updated_refused', outcome: 'failure', actor_id: auth.principalId, request_id: meta.requestId, details: { reason: 'conflict', before: { version: v1.version, digest: v1.digest }, rollback_of: null } },
    ]);
  });

  it('a candidate that does not compile is refused with its issues (at most 20) in the event', async () => {
    const base = (await deps.store.latest())!;
    const rules = Array.from({ length: 25 }, (_, i) => `  - id: r${i}\n    effect: allow\n    roles: [nobody-${i}]\n    actions: [dataset:read]\n`).join('');
    const meta = fresh();
    const err = await pushPolicy(deps, { auth, meta, base, documents: { 'default.yaml': `rules:\n${rules}` }, tests: base.tests, type: 'policy.updated' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PolicyInvalidError);
    expect((err as PolicyInvalidError).issues.length).toBeGreaterThanOrEqual(25);
    const [e, more] = await eventsOf(meta);
    expect(more).toBeUndefined();
    expect(e!.type).toBe('policy.updated_refused');
    expect(e!.details).toMatchObject({ reason: 'policy_invalid', before: { version: base.version }, rollback_of: null });
    const issues = e!.details.issues as { rule: string }[];
    expect(issues).toHaveLength(20);
    expect(issues[0]).toMatchObject({ document: 'default.yaml', rule: 'r0', message: 'unknown role nobody-0' });
    expect(e!.details).not.toHaveProperty('failing_cases');
  });

  it('failing test files are refused with their failing cases (at most 20, file: case) in the event, also for a rollback', async () => {
    const base = (await deps.store.latest())!;
    const cases = Array.from({ length: 25 }, (_, i) => `  - name: case ${i + 1}\n    input: { principal: ann, dataset: d, columns: [a] }\n    expect: { effect: allow }\n`).join('');
    const file = `description: every case fails\npolicy: default\nnow: 2026-06-01T12:00:00Z\nprincipals:\n  ann: {}\ndatasets:\n  d: { project: p, classification: deidentified, purposes: [model-training], columns: [a] }\ncases:\n${cases}`;
    const meta = fresh();
    const err = await pushPolicy(deps, { auth, meta, base, documents: base.documents, tests: { ...base.tests, 'many.yaml': file }, rollbackOf: 1, type: 'policy.rolled_back' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PolicyTestsFailedError);
    expect((err as PolicyTestsFailedError).report.failures).toHaveLength(25);
    const [e, more] = await eventsOf(meta);
    expect(more).toBeUndefined();
    expect(e!.type).toBe('policy.rolled_back_refused');
    expect(e!.details).toMatchObject({ reason: 'policy_tests_failed', rollback_of: 1 });
    const failing = e!.details.failing_cases as string[];
    expect(failing).toHaveLength(20);
    expect(failing[0]).toBe('many.yaml: case 1');
    expect(failing[19]).toBe('many.yaml: case 20');
    expect(e!.details).not.toHaveProperty('issues');
  });
});

describe('rollbackPolicy', () => {
  it('checks If-Match before looking up the version: missing is 428 even for a version that does not exist, and audited with what was asked', async () => {
    const meta = fresh();
    const base = (await deps.store.latest())!;
    const err = await rollbackPolicy(deps, { auth, meta, ifMatch: undefined, version: 999 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PreconditionRequiredError);
    expect(await eventsOf(meta)).toEqual([
      { type: 'policy.rolled_back_refused', outcome: 'failure', actor_id: auth.principalId, request_id: meta.requestId, details: { reason: 'precondition', before: { version: base.version, digest: base.digest }, if_match: null, rollback_of: 999 } },
    ]);
  });

  it('with the current ETag, an unknown version is not found (and no refusal is recorded for it)', async () => {
    const meta = fresh();
    const err = await rollbackPolicy(deps, { auth, meta, ifMatch: policyEtag((await deps.store.latest())!), version: 999 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect(await eventsOf(meta)).toEqual([]);
  });

  it('restores the earlier content as a new version, commented with what it restores unless told otherwise', async () => {
    const base = (await deps.store.latest())!;
    const meta = fresh();
    const r = await rollbackPolicy(deps, { auth, meta, ifMatch: policyEtag(base), version: 1 });
    expect(r.status).toBe('applied');
    if (r.status !== 'applied') return;
    expect(r.version).toMatchObject({ version: base.version + 1, rollback_of: 1, digest: v1.digest, comment: 'rollback to version 1', author_id: auth.principalId });
    const [e, more] = await eventsOf(meta);
    expect(more).toBeUndefined();
    expect(e).toMatchObject({ type: 'policy.rolled_back', outcome: 'success' });
    expect(e!.details).toMatchObject({ before: { version: base.version }, after: { version: base.version + 1 }, rollback_of: 1, comment: 'rollback to version 1' });
    const told = await rollbackPolicy(deps, { auth, meta: fresh(), ifMatch: policyEtag(r.version), version: base.version, comment: 'undo the undo' });
    expect(told.status === 'applied' && told.version.comment).toBe('undo the undo');
  });
});

describe('validateCandidate', () => {
  it('runs the live test files when the candidate brings none, and only its own when it does', async () => {
    const live = (await deps.store.latest())!;
    const withLive = await validateCandidate(deps, { documents: live.documents });
    expect(withLive).toMatchObject({ valid: true, compiles: true, tests: { ok: true, files: Object.keys(live.tests).length } });
    const own = await validateCandidate(deps, { documents: live.documents, tests: {} });
    expect(own).toMatchObject({ valid: true, tests: { ok: true, files: 0, cases: 0 } });
    const broken = await validateCandidate(deps, { documents: { 'default.yaml': 'rules: [{ id: x }]' } });
    expect(broken).toMatchObject({ valid: false, compiles: false, tests: null });
    expect(broken.issues.length).toBeGreaterThan(0);
  });
});

describe('simulateCandidate', () => {
  const sim = (): SimulationDeps => ({ ...deps, replay: app.wired.app.policies.replay, facts: app.wired.app.policies.facts, limits: app.wired.app.policies.limits });

  it('refuses an empty range before replaying anything, and records no run', async () => {
    const at = app.clock.now();
    const meta = fresh();
    const err = await simulateCandidate(sim(), { auth, meta, documents: v1.documents, from: at, to: at, limit: 10, examples: 3 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).message).toBe('The range is empty.');
    expect(await eventsOf(meta)).toEqual([]);
  });

  it('replays the week before now by default; without audit:read no example is shown, and the run is recorded as such', async () => {
    const now = app.clock.now();
    const meta = fresh();
    const r = await simulateCandidate(sim(), { auth, meta, documents: v1.documents, limit: 10, examples: 3 });
    expect(r).toMatchObject({ to: now.toISOString(), from: new Date(now.getTime() - 7 * 86_400_000).toISOString(), examples_withheld: true, examples: [] });
    const [e] = await eventsOf(meta);
    expect(e).toMatchObject({ type: 'policy.simulated', actor_id: auth.principalId, details: { limit: 10, examples_withheld: true, from: r.from, to: r.to } });
  });
});
