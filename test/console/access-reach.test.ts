/**
 * Reach in the console, end to end against a real server: a reviewer finds
 * a person by name and reads what they can reach now, and every row the page
 * shows is checked against the wired decision service (the live facts and
 * the policy in force): it allows exactly those columns for that purpose,
 * and refuses each further column; the page has as many rows as the API.
 * Then who can reach a dataset's identifier columns, and a person's own
 * access. axe on every page, in both themes.
 */
import { randomUUID } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatasetCreate } from '../../src/catalog/schemas.ts';
import { evaluate } from '../../src/decisions/evaluate.ts';
import { adminOf, loginAs, personDirect, personWithRoles, type Person } from '../support/app.ts';
import { checkA11yBothThemes, launchBrowser, openConsole, screenshot, signInWithTotp, startConsoleServer, stopConsole, type ConsolePage, type ConsoleServer } from './browser.ts';

const NOTES = 'onc.notes';
const DEID = 'onc.deid';
const CARD = 'card.notes';
const COLUMNS: Record<string, string[]> = {
  [NOTES]: ['patient_name', 'note_text', 'admit_date'],
  [DEID]: ['age_band', 'dx_code'],
  [CARD]: ['patient_name', 'echo_report', 'exam_date'],
};

describe('console: who can reach what', () => {
  let srv: ConsoleServer;
  let browser: Browser;
  let reviewer: Person;
  let dana: Person;
  let sam: Person;
  let grantId: string;
  let glassId: string;

  beforeAll(async () => {
    srv = await startConsoleServer();
    const { app } = srv;
    const admin = await adminOf(app);
    reviewer = await personWithRoles(app, admin, 'rita', ['security-reviewer']);
    const c = app.wired.catalog;
    await c.createProject({ id: 'onc', name: 'Oncology' });
    await c.createProject({ id: 'card', name: 'Cardiology' });
    dana = await personDirect(app, 'dana', [{ role: 'data-scientist', project: 'onc' }]);
    sam = await personDirect(app, 'sam', [{ role: 'data-scientist', project: 'onc' }]);
    const dataset = (id: string, project: string, purposes: DatasetCreate['purposes'], columns: DatasetCreate['columns']) => c.createDataset({ id, project_id: project, owner_id: dana.id, purposes, columns });
    await dataset(NOTES, 'onc', ['model-training', 'emergency'], [
      { name: 'patient_name', type: 'string', category: 'names' },
      { name: 'note_text', type: 'string' },
      { name: 'admit_date', type: 'date', category: 'dates' },
    ]);
    await dataset(DEID, 'onc', ['model-training', 'research'], [
      { name: 'age_band', type: 'string' },
      { name: 'dx_code', type: 'string' },
    ]);
    await dataset(CARD, 'card', ['model-training'], [
      { name: 'patient_name', type: 'string', category: 'names' },
      { name: 'echo_report', type: 'string' },
      { name: 'exam_date', type: 'date', category: 'dates' },
    ]);
    // Dana also holds a just-in-time grant of the same role in cardiology, and a break-glass activation on the notes.
    const now = app.clock.now().getTime();
    grantId = randomUUID();
    glassId = randomUUID();
    await app.db.sql`
      INSERT INTO grants (id, principal_id, role_id, project_id, not_before, expires_at)
      VALUES (${grantId}, ${dana.id}, 'data-scientist', 'card', ${new Date(now - 60_000)}, ${new Date(now + 4 * 3_600_000)})`;
    await app.db.sql`
      INSERT INTO grants (id, principal_id, role_id, project_id, dataset_id, not_before, expires_at, break_glass)
      VALUES (${glassId}, ${dana.id}, 'emergency-access', 'onc', ${NOTES}, ${new Date(now - 60_000)}, ${new Date(now + 1_800_000)}, true)`;
    await app.wired.invalidate();
    browser = await launchBrowser();
  }, 120_000);
  afterAll(() => stopConsole(browser, srv));

  /** The body rows of a table, each as its cells' text. */
  const rowsOf = async (cp: ConsolePage, caption: RegExp) => {
    const table = cp.page.getByRole('table', { name: caption });
    await table.waitFor();
    const rows = await table.locator('tbody tr').all();
    // A row is rendered whole: its "Until" cell holds a <time> or none (standing access).
    const untilOf = async (r: (typeof rows)[number]) => {
      const t = r.locator('td').nth(3).locator('time');
      return (await t.count()) ? t.getAttribute('datetime') : null;
    };
    return Promise.all(rows.map(async (r) => ({ cells: await r.locator('th, td').allTextContents(), until: await untilOf(r) })));
  };

  it("finds a person by name and shows what they can reach; every row agrees with the decision service", async () => {
    const { app } = srv;
    const cp = await openConsole(browser, srv.origin);
    await signInWithTotp(cp, app, reviewer);
    await cp.page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Who can reach what' }).click();
    await cp.page.getByRole('heading', { level: 1, name: 'What a principal can reach' }).waitFor();
    await cp.page.getByLabel('Name', { exact: true }).fill('dan');
    await cp.page.getByRole('button', { name: 'Find' }).click();
    // Only the name that matches is offered.
    await cp.page.getByRole('link', { name: 'dana', exact: true }).waitFor();
    expect(await cp.page.getByRole('link', { name: 'sam', exact: true }).count()).toBe(0);
    await cp.page.getByRole('link', { name: 'dana', exact: true }).click();
    const rows = await rowsOf(cp, /What dana can read now/);
    // The search and the choice are in the URL: the view is a link.
    expect(new URL(cp.page.url()).searchParams.get('principal')).toBe(dana.id);

    const api = await app.call('GET', `/v1/principals/${dana.id}/access`, { token: await loginAs(app, reviewer) });
    expect(api.status).toBe(200);
    expect(rows.length).toBe(api.body.items.length);
    // Standing, grant and break-glass rows, over three datasets.
    expect(rows.map((r) => `${r.cells[0]} ${r.cells[1]}`).sort()).toEqual(
      [`${CARD} model-training`, `${DEID} model-training`, `${DEID} research`, `${NOTES} emergency`, `${NOTES} model-training`].sort(),
    );
    for (const row of rows) {
      const [datasetId, purpose, columnText, through] = row.cells as [string, string, string, string];
      const columns = columnText.split(', ');
      const decided = await evaluate(app.wired.decisions, { principalId: dana.id, datasetId, action: 'dataset:read', purpose, columns });
      expect(decided.decision, `${datasetId} ${purpose}`).toMatchObject({ effect: 'allow', grantedColumns: columns });
      for (const extra of COLUMNS[datasetId]!.filter((x) => !columns.includes(x))) {
        const wider = await evaluate(app.wired.decisions, { principalId: dana.id, datasetId, action: 'dataset:read', purpose, columns: [...columns, extra] });
        expect(wider.decision.effect, `${datasetId} ${purpose} + ${extra}`).toBe('deny');
      }
      // Through which rule, role or grant, and until when, as the decision says.
      for (const rule of decided.decision.rules) expect(through).toContain(rule);
      for (const g of decided.decision.grantIds) expect(through).toContain(g);
      expect(row.until).toBe(decided.decision.grantsExpireAt === null ? null : new Date(decided.decision.grantsExpireAt).toISOString());
    }
    const card = rows.find((r) => r.cells[0] === CARD)!;
    expect(card.cells[3]).toContain('Just-in-time grant');
    expect(card.cells[3]).toContain(grantId);
    expect(rows.find((r) => r.cells[1] === 'emergency')!.cells[3]).toContain('Break-glass');
    await checkA11yBothThemes(cp, 'principal access');
    await screenshot(cp, 'access-principal');

    // Who can reach the notes' identifier columns: dana (two purposes) and sam, identifier columns only.
    await cp.page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Dataset reach' }).click();
    await cp.page.getByLabel('Dataset', { exact: true }).selectOption(NOTES);
    await cp.page.getByRole('button', { name: 'Show' }).click();
    const ids = await rowsOf(cp, new RegExp(`Identifier columns of ${NOTES.replace('.', '\\.')} readable now`));
    const apiIds = await app.call('GET', `/v1/datasets/${NOTES}/access?identifiers=true`, { token: reviewer.token });
    expect(ids.length).toBe(apiIds.body.items.length);
    expect(ids.map((r) => [r.cells[0], r.cells[1], r.cells[2]]).sort()).toEqual(
      [
        ['dana', 'emergency', 'patient_name (identifier), admit_date (identifier)'],
        ['dana', 'model-training', 'admit_date (identifier)'],
        ['sam', 'model-training', 'admit_date (identifier)'],
      ].sort(),
    );
    await checkA11yBothThemes(cp, 'dataset reach');
    await screenshot(cp, 'access-dataset');
    // Every column: the note text appears too.
    await cp.page.getByLabel('Columns', { exact: true }).selectOption('false');
    await cp.page.getByRole('button', { name: 'Show' }).click();
    const all = await rowsOf(cp, new RegExp(`^Columns of ${NOTES.replace('.', '\\.')} readable now`));
    expect(all.find((r) => r.cells[0] === 'sam')!.cells[2]).toBe('note_text, admit_date (identifier)');
    expect(new URL(cp.page.url()).searchParams.get('identifiers')).toBe('false');
    cp.expectClean();
    await cp.context.close();
  });

  it('a person sees their own access, and not the reviewers’ pages', async () => {
    const cp = await openConsole(browser, srv.origin);
    await signInWithTotp(cp, srv.app, sam);
    const menu = cp.page.getByRole('navigation', { name: 'Console' });
    expect(await menu.getByRole('link', { name: 'Who can reach what' }).count()).toBe(0);
    await menu.getByRole('link', { name: 'Your access' }).click();
    const rows = await rowsOf(cp, /What you can read now/);
    expect(rows.map((r) => [r.cells[0], r.cells[1], r.cells[2]]).sort()).toEqual(
      [
        [DEID, 'model-training', 'age_band, dx_code'],
        [DEID, 'research', 'age_band, dx_code'],
        [NOTES, 'model-training', 'note_text, admit_date'],
      ].sort(),
    );
    await checkA11yBothThemes(cp, 'your access');
    // Someone else's access is the API's refusal, shown as such.
    await cp.page.goto(`${srv.origin}/console/access/principals?principal=${dana.id}`);
    await expect.poll(() => cp.page.getByRole('alert').textContent()).toContain('audit:read or catalog:read');
    cp.expectClean();
    await cp.context.close();
  });
});
