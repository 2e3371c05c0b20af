/**
 * The catalog in the console, end to end against a real server: create a
 * project, then a dataset with identifier columns (step-up when the second
 * factor is no longer fresh) and see its derived classification and
 * identifier columns, as the API stores them; services with their sponsors,
 * roles with inheritance, vendors with their BAAs' expiry, a person created
 * with a one-time enrollment secret; and a pending dual-control change
 * approved with step-up by a second administrator. axe on every page.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminOf, loginAs, personDirect, personWithRoles, type Person } from '../support/app.ts';
import { checkA11yBothThemes, launchBrowser, openConsole, screenshot, signInWithTotp, startConsoleServer, stepUpWithTotp, stopConsole, type ConsoleServer } from './browser.ts';

describe('console: the catalog', () => {
  let srv: ConsoleServer;
  let browser: Browser;
  let admin: Person;
  let olga: Person;
  let pat: Person;
  let serviceId: string;
  let changeId: string;

  beforeAll(async () => {
    srv = await startConsoleServer({ CUSTOS_IDLE_TIMEOUT_SECONDS: '3600', CUSTOS_SESSION_TTL_SECONDS: '3600' });
    const app = srv.app;
    admin = await adminOf(app);
    olga = await personWithRoles(app, admin, 'olga', ['system-administrator']);
    pat = await personDirect(app, 'pat');
    const c = app.wired.catalog;
    await c.createProject({ id: 'cardio', name: 'Cardiology' });
    serviceId = (await c.createPrincipal({ kind: 'service', name: 'trainer-job', sponsor_id: admin.id, project_id: 'cardio' })).id;
    await c.createRole({ id: 'lead-scientist', description: 'Leads a project team', inherits: ['data-scientist'] });
    await c.createVendor({ id: 'acme', name: 'Acme Labelling' });
    // In force at the server's date (2026-06-01): expires 2026-12-31.
    await c.addBaa('acme', { reference: 'BAA-2026-07', effective_on: '2026-01-01', expires_on: '2026-12-31', purposes: ['model-training'], classifications: ['deidentified'] });
    // A second administrator proposes an approver role for pat: it waits for another administrator.
    await loginAs(app, olga);
    const proposed = await app.call('POST', '/v1/role-assignments', { token: olga.token, body: { principal_id: pat.id, role_id: 'approver' } });
    expect(proposed.status, JSON.stringify(proposed.body)).toBe(202);
    changeId = proposed.body.id;
    await app.wired.invalidate();
    browser = await launchBrowser();
  }, 120_000);
  afterAll(() => stopConsole(browser, srv));

  const nav = (page: import('playwright-core').Page, name: string) => page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name, exact: true }).click();
  const rows = async (page: import('playwright-core').Page, caption: string) =>
    (await page.getByRole('table', { name: caption }).getByRole('row').allInnerTexts()).slice(1).map((r) => r.split('\t').map((x) => x.trim()));

  it('creates a project and a dataset (step-up), and shows its derived classification and identifier columns', async () => {
    const cp = await openConsole(browser, srv.origin);
    await signInWithTotp(cp, srv.app, admin);
    const { page } = cp;

    await nav(page, 'Projects');
    await expect.poll(() => rows(page, 'Projects')).toEqual([['cardio', 'Cardiology', '—', expect.any(String)]]);
    await checkA11yBothThemes(cp, 'projects');
    await page.getByLabel('Project id').fill('onc');
    await page.getByLabel('Project name').fill('Oncology');
    await page.getByRole('button', { name: 'Create project' }).click();
    await page.getByRole('heading', { name: 'Project onc', level: 1 }).waitFor();
    await checkA11yBothThemes(cp, 'project');
    expect((await srv.app.call('GET', '/v1/projects/onc', { token: admin.token })).body).toMatchObject({ id: 'onc', name: 'Oncology' });

    await nav(page, 'Datasets');
    await page.getByText('No datasets yet.').waitFor();
    await page.getByRole('link', { name: 'Create a dataset' }).click();
    await page.getByRole('heading', { name: 'Create a dataset', level: 1 }).waitFor();
    await page.getByLabel('Dataset id').fill('onc.notes');
    await page.getByLabel('Project').selectOption('onc');
    await page.getByLabel('Owner').selectOption(admin.id);
    await page.getByRole('checkbox', { name: 'research' }).check();
    await page.getByLabel('Column 1 name').fill('patient_name');
    await page.getByLabel('Column 1 identifier category').selectOption('names');
    await page.getByRole('button', { name: 'Add a column' }).click();
    await page.getByLabel('Column 2 name').fill('note_text');
    await page.getByRole('button', { name: 'Add a column' }).click();
    await page.getByLabel('Column 3 name').fill('admit_date');
    await page.getByLabel('Column 3 type').selectOption('date');
    await page.getByLabel('Column 3 identifier category').selectOption('dates');
    await checkA11yBothThemes(cp, 'create a dataset');
    // The sign-in's second factor is no longer fresh: creating a dataset asks for step-up.
    srv.app.clock.advance((srv.app.config.stepUpSeconds + 1) * 1000);
    await page.getByRole('button', { name: 'Create dataset' }).click();
    await stepUpWithTotp(cp, srv.app, admin);
    await page.getByRole('heading', { name: 'Dataset onc.notes', level: 1 }).waitFor();

    const stored = (await srv.app.call('GET', '/v1/datasets/onc.notes', { token: admin.token })).body;
    expect(stored).toMatchObject({ project_id: 'onc', owner_id: admin.id, classification: 'phi', classification_basis: 'identifiers-present', identifier_categories: ['dates', 'names'], purposes: ['model-training', 'research'] });
    await expect.poll(() => page.getByRole('definition').first().textContent()).toBe('PHI (identifier columns present)');
    expect(await page.getByRole('main').innerText()).toContain('Identifier categories\ndates, names Who can reach its identifier columns');
    expect(await page.getByRole('link', { name: 'Who can reach its identifier columns' }).getAttribute('href')).toBe('/console/access/datasets?dataset=onc.notes');
    expect(await rows(page, 'Columns')).toEqual([
      ['patient_name', 'string', 'names'],
      ['note_text', 'string', 'not an identifier'],
      ['admit_date', 'date', 'dates'],
    ]);
    await checkA11yBothThemes(cp, 'dataset');
    await screenshot(cp, 'catalog-dataset');

    await page.getByRole('link', { name: 'All datasets' }).click();
    await expect.poll(() => rows(page, 'Datasets')).toEqual([['onc.notes', 'onc', 'PHI (identifier columns present)', 'patient_name (names), admit_date (dates)', 'model-training, research']]);
    await checkA11yBothThemes(cp, 'datasets');
    await screenshot(cp, 'catalog-datasets');
    cp.expectClean();
    await cp.context.close();
  }, 60_000);

  it('shows services with their sponsors, roles with inheritance, vendors with their BAAs, creates a person, and approves a pending change with step-up', async () => {
    const cp = await openConsole(browser, srv.origin);
    await signInWithTotp(cp, srv.app, admin);
    const { page } = cp;

    await nav(page, 'People and services');
    await expect.poll(async () => (await rows(page, 'People and services')).find((r) => r[0] === 'trainer-job')).toEqual(['trainer-job', 'service', '—', 'active', admin.username, 'cardio', '—']);
    await checkA11yBothThemes(cp, 'people and services');
    await screenshot(cp, 'catalog-principals');
    await page.getByRole('link', { name: 'trainer-job' }).click();
    await page.getByRole('heading', { name: 'Service trainer-job', level: 1 }).waitFor();
    expect(await page.getByRole('main').innerText()).toContain(`Sponsor\n${admin.username}`);
    await page.getByText('No roles assigned.').waitFor();
    await page.getByRole('button', { name: 'Edit trainer-job' }).click();
    await page.getByLabel('Display name').fill('Nightly trainer');
    await checkA11yBothThemes(cp, 'a service');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByText('Saved.').waitFor();
    expect((await srv.app.call('GET', `/v1/principals/${serviceId}`, { token: admin.token })).body).toMatchObject({ display_name: 'Nightly trainer', sponsor_id: admin.id });
    expect(page.url()).toContain(serviceId);

    await page.goto(`${srv.origin}/console/admin/create/principal`);
    await page.getByLabel('Name', { exact: true }).fill('nina');
    await page.getByLabel('Display name').fill('Nina Novak');
    await checkA11yBothThemes(cp, 'create a person or service');
    await page.getByRole('button', { name: 'Create person' }).click();
    const secret = (await page.getByLabel('Enrollment secret', { exact: true }).textContent())!;
    await checkA11yBothThemes(cp, 'a person created, with the enrollment secret');
    // The secret shown is the one that works, once.
    const enrolled = await srv.app.call('POST', '/v1/auth/enroll', { body: { username: 'nina', enrollment_secret: secret, password: 'correct horse battery staple 42!' } });
    expect(enrolled.status, JSON.stringify(enrolled.body)).toBe(200);
    const nina = (await srv.app.call('GET', '/v1/principals?limit=200', { token: admin.token })).body.items.find((p: any) => p.name === 'nina');
    expect(nina).toMatchObject({ kind: 'user', display_name: 'Nina Novak', status: 'active' });

    await nav(page, 'Roles');
    await expect.poll(async () => (await rows(page, 'Roles')).find((r) => r[0] === 'lead-scientist')).toEqual(['lead-scientist', 'Leads a project team', 'data-scientist']);
    await checkA11yBothThemes(cp, 'roles');
    await page.getByRole('link', { name: 'lead-scientist' }).click();
    await page.getByRole('heading', { name: 'Role lead-scientist', level: 1 }).waitFor();
    await expect.poll(() => page.getByRole('main').innerText()).toContain('Inherits in all\ndata-scientist');
    await checkA11yBothThemes(cp, 'a role');

    await nav(page, 'Vendors and BAAs');
    await expect.poll(() => rows(page, 'Vendors')).toEqual([['acme', 'Acme Labelling', expect.stringMatching(/^BAA-2026-07: in force, expires 2026-12-31 \(in \d+ days?\)$/)]]);
    await checkA11yBothThemes(cp, 'vendors');
    await page.getByRole('link', { name: 'acme' }).click();
    await expect.poll(() => rows(page, 'Business associate agreements')).toEqual([['BAA-2026-07', '2026-01-01', '2026-12-31', 'model-training', 'deidentified', expect.stringContaining('expires 2026-12-31')]]);
    await checkA11yBothThemes(cp, 'a vendor');

    // The pending change: olga proposed it; this administrator approves it, with a fresh second factor.
    await nav(page, 'Pending changes');
    await expect.poll(() => rows(page, 'Changes: pending')).toEqual([['role assignment', 'pat', 'administrative-role', 'olga', expect.any(String), expect.any(String)]]);
    await checkA11yBothThemes(cp, 'pending changes');
    await page.getByRole('link', { name: 'role assignment' }).click();
    await page.getByRole('heading', { level: 1, name: 'Change: role assignment of pat' }).waitFor();
    await checkA11yBothThemes(cp, 'a pending change');
    expect((await srv.app.call('GET', `/v1/role-assignments?principal_id=${pat.id}`, { token: admin.token })).body.items).toEqual([]);
    srv.app.clock.advance((srv.app.config.stepUpSeconds + 1) * 1000);
    await page.getByLabel('Comment or reason').fill('pat approves for the oncology team');
    await page.getByRole('button', { name: 'Approve change' }).click();
    await stepUpWithTotp(cp, srv.app, admin);
    await page.getByText('Approved and applied.').waitFor();
    await expect.poll(() => page.getByRole('main').innerText()).toContain('Status\napplied');
    const assigned = (await srv.app.call('GET', `/v1/role-assignments?principal_id=${pat.id}`, { token: admin.token })).body.items;
    expect(assigned.map((a: any) => [a.role_id, a.project_id])).toEqual([['approver', null]]);
    expect((await srv.app.call('GET', `/v1/changes/${changeId}`, { token: admin.token })).body).toMatchObject({ status: 'applied', decided_by: admin.id });
    cp.expectClean();
    await cp.context.close();
  }, 60_000);
});
