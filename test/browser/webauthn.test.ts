/**
 * WebAuthn in a real browser: headless Chromium (@sparticuz/chromium, an npm
 * package that ships the binary) driven by playwright-core, with a CDP
 * virtual authenticator (CTAP2, internal, resident keys, user verification).
 * A tiny page on the service's origin calls the real
 * navigator.credentials.create/get with options fetched from Custos and
 * posts the results back, exactly as a client would.
 *
 * The app listens on 127.0.0.1 but is browsed as http://localhost:<port>
 * (WebAuthn needs a domain RP id; 'localhost' is a secure context). The
 * wrong-origin page is http://localhost:<other port>: the RP id 'localhost'
 * is valid there too, so the browser signs, but the origin differs and
 * Custos must refuse.
 */
import { readFileSync } from 'node:fs';
import chromium from '@sparticuz/chromium';
import { chromium as playwright, type Browser, type CDPSession, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminOf, startTestApp, type Person, type TestApp } from '../support/app.ts';
import { freePort } from '../support/net.ts';

const PAGE = readFileSync(new URL('./webauthn-page.html', import.meta.url), 'utf8');


/** Calls window.custos[fn](...args) in the page. */
async function inPage<T = any>(page: Page, fn: string, ...args: unknown[]): Promise<T> {
  return page.evaluate(([f, a]) => (globalThis as any).custos[f as string](...(a as unknown[])), [fn, args] as const);
}

const clientData = (assertion: any) => JSON.parse(Buffer.from(assertion.response.clientDataJSON, 'base64url').toString('utf8'));

