/**
 * A real Custos over real HTTP on a loopback port 0, on its own cloned
 * database, with a frozen clock the test can move.
 */
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import * as OTPAuth from 'otpauth';
import { bootstrapAdmin } from '../../src/auth/bootstrap.ts';
import { issueEnrollment } from '../../src/auth/enrollment.ts';
import { ManualClock } from '../../src/clock.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { createRequestListener } from '../../src/http/server.ts';
import { createLogger } from '../../src/logger.ts';
import { monitoringPolicyOf, wire, type Wired } from '../../src/wire.ts';
import type { MonitoringPolicy } from '../../src/monitoring/policy.ts';
import { loadDefaultRoles } from '../../src/policy/loadDefaultRoles.ts';
import { createTestDatabase, type TestDatabase } from './db.ts';

/** A running test instance. */
export interface TestApp {
  url: string;
  db: TestDatabase;
  wired: Wired;
  clock: ManualClock;
  config: Config;
  /** fetch against the instance, JSON in and out. */
  call(method: string, path: string, options?: { token?: string; body?: unknown; headers?: Record<string, string> }): Promise<{ status: number; body: any; headers: Headers }>;
  close(): Promise<void>;
}

export const TEST_KEY = Buffer.alloc(32, 7);

/**
 * Starts an instance; `env` overrides configuration. `envFor(port)` adds
 * settings that depend on the port it listens on (e.g. WebAuthn origins).
 */
export async function startTestApp(
  env: Record<string, string> = {},
  // `monitoring`: run the detection pipeline (true: the configured policy file), as a server does; off unless a test asks.
  options: { envFor?: (port: number) => Record<string, string>; monitoring?: true | MonitoringPolicy } = {},
): Promise<TestApp> {
  const db = await createTestDatabase();
  const server: Server = createServer().listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  let config: Config;
  try {
    config = loadConfig({ CUSTOS_ENV: 'test', CUSTOS_LOG_LEVEL: 'silent', ...env, ...options.envFor?.(port) });
  } catch (err) {
    server.close();
    await db.drop();
    throw err;
  }
  const clock = new ManualClock(Date.UTC(2026, 5, 1, 12, 0, 0));
  const log = createLogger({ level: config.logLevel });
  const monitoring = options.monitoring === true ? monitoringPolicyOf(config) : options.monitoring;
  const wired = wire({ config, sql: db.appSql, log, encryptionKey: TEST_KEY, clock, monitoring });
  await loadDefaultRoles(wired.catalog);
  const policy = await wired.policy.reload();
  if (!policy.ok) throw policy.error;
  await wired.catalogSync.start();
  await wired.keys.init();
  wired.notifier.start();
  wired.incidentReminders.start();
  wired.monitoring.pipeline?.start();
  server.on('request', createRequestListener(wired.app));
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    db,
    wired,
    clock,
    config,
    async call(method, path, options = {}) {
      // Tests also write through the stores directly, past the HTTP write path's barrier: catch up as it would.
      await wired.invalidate();
      const headers: Record<string, string> = { ...(options.headers ?? {}) };
      if (options.token) headers.authorization = `Bearer ${options.token}`;
      let body: string | undefined;
      if (options.body !== undefined) {
        headers['content-type'] ??= 'application/json';
        body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
      }
      const res = await fetch(url + path, { method, headers, body });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        /* not JSON */
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    async close() {
      await wired.incidentReminders.stop();
      await wired.monitoring.pipeline?.stop();
      await wired.notifier.stop();
      await wired.catalogSync.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await db.drop();
    },
  };
}

/** A TOTP generator independent of otplib, for the person's "phone". */
export function phone(secret: string): OTPAuth.TOTP {
  return new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30, algorithm: 'SHA1' });
}

/** A person with a password and a confirmed TOTP factor. */
export interface Person {
  id: string;
  username: string;
  password: string;
  totpSecret: string;
  /** A full session token from the enrollment. */
  token: string;
  /** The code at the app's current clock. */
  code(): string;
}

/**
 * A password unique to the person that the policy accepts: six characters of
 * their id, taken where they do not spell the username (a 6-hex-digit slice of a
 * UUID contains `bea` about once in a thousand people, and the policy refuses a
 * password that contains the username).
 */
export function defaultPassword(id: string, username: string): string {
  const hex = id.replaceAll('-', '');
  const name = username.toLowerCase();
  for (let end = hex.length; end >= 6; end--) {
    const password = `correct horse battery staple ${hex.slice(end - 6, end)}!`;
    if (!password.toLowerCase().includes(name)) return password;
  }
  throw new Error(`no default password avoids the username ${username}`);
}

