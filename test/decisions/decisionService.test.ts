/**
 * The decision service's two halves without a database (a fake log, facts
 * in memory, the shipped policy): `evaluate` loads facts and decides and
 * writes nothing; `record` commits the decision with what is attached to it
 * and resolves only once committed; `makeDecision(s)` is the one after the
 * other, and a batch with an unknown principal or dataset records nothing.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { PrincipalFacts } from '../../src/engine/types.ts';
import { NotFoundError, UnavailableError } from '../../src/errors.ts';
import { evaluate, evaluateAll, type DecisionRequest } from '../../src/decisions/evaluate.ts';
import { makeDecision, makeDecisions } from '../../src/decisions/makeDecision.ts';
import { record } from '../../src/decisions/record.ts';
import { deferred } from '../support/deferred.ts';
import { AT, fakeDecisions, type FakeDecisions } from '../support/decisionService.ts';

const SCI = 'a0000000-0000-4000-8000-000000000001';
const scientist: PrincipalFacts = {
  id: SCI, kind: 'user', status: 'active', projects: ['onc'], vendorId: null, baas: [], attributes: {}, roles: [{ role: 'data-scientist', project: 'onc' }], grants: [],
};
const ask = (over: Partial<DecisionRequest> = {}): DecisionRequest => ({ principalId: SCI, datasetId: 'onc-notes', action: 'dataset:read', purpose: 'model-training', columns: ['note_text'], ...over });
const attachments = { callerId: 'a0000000-0000-4000-8000-0000000000ee', requestId: 'req-1', release: true };

let service: FakeDecisions;
beforeEach(() => {
  service = fakeDecisions(
    [scientist],
    [{ id: 'onc-notes', project: 'onc', owner: SCI, classification: 'phi', purposes: ['model-training'], audience: 'urn:custos:dataset:onc-notes', columns: [{ name: 'note_text' }, { name: 'patient_name', category: 'names' }] }],
  );
});

describe('evaluate', () => {
  it('decides on the facts at the clock\'s time, and records nothing', async () => {
    const e = await evaluate(service.deps, ask());
    expect(e.at).toEqual(new Date(AT));
    expect(e.input).toMatchObject({ now: AT, principal: scientist, dataset: { id: 'onc-notes' }, columns: ['note_text'] });
    expect(e.decision).toMatchObject({ effect: 'allow', grantedColumns: ['note_text'], policyVersion: 'shipped' });
    expect(e.latencyUs).toBeGreaterThanOrEqual(0);
    expect(service.deps.log.appended).toEqual([]);
  });

  it('an unknown principal or dataset is a NotFoundError', async () => {
    await expect(evaluate(service.deps, ask({ principalId: 'a0000000-0000-4000-8000-00000000ffff' }))).rejects.toThrow(NotFoundError);
    await expect(evaluate(service.deps, ask({ datasetId: 'nope' }))).rejects.toThrow('Dataset nope was not found.');
  });

  it('a batch decides every request at one time, and fails whole on an unknown dataset', async () => {
    const all = await evaluateAll(service.deps, [ask(), ask({ columns: ['patient_name'] })]);
    expect(all.map((e) => e.decision.effect)).toEqual(['allow', 'deny']);
    expect(all[0]!.at).toBe(all[1]!.at);
    await expect(evaluateAll(service.deps, [ask(), ask({ datasetId: 'nope' })])).rejects.toThrow(NotFoundError);
  });
});

describe('record', () => {
  it('commits the decision with its attachments and resolves with the record only once committed', async () => {
    const e = await evaluate(service.deps, ask());
    const commit = deferred();
    service.deps.log.hold = commit.promise;
    let done = false;
    const pending = record(service.deps, e, attachments).then((r) => ((done = true), r));
    await new Promise((r) => setTimeout(r, 10));
    expect(done).toBe(false);
    commit.resolve();
    const r = await pending;
    expect(r).toEqual({ id: expect.any(String), at: e.at, requestId: 'req-1', callerId: attachments.callerId, input: e.input, decision: e.decision, latencyUs: e.latencyUs, token: undefined, release: true });
    expect(service.deps.log.records).toEqual([r]);
  });

  it('rejects when the record cannot be committed', async () => {
    const e = await evaluate(service.deps, ask());
    service.deps.log.fail = new UnavailableError();
    await expect(record(service.deps, e, attachments)).rejects.toThrow(UnavailableError);
    expect(service.deps.log.records).toEqual([]);
  });

  it('refuses to record a token on a deny (nothing is appended)', async () => {
    const e = await evaluate(service.deps, ask({ columns: ['patient_name'] }));
    expect(e.decision.effect).toBe('deny');
    const token = { jti: 'j', expiresAt: new Date(AT + 60_000), job: { job_id: 'x' } };
    await expect(record(service.deps, e, { ...attachments, token })).rejects.toThrow('a token was attached to a deny');
    expect(service.deps.log.appended).toEqual([]);
  });
});

describe('makeDecision and makeDecisions', () => {
  it('evaluate then record: one committed record per decision, with the caller\'s release flag', async () => {
    const one = await makeDecision(service.deps, ask(), { ...attachments, release: false });
    expect(one).toMatchObject({ decision: { effect: 'allow' }, release: false });
    const batch = await makeDecisions(service.deps, [ask(), ask({ columns: ['patient_name'] })], attachments);
    expect(batch.map((r) => [r.decision.effect, r.release])).toEqual([['allow', true], ['deny', true]]);
    expect(service.deps.log.records).toEqual([one, ...batch]);
  });

  it('a batch naming an unknown principal records nothing', async () => {
    await expect(makeDecisions(service.deps, [ask(), ask({ principalId: 'a0000000-0000-4000-8000-00000000ffff' })], attachments)).rejects.toThrow(NotFoundError);
    expect(service.deps.log.appended).toEqual([]);
  });
});
