/**
 * What reviewers do from the console, end to end against a real server and
 * database: close a break-glass review with a finding, work an alert from
 * acknowledgement to resolution, and close an incident with its
 * determination — each sensitive step with a fresh second factor asked for
 * by the step-up dialog — and the server's state afterwards; axe on every
 * page, and the docs' screenshots.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluate } from '../../src/decisions/evaluate.ts';
import { record } from '../../src/decisions/record.ts';
import { raiseAlert } from '../monitoring/alerts.ts';
import { adminOf, loginAs, personDirect, type Person } from '../support/app.ts';
import { checkA11yBothThemes, launchBrowser, nav, openConsole, screenshot, signInWithTotp, startConsoleServer, stepUpWithTotp, stopConsole, type ConsoleServer } from './browser.ts';

const REASON = 'Patient safety review of a model alert on ward 7, on call tonight.';
const OWN_REASON = 'Sepsis model alert on ward 3 needs the notes of two patients now.';

describe('console: reviewers at work', () => {
  let srv: ConsoleServer;
  let browser: Browser;
  let rev: Person;
  let doc: Person;
  let rex: Person;
  let ownGrantId: string;
  let grantId: string;
  let alertId: string;
  let decisionId: string;
  let incidentId: string;

  beforeAll(async () => {
    srv = await startConsoleServer();
    await adminOf(srv.app);
    rev = await personDirect(srv.app, 'rita', [{ role: 'security-reviewer' }]);
    await srv.app.wired.catalog.createProject({ id: 'onc', name: 'Oncology' });
    doc = await personDirect(srv.app, 'doc', [{ role: 'data-scientist', project: 'onc' }]);
    await srv.app.wired.catalog.createDataset({ id: 'onc-notes', project_id: 'onc', owner_id: doc.id, purposes: ['model-training'], columns: [{ name: 'note_text', type: 'string' }] });
    // doc breaks the glass (fresh from signing in, so with a fresh second factor).
    await loginAs(srv.app, doc);
    const bg = await srv.app.call('POST', '/v1/break-glass', { token: doc.token, body: { project: 'onc', reason: REASON } });
    expect(bg.status, JSON.stringify(bg.body)).toBe(201);
    grantId = bg.body.id;
    // rex is a reviewer who is also a data scientist of onc, and breaks the glass himself.
    rex = await personDirect(srv.app, 'rex', [{ role: 'security-reviewer' }, { role: 'data-scientist', project: 'onc' }]);
    await loginAs(srv.app, rex);
    const own = await srv.app.call('POST', '/v1/break-glass', { token: rex.token, body: { project: 'onc', reason: OWN_REASON } });
    expect(own.status, JSON.stringify(own.body)).toBe(201);
    ownGrantId = own.body.id;
    // A detector's alert about doc, with a decision as its evidence.
    const deps = srv.app.wired.decisions;
    const d = await record(deps, await evaluate(deps, { principalId: doc.id, datasetId: 'onc-notes', action: 'dataset:read', purpose: 'research', columns: ['note_text'] }), { callerId: null, requestId: 'console-actions', release: true });
    decisionId = d.id;
    alertId = (await raiseAlert(srv.app.db.appSql, { subject: doc.id, title: 'Many denied requests', at: srv.app.clock.now(), evidence: [{ log: 'decision_log', record_id: d.id, at: d.at.toISOString() }] })).id;
    // An incident opened from it.
    await loginAs(srv.app, rev);
    const inc = await srv.app.call('POST', '/v1/incidents', {
      token: rev.token,
      body: { title: 'Notes read outside their purpose', description: 'Denied reads of oncology notes for research.', discovered_at: srv.app.clock.now().toISOString(), alert_ids: [alertId] },
    });
    expect(inc.status, JSON.stringify(inc.body)).toBe(201);
    incidentId = inc.body.id;
    browser = await launchBrowser();
  }, 120_000);
  afterAll(() => stopConsole(browser, srv));

  /** Moves the server's clock past the step-up window, so the next sensitive action must ask for a fresh factor. */
  const staleMfa = () => srv.app.clock.advance((srv.app.config.stepUpSeconds + 1) * 1000);

  it('closes a break-glass review with a finding, after a fresh second factor', async () => {
    const cp = await openConsole(browser, srv.origin);
    await signInWithTotp(cp, srv.app, rev);
    await nav(cp, 'Break-glass reviews');
    const row = cp.page.getByRole('row').filter({ hasText: REASON });
    await row.getByRole('cell', { name: 'doc', exact: true }).waitFor();
    await checkA11yBothThemes(cp, 'break-glass reviews');
    await screenshot(cp, 'break-glass');

    await row.getByRole('button', { name: 'Close review' }).click();
    const dialog = cp.page.getByRole('dialog', { name: 'Close the break-glass review' });
    await dialog.getByLabel('Outcome').selectOption('unjustified');
    await dialog.getByLabel('Finding', { exact: true }).fill('No patient-safety event on ward 7 that night; the notes were read for a model question.');
    await checkA11yBothThemes(cp, 'break-glass review dialog');
    staleMfa();
    await dialog.getByRole('button', { name: 'Close review' }).click();
    await stepUpWithTotp(cp, srv.app, rev);
    await cp.page.getByText('Review closed: unjustified.').waitFor();
    await row.getByText(/Unjustified: No patient-safety event/).waitFor();

    await loginAs(srv.app, rev);
    const after = await srv.app.call('GET', `/v1/grants/${grantId}`, { token: rev.token });
    expect(after.body.review).toMatchObject({ status: 'closed', outcome: 'unjustified', closed_by: rev.id, finding: 'No patient-safety event on ward 7 that night; the notes were read for a model question.' });
    // The step-up itself is on record, before the review.
    const [s] = await srv.app.db.sql`SELECT count(*)::int AS n FROM audit_events WHERE type = 'auth.step_up_required' AND actor_id = ${rev.id}`;
    expect(s!.n).toBeGreaterThan(0);
    cp.expectClean();
    await cp.context.close();
  });

  it("shows the API's refusal when a reviewer tries to close the review of their own break-glass", async () => {
    const cp = await openConsole(browser, srv.origin);
    await signInWithTotp(cp, srv.app, rex);
    await nav(cp, 'Break-glass reviews');
    const row = cp.page.getByRole('row').filter({ hasText: OWN_REASON });
    await row.getByRole('button', { name: 'Close review' }).click();
    const dialog = cp.page.getByRole('dialog', { name: 'Close the break-glass review' });
    await dialog.getByLabel('Finding', { exact: true }).fill('Looks fine to me, it was my own emergency after all.');
    // Past the step-up first, so the refusal comes from the own-review check and not from a stale factor.
    staleMfa();
    await dialog.getByRole('button', { name: 'Close review' }).click();
    await stepUpWithTotp(cp, srv.app, rex);
    await expect.poll(() => dialog.getByRole('alert').textContent()).toBe('You may not review your own break-glass activation.');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await loginAs(srv.app, rev);
    expect((await srv.app.call('GET', `/v1/grants/${ownGrantId}`, { token: rev.token })).body.review).toMatchObject({ status: 'open', outcome: null, finding: null });
    cp.expectClean();
    await cp.context.close();
  });

  it('acknowledges, assigns and resolves an alert, and closes the incident opened from it', async () => {
    const cp = await openConsole(browser, srv.origin);
    await signInWithTotp(cp, srv.app, rev);
    await nav(cp, 'Alerts');
    await cp.page.getByRole('table', { name: 'Alerts, newest first' }).getByRole('row').filter({ hasText: 'Many denied requests' }).getByRole('cell', { name: 'doc', exact: true }).waitFor();
    // The inbox follows the alert stream: a new alert shows without a reload.
    await cp.page.getByText('Live: changes appear as they happen.').waitFor();
    await raiseAlert(srv.app.db.appSql, { subject: doc.id, detector: 'export-volume', severity: 'critical', title: 'Unusual export volume', at: srv.app.clock.now() });
    await cp.page.getByRole('table', { name: 'Alerts, newest first' }).getByRole('link', { name: 'Unusual export volume' }).waitFor();
    await checkA11yBothThemes(cp, 'alerts');
    await screenshot(cp, 'alerts');
    await cp.page.getByRole('link', { name: 'Many denied requests' }).click();
    await cp.page.getByRole('heading', { level: 1, name: 'Many denied requests' }).waitFor();
    // The evidence links to the decision's explanation.
    await cp.page.getByRole('table', { name: /Records behind the alert/ }).getByRole('link', { name: 'Explain decision' }).waitFor();
    expect(await cp.page.getByRole('link', { name: 'Explain decision' }).getAttribute('href')).toBe(`/console/decisions/${decisionId}`);

    await cp.page.getByRole('button', { name: 'Acknowledge' }).click();
    await cp.page.getByRole('status').getByText('Acknowledged.').waitFor();
    await cp.page.getByRole('button', { name: 'Assign to me' }).click();
    await cp.page.getByRole('status').getByText('Assigned to you.').waitFor();
    await cp.page.getByLabel('Finding', { exact: true }).fill('Denied reads only; doc asked with the wrong purpose after the break-glass. No data left.');
    await checkA11yBothThemes(cp, 'alert');
    await screenshot(cp, 'alert');
    staleMfa();
    await cp.page.getByRole('button', { name: 'Resolve' }).click();
    await stepUpWithTotp(cp, srv.app, rev);
    await cp.page.getByRole('status').getByText('Resolved.').waitFor();
    // The API's token of the test (not the page's session) has aged with the clock: a fresh one.
    await loginAs(srv.app, rev);
    const alert = await srv.app.call('GET', `/v1/alerts/${alertId}`, { token: rev.token });
    expect(alert.body).toMatchObject({ status: 'resolved', assignee_id: rev.id, acknowledged_by: rev.id, resolved_by: rev.id, finding: 'Denied reads only; doc asked with the wrong purpose after the break-glass. No data left.' });

    // The incident: its clock in the list, then its closing.
    await nav(cp, 'Incidents');
    const inc = await srv.app.call('GET', `/v1/incidents/${incidentId}`, { token: rev.token });
    const row = cp.page.getByRole('row').filter({ hasText: 'Notes read outside their purpose' });
    await row.getByRole('cell', { name: `${inc.body.days_left} days left` }).waitFor();
    await row.getByRole('cell', { name: new RegExp(`^${inc.body.deadline_date}`) }).waitFor();
    await checkA11yBothThemes(cp, 'incidents');
    await row.getByRole('link').click();
    await cp.page.getByRole('heading', { level: 1, name: 'Notes read outside their purpose' }).waitFor();
    await cp.page.getByRole('table', { name: /Alerts the incident was opened from/ }).getByRole('link', { name: 'Many denied requests' }).waitFor();
    await cp.page.getByLabel('Determination', { exact: true }).selectOption('not_breach');
    await cp.page.getByLabel('Nature and extent of the PHI involved').fill('Oncology note text of no patient: every read was denied.');
    await cp.page.getByLabel('The unauthorized person').fill('A workforce member of the oncology project, under agreement.');
    await cp.page.getByLabel('Whether the PHI was acquired or viewed').fill('Not acquired: the decision log holds denies only, no token.');
    await cp.page.getByLabel('Mitigation', { exact: true }).fill('Break-glass review closed as unjustified; the person was retrained.');
    await cp.page.getByLabel(/demonstrates a low probability/).check();
    await checkA11yBothThemes(cp, 'incident');
    await screenshot(cp, 'incident');
    // By now the page's access token has lapsed too (two step-up windows since sign-in are longer than a
    // session token lives): the close is refused as unauthenticated, the session refreshed, and the retry's
    // step_up_required must still open the dialog.
    staleMfa();
    expect(2 * (srv.app.config.stepUpSeconds + 1)).toBeGreaterThan(srv.app.config.sessionTtlSeconds);
    await cp.page.getByRole('button', { name: 'Close incident' }).click();
    await stepUpWithTotp(cp, srv.app, rev);
    await cp.page.getByRole('definition').getByText('Closed: not a breach').waitFor();
    await loginAs(srv.app, rev);
    const closed = await srv.app.call('GET', `/v1/incidents/${incidentId}`, { token: rev.token });
    expect(closed.body).toMatchObject({ status: 'closed', determination: 'not_breach', closed_by: rev.id, assessment: { mitigation: 'Break-glass review closed as unjustified; the person was retrained.', low_probability_of_compromise: true } });
    cp.expectClean();
    await cp.context.close();
  });
});
