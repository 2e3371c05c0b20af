/**
 * Just-in-time access in the console, end to end against a real server:
 * two approvers, each in their own browser, approve a two-approver request
 * with step-up; the first approval alone creates no grant, the second does.
 * A requester files a request from the form, sees it pending, cancels
 * another, and sees the first granted once approved, with the grant's
 * expiry. axe on every page, in both themes.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminOf, loginAs, personDirect, type Person } from '../support/app.ts';
import { checkA11yBothThemes, launchBrowser, openConsole, screenshot, signInWithTotp, startConsoleServer, stepUpWithTotp, stopConsole, type ConsolePage, type ConsoleServer } from './browser.ts';

const NOTES = 'onc.notes';

describe('console: access requests and approvals', () => {
  let srv: ConsoleServer;
  let browser: Browser;
  let rae: Person;
  let amy: Person;
  let ben: Person;

  beforeAll(async () => {
    srv = await startConsoleServer();
    const { app } = srv;
    await adminOf(app);
    const c = app.wired.catalog;
    await c.createProject({ id: 'onc', name: 'Oncology' });
    rae = await personDirect(app, 'rae');
    amy = await personDirect(app, 'amy', [{ role: 'approver' }]);
    ben = await personDirect(app, 'ben', [{ role: 'approver' }]);
    await c.createDataset({
      id: NOTES,
      project_id: 'onc',
      owner_id: amy.id,
      purposes: ['model-training'],
      columns: [
        { name: 'patient_name', type: 'string', category: 'names' },
        { name: 'note_text', type: 'string' },
      ],
    });
    await app.wired.invalidate();
    browser = await launchBrowser();
  }, 120_000);
  afterAll(() => stopConsole(browser, srv));

  const menu = (cp: ConsolePage) => cp.page.getByRole('navigation', { name: 'Console' });
  /** Moves the server past the step-up window, so the approval must ask for a fresh factor. */
  const staleMfa = () => srv.app.clock.advance((srv.app.config.stepUpSeconds + 1) * 1000);

  it('two approvers, each with step-up, approve a two-approver request; only the second creates the grant', async () => {
    const { app } = srv;
    const justification = 'Retraining the sepsis model on the Q3 oncology notes (ticket ML-4411).';
    const filed = await app.call('POST', '/v1/access-requests', { token: await loginAs(app, rae), body: { role: 'data-scientist', project: 'onc', duration_seconds: 7200, justification } });
    expect(filed.status, JSON.stringify(filed.body)).toBe(201);
    expect(filed.body.approvals_required).toBe(2);
    const id: string = filed.body.id;
    const asRae = async () => (await app.call('GET', `/v1/access-requests/${id}`, { token: await loginAs(app, rae) })).body;
    const raesGrants = async () => (await app.call('GET', '/v1/grants?view=mine', { token: rae.token })).body.items;

    // The first approver: the inbox shows the request with its justification, window and approvals.
    const a = await openConsole(browser, srv.origin);
    await signInWithTotp(a, app, amy);
    await menu(a).getByRole('link', { name: 'Requests to approve' }).click();
    const row = a.page.getByRole('table', { name: 'Awaiting your decision' }).getByRole('row', { name: /data-scientist in project onc/ });
    await row.waitFor();
    expect(await row.textContent()).toContain(justification);
    // Who asks, by name (an approver reads no catalog: the request names its requester).
    expect(await row.getByRole('cell').nth(0).textContent()).toBe('rae');
    expect(await row.textContent()).toContain('2 hours');
    expect(await row.textContent()).toContain('0 of 2');
    await checkA11yBothThemes(a, 'requests to approve');
    await screenshot(a, 'access-inbox');
    await row.getByRole('link', { name: 'data-scientist in project onc' }).click();
    await a.page.getByRole('heading', { level: 1, name: 'Access request: data-scientist in project onc' }).waitFor();
    await a.page.getByRole('table', { name: 'History' }).getByRole('row', { name: /Requested/ }).waitFor();
    await checkA11yBothThemes(a, 'access request');
    await a.page.getByLabel('Comment (optional)').fill('fine for Q3');
    staleMfa();
    await a.page.getByRole('button', { name: 'Approve' }).click();
    await stepUpWithTotp(a, app, amy);
    await a.page.getByText('Approval recorded: 1 of 2; the request stays pending.').waitFor();
    // One approval is not enough: still pending, no grant.
    const half = await asRae();
    expect(half).toMatchObject({ status: 'pending', grant_id: null, grant: null });
    expect(half.approvals.map((x: any) => x.approver_id)).toEqual([amy.id]);
    expect(await raesGrants()).toEqual([]);
    // Approved by amy: out of her inbox.
    await menu(a).getByRole('link', { name: 'Requests to approve' }).click();
    await a.page.getByText('Nothing awaits your decision.').waitFor();
    a.expectClean();

    // The second approver, in another browser context: sees the first approval, approves with step-up.
    const b = await openConsole(browser, srv.origin);
    await signInWithTotp(b, app, ben);
    await menu(b).getByRole('link', { name: 'Requests to approve' }).click();
    const rowB = b.page.getByRole('table', { name: 'Awaiting your decision' }).getByRole('row', { name: /data-scientist in project onc/ });
    expect(await rowB.textContent()).toContain('1 of 2');
    await rowB.getByRole('link', { name: 'data-scientist in project onc' }).click();
    const approvals = b.page.getByRole('list', { name: 'Approvals' });
    await expect.poll(() => approvals.getByRole('listitem').allTextContents()).toEqual([expect.stringMatching(/^amy, .*: “fine for Q3”$/)]);
    staleMfa();
    await b.page.getByRole('button', { name: 'Approve' }).click();
    await stepUpWithTotp(b, app, ben);
    await b.page.getByText('Approved: the grant is in place.').waitFor();
    await b.page.getByRole('table', { name: 'History' }).getByRole('row', { name: /Granted/ }).waitFor();
    b.expectClean();

    // The grant exists now, for rae, of the role and project asked for, for two hours.
    const done = await asRae();
    expect(done.status).toBe('approved');
    expect(done.grant).toMatchObject({ principal_id: rae.id, role_id: 'data-scientist', project_id: 'onc', state: 'active' });
    expect(Date.parse(done.grant.expires_at) - Date.parse(done.grant.not_before)).toBe(7_200_000);
    expect((await raesGrants()).map((g: any) => g.id)).toEqual([done.grant.id]);

    // A denial, with its reason, also behind step-up.
    const other = await app.call('POST', '/v1/access-requests', { token: rae.token, body: { role: 'ai-researcher', dataset: NOTES, duration_seconds: 3600, justification } });
    expect(other.status).toBe(201);
    await menu(b).getByRole('link', { name: 'Requests to approve' }).click();
    await b.page.getByRole('link', { name: `ai-researcher in dataset ${NOTES}` }).click();
    await b.page.getByLabel('Reason for denying').fill('The Q3 cohort is not final; ask again next week.');
    staleMfa();
    await b.page.getByRole('button', { name: 'Deny' }).click();
    await stepUpWithTotp(b, app, ben);
    await b.page.getByText('Denied.', { exact: true }).waitFor();
    const refused = (await app.call('GET', `/v1/access-requests/${other.body.id}`, { token: await loginAs(app, rae) })).body;
    expect(refused).toMatchObject({ status: 'denied', decided_by: ben.id, decision_reason: 'The Q3 cohort is not final; ask again next week.', grant: null });
    b.expectClean();
    await a.context.close();
    await b.context.close();
  });

  it('a requester asks for access from the form, sees it pending, cancels another, then sees it granted', async () => {
    const { app } = srv;
    const cp = await openConsole(browser, srv.origin);
    await signInWithTotp(cp, app, rae);
    await menu(cp).getByRole('link', { name: 'Your requests' }).click();
    const form = cp.page.getByRole('form', { name: 'Ask for access' });
    const ask = async (role: string, where: 'project' | 'dataset', scope: string, hours: string) => {
      await form.getByLabel('Role', { exact: true }).selectOption(role);
      await form.getByLabel('Where').selectOption(where);
      await form.getByLabel(where === 'project' ? 'Project' : 'Dataset', { exact: true }).fill(scope);
      await form.getByLabel('Duration in hours').fill(hours);
      await form.getByLabel('Justification').fill('Evaluating the readmission model on last quarter’s cohort (ticket ML-5120).');
      await form.getByRole('button', { name: 'Request access' }).click();
    };
    // The roles on offer and their limits are the policy's.
    await expect.poll(() => form.getByLabel('Role', { exact: true }).locator('option').allTextContents()).toEqual(['ai-researcher', 'data-scientist']);
    await form.getByLabel('Role', { exact: true }).selectOption('data-scientist');
    await form.getByText('At most 8 hours').waitFor();
    await form.getByText('data-scientist needs 2 different approvers (approver).').waitFor();
    await ask('ai-researcher', 'project', 'onc', '3');
    await cp.page.getByText('Request for ai-researcher in project onc filed: pending, 1 approval needed.').waitFor();
    await ask('data-scientist', 'dataset', NOTES, '1');
    await cp.page.getByText(`Request for data-scientist in dataset ${NOTES} filed: pending, 2 approvals needed.`).waitFor();
    const table = cp.page.getByRole('table', { name: 'Your requests' });
    const status = (title: string) => table.getByRole('row', { name: new RegExp(title.replace('.', '\\.')) }).locator('td').nth(4).textContent();
    await expect.poll(() => status('ai-researcher in project onc')).toMatch(/^Pending/);
    await expect.poll(() => status(`data-scientist in dataset ${NOTES}`)).toMatch(/^Pending/);
    // A refusal from the server is shown as it comes.
    await ask('ai-researcher', 'dataset', 'onc.gone', '1');
    await expect.poll(() => cp.page.getByRole('alert').textContent()).toContain('onc.gone');

    // Cancel the second.
    await table.getByRole('button', { name: `Cancel request for data-scientist in dataset ${NOTES}` }).click();
    await cp.page.getByText(`Request for data-scientist in dataset ${NOTES} cancelled.`).waitFor();
    await expect.poll(() => status(`data-scientist in dataset ${NOTES}`)).toMatch(/^Cancelled/);
    await checkA11yBothThemes(cp, 'your requests');

    // An approver grants the first (over the API, with a fresh login's second factor).
    const mine = (await app.call('GET', '/v1/access-requests?view=mine&status=pending', { token: await loginAs(app, rae) })).body.items;
    const pending = mine.find((r: any) => r.role_id === 'ai-researcher');
    expect(pending).toBeDefined();
    const ok = await app.call('POST', `/v1/access-requests/${pending.id}/approve`, { token: await loginAs(app, amy), body: {} });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.status).toBe('approved');

    await cp.page.getByRole('button', { name: 'Refresh' }).click();
    await expect.poll(() => status('ai-researcher in project onc')).toMatch(/^Approved/);
    const grant = cp.page.getByRole('table', { name: 'Your grants, newest first' }).getByRole('row', { name: /ai-researcher/ });
    await expect.poll(() => grant.locator('td').nth(3).textContent()).toBe('Active');
    expect(await grant.locator('td').nth(2).locator('time').getAttribute('datetime')).toBe(ok.body.grant.expires_at);
    // The request's own page tells the whole story.
    await table.getByRole('link', { name: 'ai-researcher in project onc' }).click();
    await cp.page.getByRole('table', { name: 'History' }).getByRole('row', { name: /Granted/ }).waitFor();
    expect(await cp.page.getByRole('button', { name: 'Approve' }).count()).toBe(0);
    await checkA11yBothThemes(cp, 'own access request');
    await screenshot(cp, 'access-request');
    cp.expectClean();
    await cp.context.close();
  });
});
