/**
 * Policy administration: the live version with its ETag, edits under
 * If-Match (no lost updates), validation, history, diffs, rollback and
 * impact simulation. Edits need `policy:write` and a fresh second factor;
 * they are gated by the policy's own test files and audited with before and
 * after. Reads, validation and simulation need `policy:read`; a
 * simulation's examples are logged requests and need `audit:read` as well,
 * and every simulation is audited. Checks and simulations run in worker
 * threads under the limits of CUSTOS_POLICY_CHECK_*.
 */
import { z } from 'zod';
import type { RequestMeta } from '../../audit/log.ts';
import type { AuthContext } from '../../auth/context.ts';
import { holdPolicyPush } from '../../changes/holdPolicyPush.ts';
import { ConflictError, CustosError, PreconditionRequiredError, ValidationError } from '../../errors.ts';
import { compilePolicy, PolicyInvalidError } from '../../policy/compile.ts';
import { diffPolicies } from '../../policy/diff.ts';
import { sourcesOf } from '../../policy/loadLivePolicy.ts';
import { roleGraph } from '../../policy/loadPolicy.ts';
import { simulatePolicy } from '../../policy/simulate.ts';
import { policyEtag, type PolicyFiles, type PolicyVersion } from '../../policy/store.ts';
import type { AppDeps } from '../deps.ts';
import { defineRoute, storableText, type AnyRoute } from '../route.ts';
import { pendingAnswer } from './changes.ts';

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

const VersionBody = z.object({
  version: z.number(),
  digest: z.string(),
  documents: z.record(z.string(), z.string()),
  tests: z.record(z.string(), z.string()),
  author_id: z.string().nullable(),
  created_at: z.string(),
  comment: z.string().nullable(),
  rollback_of: z.number().nullable(),
});

/** The version as the API shows it. */
function show(v: PolicyVersion, live?: string) {
  return { ...v, etag: policyEtag(v), ...(live ? { live_snapshot: live } : {}) };
}

