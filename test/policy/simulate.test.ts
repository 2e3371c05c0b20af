/**
 * Impact simulation of a candidate policy: logged requests are replayed
 * against the live and the candidate policy with today's facts, each at its
 * logged time, and the flips are counted overall and by rule, principal and
 * dataset, with a few examples. The log source and the facts are given as
 * tables here (simulatePolicy reads them only through their interfaces).
 */
import { describe, expect, it } from 'vitest';
import type { FactsStore } from '../../src/decisions/facts.ts';
import type { DatasetFacts, PrincipalFacts } from '../../src/engine/types.ts';
import { decide } from '../../src/engine/decide.ts';
import type { PolicySnapshot } from '../../src/engine/snapshot.ts';
import { simulatePolicy, type DecideBoth, type LoggedRequest, type LoggedRequestSource, type SimulatePolicyOptions } from '../../src/policy/simulate.ts';
import { dataset, grant, HOUR, NOW, principal, role, snapshotOf } from '../engine/support.ts';

const allowRule = (id: string, extra = '') => `  - id: ${id}\n    effect: allow\n    roles: [data-scientist]\n    actions: [dataset:read]\n${extra}`;
/** Live: data scientists read every de-identified dataset. */
const LIVE = snapshotOf(`rules:\n${allowRule('read-all')}`);
/** Candidate: only d1 (rule read-d1), and system administrators are denied (deny-admins). */
const CANDIDATE = snapshotOf(
  `rules:\n${allowRule('read-d1', '    resource: { datasets: [d1] }\n')}  - id: deny-admins\n    effect: deny\n    roles: [system-administrator]\n    actions: [dataset:read]\n  - id: ops-read\n    effect: allow\n    roles: [approver]\n    actions: [dataset:read]\n`,
);

const people = new Map<string, PrincipalFacts>([
  ['sci', principal('sci', { roles: [role('data-scientist')] })],
  ['adm', principal('adm', { roles: [role('data-scientist'), role('system-administrator')] })],
  ['apr', principal('apr', { roles: [role('approver')] })],
  // Holds data-scientist only through a grant that ends at NOW: requests logged before then were decided with it.
  ['tmp', principal('tmp', { grants: [grant('g1', { notBefore: NOW - 2 * HOUR, expiresAt: NOW })] })],
]);
const sets = new Map<string, DatasetFacts>([
  ['d1', dataset('d1')],
  ['d2', dataset('d2')],
]);

/** Facts by id, counting reads and recording the time they were read at. */
function factsOf(): FactsStore & { reads: string[]; at: Date[] } {
  const reads: string[] = [];
  const at: Date[] = [];
  return {
    reads,
    at,
    async principal(id, now) {
      reads.push(`p:${id}`);
      at.push(now);
      return people.get(id);
    },
    async dataset(id, now) {
      reads.push(`d:${id}`);
      at.push(now);
      return sets.get(id);
    },
  };
}

let seq = 0;
const req = (principalId: string, datasetId: string, at = new Date(NOW - HOUR)): LoggedRequest => ({
  id: `dec-${++seq}`,
  at,
  principalId,
  datasetId,
  action: 'dataset:read',
  purpose: 'model-training',
  columns: ['value'],
});

/** A source handing out fixed batches, recording what it was asked for. */
function sourceOf(batches: LoggedRequest[][]): LoggedRequestSource & { asked: unknown[] } {
  const asked: unknown[] = [];
  return {
    asked,
    async *batches(range) {
      asked.push(range);
      for (const b of batches) yield b;
    },
  };
}

const FROM = new Date(NOW - 24 * HOUR);
const TO = new Date(NOW);
/** Both policies decide each input in process (the server does the same in its checking worker). */
const bothOf = (live: PolicySnapshot, candidate: PolicySnapshot): DecideBoth => async (inputs) =>
  inputs.map((i) => {
    const l = decide(i, live);
    const c = decide(i, candidate);
    return { live: { effect: l.effect, rules: l.rules, reasons: l.reasons }, candidate: { effect: c.effect, rules: c.rules, reasons: c.reasons } };
  });
const run = ({ live = LIVE, candidate = CANDIDATE, ...o }: Partial<Omit<SimulatePolicyOptions, 'decide' | 'liveVersion' | 'candidateVersion'>> & Pick<SimulatePolicyOptions, 'source'> & { live?: PolicySnapshot; candidate?: PolicySnapshot }) =>
  simulatePolicy({ facts: factsOf(), decide: bothOf(live, candidate), liveVersion: live.version, candidateVersion: candidate.version, from: FROM, to: TO, limit: 100, now: new Date(NOW), ...o });

