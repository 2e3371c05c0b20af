/**
 * The reviewer's reports on a seeded scenario, through real decisions
 * (evaluate and record write real records) and real HTTP: the accounting of
 * disclosures lists exactly the PHI reads of the dataset in the period, and
 * the access review names who can read each PHI dataset now and why.
 */
import { randomUUID } from 'node:crypto';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { evaluate } from '../../src/decisions/evaluate.ts';
import { record } from '../../src/decisions/record.ts';
import { adminOf, loginAs, personDirect, startTestApp, type Person, type TestApp } from '../support/app.ts';
import { appendLogRows } from '../support/db.ts';

let app: TestApp;
let rev: Person;
let admin: Person;
const ids: Record<string, string> = {};
const grants: Record<string, string> = {};
/** Decisions that must appear in the accounting, in order. */
const disclosed: { id: string; who: string; purpose: string; columns: string[]; rules: string[]; grant_ids: string[]; break_glass: boolean; token_jti: string | null; job: unknown }[] = [];
let from = '';
let to = '';

/** A decision recorded as an enforcement point's, or (with `token`) as the token endpoint records one it issues. */
async function decideAs(who: string, dataset: string, purpose: string, columns: string[], token?: { jti: string; job: Record<string, unknown> }) {
  app.clock.advance(60_000);
  const deps = app.wired.decisions;
  const evaluation = await evaluate(deps, { principalId: ids[who]!, datasetId: dataset, action: 'dataset:read', purpose, columns });
  const issued = token && evaluation.decision.effect === 'allow' ? { jti: token.jti, expiresAt: new Date(evaluation.at.getTime() + 900_000), job: token.job } : undefined;
  return record(deps, evaluation, { callerId: null, requestId: 'report-test', release: token ? issued !== undefined : true, token: issued });
}

async function grant(who: string, role: string, o: { breakGlass?: boolean; notBefore?: Date; expiresAt?: Date; status?: 'active' | 'revoked' } = {}): Promise<string> {
  const id = randomUUID();
  const now = app.clock.now().getTime();
  await app.db.sql`
    INSERT INTO grants (id, principal_id, role_id, project_id, not_before, expires_at, status, break_glass)
    VALUES (${id}, ${ids[who]!}, ${role}, 'onc', ${o.notBefore ?? new Date(now - 3_600_000)}, ${o.expiresAt ?? new Date(now + 3 * 3_600_000)}, ${o.status ?? 'active'}, ${o.breakGlass ?? false})`;
  await app.wired.invalidate();
  return id;
}