/** Redeems an enrollment secret and enrolls TOTP through the HTTP API. */
export async function enrollPerson(app: TestApp, o: { id: string; username: string; secret: string; password?: string }): Promise<Person> {
  const password = o.password ?? defaultPassword(o.id, o.username);
  const enr = await app.call('POST', '/v1/auth/enroll', { body: { username: o.username, enrollment_secret: o.secret, password } });
  if (enr.status !== 200) throw new Error(`enroll failed: ${enr.status} ${JSON.stringify(enr.body)}`);
  const start = await app.call('POST', '/v1/me/totp', { token: enr.body.access_token });
  if (start.status !== 201) throw new Error(`totp start failed: ${start.status} ${JSON.stringify(start.body)}`);
  const totpSecret: string = start.body.secret;
  const code = () => phone(totpSecret).generate({ timestamp: app.clock.now().getTime() });
  const conf = await app.call('POST', '/v1/me/totp/confirm', { token: enr.body.access_token, body: { factor_id: start.body.factor_id, code: code() } });
  if (conf.status !== 200) throw new Error(`totp confirm failed: ${conf.status} ${JSON.stringify(conf.body)}`);
  // Move past the step just used so the next login has a fresh code.
  app.clock.advance(30_000);
  return { id: o.id, username: o.username, password, totpSecret, token: conf.body.access_token, code };
}

/** Bootstraps and enrolls the first administrator. */
export async function adminOf(app: TestApp): Promise<Person> {
  const b = await bootstrapAdmin(app.wired.auth);
  return enrollPerson(app, { id: b.principal_id, username: b.username, secret: b.enrollment_secret });
}

/** Creates a person through the API (as `admin`) with the given org-wide roles, and enrolls them. */
export async function personWithRoles(app: TestApp, admin: Person, username: string, roles: string[]): Promise<Person> {
  const created = await app.call('POST', '/v1/principals', { token: admin.token, body: { kind: 'user', name: username } });
  if (created.status !== 201) throw new Error(`create person failed: ${created.status} ${JSON.stringify(created.body)}`);
  for (const role_id of roles) {
    const a = await app.call('POST', '/v1/role-assignments', { token: admin.token, body: { principal_id: created.body.id, role_id } });
    if (a.status === 202) {
      // An administrative, approver or reviewer role waits for a second administrator
      // (test/http/dual-control.test.ts); as set-up, withdraw it and assign it directly.
      const w = await app.call('POST', `/v1/changes/${a.body.id}/reject`, { token: admin.token, body: {} });
      if (w.status !== 200) throw new Error(`withdraw failed: ${w.status} ${JSON.stringify(w.body)}`);
      await app.wired.catalog.assignRole({ principal_id: created.body.id, role_id }, admin.id);
    } else if (a.status !== 201) throw new Error(`assign failed: ${a.status} ${JSON.stringify(a.body)}`);
  }
  return enrollPerson(app, { id: created.body.id, username, secret: created.body.enrollment.secret });
}

/** Logs a person in through both steps and returns a fresh session token. */
export async function loginAs(app: TestApp, person: Person): Promise<string> {
  const pw = await app.call('POST', '/v1/auth/login', { body: { username: person.username, password: person.password } });
  if (pw.status !== 200) throw new Error(`login failed: ${pw.status} ${JSON.stringify(pw.body)}`);
  const s = await app.call('POST', '/v1/auth/totp', { body: { mfa_token: pw.body.mfa_token, code: person.code() } });
  if (s.status !== 200) throw new Error(`totp failed: ${s.status} ${JSON.stringify(s.body)}`);
  app.clock.advance(30_000);
  person.token = s.body.access_token;
  return person.token;
}

/**
 * Creates a person straight in the catalog (as an administrator would, but
 * without needing a fresh second factor for it) and enrolls them over HTTP.
 */
export async function personDirect(app: TestApp, username: string, roles: { role: string; project?: string | null }[] = []): Promise<Person> {
  const p = await app.wired.catalog.createPrincipal({ kind: 'user', name: username });
  for (const r of roles) await app.wired.catalog.assignRole({ principal_id: p.id, role_id: r.role, project_id: r.project ?? null }, null);
  const e = await issueEnrollment(app.wired.auth, { principalId: p.id });
  return enrollPerson(app, { id: p.id, username, secret: e.secret });
}

/**
 * A new enrollment secret for a person, as administrators issue it over the
 * API: at once for someone who never enrolled; for a recovery (someone who
 * did), `admin` proposes it and `second` approves, receiving the secret.
 */
