/**
 * The console's browser tests: headless Chromium (@sparticuz/chromium)
 * driven by playwright-core against a real Custos (test/support/app.ts: real
 * HTTP server, real PostgreSQL) serving the real build of the console.
 *
 * - Pages are browsed as http://localhost:<port> (a secure context, and the
 *   WebAuthn RP id), with Custos's own Content-Security-Policy in force: any
 *   CSP violation or uncaught page error fails the test (`watch`).
 * - `checkA11y` runs axe-core inside the page (evaluated over CDP, which CSP
 *   does not govern) and fails on serious or critical violations, in the
 *   light and the dark theme.
 * - `screenshot` writes docs/screenshots/<name>.png when CUSTOS_SCREENSHOTS=1
 *   (how the docs' pictures are made), and into a temporary folder otherwise,
 *   so a test run leaves the tree as it found it.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import chromium from '@sparticuz/chromium';
import { chromium as playwright, type Browser, type BrowserContext, type CDPSession, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { startTestApp, type Person, type TestApp } from '../support/app.ts';

const AXE = readFileSync(new URL('../../node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');
const SHOTS = process.env.CUSTOS_SCREENSHOTS === '1' ? docsScreenshotsFolder() : path.join(os.tmpdir(), 'custos-screenshots');

function docsScreenshotsFolder(): string {
  return new URL('../../docs/screenshots/', import.meta.url).pathname;
}

export interface ConsoleServer {
  app: TestApp;
  /** http://localhost:<port> */
  origin: string;
}

/** Closes what a file's beforeAll started (either may be missing when it failed early). */
export async function stopConsole(browser: Browser | undefined, srv: ConsoleServer | undefined): Promise<void> {
  await browser?.close();
  await srv?.app.close();
}

/** A Custos test instance whose WebAuthn relying party is the localhost origin the browser uses. */
export async function startConsoleServer(env: Record<string, string> = {}): Promise<ConsoleServer> {
  const app = await startTestApp(env, { envFor: (port) => ({ CUSTOS_WEBAUTHN_RP_ID: 'localhost', CUSTOS_WEBAUTHN_ORIGINS: `http://localhost:${port}` }) });
  return { app, origin: app.url.replace('//127.0.0.1:', '//localhost:') };
}

/**
 * Serverless settings of @sparticuz/chromium the console's tests must not
 * have: with --single-process, closing one context closes the browser; the
 * other two would relax the very origin rules the console relies on.
 */
const DROPPED_ARGS = new Set(['--single-process', '--disable-web-security', '--allow-running-insecure-content']);

export async function launchBrowser(): Promise<Browser> {
  // The first launch decompresses Chromium into /tmp (a few seconds); later ones reuse it.
  return playwright.launch({
    executablePath: await chromium.executablePath(),
    args: [...chromium.args.filter((a) => !DROPPED_ARGS.has(a)), '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
    headless: true,
  });
}

export interface ConsolePage {
  page: Page;
  context: BrowserContext;
  /** CSP violations and uncaught errors seen so far; `expectClean()` asserts there are none. */
  problems: string[];
  expectClean(): void;
  /** Adds a CDP virtual authenticator (CTAP2, resident keys, user verification). */
  addAuthenticator(): Promise<{ cdp: CDPSession; authenticatorId: string }>;
}

export async function openConsole(browser: Browser, origin: string, o: { colorScheme?: 'light' | 'dark'; timezoneId?: string } = {}): Promise<ConsolePage> {
  const context = await browser.newContext({ colorScheme: o.colorScheme ?? 'light', timezoneId: o.timezoneId ?? 'America/New_York', locale: 'en-US', viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(`${origin}/console`);
  return {
    page,
    context,
    problems,
    expectClean: () => expect(problems).toEqual([]),
    addAuthenticator: async () => {
      const cdp = await context.newCDPSession(page);
      await cdp.send('WebAuthn.enable');
      const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
        options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
      });
      return { cdp, authenticatorId };
    },
  };
}

/** Signs in through the page with password and TOTP (the server's clock moves past the code used). */
export async function signInWithTotp(cp: ConsolePage, app: TestApp, person: Person): Promise<void> {
  const { page } = cp;
  await page.getByLabel('Username', { exact: true }).fill(person.username);
  await page.getByLabel('Password', { exact: true }).fill(person.password);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('Authenticator code', { exact: true }).fill(person.code());
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toContain(person.username);
  app.clock.advance(30_000);
}

/** Answers the step-up dialog with a fresh TOTP code. */
export async function stepUpWithTotp(cp: ConsolePage, app: TestApp, person: Person): Promise<void> {
  const dialog = cp.page.getByRole('dialog', { name: 'Confirm it is you' });
  await dialog.getByLabel('Authenticator code', { exact: true }).fill(person.code());
  await dialog.getByRole('button', { name: 'Confirm with code' }).click();
  await dialog.waitFor({ state: 'hidden' });
  app.clock.advance(30_000);
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[] }[];
}

/** axe-core's WCAG 2.x A/AA rules on the page as it is now; serious and critical violations fail. */
export async function checkA11y(cp: ConsolePage, where: string): Promise<void> {
  const violations = await cp.page.evaluate(async (source: string) => {
    if (!(globalThis as any).axe) (0, eval)(source);
    const r = await (globalThis as any).axe.run((globalThis as any).document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] } });
    return r.violations.map((v: any) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n: any) => ({ target: n.target })) }));
  }, AXE);
  const bad = (violations as AxeViolation[]).filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(bad, `axe on ${where}: ${JSON.stringify(bad, null, 1)}`).toEqual([]);
}

/** Checks the page in both themes (the dark one through the theme switch). */
export async function checkA11yBothThemes(cp: ConsolePage, where: string): Promise<void> {
  await checkA11y(cp, `${where} (light)`);
  await cp.page.emulateMedia({ colorScheme: 'dark' });
  await checkA11y(cp, `${where} (dark)`);
  await cp.page.emulateMedia({ colorScheme: 'light' });
}

export async function screenshot(cp: ConsolePage, name: string): Promise<string> {
  mkdirSync(SHOTS, { recursive: true });
  const file = path.join(SHOTS, `${name}.png`);
  await cp.page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Follows a link of the console's menu. */
export function nav(cp: ConsolePage, name: string): Promise<void> {
  return cp.page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name, exact: true }).click();
}