describe('WebAuthn in a real browser', () => {
  let app: TestApp;
  let admin: Person;
  let browser: Browser | undefined;
  let page: Page;
  let cdp: CDPSession;
  let authenticatorId: string;
  let origin: string;
  let wrongOrigin: string;

  beforeAll(async () => {
    app = await startTestApp({}, { envFor: (port) => ({ CUSTOS_WEBAUTHN_RP_ID: 'localhost', CUSTOS_WEBAUTHN_ORIGINS: `http://localhost:${port}` }) });
    origin = app.url.replace('//127.0.0.1:', '//localhost:');
    let other = await freePort();
    while (`http://localhost:${other}` === origin) other = await freePort();
    wrongOrigin = `http://localhost:${other}`;
    admin = await adminOf(app);

    // First call decompresses Chromium into /tmp (a few seconds); later runs reuse it.
    browser = await playwright.launch({
      executablePath: await chromium.executablePath(),
      // No background traffic: this machine's network is closed, and the test needs none.
      args: [...chromium.args, '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
      headless: true,
    });
    const context = await browser.newContext();
    page = await context.newPage();
    // The test page is served on the service's own origin (and, for the attack, on another one).
    for (const o of [origin, wrongOrigin]) {
      await page.route(`${o}/test-page`, (route) => route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: PAGE }));
    }
    cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    ({ authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
    }));
    await page.goto(`${origin}/test-page`);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it('runs on a secure localhost origin with the native JSON helpers', async () => {
    expect(await page.evaluate(() => (globalThis as any).isSecureContext)).toBe(true);
    // Chromium 153 has PublicKeyCredential.parseCreationOptionsFromJSON and toJSON(); the page converts by hand otherwise.
    expect(await inPage<boolean>(page, 'nativeJSON')).toBe(true);
    expect(app.config.webauthn).toMatchObject({ rpId: 'localhost', origins: [origin] });
  });

  let assertion: any;

  it('registers an authenticator through the browser, then logs in with password + WebAuthn', async () => {
    const reg = await inPage(page, 'register', admin.token, 'Virtual authenticator');
    expect(reg.status, JSON.stringify(reg.body)).toBe(201);
    expect(reg.body.name).toBe('Virtual authenticator');
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(credentials).toHaveLength(1);
    expect(credentials[0]!.isResidentCredential).toBe(true); // residentKey 'preferred' gave a discoverable credential
    expect(Buffer.from(credentials[0]!.credentialId, 'base64').toString('base64url')).toBe(reg.body.credential_id);

    const out = await app.call('POST', '/v1/auth/logout', { token: admin.token });
    expect(out.status).toBe(204);
    expect((await app.call('GET', '/v1/me', { token: admin.token })).status).toBe(401);

    const login = await inPage(page, 'login', admin.username, admin.password);
    expect(login.status, JSON.stringify(login.body)).toBe(200);
    expect(login.methods).toEqual(expect.arrayContaining(['totp', 'webauthn']));
    expect(login.body.amr).toEqual(['pwd', 'hwk', 'mfa']);
    expect(clientData(login.assertion)).toMatchObject({ type: 'webauthn.get', origin });
    const me = await app.call('GET', '/v1/me', { token: login.body.access_token });
    expect(me.body).toMatchObject({ username: admin.username, mfa_method: 'webauthn', amr: ['pwd', 'hwk', 'mfa'] });
    const [row] = await app.db.sql`SELECT counter FROM webauthn_credentials WHERE id = ${reg.body.credential_id}`;
    expect(Number(row!.counter)).toBeGreaterThanOrEqual(1);
    assertion = login.assertion;
  });

  it('refuses the captured assertion when replayed from outside the browser', async () => {
    expect(assertion).toBeDefined();
    const pw = await app.call('POST', '/v1/auth/login', { body: { username: admin.username, password: admin.password } });
    expect(pw.status).toBe(200);
    const replay = await app.call('POST', '/v1/auth/webauthn/verify', { body: { mfa_token: pw.body.mfa_token, response: assertion } });
    expect(replay.status).toBe(401);
    expect(replay.body.code).toBe('invalid_mfa');
    expect(JSON.stringify(replay.body)).not.toContain(clientData(assertion).challenge);
  });

  it('refuses an assertion the browser made on a page of another origin', async () => {
    const pw = await app.call('POST', '/v1/auth/login', { body: { username: admin.username, password: admin.password } });
    const opts = await app.call('POST', '/v1/auth/webauthn/options', { body: { mfa_token: pw.body.mfa_token } });
    expect(opts.status).toBe(200);
    await page.goto(`${wrongOrigin}/test-page`);
    try {
      const foreign = await inPage(page, 'get', opts.body);
      // The same virtual authenticator signed: only the origin gives it away.
      expect(clientData(foreign)).toMatchObject({ type: 'webauthn.get', origin: wrongOrigin, challenge: opts.body.challenge });
      const notVerified = async () =>
        Number((await app.db.sql`SELECT count(*) AS n FROM audit_events WHERE type = 'auth.webauthn.login' AND details->>'reason' = 'assertion not verified'`)[0]!.n);
      const before = await notVerified();
      const r = await app.call('POST', '/v1/auth/webauthn/verify', { body: { mfa_token: pw.body.mfa_token, response: foreign } });
      expect(r.status).toBe(401);
      expect(r.body.code).toBe('invalid_mfa');
      const text = JSON.stringify(r.body);
      for (const leak of ['expected', origin, wrongOrigin, opts.body.challenge]) expect(text).not.toContain(leak);
      // It got past the challenge and the credential lookup: the verification (origin) refused it.
      expect(await notVerified()).toBe(before + 1);
    } finally {
      await page.goto(`${origin}/test-page`);
    }
    // The login itself is still possible from the right origin.
    const ok = await inPage(page, 'login', admin.username, admin.password);
    expect(ok.status).toBe(200);
  });

  it('logs in username-less with the discoverable credential (passkey)', async () => {
    const r = await inPage(page, 'passkeyLogin');
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.amr).toEqual(['hwk', 'mfa']);
    expect(r.assertion.response.userHandle).toBeTruthy();
    const me = await app.call('GET', '/v1/me', { token: r.body.access_token });
    expect(me.body.username).toBe(admin.username);
  });
});