describe('simulatePolicy', () => {
  it('counts replayed, unchanged and flipped requests in both directions, and names the range and versions', async () => {
    const source = sourceOf([[req('sci', 'd1'), req('sci', 'd2'), req('adm', 'd1')], [req('apr', 'd2'), req('sci', 'd2')]]);
    const r = await run({ source });
    expect(source.asked).toEqual([{ from: FROM, to: TO, limit: 101 }]);
    expect(r).toMatchObject({
      from: FROM.toISOString(),
      to: TO.toISOString(),
      replayed: 5,
      skipped: 0,
      truncated: false,
      live_version: LIVE.version,
      candidate_version: CANDIDATE.version,
      unchanged: 1,
      flips: { allow_to_deny: 3, deny_to_allow: 1 },
    });
    expect(LIVE.version).not.toBe(CANDIDATE.version);
    // By rule: the candidate's deciding rules (deny-admins; ops-read), else the live allow that no longer applies.
    expect(r.by_rule.map((g) => [g.key, g.allow_to_deny, g.deny_to_allow])).toEqual([
      ['read-all', 2, 0],
      ['deny-admins', 1, 0],
      ['ops-read', 0, 1],
    ]);
    expect(r.by_principal.map((g) => [g.key, g.allow_to_deny, g.deny_to_allow])).toEqual([
      ['sci', 2, 0],
      ['adm', 1, 0],
      ['apr', 0, 1],
    ]);
    expect(r.by_dataset.map((g) => [g.key, g.allow_to_deny, g.deny_to_allow])).toEqual([
      ['d2', 2, 1],
      ['d1', 1, 0],
    ]);
  });

  it('describes each flip with the request and both decisions', async () => {
    const at = new Date(NOW - 3 * HOUR);
    const r = await run({ source: sourceOf([[{ ...req('adm', 'd1', at), id: 'dec-x' }]]) });
    const ex = {
      decision_id: 'dec-x',
      at: at.toISOString(),
      principal_id: 'adm',
      dataset_id: 'd1',
      purpose: 'model-training',
      live: { effect: 'allow', rules: ['read-all'] },
      candidate: { effect: 'deny', rules: ['deny-admins'], reasons: ['denied by rule deny-admins'] },
    };
    expect(r.examples).toEqual([ex]);
    expect(r.by_rule).toEqual([{ key: 'deny-admins', allow_to_deny: 1, deny_to_allow: 0, examples: [ex] }]);
    expect(r.by_principal).toEqual([{ key: 'adm', allow_to_deny: 1, deny_to_allow: 0, examples: [ex] }]);
    expect(r.by_dataset).toEqual([{ key: 'd1', allow_to_deny: 1, deny_to_allow: 0, examples: [ex] }]);
  });

  it('groups a flip by the rules that made the difference: the candidate\'s, else the live ones, else "(no rule)"', async () => {
    const none = snapshotOf('rules: []\n');
    // Allow to deny with no deciding rule in the candidate: the live allow is named.
    const lost = await run({ source: sourceOf([[req('sci', 'd2')]]), candidate: none });
    expect(lost.by_rule.map((g) => g.key)).toEqual(['read-all']);
    // Deny to allow: the candidate's allow is named.
    const gained = await run({ source: sourceOf([[req('sci', 'd2')]]), live: none, candidate: LIVE });
    expect(gained.by_rule.map((g) => g.key)).toEqual(['read-all']);
    // An allow of "*" on a dataset without columns relies on no rule: neither side names one.
    sets.set('empty', dataset('empty', { columns: [] }));
    const bare = await run({ source: sourceOf([[{ ...req('sci', 'empty'), columns: '*' }]]), candidate: none });
    expect(bare.flips).toEqual({ allow_to_deny: 1, deny_to_allow: 0 });
    expect(bare.by_rule.map((g) => g.key)).toEqual(['(no rule)']);
    // Denied by both: no flip, nothing grouped.
    const both = await run({ source: sourceOf([[req('apr', 'd2')]]), live: none, candidate: none });
    expect(both).toMatchObject({ unchanged: 1, by_rule: [], by_principal: [], by_dataset: [], examples: [] });
  });

  it('decides each request at its logged time, with facts read at the simulation time', async () => {
    const facts = factsOf();
    const before = req('tmp', 'd1', new Date(NOW - HOUR));
    const after = req('tmp', 'd1', new Date(NOW + HOUR));
    const r = await run({ source: sourceOf([[before, after]]), facts, candidate: snapshotOf('rules: []\n') });
    // Only the request logged while the grant was in force was allowed live: one flip, one unchanged deny.
    expect(r).toMatchObject({ replayed: 2, unchanged: 1, flips: { allow_to_deny: 1, deny_to_allow: 0 } });
    expect(r.examples.map((e) => e.decision_id)).toEqual([before.id]);
    expect(facts.at.every((d) => d.getTime() === NOW)).toBe(true);
  });

  it('skips requests whose principal or dataset no longer exists', async () => {
    const r = await run({ source: sourceOf([[req('gone', 'd1'), req('sci', 'gone'), req('sci', 'd2')]]) });
    expect(r).toMatchObject({ replayed: 1, skipped: 2, flips: { allow_to_deny: 1, deny_to_allow: 0 } });
  });

  it('reads each principal and dataset once', async () => {
    const facts = factsOf();
    await run({ source: sourceOf([[req('sci', 'd1'), req('sci', 'd1')], [req('sci', 'd2')]]), facts });
    expect(facts.reads.sort()).toEqual(['d:d1', 'd:d2', 'p:sci']);
  });

  it('stops at the limit, says the range was cut short, and reports progress per batch', async () => {
    const progress: number[] = [];
    const source = sourceOf([[req('sci', 'd1'), req('gone', 'd1')], [req('sci', 'd2'), req('sci', 'd2'), req('sci', 'd2')], [req('sci', 'd2')]]);
    const r = await run({ source, limit: 3, onProgress: (n) => progress.push(n) });
    expect(source.asked).toEqual([{ from: FROM, to: TO, limit: 4 }]);
    expect(r).toMatchObject({ replayed: 2, skipped: 1, truncated: true, flips: { allow_to_deny: 1, deny_to_allow: 0 } });
    expect(progress).toEqual([2, 3]);
    const exact = await run({ source: sourceOf([[req('sci', 'd1'), req('sci', 'd1'), req('sci', 'd1')]]), limit: 3 });
    expect(exact).toMatchObject({ replayed: 3, truncated: false });
  });

  it('keeps a few examples per group and twice as many overall, and the largest groups first', async () => {
    const many = Array.from({ length: 9 }, () => req('sci', 'd2'));
    const r = await run({ source: sourceOf([[...many, req('adm', 'd2'), req('adm', 'd2'), req('apr', 'd1')]]), examples: 2, groups: 2 });
    expect(r.examples).toHaveLength(4);
    expect(r.by_principal.map((g) => [g.key, g.examples.length])).toEqual([
      ['sci', 2],
      ['adm', 2],
    ]);
    expect(r.by_rule.map((g) => g.key)).toEqual(['read-all', 'deny-admins']);
    const dflt = await run({ source: sourceOf([many]) });
    expect(dflt.examples).toHaveLength(6);
    expect(dflt.by_principal[0]!.examples).toHaveLength(3);
    // Equal counts: by key.
    const tie = await run({ source: sourceOf([[req('adm', 'd2'), req('sci', 'd2'), req('apr', 'd1')]]) });
    expect(tie.by_principal.map((g) => g.key)).toEqual(['adm', 'apr', 'sci']);
  });

  it('keeps facts of up to 5000 principals, and starts over (reading them again) when full', async () => {
    const facts = factsOf();
    await run({ source: sourceOf([[req('sci', 'd1'), req('adm', 'd1'), req('sci', 'd1')]]), facts });
    expect(facts.reads.filter((r) => r === 'p:sci')).toHaveLength(1);
    const many = factsOf();
    const ids = Array.from({ length: 5001 }, (_, i) => `x${i}`);
    // Unknown principals are skipped, but their (absent) facts are kept like any others.
    await run({ source: sourceOf([[...ids.map((id) => req(id, 'd1')), req('x0', 'd1'), req('x5000', 'd1')]]), facts: many, limit: 10_000 });
    expect(many.reads.filter((r) => r === 'p:x0')).toHaveLength(2);
    expect(many.reads.filter((r) => r === 'p:x5000')).toHaveLength(1);
    const full = factsOf();
    await run({ source: sourceOf([[...ids.slice(0, 5000).map((id) => req(id, 'd1')), req('x0', 'd1')]]), facts: full, limit: 10_000 });
    expect(full.reads.filter((r) => r === 'p:x0')).toHaveLength(1);
  });

  it('keeps at most 50 groups by default', async () => {
    const ids = Array.from({ length: 52 }, (_, i) => `p${String(i).padStart(2, '0')}`);
    for (const id of ids) people.set(id, principal(id, { roles: [role('data-scientist')] }));
    const r = await run({ source: sourceOf([ids.map((id) => req(id, 'd2'))]) });
    expect(r.by_principal).toHaveLength(50);
    expect(r.by_principal.at(-1)!.key).toBe('p49');
  });

  it('passes the request context to conditions', async () => {
    const cond = snapshotOf(`rules:\n${allowRule('ctx', '    when: request.context.ticket == "T-1"\n')}`);
    const r = await run({ source: sourceOf([[{ ...req('sci', 'd2'), context: { ticket: 'T-1' } }, req('sci', 'd2')]]), live: cond, candidate: LIVE });
    expect(r).toMatchObject({ unchanged: 1, flips: { allow_to_deny: 0, deny_to_allow: 1 } });
  });
});
