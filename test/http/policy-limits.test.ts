/**
 * Expensive policy checks never stall the server. Over real HTTP, while
 * /healthz is polled: the condition
 * `request.columns.map(c, request.columns + … ).size() > 0` with 4,000 test
 * columns (seconds of work on the event loop before the caps) is refused by
 * the test-file caps with the file and case named; with 2,000 columns it is
 * refused by the condition cost budget; a candidate that passes every cap
 * but costs too much in total is stopped by the check worker's deadline; a
 * second expensive check (or a simulation) while the worker is busy is
 * refused at once; a
 * push with an oversized test file is refused and audited.
 *
 * The bound on /healthz: 500 ms. Unloaded it answers in a few milliseconds;
 * the attack held it for 5–15 s. 500 ms leaves room for a shared, busy
 * test machine (two cores, a load average near 18 when measured) and stays
 * far below the 1–2 s a load balancer's liveness probe typically waits.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { adminOf, startTestApp, type Person, type TestApp } from '../support/app.ts';

const HEALTHZ_BOUND_MS = 500;
const ATTACK = 'request.columns.map(c, request.columns + request.columns + request.columns + request.columns).size() > 0';

let app: TestApp;
let admin: Person;
let documents: Record<string, string>;
let etag: string;

beforeAll(async () => {
  // One worker, a three-second deadline (a cold worker checks the shipped policy in about one on a busy machine); a body limit large enough for the files.
  app = await startTestApp({ CUSTOS_POLICY_CHECK_TIMEOUT_MS: '3000', CUSTOS_POLICY_CHECK_WORKERS: '1', CUSTOS_POLICY_TESTS_MAX_CASES: '5000', CUSTOS_BODY_LIMIT: '2mb', CUSTOS_IDLE_TIMEOUT_SECONDS: '3600', CUSTOS_SESSION_TTL_SECONDS: '3600' });
  admin = await adminOf(app);
  const live = await app.call('GET', '/v1/policy', { token: admin.token });
  documents = live.body.documents;
  etag = live.headers.get('etag')!;
});
afterAll(async () => app?.close());

/** A test file adding one rule with `when`, and cases over the given principals. */
function testFile(o: { when: string; projects?: string[]; cases: { name: string; columns: string[] }[] }): string {
  return stringify({
    description: 'limits',
    policy: 'default',
    now: '2026-06-01T12:00:00Z',
    rules: [{ id: 'costly', effect: 'allow', roles: ['data-scientist'], actions: ['dataset:read'], resource: { classification: ['deidentified'] }, purposes: ['research'], when: o.when, columns: 'all' }],
    principals: { sam: { roles: [{ role: 'data-scientist', project: 'onc' }], projects: o.projects ?? ['onc'] } },
    // The dataset has every requested column: a request for unknown columns is denied before any condition runs.
    datasets: { d: { project: 'onc', classification: 'deidentified', purposes: ['research'], columns: [...new Set(o.cases.flatMap((c) => c.columns))] } },
    cases: o.cases.map((c) => ({ name: c.name, input: { principal: 'sam', dataset: 'd', purpose: 'research', columns: c.columns }, expect: { effect: 'allow' } })),
  });
}
const columns = (n: number) => Array.from({ length: n }, (_, i) => `c${i}`);

/** Runs `request` while polling /healthz; returns its answer and the slowest /healthz. */
async function whilePolling<T>(request: () => Promise<T>): Promise<{ answer: T; slowest: number; polls: number }> {
  let done = false;
  let slowest = 0;
  let polls = 0;
  const poller = (async () => {
    while (!done) {
      const t = performance.now();
      const r = await fetch(`${app.url}/healthz`);
      expect(r.status).toBe(200);
      await r.text();
      slowest = Math.max(slowest, performance.now() - t);
      polls++;
      await new Promise((res) => setTimeout(res, 10));
    }
  })();
  const started = performance.now();
  const answer = await request();
  // Keep polling a little after the answer, so a stall just after it would show too.
  while (performance.now() - started < 300) await new Promise((res) => setTimeout(res, 20));
  done = true;
  await poller;
  return { answer, slowest, polls };
}

const validate = (tests: Record<string, string>) => app.call('POST', '/v1/policy/validate', { token: admin.token, body: { documents, tests } });

