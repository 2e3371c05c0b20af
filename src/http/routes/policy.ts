/**
 * Policy administration: the live version with its ETag, edits under
 * If-Match (no lost updates), validation, history, diffs, rollback and
 * impact simulation. Edits need `policy:write` and a fresh second factor;
 * they are gated by the policy's own test files and audited with before and
 * after. Reads, validation and simulation need `policy:read`; a
 * simulation's examples are logged requests and need `audit:read` as well,
 * and every simulation is audited. Checks and simulations run in worker
 * threads under the limits of CUSTOS_POLICY_CHECK_*. The rules are in the
 * operations of src/policy/ (updatePolicy, rollbackPolicy, pushPolicy,
 * validateCandidate, simulateCandidate).
 */
import { z } from 'zod';
import type { PolicyDeps } from '../../policy/deps.ts';
import { latestVersion } from '../../policy/deps.ts';
import { diffPolicies } from '../../policy/diff.ts';
import type { PushPolicyResult } from '../../policy/pushPolicy.ts';
import { rollbackPolicy } from '../../policy/rollbackPolicy.ts';
import { simulateCandidate, type SimulationDeps } from '../../policy/simulateCandidate.ts';
import { policyEtag, type PolicyVersion } from '../../policy/store.ts';
import { updatePolicy } from '../../policy/updatePolicy.ts';
import { validateCandidate } from '../../policy/validateCandidate.ts';
import type { AppDeps } from '../deps.ts';
import { defineRoute, storableText, type AnyRoute, type ResponseSpec, type RouteResult } from '../route.ts';
import { Change, pendingAnswer } from './changes.ts';
import { PolicyDiffBody, PushedVersion, SimulationBody, ValidationBody, VersionBody, VersionPage } from './policySchemas.ts';

const read = { kind: 'permission', permission: 'policy:read' } as const;
const write = { kind: 'permission', permission: 'policy:write', stepUp: true } as const;

const FileName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}\.ya?ml$/, 'a file name like default.yaml');
const Files = z.record(FileName, storableText(2_000_000)).refine((f) => Object.keys(f).length <= 200, 'at most 200 files');
const Documents = Files.refine((f) => Object.keys(f).length >= 1, 'at least one rule document');
const VersionNumber = z.coerce.number().int().min(1).max(2_147_483_647);

/** Largest number of logged requests one simulation replays. */
export const SIMULATION_MAX = 100_000;

const PolicyEdit = z.strictObject({
  documents: Documents.describe('rule documents by file name (YAML text)'),
  tests: Files.optional().describe('policy test files by name; omitted: keep the current ones'),
  comment: storableText(2000).optional(),
});

/** The answers of an edit or a rollback that passed its gate. */
const pushed: Record<200 | 202, ResponseSpec> = {
  200: { description: 'The new version, in force', schema: PushedVersion, headers: ['ETag'] },
  202: { description: 'Held for a second administrator: the push changes or removes test files (the pending change)', schema: Change, headers: ['Location'] },
};

/** The version as the API shows it. */
function show(v: PolicyVersion, live?: string) {
  return { ...v, etag: policyEtag(v), ...(live ? { live_snapshot: live } : {}) };
}

/** The answer of a push: the new version with its ETag, or 202 with the held change. */
function pushAnswer(r: PushPolicyResult, now: Date): RouteResult {
  if (r.status === 'pending') return pendingAnswer(r.change, now);
  return { headers: { ETag: policyEtag(r.version) }, body: { ...show(r.version, r.liveSnapshot), changed_rules: r.changedRules, reloaded: r.reloaded } };
}

/** The If-Match header (node joins repeated ones into one list). */
const ifMatchOf = (headers: { 'if-match'?: string | undefined }) => headers['if-match'];