/** All policy routes. */
export function policyRoutes(deps: AppDeps): AnyRoute[] {
  const { store } = deps.policies;
  const holder = deps.decisions.policy;

  const latest = async (): Promise<PolicyVersion> => {
    const v = await store.latest();
    // The store is seeded at start-up; an empty one means start-up has not finished.
    if (!v) throw new ConflictError('No policy version exists yet.');
    return v;
  };

  const refuse = (auth: AuthContext, meta: RequestMeta, type: string, details: Record<string, unknown>) =>
    deps.audit.record({ type, outcome: 'failure', actorId: auth.principalId, meta, details });

  /** Gates, stores and announces a new version; audits the outcome either way. */
  const push = async (o: { auth: AuthContext; meta: RequestMeta; base: PolicyVersion; documents: PolicyFiles; tests: PolicyFiles; comment?: string | undefined; rollbackOf?: number; type: string }) => {
    const before = { version: o.base.version, digest: o.base.digest };
    const roles = await roleGraph(deps.catalog);
    try {
      await deps.policies.checker.assertPasses({ documents: o.documents, tests: o.tests, roles });
    } catch (err) {
      if (err instanceof CustosError) {
        const failures = (err as { report?: { failures: { file: string; case: string | null }[] } }).report?.failures;
        await refuse(o.auth, o.meta, `${o.type}_refused`, {
          reason: err.code,
          before,
          ...(err instanceof PolicyInvalidError ? { issues: err.issues.slice(0, 20) } : {}),
          ...(failures ? { failing_cases: failures.slice(0, 20).map((f) => `${f.file}: ${f.case ?? '(file)'}`) } : {}),
          rollback_of: o.rollbackOf ?? null,
        });
      }
      throw err;
    }
    // A passing push that changes or removes test files waits for a second administrator (src/changes/holdPolicyPush.ts).
    const held = await holdPolicyPush(deps.changes, o);
    if (held) return pendingAnswer(held, deps.clock.now());
    let created: PolicyVersion;
    let changedRules: string[] = [];
    try {
      // The new version and its audit event commit together, or neither does.
      created = await store.create({ basedOn: o.base.version, documents: o.documents, tests: o.tests, authorId: o.auth.principalId, comment: o.comment ?? null, rollbackOf: o.rollbackOf ?? null, at: deps.clock.now() }, (tx, v) => {
        changedRules = diffPolicies(o.base, v).changed_rules;
        return deps.audit.recordIn(tx, {
          type: o.type,
          outcome: 'success',
          actorId: o.auth.principalId,
          meta: o.meta,
          details: { before, after: { version: v.version, digest: v.digest }, changed_rules: changedRules, rollback_of: o.rollbackOf ?? null, comment: o.comment ?? null },
        });
      });
    } catch (err) {
      if (err instanceof ConflictError) await refuse(o.auth, o.meta, `${o.type}_refused`, { reason: 'conflict', before, rollback_of: o.rollbackOf ?? null });
      throw err;
    }
    // This replica swaps at once; the others on the NOTIFY of the insert.
    const reloaded = await holder.reload();
    return {
      headers: { ETag: policyEtag(created) },
      body: { ...show(created, holder.current().version), changed_rules: changedRules, reloaded: reloaded.ok },
    };
  };

  const ifMatch = (header: string | undefined, current: PolicyVersion) => {
    if (!header) throw new ConflictError(`An edit must send If-Match with the ETag of the version it is based on (current: ${policyEtag(current)}).`);
    const tags = header.split(',').map((t) => t.trim());
    if (!tags.includes(policyEtag(current))) throw new ConflictError(`The policy has changed since you read it (current: ${policyEtag(current)}): reload it and reapply your edit.`);
  };

  return [
    defineRoute({
      method: 'get',
      path: '/v1/policy',
      summary: 'The live policy version: rule documents, test files, author, time (with an ETag)',
      tag: 'policy',
      auth: read,
      responses: { 200: { description: 'The latest version', schema: VersionBody } },
      handler: async () => {
        const v = await latest();
        return { headers: { ETag: policyEtag(v) }, body: show(v, holder.current().version) };
      },
    }),
    defineRoute({
      method: 'put',
      path: '/v1/policy',
      summary: 'Create the next policy version (If-Match required; the candidate must compile and pass its tests)',
      tag: 'policy',
      auth: write,
      body: PolicyEdit,
      responses: {
        200: { description: 'The new version', schema: VersionBody },
        202: { description: 'Held for a second administrator: the push changes or removes test files (a pending change)' },
        409: { description: 'Missing or stale If-Match, or a concurrent edit won' },
        422: { description: 'The policy does not compile (`issues`) or its tests fail (`failures`)' },
      },
      handler: async ({ body, auth, meta, headers }) => {
        const base = await latest();
        try {
          ifMatch(headers['if-match'], base);
        } catch (err) {
          await refuse(auth!, meta, 'policy.update_refused', { reason: 'precondition', before: { version: base.version, digest: base.digest }, if_match: headers['if-match']?.slice(0, 100) ?? null });
          throw err;
        }
        return push({ auth: auth!, meta, base, documents: body.documents, tests: body.tests ?? base.tests, comment: body.comment, type: 'policy.updated' });
      },
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
        200: { description: '`valid`, the issues (document, rule, field) and the test report' },
        422: { description: 'Test files over a cap (`policy_tests_too_large`, with file and case), or the check ran out of time or memory (`policy_check_limit`)' },
        503: { description: 'Every policy check worker is busy (`policy_check_busy`)' },
      },
      handler: async ({ body }) => {
        const base = await latest();
        // In a worker with a deadline and a heap limit: a costly candidate never stalls the server.
        const r = await deps.policies.checker.check({ documents: body.documents, tests: body.tests ?? base.tests, roles: await roleGraph(deps.catalog) });
        return { body: { valid: r.compiles && (r.tests?.ok ?? false), compiles: r.compiles, rules: r.rules, issues: r.issues, tests: r.tests } };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/policy/versions',
      summary: 'Policy history, newest first',
      tag: 'policy',
      auth: read,
      query: z.strictObject({ limit: z.coerce.number().int().min(1).max(200).default(50), cursor: z.string().regex(/^\d{1,10}$/).optional() }),
      responses: { 200: { description: 'A page of versions (without file contents)' } },
      handler: async ({ query }) => ({ body: await store.list({ limit: query.limit, before: query.cursor === undefined ? undefined : Number(query.cursor) }) }),
    }),
    defineRoute({
      method: 'get',
      path: '/v1/policy/versions/:n',
      summary: 'One policy version',
      tag: 'policy',
      auth: read,
      params: z.strictObject({ n: VersionNumber }),
      responses: { 200: { description: 'The version', schema: VersionBody }, 404: { description: 'No such version' } },
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
      query: z.strictObject({ from: VersionNumber, to: VersionNumber.optional() }),
      responses: { 200: { description: 'The differences' }, 404: { description: 'No such version' } },
      handler: async ({ query }) => {
        const [a, b] = await Promise.all([store.get(query.from), query.to === undefined ? latest() : store.get(query.to)]);
        return { body: { from: a.version, to: b.version, ...diffPolicies(a, b) } };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/v1/policy/rollback',
      summary: 'Create a new version whose content equals an earlier one (gated by its tests like any edit)',
      tag: 'policy',
      auth: write,
      body: z.strictObject({ version: z.number().int().min(1), comment: storableText(2000).optional() }),
      responses: {
        200: { description: 'The new version', schema: VersionBody },
        202: { description: 'Held for a second administrator: the rollback changes or removes test files (a pending change)' },
        404: { description: 'No such version' },
        409: { description: 'Stale If-Match, or a concurrent edit won' },
        428: { description: 'If-Match is missing: a rollback names the version it replaces, like any edit' },
        422: { description: 'The earlier version no longer compiles or passes its tests (e.g. against today’s role graph)' },
      },
      handler: async ({ body, auth, meta, headers }) => {
        const base = await latest();
        // Like PUT: a rollback replaces the version its author saw, never one edited since (no lost update).
        try {
          if (headers['if-match'] === undefined) throw new PreconditionRequiredError(`A rollback must send If-Match with the ETag of the version it replaces (current: ${policyEtag(base)}).`);
          ifMatch(headers['if-match'], base);
        } catch (err) {
          await refuse(auth!, meta, 'policy.rolled_back_refused', { reason: 'precondition', before: { version: base.version, digest: base.digest }, if_match: headers['if-match']?.slice(0, 100) ?? null, rollback_of: body.version });
          throw err;
        }
        const target = await store.get(body.version);
        return push({ auth: auth!, meta, base, documents: target.documents, tests: target.tests, comment: body.comment ?? `rollback to version ${target.version}`, rollbackOf: target.version, type: 'policy.rolled_back' });
      },
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
        200: { description: 'Flip counts by direction, grouped by rule, principal and dataset; examples (logged requests) only for a caller who may read the decision log (`audit:read`)' },
        400: { description: 'An empty range, or one wider than CUSTOS_POLICY_SIMULATION_MAX_WINDOW_SECONDS' },
        422: { description: 'The candidate does not compile, or a batch ran out of time or memory (`policy_check_limit`)' },
        503: { description: 'Every policy check worker is busy (`policy_check_busy`)' },
      },
      handler: async ({ body, auth, meta }) => {
        const now = deps.clock.now();
        const to = body.to ? new Date(body.to) : now;
        const from = body.from ? new Date(body.from) : new Date(to.getTime() - 7 * 86_400_000);
        if (from >= to) throw new ValidationError('The range is empty.', [{ path: 'body.from', message: 'must be before `to`' }]);
        const maxWindow = deps.policies.limits.simulationMaxWindowSeconds;
        // A replay reads the decision log: its range is bounded like any log query's cost.
        if (to.getTime() - from.getTime() > maxWindow * 1000) throw new ValidationError(`The range is wider than ${maxWindow} seconds.`, [{ path: 'body.from', message: `at most ${maxWindow} seconds before \`to\`` }]);
        // Examples are logged requests (who asked for what, when): a read of the decision log, so they need audit:read.
        const mayReadLog = auth!.permissions.has('audit:read');
        const roles = await roleGraph(deps.catalog);
        // Compiled here for its issues (422); decided in a worker, batch by batch, under the check deadline.
        const candidate = compilePolicy({ documents: sourcesOf(body.documents), roles, version: 'candidate', conditionLimits: deps.policies.limits.condition });
        const [base, liveVersion] = [await latest(), holder.current().version];
        const report = await deps.policies.checker.simulate({ live: { documents: base.documents, roles, version: liveVersion }, candidate: { documents: body.documents, roles, version: candidate.version } }, (decide) =>
          simulatePolicy({ source: deps.policies.replay, facts: deps.policies.facts, decide, liveVersion, candidateVersion: candidate.version, from, to, limit: body.limit, now, examples: mayReadLog ? body.examples : 0 }),
        );
        // §164.312(b) audit controls: a what-if over logged decisions is itself a trace, answered only once recorded.
        await deps.audit.record({
          type: 'policy.simulated',
          outcome: 'success',
          actorId: auth!.principalId,
          meta,
          details: {
            from: report.from,
            to: report.to,
            limit: body.limit,
            replayed: report.replayed,
            skipped: report.skipped,
            truncated: report.truncated,
            unchanged: report.unchanged,
            flips: report.flips,
            examples: report.examples.length,
            examples_withheld: !mayReadLog,
            live_version: report.live_version,
            candidate_rules: candidate.rules.length,
          },
        });
        return { body: { ...report, examples_withheld: !mayReadLog } };
      },
    }),
  ];
}