describe('a policy check never stalls the server', () => {
  it('4,000 test columns: refused by the test-file caps, naming file and case; /healthz answers within 500 ms throughout', async () => {
    const file = testFile({ when: ATTACK, cases: [{ name: 'four thousand columns', columns: columns(4000) }] });
    const { answer: r, slowest, polls } = await whilePolling(() => validate({ 'attack.yaml': file }));
    expect(r.status, JSON.stringify(r.body).slice(0, 500)).toBe(422);
    expect(r.body.code, r.body.detail).toBe('policy_tests_too_large');
    expect(r.body.issues).toEqual([
      { file: 'attack.yaml', case: null, message: 'dataset d has 4000 columns; at most 2000' },
      { file: 'attack.yaml', case: 'four thousand columns', message: 'input.columns has 4000 columns; at most 2000 per case' },
    ]);
    expect(polls).toBeGreaterThan(3);
    expect(slowest).toBeLessThanOrEqual(HEALTHZ_BOUND_MS);
  });

  it('2,000 test columns (within the caps): the condition is refused by its cost budget, naming the rule', async () => {
    const file = testFile({ when: ATTACK, cases: [{ name: 'two thousand columns', columns: columns(2000) }] });
    const { answer: r, slowest } = await whilePolling(() => validate({ 'attack.yaml': file }));
    expect(r.status, JSON.stringify(r.body).slice(0, 500)).toBe(200);
    expect(r.body).toMatchObject({ valid: false, compiles: true, tests: { ok: false } });
    expect(r.body.tests.failures).toEqual([
      expect.objectContaining({ file: 'attack.yaml', case: null, message: expect.stringMatching(/^the policy does not compile: attack\.yaml#rules › costly › when: too expensive: .*exceeds the budget of 1000000/) }),
    ]);
    expect(slowest).toBeLessThanOrEqual(HEALTHZ_BOUND_MS);
  });

  it('a candidate within every cap but too costly in total is stopped at the worker deadline (422), and a second one meanwhile is refused (503)', async () => {
    // 775 memberships: the condition is just under its budget for each case (a few ms of work on an idle machine,
    // 20–70 ms on a loaded one); 5,000 cases of it (the case cap is raised for this app) take far longer than the
    // 3 s deadline on any machine this runs on, so only the deadline can end the check.
    const projects = Array.from({ length: 775 }, (_, i) => `p${i}`);
    const file = testFile({ when: 'principal.projects.all(p, p in principal.projects)', projects, cases: Array.from({ length: 5000 }, (_, i) => ({ name: `case ${i}`, columns: ['x'] })) });
    const started = performance.now();
    const { answer, slowest } = await whilePolling(async () => {
      const first = validate({ 'slow.yaml': file });
      // Once the only worker is taken (not after a guessed delay: reading the request may take a while on a
      // loaded machine), a second check is refused at once, not queued.
      const checker = app.wired.app.policies.checker;
      while (checker.inFlight === 0) await new Promise((res) => setTimeout(res, 5));
      const second = await validate({ 'slow.yaml': file });
      // A simulation decides in the same workers: refused too while they are taken.
      const simulation = await app.call('POST', '/v1/policy/simulate', { token: admin.token, body: { documents } });
      return [await first, second, simulation] as const;
    });
    const [r, busy, simulation] = answer;
    expect(simulation.status, JSON.stringify(simulation.body)).toBe(503);
    expect(simulation.body.code).toBe('policy_check_busy');
    expect(r.status, JSON.stringify(r.body).slice(0, 500)).toBe(422);
    expect(r.body.code).toBe('policy_check_limit');
    expect(r.body.detail).toMatch(/ran longer than 3000 ms and was stopped \(CUSTOS_POLICY_CHECK_TIMEOUT_MS\)/);
    expect(busy.status, JSON.stringify(busy.body)).toBe(503);
    expect(busy.body.code).toBe('policy_check_busy');
    expect(performance.now() - started).toBeLessThan(15_000);
    expect(slowest).toBeLessThanOrEqual(HEALTHZ_BOUND_MS);
  });

  it('a push with a test file over a cap is refused before anything runs, and audited', async () => {
    const file = testFile({ when: 'true', cases: [{ name: 'four thousand columns', columns: columns(4000) }] });
    const r = await app.call('PUT', '/v1/policy', { token: admin.token, body: { documents, tests: { 'attack.yaml': file } }, headers: { 'if-match': etag } });
    expect(r.status, JSON.stringify(r.body).slice(0, 500)).toBe(422);
    expect(r.body.code).toBe('policy_tests_too_large');
    expect(r.body.issues).toContainEqual({ file: 'attack.yaml', case: 'four thousand columns', message: 'input.columns has 4000 columns; at most 2000 per case' });
    expect((await app.call('GET', '/v1/policy', { token: admin.token })).body.version).toBe(1);
    const [ev] = await app.wired.app.audit.recent({ type: 'policy.updated_refused', actorId: admin.id, limit: 1 });
    expect(ev).toMatchObject({ outcome: 'failure', details: { reason: 'policy_tests_too_large', before: { version: 1 } } });
  });
});