export async function issueSecret(app: TestApp, admin: Person, second: Person, principalId: string): Promise<string> {
  await loginAs(app, admin);
  const r = await app.call('POST', `/v1/principals/${principalId}/enrollment`, { token: admin.token });
  if (r.status === 201) return r.body.secret as string;
  if (r.status !== 202) throw new Error(`issuing an enrollment secret failed: ${r.status} ${JSON.stringify(r.body)}`);
  await loginAs(app, second);
  const a = await app.call('POST', `/v1/changes/${r.body.id}/approve`, { token: second.token, body: {} });
  if (a.status !== 200) throw new Error(`approving the recovery failed: ${a.status} ${JSON.stringify(a.body)}`);
  return a.body.enrollment.secret as string;
}

/** Enrolls a person created straight in the catalog (issues their enrollment secret) over HTTP. */
export async function enrollExisting(app: TestApp, principalId: string, username: string): Promise<Person> {
  const e = await issueEnrollment(app.wired.auth, { principalId });
  return enrollPerson(app, { id: principalId, username, secret: e.secret });
}

/**
 * The only way a service's credentials are delivered: its sponsor creates
 * them in their own session, with a fresh second factor. `body` may carry
 * `{jwks}` (private_key_jwt).
 */
export async function sponsorCredentials(app: TestApp, sponsor: Person, serviceId: string, body: unknown = {}): Promise<{ credential_id: string; client_id: string; client_secret?: string; token_endpoint_auth_method: string }> {
  await loginAs(app, sponsor);
  const r = await app.call('POST', `/v1/me/services/${serviceId}/credentials`, { token: sponsor.token, body });
  if (r.status !== 201) throw new Error(`sponsor credentials failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** `Authorization: Basic` for client credentials (RFC 6749 §2.3.1: each part form-encoded). */
export function basicAuth(clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

/** An `application/x-www-form-urlencoded` body. */
export function form(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

/**
 * The oncology world the token tests share: project `onc`, a data scientist
 * of it (the sponsor of jobs), PHI datasets with a name, a note and a date
 * column, and an enforcement point (sponsored by `admin`) with client
 * credentials that serves all of those datasets, and the scientist enrolled
 * (`scientist`) to sponsor jobs. `admin` is logged in afterwards.
 */
export async function oncologyWorld(
  app: TestApp,
  admin: Person,
  datasets: { id: string; audience: string }[],
): Promise<{ scientistId: string; scientist: Person; pep: { id: string; clientId: string; secret: string; basic: string } }> {
  const c = app.wired.catalog;
  await c.createProject({ id: 'onc', name: 'Oncology' });
  const sci = await c.createPrincipal({ kind: 'user', name: 'sci' });
  await c.assignRole({ principal_id: sci.id, role_id: 'data-scientist', project_id: 'onc' }, null);
  for (const ds of datasets) {
    await c.createDataset({
      id: ds.id,
      project_id: 'onc',
      owner_id: sci.id,
      purposes: ['model-training'],
      audience: ds.audience,
      columns: [
        { name: 'patient_name', type: 'string', category: 'names' },
        { name: 'note_text', type: 'string' },
        { name: 'admit_date', type: 'date', category: 'dates' },
      ],
    });
  }
  const pepP = await c.createPrincipal({ kind: 'service', name: 'notes-server', sponsor_id: admin.id, project_id: 'onc' });
  await c.assignRole({ principal_id: pepP.id, role_id: 'enforcement-point', project_id: null }, null);
  await loginAs(app, admin);
  const pc = await app.call('POST', `/v1/principals/${pepP.id}/credentials`, { token: admin.token });
  if (pc.status !== 201) throw new Error(`credentials failed: ${pc.status} ${JSON.stringify(pc.body)}`);
  // A resource server introspects only tokens for the datasets it serves.
  const served = await app.call('PUT', `/v1/principals/${pepP.id}/served-datasets`, { token: admin.token, body: { datasets: datasets.map((d) => d.id) } });
  if (served.status !== 200) throw new Error(`served datasets failed: ${served.status} ${JSON.stringify(served.body)}`);
  // The scientist sponsors jobs: they create their credentials themselves, in their own session.
  const scientist = await enrollExisting(app, sci.id, 'sci');
  return { scientistId: sci.id, scientist, pep: { id: pepP.id, clientId: pc.body.client_id, secret: pc.body.client_secret, basic: basicAuth(pc.body.client_id, pc.body.client_secret) } };
}