beforeAll(async () => {
  app = await startTestApp();
  admin = await adminOf(app);
  ids.admin = admin.id;
  rev = await personDirect(app, 'rev', [{ role: 'security-reviewer' }]);
  ids.rev = rev.id;
  const c = app.wired.catalog;
  await c.createProject({ id: 'onc', name: 'Oncology' });
  await c.createProject({ id: 'cardio', name: 'Cardiology' });
  const person = async (name: string, roles: { role_id: string; project_id: string | null }[]) => {
    const p = await c.createPrincipal({ kind: 'user', name });
    for (const r of roles) await c.assignRole({ principal_id: p.id, ...r }, null);
    ids[name] = p.id;
  };
  await person('alice', [{ role_id: 'data-scientist', project_id: 'onc' }]);
  await person('bob', []);
  await person('carol', [{ role_id: 'data-scientist', project_id: 'onc' }]);
  await person('dave', [{ role_id: 'data-scientist', project_id: 'cardio' }]);
  await person('erin', []);
  await person('frank', []);
  await person('gina', [{ role_id: 'data-scientist', project_id: 'onc' }]);
  const job = await c.createPrincipal({ kind: 'service', name: 'train-onc', sponsor_id: ids.alice!, project_id: 'onc' });
  await c.assignRole({ principal_id: job.id, role_id: 'data-scientist', project_id: 'onc' }, null);
  ids['train-onc'] = job.id;
  await c.updatePrincipal(ids.gina!, { status: 'disabled' });
  await c.createDataset({
    id: 'onc-notes',
    project_id: 'onc',
    owner_id: ids.alice!,
    purposes: ['model-training', 'emergency'],
    columns: [
      { name: 'patient_name', type: 'string', category: 'names' },
      { name: 'mrn', type: 'string', category: 'mrn' },
      { name: 'note_text', type: 'string' },
      { name: 'admit_date', type: 'date', category: 'dates' },
    ],
  });
  await c.createDataset({ id: 'cardio-phi', project_id: 'cardio', owner_id: ids.dave!, purposes: ['model-training'], columns: [{ name: 'ssn', type: 'string', category: 'ssn' }, { name: 'ecg', type: 'string' }] });
  await c.createDataset({ id: 'cardio-deid', project_id: 'cardio', owner_id: ids.dave!, purposes: ['research'], columns: [{ name: 'ecg', type: 'string' }] });
  grants.bob = await grant('bob', 'data-scientist');
  grants.carol = await grant('carol', 'emergency-access', { breakGlass: true });
  const now = app.clock.now().getTime();
  grants.erin = await grant('erin', 'data-scientist', { notBefore: new Date(now - 7_200_000), expiresAt: new Date(now - 3_600_000) });
  grants.frank = await grant('frank', 'data-scientist', { status: 'revoked' });

  // Before the period: a PHI read that the accounting must leave out.
  await decideAs('alice', 'onc-notes', 'model-training', ['note_text']);
  from = new Date(app.clock.now().getTime() + 1).toISOString();
  const disclose = async (r: Awaited<ReturnType<typeof decideAs>>, who: string) => {
    const d = r.decision;
    expect(d.effect, JSON.stringify(d.reasons)).toBe('allow');
    disclosed.push({ id: r.id, who, purpose: r.input.purpose, columns: d.grantedColumns, rules: d.rules, grant_ids: d.grantIds, break_glass: d.breakGlass, token_jti: r.token?.jti ?? null, job: r.token?.job ?? null });
  };
  await disclose(await decideAs('alice', 'onc-notes', 'model-training', ['note_text', 'admit_date']), 'alice');
  expect((await decideAs('alice', 'onc-notes', 'model-training', ['patient_name'])).decision.effect).toBe('deny');
  expect((await decideAs('dave', 'onc-notes', 'model-training', ['note_text'])).decision.effect).toBe('deny');
  expect((await decideAs('dave', 'cardio-phi', 'model-training', ['ecg'])).decision.effect).toBe('allow');
  await disclose(await decideAs('bob', 'onc-notes', 'model-training', ['note_text']), 'bob');
  await disclose(await decideAs('carol', 'onc-notes', 'emergency', ['patient_name', 'mrn']), 'carol');
  await disclose(await decideAs('train-onc', 'onc-notes', 'model-training', ['admit_date'], { jti: 'jti-report-1', job: { job_id: 'train-2026-06-01' } }), 'train-onc');
  // A record of the same dataset made while it was classified de-identified: not a PHI disclosure.
  app.clock.advance(60_000);
  await appendLogRows(app.db.sql, 'decision_log', [
    {
      id: randomUUID(), at: app.clock.now().toISOString(), principal_id: ids.alice!, dataset_id: 'onc-notes', project_id: 'onc', action: 'dataset:read',
      purpose: 'model-training', effect: 'allow', rules: ['x'], reasons: [], granted_columns: ['note_text'], denied_columns: [], obligations: [], grant_ids: [],
      break_glass: false, policy_version: 'v', latency_us: 1, input: { dataset: { id: 'onc-notes', classification: 'deidentified' } },
    },
  ]);
  to = new Date(app.clock.now().getTime() + 1).toISOString();
  // After the period.
  app.clock.advance(60_000);
  await decideAs('alice', 'onc-notes', 'model-training', ['note_text']);
});
beforeEach(async () => {
  for (const p of [rev, admin]) await loginAs(app, p);
});
afterAll(async () => {
  await app?.close();
});