/** All policy routes. */
export function policyRoutes(deps: AppDeps): AnyRoute[] {
  const { store } = deps.policies;
  const holder = deps.decisions.policy;
  const ops: PolicyDeps = { store, checker: deps.policies.checker, catalog: deps.catalog, changes: deps.changes, audit: deps.audit, clock: deps.clock, holder };
  const simulation: SimulationDeps = { ...ops, replay: deps.policies.replay, facts: deps.policies.facts, limits: deps.policies.limits };

  return [
    defineRoute({
      method: 'get',
      path: '/v1/policy',
      summary: 'The live policy version: rule documents, test files, author, time (with an ETag)',
      tag: 'policy',
      auth: read,
      responses: { 200: { description: 'The latest version', schema: VersionBody, headers: ['ETag'] } },
      handler: async () => {
        const v = await latestVersion(store);
        return { headers: { ETag: policyEtag(v) }, body: show(v, holder.current().version) };
      },
    }),
    defineRoute({
      method: 'put',
      path: '/v1/policy',
      summary: 'Create the next policy version (If-Match required; the candidate must compile and pass its tests)',
      tag: 'policy',
      auth: write,
      ifMatch: 'required',
      body: PolicyEdit,
      responses: {
        ...pushed,
        409: { description: 'Missing or stale If-Match, or a concurrent edit won' },
        422: { description: 'The policy does not compile (`issues`), its tests fail (`failures`), a test file is over a cap, or the check ran out of time or memory' },
        503: { description: 'Every policy check worker is busy (`policy_check_busy`), or the audit log cannot record the edit (`audit_unavailable`)' },
      },
      handler: async ({ body, auth, meta, headers }) =>
        pushAnswer(await updatePolicy(ops, { auth: auth!, meta, ifMatch: ifMatchOf(headers), documents: body.documents, tests: body.tests, comment: body.comment }), deps.clock.now()),
    }),
    defineRoute({
      method: 'post',
      path: '/v1/policy/validate',
      summary: 'Compile a candidate policy and run its tests, without saving',
      tag: 'policy',
      auth: read,
      body: PolicyEdit,
      changesFacts: false,
      responses: {
        200: { description: '`valid`, the issues (document, rule, field) and the test report', schema: ValidationBody },
        422: { description: 'Test files over a cap (`policy_tests_too_large`, with file and case), or the check ran out of time or memory (`policy_check_limit`)' },
        503: { description: 'Every policy check worker is busy (`policy_check_busy`)' },
      },
      handler: async ({ body }) => ({ body: await validateCandidate(ops, { documents: body.documents, tests: body.tests }) }),
    }),
    defineRoute({
      method: 'get',
      path: '/v1/policy/versions',
      summary: 'Policy history, newest first',
      tag: 'policy',
      auth: read,
      query: z.strictObject({ limit: z.coerce.number().int().min(1).max(200).default(50), cursor: z.string().regex(/^\d{1,10}$/).optional() }),
      responses: { 200: { description: 'A page of versions (file names, not their contents)', schema: VersionPage } },
      handler: async ({ query }) => ({ body: await store.list({ limit: query.limit, before: query.cursor === undefined ? undefined : Number(query.cursor) }) }),
    }),
    defineRoute({
      method: 'get',
      path: '/v1/policy/versions/:n',
      summary: 'One policy version',
      tag: 'policy',
      auth: read,
      params: z.strictObject({ n: VersionNumber }),
      responses: { 200: { description: 'The version', schema: VersionBody, headers: ['ETag'] }, 404: { description: 'No such version' } },
      handler: async ({ params }) => {
        const v = await store.get(params.n);
        return { headers: { ETag: policyEtag(v) }, body: show(v) };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/policy/diff',
      summary: 'What changed between two versions: rules added, removed and changed per document, and unified diffs',
      tag: 'policy',
      auth: read,
      query: z.strictObject({ from: VersionNumber, to: VersionNumber.optional().describe('default: the latest') }),
      responses: { 200: { description: 'The differences', schema: PolicyDiffBody }, 404: { description: 'No such version' } },
      handler: async ({ query }) => {
        const [a, b] = await Promise.all([store.get(query.from), query.to === undefined ? latestVersion(store) : store.get(query.to)]);
        return { body: { from: a.version, to: b.version, ...diffPolicies(a, b) } };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/v1/policy/rollback',
      summary: 'Create a new version whose content equals an earlier one (If-Match required; gated by its tests like any edit)',
      tag: 'policy',
      auth: write,
      ifMatch: 'required',
      body: z.strictObject({ version: z.number().int().min(1), comment: storableText(2000).optional() }),
      responses: {
        ...pushed,
        404: { description: 'No such version' },
        409: { description: 'Stale If-Match, or a concurrent edit won' },
        422: { description: 'The earlier version no longer compiles or passes its tests (e.g. against today’s role graph)' },
        428: { description: 'If-Match is missing: a rollback names the version it replaces, like any edit (`precondition_required`)' },
        503: { description: 'Every policy check worker is busy (`policy_check_busy`), or the audit log cannot record the rollback (`audit_unavailable`)' },
      },
      handler: async ({ body, auth, meta, headers }) =>
        pushAnswer(await rollbackPolicy(ops, { auth: auth!, meta, ifMatch: ifMatchOf(headers), version: body.version, comment: body.comment }), deps.clock.now()),
    }),
    defineRoute({
      method: 'post',
      path: '/v1/policy/simulate',
      summary: 'Replay logged decision requests against a candidate and the live policy; report the decisions that would flip',
      tag: 'policy',
      auth: read,
      changesFacts: false,
      body: z.strictObject({
        documents: Documents,
        from: z.iso.datetime({ offset: true }).optional().describe('default: 7 days before `to`'),
        to: z.iso.datetime({ offset: true }).optional().describe('default: now'),
        limit: z.number().int().min(1).max(SIMULATION_MAX).default(SIMULATION_MAX),
        examples: z.number().int().min(0).max(20).default(3),
      }),
      responses: {
        200: { description: 'Flip counts by direction, grouped by rule, principal and dataset; examples (logged requests) only for a caller who may read the decision log (`audit:read`)', schema: SimulationBody },
        400: { description: 'An empty range, or one wider than CUSTOS_POLICY_SIMULATION_MAX_WINDOW_SECONDS' },
        422: { description: 'The candidate does not compile, or a batch ran out of time or memory (`policy_check_limit`)' },
        503: { description: 'Every policy check worker is busy (`policy_check_busy`)' },
      },
      handler: async ({ body, auth, meta }) => ({
        body: await simulateCandidate(simulation, {
          auth: auth!,
          meta,
          documents: body.documents,
          from: body.from === undefined ? undefined : new Date(body.from),
          to: body.to === undefined ? undefined : new Date(body.to),
          limit: body.limit,
          examples: body.examples,
        }),
      }),
    }),
  ];
}
