/**
 * The reviewers' console pages against a real server and database: a
 * decision found by principal name and dataset and its explanation checked
 * against the record in the database; a job's decisions found by its job
 * id; the disclosures CSV downloaded and parsed, and checked against the
 * report API; the access review, audit event search and a chain
 * verification; axe on every page, and the docs' screenshots.
 */
import { readFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluate } from '../../src/decisions/evaluate.ts';
import { record } from '../../src/decisions/record.ts';
import { adminOf, loginAs, personDirect, type Person } from '../support/app.ts';
import { checkA11yBothThemes, launchBrowser, nav, openConsole, screenshot, signInWithTotp, startConsoleServer, stopConsole, type ConsolePage, type ConsoleServer } from './browser.ts';

describe('console: reviewers', () => {
  let srv: ConsoleServer;
  let browser: Browser;
  let rev: Person;
  const ids: Record<string, string> = {};

  /** A decision as an enforcement point's (or, with `job`, as the token endpoint records one it issues). */
  async function decide(who: string, dataset: string, purpose: string, columns: string[], job?: { jti: string; job_id: string }) {
    srv.app.clock.advance(60_000);
    const deps = srv.app.wired.decisions;
    const evaluation = await evaluate(deps, { principalId: ids[who]!, datasetId: dataset, action: 'dataset:read', purpose, columns });
    const token = job && evaluation.decision.effect === 'allow' ? { jti: job.jti, expiresAt: new Date(evaluation.at.getTime() + 900_000), job: { job_id: job.job_id } } : undefined;
    return record(deps, evaluation, { callerId: null, requestId: 'console-review', release: true, token });
  }

  beforeAll(async () => {
    srv = await startConsoleServer();
    await adminOf(srv.app);
    rev = await personDirect(srv.app, 'rita', [{ role: 'security-reviewer' }]);
    const c = srv.app.wired.catalog;
    await c.createProject({ id: 'onc', name: 'Oncology' });
    await c.createProject({ id: 'cardio', name: 'Cardiology' });
    for (const [name, project] of [['alice', 'onc'], ['alina', 'onc'], ['dave', 'cardio']] as const) {
      const p = await c.createPrincipal({ kind: 'user', name });
      await c.assignRole({ principal_id: p.id, role_id: 'data-scientist', project_id: project }, null);
      ids[name] = p.id;
    }
    const job = await c.createPrincipal({ kind: 'service', name: 'train-onc', sponsor_id: ids.alice!, project_id: 'onc' });
    await c.assignRole({ principal_id: job.id, role_id: 'data-scientist', project_id: 'onc' }, null);
    ids['train-onc'] = job.id;
    await c.createDataset({
      id: 'onc-notes',
      project_id: 'onc',
      owner_id: ids.alice!,
      purposes: ['model-training'],
      columns: [
        { name: 'patient_name', type: 'string', category: 'names' },
        { name: 'mrn', type: 'string', category: 'mrn' },
        { name: 'note_text', type: 'string' },
        { name: 'admit_date', type: 'date', category: 'dates' },
      ],
    });
    await c.createDataset({ id: 'cardio-phi', project_id: 'cardio', owner_id: ids.dave!, purposes: ['model-training'], columns: [{ name: 'ssn', type: 'string', category: 'ssn' }, { name: 'ecg', type: 'string' }] });
    expect((await decide('alice', 'onc-notes', 'model-training', ['note_text', 'admit_date'])).decision.effect).toBe('allow');
    expect((await decide('alice', 'onc-notes', 'research', ['note_text'])).decision.effect).toBe('deny');
    expect((await decide('alice', 'cardio-phi', 'model-training', ['ecg'])).decision.effect).toBe('deny');
    expect((await decide('alina', 'onc-notes', 'model-training', ['note_text'])).decision.effect).toBe('allow');
    expect((await decide('dave', 'cardio-phi', 'model-training', ['ecg'])).decision.effect).toBe('allow');
    expect((await decide('train-onc', 'onc-notes', 'model-training', ['admit_date'], { jti: 'jti-console-1', job_id: 'train-2026-06-01' })).decision.effect).toBe('allow');
    // The decision the reviewer looks for: alice asked onc-notes for a column her role does not grant.
    const target = await decide('alice', 'onc-notes', 'model-training', ['note_text', 'patient_name']);
    expect(target.decision.effect).toBe('deny');
    ids.target = target.id;
    await loginAs(srv.app, rev);
    browser = await launchBrowser();
  }, 120_000);
  afterAll(() => stopConsole(browser, srv));

  const cells = (cp: ConsolePage, table: string) =>
    cp.page
      .getByRole('table', { name: table })
      .locator('tbody tr')
      .evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => (td.textContent ?? '').trim())));

  it('finds a decision by principal name and dataset, and explains it as the log records it', async () => {
    const cp = await openConsole(browser, srv.origin);
    await signInWithTotp(cp, srv.app, rev);
    await nav(cp, 'Decision log');
    await cp.page.getByRole('table', { name: 'Decisions, newest first' }).waitFor();

    // A prefix shared by two people: the page asks which one.
    await cp.page.getByLabel('Principal name', { exact: true }).fill('ali');
    await cp.page.getByRole('button', { name: 'Search' }).click();
    await cp.page.getByRole('heading', { name: 'Which principal?' }).waitFor();
    await cp.page.getByRole('button', { name: 'alice', exact: true }).click();
    await cp.page.getByRole('table', { name: 'Decisions, newest first' }).waitFor();

    await cp.page.getByLabel('Dataset', { exact: true }).fill('onc-notes');
    await cp.page.getByRole('button', { name: 'Search' }).click();
    // The filters are in the URL: the search is a link.
    await expect.poll(() => new URL(cp.page.url()).searchParams.get('dataset')).toBe('onc-notes');
    expect(new URL(cp.page.url()).searchParams.get('principal')).toBe('alice');
    const want = await srv.app.db.sql`SELECT id FROM decision_log WHERE principal_id = ${ids.alice!} AND dataset_id = 'onc-notes' ORDER BY at DESC, id DESC`;
    expect(want.length).toBe(3);
    await expect.poll(async () => (await cells(cp, 'Decisions, newest first')).length).toBe(want.length);
    for (const row of await cells(cp, 'Decisions, newest first')) expect(row.slice(1, 3)).toEqual(['alice', 'onc-notes']);
    await checkA11yBothThemes(cp, 'decision search');
    await screenshot(cp, 'decision-search');

    // Narrowed to denies with a reason's words: the target and the wrong-purpose read; the newest is the target.
    await cp.page.getByLabel('Effect', { exact: true }).selectOption('deny');
    await cp.page.getByRole('button', { name: 'Search' }).click();
    await expect.poll(async () => (await cells(cp, 'Decisions, newest first')).length).toBe(2);
    await cp.page.getByRole('table', { name: 'Decisions, newest first' }).getByRole('link', { name: 'Explain' }).first().click();
    await expect.poll(() => cp.page.url()).toContain(`/console/decisions/${ids.target}`);

    const [rec] = await srv.app.db.sql`SELECT * FROM decision_log WHERE id = ${ids.target!}`;
    await expect.poll(() => cp.page.getByRole('heading', { level: 1 }).textContent()).toBe('Denied: onc-notes for alice');
    const listed = (region: string) => cp.page.getByRole('region', { name: region }).getByRole('listitem').allTextContents();
    expect(rec!.reasons.length).toBeGreaterThan(0);
    expect(await listed('Unmet requirements')).toEqual(rec!.reasons);
    // A deny by column: the allow that matched is listed (it granted the other columns).
    expect(rec!.rules.length).toBeGreaterThan(0);
    expect(await listed('Rules that matched')).toEqual(rec!.rules);
    const columns = await cells(cp, 'Columns granted and refused');
    expect(rec!.denied_columns).toContain('patient_name');
    expect(columns).toEqual([...rec!.granted_columns.map((c: string) => [c, 'Would have been granted']), ...rec!.denied_columns.map((c: string) => [c, 'Refused'])]);
    const facts = cp.page.getByRole('definition');
    expect(await facts.allTextContents()).toEqual(expect.arrayContaining([rec!.id, rec!.policy_version, 'No', 'Deny']));
    await cp.page.getByRole('region', { name: 'Token and job' }).getByText('No token was issued on this decision.').waitFor();
    await checkA11yBothThemes(cp, 'decision explanation');
    await screenshot(cp, 'decision-explanation');

    // A job's decisions, by the job id its token request named; its explanation shows the token.
    await nav(cp, 'Decision log');
    await cp.page.getByLabel('Job or token', { exact: true }).fill('train-2026-06-01');
    await cp.page.getByRole('button', { name: 'Search' }).click();
    await expect.poll(async () => (await cells(cp, 'Decisions, newest first')).map((r) => r.slice(1, 5))).toEqual([['train-onc', 'onc-notes', 'model-training', 'Allow']]);
    await cp.page.getByRole('link', { name: 'Explain' }).click();
    const token = cp.page.getByRole('region', { name: 'Token and job' });
    await token.getByText('jti-console-1').waitFor();
    await token.getByRole('link', { name: 'train-2026-06-01' }).waitFor();
    await cp.page.getByRole('region', { name: 'Rules that granted it' }).getByText('scientist-own-project-phi').waitFor();
    // The service's sponsor is named.
    expect(await cp.page.getByRole('definition').allTextContents()).toContain('alice');

    // A search is a link: opened afresh (a reload of the tab keeps its session), it shows the same rows.
    await cp.page.goto(`${srv.origin}/console/decisions?principal=alice&dataset=onc-notes&effect=deny`);
    await expect.poll(async () => (await cells(cp, 'Decisions, newest first')).map((r) => r.slice(1, 5))).toEqual([
      ['alice', 'onc-notes', 'model-training', 'Deny'],
      ['alice', 'onc-notes', 'research', 'Deny'],
    ]);
    expect(await cp.page.getByLabel('Principal name', { exact: true }).inputValue()).toBe('alice');
    cp.expectClean();
    await cp.context.close();
  });

  it('downloads the disclosures CSV, which holds exactly the rows of the report API', async () => {
    const cp = await openConsole(browser, srv.origin);
    await signInWithTotp(cp, srv.app, rev);
    await nav(cp, 'Disclosures');
    await cp.page.getByLabel('Dataset', { exact: true }).fill('onc-notes');
    await cp.page.getByRole('button', { name: 'Run report' }).click();
    const api = await srv.app.call('GET', '/v1/reports/disclosures?dataset=onc-notes', { token: rev.token });
    expect(api.status).toBe(200);
    expect(api.body.items.length).toBe(3);
    await expect.poll(async () => (await cells(cp, 'Disclosures, oldest first')).map((r) => r[1]!.split(' ')[0])).toEqual(api.body.items.map((i: any) => i.principal_name));
    await checkA11yBothThemes(cp, 'disclosures');
    await screenshot(cp, 'disclosures');

    const [download] = await Promise.all([cp.page.waitForEvent('download'), cp.page.getByRole('button', { name: 'Download CSV' }).click()]);
    expect(download.suggestedFilename()).toMatch(/^disclosures-onc-notes-.+\.csv$/);
    const rows: Record<string, string>[] = parse(await readFile((await download.path())!, 'utf8'), { columns: true });
    expect(rows.map((r) => r.decision_id)).toEqual(api.body.items.map((i: any) => i.decision_id));
    expect(rows.map((r) => [r.principal_name, r.purpose, JSON.parse(r.columns!), JSON.parse(r.rules!), r.token_jti])).toEqual(
      api.body.items.map((i: any) => [i.principal_name, i.purpose, i.columns, i.rules, i.token_jti ?? '']),
    );
    // The download is on record as an export by this reviewer.
    const [e] = await srv.app.db.sql`SELECT details FROM audit_events WHERE type = 'audit.export.completed' AND actor_id = ${rev.id} AND details->>'report' = 'disclosures'`;
    expect(e!.details).toMatchObject({ dataset: 'onc-notes', format: 'csv', rows: 3, complete: true });

    // The access review: tables per dataset, and its CSV.
    await nav(cp, 'Access review');
    const review = await srv.app.call('GET', '/v1/reports/access-review', { token: rev.token });
    for (const d of review.body.datasets) {
      await expect.poll(async () => (await cells(cp, `Who can read ${d.dataset_id}`)).map((r) => r[0]!.replace(' (service)', ''))).toEqual(d.access.map((a: any) => a.principal_name));
    }
    await checkA11yBothThemes(cp, 'access review');
    await screenshot(cp, 'access-review');
    const [csv] = await Promise.all([cp.page.waitForEvent('download'), cp.page.getByRole('button', { name: 'Download CSV' }).click()]);
    const entries: Record<string, string>[] = parse(await readFile((await csv.path())!, 'utf8'), { columns: true });
    expect(entries.map((r) => `${r.dataset_id} ${r.principal_name} ${r.basis}`)).toEqual(review.body.datasets.flatMap((d: any) => d.access.map((a: any) => `${d.dataset_id} ${a.principal_name} ${a.basis}`)));
    cp.expectClean();
    await cp.context.close();
  });

  it('searches audit events by actor name and type, and runs a chain verification', async () => {
    const cp = await openConsole(browser, srv.origin);
    await signInWithTotp(cp, srv.app, rev);
    await nav(cp, 'Audit events');
    await cp.page.getByLabel('Actor name', { exact: true }).fill('rita');
    await cp.page.getByLabel('Event type', { exact: true }).fill('auth.totp.login');
    await cp.page.getByRole('button', { name: 'Search' }).click();
    const want = await srv.app.db.sql`SELECT outcome FROM audit_events WHERE actor_id = ${rev.id} AND type = 'auth.totp.login' ORDER BY at DESC, id DESC`;
    expect(want.length).toBeGreaterThan(1);
    await expect.poll(async () => (await cells(cp, 'Audit events, newest first')).map((r) => r.slice(1, 4))).toEqual(want.map((w) => ['auth.totp.login', w.outcome, 'rita']));
    await checkA11yBothThemes(cp, 'audit events');

    await nav(cp, 'Chain verification');
    await cp.page.getByText('No verification is on record yet.').waitFor();
    await cp.page.getByRole('button', { name: 'Verify' }).click();
    await cp.page.getByRole('heading', { name: 'The logs are intact' }).waitFor();
    const [v] = await srv.app.db.sql`SELECT outcome, details FROM audit_events WHERE type = 'audit.verified' AND actor_id = ${rev.id}`;
    expect(v!.outcome).toBe('success');
    const report = cp.page.getByRole('region', { name: 'The logs are intact' });
    expect(await report.getByRole('definition').nth(1).textContent()).toBe(String(v!.details.records));
    // The status now names this run as the last one.
    await cp.page.getByText(/Last verification: .*intact/).waitFor();
    await checkA11yBothThemes(cp, 'chain verification');
    await screenshot(cp, 'verification');
    cp.expectClean();
    await cp.context.close();
  });
});
