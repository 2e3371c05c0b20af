/**
 * Signing in to the console: password then TOTP; a passkey registered from
 * the factors page (with step-up), then used alone to sign in; idle sessions
 * signed out; the page's CSP and accessibility.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminOf, type Person } from '../support/app.ts';
import { checkA11yBothThemes, launchBrowser, openConsole, screenshot, signInWithTotp, startConsoleServer, stepUpWithTotp, stopConsole, type ConsoleServer } from './browser.ts';

describe('console sign-in', () => {
  let srv: ConsoleServer;
  let browser: Browser;
  let admin: Person;

  beforeAll(async () => {
    srv = await startConsoleServer();
    admin = await adminOf(srv.app);
    browser = await launchBrowser();
  }, 120_000);
  afterAll(() => stopConsole(browser, srv));

  it('serves the console under a strict Content-Security-Policy, with no inline code', async () => {
    const res = await fetch(`${srv.app.url}/console/decisions`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    const html = await res.text();
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    expect(html).not.toMatch(/<style|\sstyle=/);
    // Assets are files with hashed names, cached for good; a name that is not one is a 404.
    const asset = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)![1]!;
    const js = await fetch(`${srv.app.url}${asset}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('cache-control')).toContain('immutable');
    expect((await fetch(`${srv.app.url}/console/assets/..%2F..%2Fpackage.json`)).status).toBe(404);
    expect((await fetch(`${srv.app.url}/console/assets/missing.js`)).status).toBe(404);
  });

  it('signs in with password and TOTP, and signs out', async () => {
    const cp = await openConsole(browser, srv.origin);
    await checkA11yBothThemes(cp, 'sign-in');
    await screenshot(cp, 'sign-in');
    // A wrong code is refused with the API's message, and the page stays on the second step.
    await cp.page.getByLabel('Username', { exact: true }).fill(admin.username);
    await cp.page.getByLabel('Password', { exact: true }).fill(admin.password);
    await cp.page.getByRole('button', { name: 'Continue' }).click();
    await cp.page.getByLabel('Authenticator code', { exact: true }).fill('000000');
    await cp.page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => cp.page.getByRole('alert').textContent()).toBeTruthy();
    await cp.page.getByRole('button', { name: 'Start again' }).click();
    await signInWithTotp(cp, srv.app, admin);
    // The policy is in force in the browser: a script added at run time does not run, and the violation is seen.
    expect(await cp.page.evaluate(() => {
      const doc = (globalThis as any).document;
      const s = doc.createElement('script');
      s.textContent = 'globalThis.injected = 1';
      doc.body.append(s);
      return (globalThis as any).injected;
    })).toBeUndefined();
    await expect.poll(() => cp.problems.length).toBe(1);
    cp.problems.length = 0;
    await checkA11yBothThemes(cp, 'home');
    await screenshot(cp, 'home');
    await cp.page.getByRole('button', { name: 'Sign out' }).click();
    await cp.page.getByRole('heading', { name: 'Sign in to Custos' }).waitFor();
    cp.expectClean();
    await cp.context.close();
  });

  it('registers a passkey with step-up, then signs in with the passkey alone', async () => {
    const cp = await openConsole(browser, srv.origin);
    await cp.addAuthenticator();
    await signInWithTotp(cp, srv.app, admin);
    await cp.page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Sign-in factors' }).click();
    await cp.page.getByLabel('Passkey name').fill('Test laptop');
    // The sign-in's second factor is still fresh; move past the step-up window so the dialog must appear.
    srv.app.clock.advance((srv.app.config.stepUpSeconds + 1) * 1000);
    await cp.page.getByRole('button', { name: 'Register passkey' }).click();
    await stepUpWithTotp(cp, srv.app, admin);
    await cp.page.getByText('Passkey “Test laptop” registered.').waitFor();
    await expect.poll(() => cp.page.getByRole('row', { name: /Test laptop/ }).count()).toBe(1);
    await checkA11yBothThemes(cp, 'factors');
    await screenshot(cp, 'factors');
    await cp.page.getByRole('button', { name: 'Sign out' }).click();

    await cp.page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await expect.poll(() => cp.page.getByRole('heading', { level: 1 }).textContent()).toContain(admin.username);
    // The passkey alone: no password step (amr hwk + mfa).
    await expect.poll(() => cp.page.getByText('Signed in with passkey;').count()).toBe(1);
    // The refresh token is kept for this tab only, never in localStorage.
    expect(await cp.page.evaluate(() => Object.keys(localStorage))).toEqual(['custos.theme']);
    cp.expectClean();
    await cp.context.close();
  });

  it('signs out an idle session', async () => {
    const cp = await openConsole(browser, srv.origin);
    await cp.page.clock.install();
    await signInWithTotp(cp, srv.app, admin);
    await cp.page.clock.fastForward((srv.app.config.idleTimeoutSeconds + 10) * 1000);
    await cp.page.getByText(/signed out after \d+ minutes without activity/).waitFor();
    await cp.page.getByRole('heading', { name: 'Sign in to Custos' }).waitFor();
    cp.expectClean();
    await cp.context.close();
  });
});

describe('console sessions refresh', () => {
  let srv: ConsoleServer;
  let browser: Browser;
  let admin: Person;

  beforeAll(async () => {
    // Access tokens of a minute; the session itself lasts, and is not idle.
    srv = await startConsoleServer({ CUSTOS_SESSION_TTL_SECONDS: '60' });
    admin = await adminOf(srv.app);
    browser = await launchBrowser();
  }, 120_000);
  afterAll(() => stopConsole(browser, srv));

  it('exchanges the refresh token when the access token has lapsed, and carries on', async () => {
    const cp = await openConsole(browser, srv.origin);
    const refreshes: number[] = [];
    cp.page.on('response', (r) => {
      if (r.url().endsWith('/v1/auth/refresh')) refreshes.push(r.status());
    });
    await signInWithTotp(cp, srv.app, admin);
    const menu = cp.page.getByRole('navigation', { name: 'Console' });
    // The server's clock passes the access token's lifetime; the page does not know: its next call is refused
    // (401 unauthenticated), refreshed once, and retried.
    srv.app.clock.advance(61_000);
    await menu.getByRole('link', { name: 'Sign-in factors' }).click();
    await cp.page.getByRole('heading', { name: 'Your sign-in factors' }).waitFor();
    await expect.poll(() => cp.page.getByRole('row', { name: /Authenticator app/ }).count()).toBe(1);
    expect(refreshes).toEqual([200]);
    // A reload keeps the tab signed in: the refresh token is in this tab's sessionStorage, the access token is not kept.
    await cp.page.reload();
    await cp.page.getByRole('heading', { name: 'Your sign-in factors' }).waitFor();
    expect(refreshes).toEqual([200, 200]);
    cp.expectClean();
    await cp.context.close();
  });
});
