/**
 * /docs in a real browser: headless Chromium (@sparticuz/chromium, driven by
 * playwright-core) loads Swagger UI from a running Custos under the page's
 * own Content-Security-Policy, and renders every operation of /openapi.json
 * with no policy violation, console error or request to another origin.
 */
import chromium from '@sparticuz/chromium';
import { chromium as playwright, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';

describe('/docs in a real browser', () => {
  let app: TestApp;
  let browser: Browser | undefined;
  let page: Page;
  const problems: string[] = [];
  const requests: string[] = [];

  beforeAll(async () => {
    app = await startTestApp();
    browser = await playwright.launch({
      executablePath: await chromium.executablePath(),
      args: [...chromium.args, '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
      headless: true,
    });
    const context = await browser.newContext();
    // Injected by the browser itself (not an inline script, so the policy does not apply to it).
    await context.addInitScript(() => {
      const seen: string[] = [];
      (globalThis as any).cspViolations = seen;
      (globalThis as any).document.addEventListener('securitypolicyviolation', (e: any) => seen.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
    });
    page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console.${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`);
    });
    page.on('request', (r) => requests.push(r.url()));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it('renders every operation of /openapi.json, with no CSP violation or console error', async () => {
    const response = await page.goto(`${app.url}/docs`);
    expect(response?.status()).toBe(200);
    const csp = response!.headers()['content-security-policy']!;
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).toMatch(/script-src 'self'(;|$)/);
    expect(csp).not.toContain('unsafe-');

    const doc = (await app.call('GET', '/openapi.json')).body;
    const expected = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
    expect(expected.length).toBeGreaterThan(20);

    // On a time-out, say what the browser refused or reported.
    await page.waitForSelector('.opblock', { timeout: 20_000 }).catch(async (err: Error) => {
      throw new Error(`${err.message}\n${[...problems, ...(await page.evaluate(() => (globalThis as any).cspViolations))].join('\n')}`);
    });
    const rendered = await page.$$eval('.opblock', (blocks) =>
      blocks.map((b) => `${b.querySelector('.opblock-summary-method')?.textContent?.trim()} ${b.querySelector('.opblock-summary-path')?.getAttribute('data-path')}`),
    );
    expect(rendered.sort()).toEqual(expected.sort());
    // The title and version come from the document too.
    expect(await page.textContent('.info .title')).toContain(doc.info.title);

    // Open one operation: its parameters render (more of Swagger UI runs), still within the policy.
    await page.click('#operations-policy-get_v1_policy_diff, .opblock-get:has([data-path="/v1/policy/diff"])');
    await page.waitForSelector('.opblock.is-open .parameters');
    // Swagger UI's stylesheet applied (a CSP block would leave the default rendering).
    expect(await page.$eval('.swagger-ui .opblock-summary-method', (e) => (globalThis as any).getComputedStyle(e).minWidth)).not.toBe('0px');

    expect(await page.evaluate(() => (globalThis as any).cspViolations)).toEqual([]);
    expect(problems).toEqual([]);
    expect(requests.filter((u) => !u.startsWith(`${app.url}/`))).toEqual([]);
    expect(new Set(requests.map((u) => new URL(u).pathname))).toEqual(new Set(['/docs', '/docs/swagger-ui.css', '/docs/swagger-ui-bundle.js', '/docs/swagger-initializer.js', '/openapi.json']));
  });
});
