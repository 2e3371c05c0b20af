/**
 * Policy administration in the console, end to end against a real server:
 * an edit that does not compile is shown inline in the editor (the issue
 * placed on the YAML line it names); an edit that breaks a policy test shows
 * the failing case; the fixed draft's diff and its simulation over the
 * logged decisions (flips by rule, principal and dataset); a push refused
 * because another administrator pushed meanwhile (If-Match), then a push
 * with step-up; history and rollback. The live version is checked through
 * the API at each step. Also: a push that changes a test file waits for a
 * second administrator; a security reviewer sees the logged requests that
 * would flip, and the API's refusal of their push. CodeMirror runs under the
 * strict CSP (no violation).
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminOf, loginAs, personDirect, personWithRoles, type Person } from '../support/app.ts';
import { checkA11yBothThemes, launchBrowser, openConsole, screenshot, signInWithTotp, startConsoleServer, stepUpWithTotp, stopConsole, type ConsolePage, type ConsoleServer } from './browser.ts';

describe('console: policy administration', () => {
  let srv: ConsoleServer;
  let browser: Browser;
  let admin: Person;
  let other: Person;
  let sam: Person;
  let reviewer: Person;
  let v1: { documents: Record<string, string>; tests: Record<string, string>; etag: string };

  const live = async () => {
    const r = await srv.app.call('GET', '/v1/policy', { token: admin.token });
    expect(r.status).toBe(200);
    return r.body as { version: number; documents: Record<string, string>; tests: Record<string, string>; etag: string; rollback_of: number | null; author_id: string };
  };

  beforeAll(async () => {
    srv = await startConsoleServer({ CUSTOS_IDLE_TIMEOUT_SECONDS: '3600', CUSTOS_SESSION_TTL_SECONDS: '3600' });
    const app = srv.app;
    admin = await adminOf(app);
    other = await personWithRoles(app, admin, 'olga', ['system-administrator']);
    const c = app.wired.catalog;
    await c.createProject({ id: 'onc', name: 'Oncology' });
    await c.createDataset({ id: 'onc.deid', project_id: 'onc', owner_id: admin.id, purposes: ['model-evaluation', 'research'], columns: [{ name: 'outcome' }, { name: 'age_band' }] } as never);
    sam = await personDirect(app, 'sam', [{ role: 'data-scientist', project: 'onc' }]);
    reviewer = await personDirect(app, 'rey', [{ role: 'security-reviewer' }]);
    await app.wired.invalidate();
    // The decision log the simulation replays: three allows of sam's model evaluation on de-identified data.
    for (let i = 0; i < 3; i++) {
      const d = await app.call('POST', '/v1/decisions', { token: admin.token, body: { principal_id: sam.id, dataset: 'onc.deid', purpose: 'model-evaluation', columns: ['outcome'] } });
      expect(d.status, JSON.stringify(d.body)).toBe(200);
      expect(d.body).toMatchObject({ effect: 'allow', rules: ['scientist-deidentified'] });
    }
    app.clock.advance(60_000);
    v1 = await live();
    expect(v1).toMatchObject({ version: 1 });
    browser = await launchBrowser();
  }, 120_000);
  afterAll(() => stopConsole(browser, srv));

  /** The editor's content replaced as a person would: copy the new text, select all in the editor, paste. */
  async function replaceText(cp: ConsolePage, label: string, text: string) {
    await cp.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: srv.origin });
    await cp.page.evaluate((t) => (globalThis as any).navigator.clipboard.writeText(t), text);
    const editor = cp.page.getByRole('textbox', { name: label });
    await editor.click();
    await cp.page.keyboard.press('ControlOrMeta+a');
    await cp.page.keyboard.press('ControlOrMeta+v');
    await expect.poll(() => editor.evaluate((e: any) => e.innerText.length as number)).toBeGreaterThan(0);
  }

  const lineOf = (text: string, needle: string) => text.slice(0, text.indexOf(needle)).split('\n').length;

  it('shows an invalid edit inline and a failing test case, then the fix: diff, simulation, a push refused by If-Match, a push, and a rollback', async () => {
    const doc = v1.documents['default.yaml']!;
    const intended = doc.replace('    purposes: [model-training, model-evaluation, research]\n', '    purposes: [model-training, research]\n');
    expect(intended).not.toBe(doc);
    const invalid = intended.replace('    effect: deny\n    roles: [system-administrator]', '    effect: refuse\n    roles: [system-administrator]');
    expect(invalid).not.toBe(intended);
    const start = intended.indexOf('  - id: sysadmin-never-reads-phi\n');
    const failing = intended.slice(0, start) + intended.slice(intended.indexOf('  - id: reviewer-reads-no-data\n'));

    const cp = await openConsole(browser, srv.origin);
    // The viewer's clock agrees with the server's (a test server runs on a frozen clock): "the last 7 days" are the server's.
    await cp.page.clock.install({ time: srv.app.clock.now() });
    await signInWithTotp(cp, srv.app, admin);
    const { page } = cp;
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Policy', exact: true }).click();
    await page.getByRole('heading', { name: 'Policy', level: 1 }).waitFor();
    await page.getByText('Live: version 1,').waitFor();
    const label = 'default.yaml (rule document)';
    await page.getByRole('textbox', { name: label }).waitFor();
    // CodeMirror is styled through a constructable stylesheet in its shadow root (which CSP does not govern), not a <style>
    // element (which `style-src 'self'` would block): its theme applies, and the page has no <style> anywhere.
    const styling = await page.getByRole('textbox', { name: label }).evaluate((el: any) => {
      const g = globalThis as any;
      const root = el.getRootNode();
      return {
        inShadowRoot: root !== g.document,
        adoptedRules: (root.adoptedStyleSheets as any[]).reduce((n: number, sheet: any) => n + sheet.cssRules.length, 0),
        styleElements: g.document.querySelectorAll('style').length + root.querySelectorAll('style').length,
        font: g.getComputedStyle(el).fontFamily as string,
      };
    });
    expect(styling).toMatchObject({ inShadowRoot: true, styleElements: 0, font: expect.stringContaining('monospace') });
    expect(styling.adoptedRules).toBeGreaterThan(50);

    // 1. An edit that does not compile: the issue is listed with its line, and shown in the editor on that line.
    await replaceText(cp, label, invalid);
    await page.getByText('Changed: default.yaml').waitFor();
    await page.getByRole('button', { name: 'Validate and run tests' }).click();
    await page.getByText('Does not compile: 1 problem.').waitFor();
    const problems = page.getByRole('list', { name: 'Problems' });
    await expect.poll(() => problems.textContent()).toContain('default.yaml › sysadmin-never-reads-phi › effect');
    const line = lineOf(invalid, 'effect: refuse');
    await problems.getByRole('button', { name: `line ${line}` }).waitFor();
    const diagnostics = page.getByRole('listbox', { name: 'Diagnostics' });
    await expect.poll(() => diagnostics.getByRole('option').allTextContents()).toEqual([expect.stringContaining('sysadmin-never-reads-phi › effect')]);
    // The editor marks exactly the text of the bad value (CodeMirror's lint range on "refuse").
    await expect.poll(() => page.locator('.cm-lintRange-error').allTextContents()).toEqual(['refuse']);
    await checkA11yBothThemes(cp, 'policy editor with an inline error');
    await screenshot(cp, 'policy-editor-error');
    expect((await live()).version).toBe(1);

    // 2. An edit that compiles but breaks the policy's tests: the failing cases, with what differs.
    await replaceText(cp, label, failing);
    await page.getByRole('button', { name: 'Validate and run tests' }).click();
    const failures = page.getByRole('table', { name: 'Failing test cases' });
    await failures.waitFor();
    await expect.poll(() => failures.getByRole('rowheader').allTextContents()).toEqual(['a system administrator never reads PHI', 'the administrator deny overrides the scientist allow']);
    await expect.poll(() => failures.textContent()).toContain('effect: expected "deny", got "allow"');
    const cases = Object.values(v1.tests).reduce((n, t) => n + (t.match(/^ {2}- name: /gm)?.length ?? 0), 0);
    await page.getByText(`tests: ${cases - 2} of ${cases} cases pass in 2 files, 2 failing.`).waitFor();
    expect((await live()).version).toBe(1);

    // 3. The fix: valid; its diff against the live version; its simulation over the logged decisions.
    await replaceText(cp, label, intended);
    await page.getByRole('button', { name: 'Validate and run tests' }).click();
    await page.getByText('Valid: it compiles and every test passes.').waitFor();
    await expect.poll(() => page.getByRole('table', { name: 'Failing test cases' }).count()).toBe(0);
    await page.getByRole('button', { name: 'Show diff' }).click();
    const diff = page.getByLabel('Diff of default.yaml');
    await expect.poll(() => diff.locator('del').allTextContents()).toEqual(['-    purposes: [model-training, model-evaluation, research]\n']);
    expect(await diff.locator('ins').allTextContents()).toEqual(['+    purposes: [model-training, research]\n']);
    await screenshot(cp, 'policy-diff');

    await page.getByLabel('Days of logged requests').fill('7');
    await page.getByRole('button', { name: 'Simulate' }).click();
    const byRule = page.getByRole('table', { name: 'Flips by rule' });
    await byRule.waitFor();
    await page.getByText('Replayed 3 logged requests').waitFor();
    // An administrator holds policy:read but not audit:read: counts only, no logged request.
    await page.getByText('Examples of logged requests are shown only to holders of audit:read.').waitFor();
    expect(await page.getByRole('table', { name: 'Examples of decisions that would flip' }).count()).toBe(0);
    const rows = async (name: string) => (await page.getByRole('table', { name }).getByRole('row').allInnerTexts()).slice(1).map((r) => r.split('\t'));
    expect(await rows('Flips by rule')).toEqual([['scientist-deidentified', '3', '0']]);
    await expect.poll(() => rows('Flips by principal')).toEqual([['sam', '3', '0']]);
    expect(await rows('Flips by dataset')).toEqual([['onc.deid', '3', '0']]);
    // One check covers the page with both its diff and its simulation shown.
    await checkA11yBothThemes(cp, 'policy diff and simulation');
    await screenshot(cp, 'policy-simulation');
    expect((await live()).version).toBe(1);

    // 4. Meanwhile another administrator pushes: the page's push carries version 1's ETag and is refused.
    await loginAs(srv.app, other);
    const theirs = doc.replace('rules:\n', '# Reviewed by olga.\nrules:\n');
    const pushed = await srv.app.call('PUT', '/v1/policy', { token: other.token, headers: { 'if-match': v1.etag }, body: { documents: { 'default.yaml': theirs }, comment: 'reviewed' } });
    expect(pushed.status, JSON.stringify(pushed.body)).toBe(200);
    await page.getByLabel('Comment for the history').fill('scientists evaluate models through projects');
    await page.getByRole('button', { name: 'Push as version 2' }).click();
    await page.getByRole('alert').filter({ hasText: 'the live policy changed since you loaded version 1 (version 2 is live now)' }).waitFor();
    const afterRefusal = await live();
    expect(afterRefusal).toMatchObject({ version: 2, author_id: other.id });
    expect(afterRefusal.documents['default.yaml']).toBe(theirs);
    // The refusal came from the If-Match check, with the ETag the page had read.
    const refused = await srv.app.wired.app.audit.recent({ type: 'policy.updated_refused', actorId: admin.id, limit: 5 });
    expect(refused.map((e) => [e.details.reason, e.details.if_match])).toEqual([['precondition', v1.etag]]);

    // The draft is kept; compared with version 2 it would drop the colleague's line, so the author merges it in.
    await page.getByRole('button', { name: 'Compare my draft with version 2' }).click();
    await page.getByText('Live: version 2,').waitFor();
    await expect.poll(() => diff.locator('del').allTextContents()).toContain('-# Reviewed by olga.\n');
    const merged = theirs.replace('    purposes: [model-training, model-evaluation, research]\n', '    purposes: [model-training, research]\n');
    await replaceText(cp, label, merged);
    await expect.poll(() => diff.locator('del').allTextContents()).toEqual(['-    purposes: [model-training, model-evaluation, research]\n']);

    // 5. The push, with step-up: the sign-in's second factor is no longer fresh, so the dialog appears.
    srv.app.clock.advance((srv.app.config.stepUpSeconds + 1) * 1000);
    await page.getByRole('button', { name: 'Push as version 3' }).click();
    await stepUpWithTotp(cp, srv.app, admin);
    await page.getByText('Pushed: version 3 is live.').waitFor();
    await page.getByText('Live: version 3,').waitFor();
    const v3 = await live();
    expect(v3).toMatchObject({ version: 3, author_id: admin.id });
    expect(v3.documents['default.yaml']).toBe(merged);
    expect(v3.tests).toEqual(v1.tests);
    const decided = await srv.app.call('POST', '/v1/decisions', { token: admin.token, body: { principal_id: sam.id, dataset: 'onc.deid', purpose: 'model-evaluation', columns: ['outcome'] } });
    expect(decided.body.effect).toBe('deny');

    // 6. History and rollback to version 2 (If-Match of the live version as the page read it).
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Policy history' }).click();
    const history = page.getByRole('table', { name: 'Policy versions, newest first' });
    await expect.poll(() => history.getByRole('rowheader').allTextContents()).toEqual(['3 (live)', '2', '1']);
    await page.getByRole('button', { name: 'Changes in version 3' }).click();
    await page.getByRole('heading', { name: 'Version 3 against version 2' }).waitFor();
    await expect.poll(() => page.getByLabel('Diff of default.yaml').locator('ins').allTextContents()).toEqual(['+    purposes: [model-training, research]\n']);
    await checkA11yBothThemes(cp, 'policy history');
    await screenshot(cp, 'policy-history');
    await page.getByRole('button', { name: 'Roll back to version 2' }).click();
    const dialog = page.getByRole('dialog', { name: 'Roll back to version 2' });
    await dialog.getByLabel('Reason for the rollback').fill('evaluation stays open to scientists');
    // The rollback asks for step-up too: the step-up dialog is named by its own title while the rollback dialog is in the page.
    srv.app.clock.advance((srv.app.config.stepUpSeconds + 1) * 1000);
    await dialog.getByRole('button', { name: 'Roll back', exact: true }).click();
    await stepUpWithTotp(cp, srv.app, admin);
    await page.getByText('Rolled back: version 4 (equal to version 2) is live.').waitFor();
    const v4 = await live();
    expect(v4).toMatchObject({ version: 4, rollback_of: 2 });
    expect(v4.documents).toEqual(afterRefusal.documents);
    await expect.poll(() => history.getByRole('rowheader').allTextContents()).toEqual(['4 (live)', '3', '2', '1']);
    const restored = await srv.app.call('POST', '/v1/decisions', { token: admin.token, body: { principal_id: sam.id, dataset: 'onc.deid', purpose: 'model-evaluation', columns: ['outcome'] } });
    expect(restored.body.effect).toBe('allow');

    cp.expectClean();
    await cp.context.close();
  }, 90_000);

  it('holds a push that changes a test file for a second administrator, and shows it among the pending changes', async () => {
    const cp = await openConsole(browser, srv.origin);
    await signInWithTotp(cp, srv.app, admin);
    const { page } = cp;
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Policy', exact: true }).click();
    const before = await live();
    await page.getByRole('textbox', { name: 'default.yaml (rule document)' }).waitFor();
    await page.getByLabel('File').selectOption('tests/role-table.yaml');
    const label = 'role-table.yaml (test file)';
    await page.getByRole('textbox', { name: label }).waitFor();
    const weakened = before.tests['role-table.yaml']!.replace(/\n {2}- name: a security reviewer reads no data at all\n[\s\S]*$/, '\n');
    expect(weakened.length).toBeLessThan(before.tests['role-table.yaml']!.length);
    await replaceText(cp, label, weakened);
    await page.getByRole('button', { name: `Push as version ${before.version + 1}` }).click();
    await page.getByText(/Held for a second administrator \(policy-tests-changed\)/).waitFor();
    expect((await live()).version).toBe(before.version);
    await page.getByRole('link', { name: 'pending change', exact: true }).click();
    await page.getByRole('heading', { name: 'Change: policy push of the policy', level: 1 }).waitFor();
    await expect.poll(() => page.getByLabel('Diff of role-table.yaml').locator('del').first().textContent()).toContain('a security reviewer reads no data at all');
    await checkA11yBothThemes(cp, 'pending change');
    // The proposer may withdraw it (never approve it).
    await page.getByRole('button', { name: 'Reject change' }).click();
    await page.getByText('Withdrawn.').waitFor();
    const changes = await srv.app.call('GET', '/v1/changes?status=withdrawn', { token: admin.token });
    expect(changes.body.items.filter((c: any) => c.kind === 'policy.update').map((c: any) => [c.target, c.status, c.reasons])).toEqual([['policy', 'withdrawn', ['policy-tests-changed']]]);
    expect((await live()).version).toBe(before.version);
    cp.expectClean();
    await cp.context.close();
  });

  it('shows a security reviewer the logged requests that would flip, and the refusal of their push', async () => {
    const before = await live();
    const candidate = before.documents['default.yaml']!.replace('    purposes: [model-training, model-evaluation, research]\n', '    purposes: [model-training, research]\n');
    expect(candidate).not.toBe(before.documents['default.yaml']);
    const cp = await openConsole(browser, srv.origin);
    await cp.page.clock.install({ time: srv.app.clock.now() });
    await signInWithTotp(cp, srv.app, reviewer);
    const { page } = cp;
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Policy', exact: true }).click();
    // Typing over a selection of highlighted text: the editor replaces it itself (the browser's own editing would add a
    // style attribute, which the CSP blocks and reports; expectClean below fails on any such report).
    const editor = page.getByRole('textbox', { name: 'default.yaml (rule document)' });
    await editor.click();
    await page.keyboard.press('ControlOrMeta+a');
    await page.keyboard.type('ru');
    await expect.poll(() => editor.evaluate((e: any) => e.innerText as string)).toBe('ru');
    expect(cp.problems).toEqual([]);
    await replaceText(cp, 'default.yaml (rule document)', candidate);
    await page.getByRole('button', { name: 'Simulate' }).click();
    const examples = page.getByRole('table', { name: 'Examples of decisions that would flip' });
    await examples.waitFor();
    const shown = async () => (await examples.getByRole('row').allInnerTexts()).slice(1).map((r) => r.split('\t').slice(1, 5));
    // The three seeded allows, and those the first flow's checks logged since: each one sam's model evaluation, allowed
    // today. Names arrive after the rows (ids first, then each name once looked up), so the rows are read until they settle.
    await expect.poll(async () => (await shown()).every((r) => r[0] === 'sam')).toBe(true);
    const rows = await shown();
    expect(rows.length).toBeGreaterThanOrEqual(3);
    expect(rows).toEqual(Array(rows.length).fill(['sam', 'onc.deid', 'model-evaluation', 'allow (scientist-deidentified)']));
    await checkA11yBothThemes(cp, 'policy simulation with examples');
    // Reviewers read the policy but do not push it: the API's refusal is what the page shows.
    await page.getByRole('button', { name: `Push as version ${before.version + 1}` }).click();
    await page.getByRole('alert').filter({ hasText: /permission|not allowed|forbidden/i }).waitFor();
    expect((await live()).version).toBe(before.version);
    cp.expectClean();
    await cp.context.close();
  });
});