describe('accounting of disclosures', () => {
  it('lists exactly the PHI reads of the dataset in the period: who, when, columns, purpose, rules, grants, break-glass, token and job', async () => {
    const r = await app.call('GET', `/v1/reports/disclosures?dataset=onc-notes&from=${from}&to=${to}`, { token: rev.token });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ dataset: 'onc-notes', from, to, truncated: false });
    expect(r.body.items).toEqual(
      disclosed.map((d) => ({
        decision_id: d.id,
        at: expect.any(String),
        principal_id: ids[d.who],
        principal_name: d.who,
        principal_kind: d.who === 'train-onc' ? 'service' : 'user',
        sponsor_id: d.who === 'train-onc' ? ids.alice : null,
        purpose: d.purpose,
        classification: 'phi',
        columns: d.columns,
        rules: d.rules,
        grant_ids: d.grant_ids,
        break_glass: d.break_glass,
        token_jti: d.token_jti,
        job: d.job,
        caller_id: null,
        request_id: 'report-test',
      })),
    );
    // Spot-check the scenario itself, so the expectation above cannot be vacuous.
    expect(r.body.items.map((i: any) => [i.principal_name, i.columns, i.rules, i.grant_ids, i.break_glass, i.token_jti])).toEqual([
      ['alice', ['note_text', 'admit_date'], ['scientist-own-project-phi'], [], false, null],
      ['bob', ['note_text'], ['scientist-own-project-phi'], [grants.bob], false, null],
      ['carol', ['patient_name', 'mrn'], ['break-glass-emergency'], [grants.carol], true, null],
      ['train-onc', ['admit_date'], ['scientist-own-project-phi'], [], false, 'jti-report-1'],
    ]);
    expect(r.body.items[3].job).toEqual({ job_id: 'train-2026-06-01' });
    const times = r.body.items.map((i: any) => i.at);
    expect([...times].sort()).toEqual(times);
  });

  it('defaults to the six years up to now, which includes the reads before and after the period', async () => {
    const r = await app.call('GET', '/v1/reports/disclosures?dataset=onc-notes', { token: rev.token });
    expect(r.status).toBe(200);
    expect(r.body.items).toHaveLength(disclosed.length + 2);
    expect(Date.parse(r.body.to) - Date.parse(r.body.from)).toBeGreaterThan(6 * 365 * 86_400_000);
    expect((await app.call('GET', '/v1/reports/disclosures?dataset=cardio-deid', { token: rev.token })).body.items).toEqual([]);
  });

  it('gives the same rows as CSV', async () => {
    const res = await fetch(`${app.url}/v1/reports/disclosures?dataset=onc-notes&from=${from}&to=${to}&format=csv`, { headers: { authorization: `Bearer ${rev.token}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    const lines = (await res.text()).split('\r\n').filter(Boolean);
    expect(lines[0]).toBe('decision_id,at,principal_id,principal_name,principal_kind,sponsor_id,purpose,classification,columns,rules,grant_ids,break_glass,token_jti,job,caller_id,request_id');
    expect(lines.slice(1).map((l) => l.split(',')[0])).toEqual(disclosed.map((d) => d.id));
    expect(lines[3]).toContain(`"[""patient_name"",""mrn""]"`);
  });

  it('is recorded as an audit event', async () => {
    await app.call('GET', `/v1/reports/disclosures?dataset=onc-notes&from=${from}&to=${to}`, { token: rev.token });
    const [e] = await app.db.sql`SELECT outcome, details FROM audit_events WHERE type = 'audit.report' AND actor_id = ${rev.id} AND details->>'report' = 'disclosures' AND details->>'from' = ${from}`;
    expect(e).toMatchObject({ outcome: 'success', details: { dataset: 'onc-notes', from, to, rows: disclosed.length } });
  });

  it('requires a dataset', async () => {
    expect((await app.call('GET', '/v1/reports/disclosures', { token: rev.token })).status).toBe(400);
  });
});

describe('access review', () => {
  /** Entries of one dataset, compactly: "name basis purposes columns rules grants". */
  function compact(review: any, dataset: string): string[] {
    const d = review.datasets.find((x: any) => x.dataset_id === dataset);
    return d.access.map((e: any) => `${e.principal_name} ${e.basis} ${e.purposes.join('+')} ${e.columns.join('+')} ${e.rules.join('+')} ${e.grant_ids.join('+') || '-'}`);
  }

  it('names who can read each PHI dataset now and why: standing role, grant, break-glass', async () => {
    const r = await app.call('GET', '/v1/reports/access-review', { token: rev.token });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ policy_version: app.wired.policy.current().version, truncated: false, principal_limit: 10_000 });
    // Phi and limited datasets only.
    expect(r.body.datasets.map((d: any) => [d.dataset_id, d.classification])).toEqual([
      ['cardio-phi', 'phi'],
      ['onc-notes', 'phi'],
    ]);
    expect(compact(r.body, 'onc-notes')).toEqual([
      'alice standing model-training note_text+admit_date scientist-own-project-phi -',
      `bob grant model-training note_text+admit_date scientist-own-project-phi ${grants.bob}`,
      'carol standing model-training note_text+admit_date scientist-own-project-phi -',
      `carol break-glass emergency patient_name+mrn+note_text+admit_date break-glass-emergency ${grants.carol}`,
      'train-onc standing model-training note_text+admit_date scientist-own-project-phi -',
    ]);
    expect(compact(r.body, 'cardio-phi')).toEqual(['dave standing model-training ecg scientist-own-project-phi -']);
    const onc = r.body.datasets.find((d: any) => d.dataset_id === 'onc-notes');
    const bob = onc.access.find((e: any) => e.principal_name === 'bob');
    const bobGrant = (await app.db.sql`SELECT expires_at FROM grants WHERE id = ${grants.bob!}`)[0]!;
    expect(bob.expires_at).toBe(new Date(bobGrant.expires_at).toISOString());
    expect(onc.access.find((e: any) => e.principal_name === 'alice').expires_at).toBeNull();
  });

  it('follows the engine: a revoked grant, an expired one, a disabled person and another project give nothing; a grant ends the moment it expires', async () => {
    const names = (review: any) => review.datasets.find((d: any) => d.dataset_id === 'onc-notes').access.map((e: any) => e.principal_name);
    const r = await app.call('GET', '/v1/reports/access-review?dataset=onc-notes', { token: rev.token });
    expect(r.body.datasets).toHaveLength(1);
    for (const absent of ['dave', 'erin', 'frank', 'gina', 'admin', 'rev']) expect(names(r.body)).not.toContain(absent);
    await app.db.sql`UPDATE grants SET expires_at = ${app.clock.now()} WHERE id = ${grants.bob!}`;
    try {
      const later = await app.call('GET', '/v1/reports/access-review?dataset=onc-notes', { token: rev.token });
      expect(names(later.body)).not.toContain('bob');
    } finally {
      await app.db.sql`UPDATE grants SET expires_at = ${new Date(app.clock.now().getTime() + 3_600_000)} WHERE id = ${grants.bob!}`;
    }
  });

  it('reports a named de-identified dataset too, and 404 for an unknown one', async () => {
    const r = await app.call('GET', '/v1/reports/access-review?dataset=cardio-deid', { token: rev.token });
    expect(r.status).toBe(200);
    expect(r.body.datasets[0]).toMatchObject({ dataset_id: 'cardio-deid', classification: 'deidentified' });
    expect(compact(r.body, 'cardio-deid')).toEqual(['dave standing research ecg scientist-deidentified -']);
    expect((await app.call('GET', '/v1/reports/access-review?dataset=nope', { token: rev.token })).status).toBe(404);
  });

  it('gives the same entries as CSV, one row per dataset and basis, recorded as an export', async () => {
    const json = await app.call('GET', '/v1/reports/access-review', { token: rev.token });
    const res = await fetch(`${app.url}/v1/reports/access-review?format=csv`, { headers: { authorization: `Bearer ${rev.token}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(res.headers.get('content-disposition')).toMatch(/filename="access-review-[^"]+\.csv"/);
    const rows: Record<string, string>[] = parse(await res.text(), { columns: true });
    const want = json.body.datasets.flatMap((d: any) => d.access.map((e: any) => [d.dataset_id, d.classification, e.principal_name, e.basis, JSON.stringify(e.columns), JSON.stringify(e.grant_ids), e.expires_at ?? '']));
    expect(want.length).toBe(6);
    expect(rows.map((r) => [r.dataset_id, r.classification, r.principal_name, r.basis, r.columns, r.grant_ids, r.expires_at])).toEqual(want);
    expect(new Set(rows.map((r) => r.policy_version))).toEqual(new Set([json.body.policy_version]));
    const [e] = await app.db.sql`SELECT details FROM audit_events WHERE type = 'audit.export' AND actor_id = ${rev.id} AND details->>'report' = 'access-review'`;
    expect(e!.details).toEqual({ report: 'access-review', dataset: null, datasets: 2, entries: 6, format: 'csv' });
  });

  it('is recorded as an audit event', async () => {
    await app.call('GET', '/v1/reports/access-review?dataset=cardio-phi', { token: rev.token });
    const [e] = await app.db.sql`SELECT details FROM audit_events WHERE type = 'audit.report' AND actor_id = ${rev.id} AND details->>'dataset' = 'cardio-phi'`;
    expect(e!.details).toEqual({ report: 'access-review', dataset: 'cardio-phi', datasets: 1, entries: 1 });
  });
});
