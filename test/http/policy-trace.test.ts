/**
 * A policy edit and its audit event commit together ("every change
 * with its trace", docs/security-model.md): when the event cannot be written, no version is
 * added, the live policy is unchanged and the caller gets 503.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminOf, loginAs, startTestApp, type Person, type TestApp } from '../support/app.ts';
import { withAuditAppendRefused } from '../support/db.ts';

let app: TestApp;
let admin: Person;
beforeAll(async () => {
  app = await startTestApp();
  admin = await adminOf(app);
});
afterAll(async () => app?.close());

const versions = async () => (await app.db.sql`SELECT count(*)::int AS n FROM policy_versions`)[0]!.n as number;

describe('a policy edit without its audit event', () => {
  it('does not happen: 503, no new version, the same live policy', async () => {
    await loginAs(app, admin);
    const live = await app.call('GET', '/v1/policy', { token: admin.token });
    expect(live.status).toBe(200);
    // A rules-only edit (a comment line), which takes effect at once when the log can record it.
    const documents = { ...live.body.documents, 'default.yaml': `# edited\n${live.body.documents['default.yaml']}` };
    const before = await versions();
    const r = await withAuditAppendRefused(app.db.sql, () => app.call('PUT', '/v1/policy', { token: admin.token, body: { documents }, headers: { 'if-match': live.headers.get('etag')! } }));
    expect(r.status, JSON.stringify(r.body)).toBe(503);
    expect(r.body.code).toBe('audit_unavailable');
    expect(await versions()).toBe(before);
    expect((await app.call('GET', '/v1/policy', { token: admin.token })).headers.get('etag')).toBe(live.headers.get('etag'));

    // With the log writable again the same edit commits, with exactly one event.
    const ok = await app.call('PUT', '/v1/policy', { token: admin.token, body: { documents }, headers: { 'if-match': live.headers.get('etag')! } });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(await versions()).toBe(before + 1);
    const events = await app.db.sql`SELECT details FROM audit_events WHERE type = 'policy.updated' AND outcome = 'success'`;
    expect(events).toHaveLength(1);
    expect(events[0]!.details).toMatchObject({ after: { version: ok.body.version } });
  });
});
