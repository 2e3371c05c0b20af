/**
 * docs/resource-servers.md, executed: its `js` files (a block whose first
 * line is `// <name>.mjs`) are saved as a reader saves them, next to the
 * checkout's node_modules (jose, express, express-oauth2-jwt-bearer), and its
 * `sh` blocks run with bash, in order, against a real instance, each exiting 0
 * and printing what the document shows (`# …` lines; see shellBlocks.ts).
 * The prerequisites are made here: a job with client credentials and a grant
 * on dataset onc-notes-2025 (JOB_CLIENT_ID, JOB_SECRET), and an administrator
 * just logged in (ADMIN_TOKEN, for the rotation). The verifiers check `exp`
 * and `nbf` on the wall clock, so Custos's clock is set to it before the
 * blocks run.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminOf, loginAs, oncologyWorld, sponsorCredentials, startTestApp, type Person, type TestApp } from '../support/app.ts';
import { freePort } from '../support/net.ts';
import { runBash, statefulScript, type ShellResult } from './runShell.ts';
import { expectedOutputs, shellBlocks } from './shellBlocks.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

let app: TestApp;
let admin: Person;
let work: string;
let job: { client_id: string; client_secret?: string };

/** The document's files: each ```js block that starts with `// <name>.mjs`. */
function fileBlocks(markdown: string): { name: string; text: string }[] {
  const out: { name: string; text: string }[] = [];
  for (const m of markdown.matchAll(/^```js\n([\s\S]*?)^```$/gm)) {
    const name = /^\/\/ ([\w-]+\.mjs)\b/.exec(m[1]!)?.[1];
    if (name) out.push({ name, text: m[1]! });
  }
  return out;
}

beforeAll(async () => {
  app = await startTestApp({}, { envFor: (port) => ({ CUSTOS_PUBLIC_URL: `http://127.0.0.1:${port}` }) });
  // Set-up moves the clock by TOTP steps: it starts behind the wall clock and only ever moves forward.
  app.clock.set(Date.now() - 20 * 60_000);
  admin = await adminOf(app);
  const world = await oncologyWorld(app, admin, [{ id: 'onc-notes-2025', audience: 'urn:custos:dataset:onc-notes-2025' }]);
  const p = await app.wired.catalog.createPrincipal({ kind: 'service', name: 'train-rs', sponsor_id: world.scientistId, project_id: 'onc' });
  job = await sponsorCredentials(app, world.scientist, p.id);
  const now = app.clock.now().getTime();
  await app.db.sql`
    INSERT INTO grants (id, principal_id, role_id, project_id, not_before, expires_at)
    VALUES (${randomUUID()}, ${p.id}, 'data-scientist', 'onc', ${new Date(now - 60_000)}, ${new Date(now + 4 * 3600_000)})`;
  await app.wired.invalidate();
  expect(app.clock.now().getTime()).toBeLessThan(Date.now() - 90_000);
  app.clock.set(Date.now() - 90_000);
  await loginAs(app, admin);

  work = await mkdtemp(path.join(os.tmpdir(), 'custos-rs-doc-'));
  // The reader's project has the three packages installed; here they come from the checkout.
  await symlink(path.join(ROOT, 'node_modules'), path.join(work, 'node_modules'), 'dir');
  await writeFile(path.join(work, 'state.sh'), '');
  await writeFile(path.join(work, 'baseline'), (await bash('compgen -v')).stdout);
}, 60_000);

afterAll(async () => {
  await app?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

function bash(script: string): Promise<ShellResult> {
  const env = {
    PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`,
    HOME: process.env.HOME ?? '/tmp',
    JOB_CLIENT_ID: job?.client_id ?? '',
    JOB_SECRET: job?.client_secret ?? '',
    ADMIN_TOKEN: admin?.token ?? '',
  };
  return runBash(script, { cwd: work, env, timeoutMs: 30_000 });
}

describe('docs/resource-servers.md', () => {
  it('the examples run: a token verified by jose and by an express-oauth2-jwt-bearer server, then a scheduled rotation', async () => {
    const doc = await readFile(path.join(ROOT, 'docs/resource-servers.md'), 'utf8');
    const files = fileBlocks(doc);
    expect(files.map((f) => f.name)).toEqual(['verify-with-jose.mjs', 'resource-server.mjs']);
    for (const f of files) await writeFile(path.join(work, f.name), f.text);
    const blocks = shellBlocks(doc);
    expect(blocks.length).toBe(4);

    const address = new URL(app.url).host;
    const rsPort = await freePort();
    const oldKid = (await app.wired.keys.activeKey()).kid;
    for (const [i, block] of blocks.entries()) {
      // Custos's clock follows the wall clock, which the verifiers read.
      app.clock.set(Math.max(app.clock.now().getTime(), Date.now()));
      const typed = block.text.replaceAll('localhost:8080', address).replaceAll('localhost:3000', `127.0.0.1:${rsPort}`).replaceAll('PORT=3000', `PORT=${rsPort}`);
      const r = await bash(statefulScript(typed, work));
      const where = `block ${i + 1} (line ${block.line}):\n${block.text}\n--- stdout:\n${r.stdout}\n--- stderr:\n${r.stderr}`;
      expect(r.code, `exit status of ${where}`).toBe(0);
      let from = 0;
      for (const shown of expectedOutputs(typed)) {
        const m = shown.pattern.exec(r.stdout.slice(from));
        expect(m, `output "${shown.line}" not printed (in order) by ${where}`).not.toBeNull();
        from += m!.index + m![0].length;
      }
      if (i === 1 || i === 3) expect(r.stdout).toContain(`kid=${oldKid}`);
    }
    // The rotation the walk-through made: scheduled 900 s ahead, with its audit event.
    const rows = await app.db.sql`SELECT kid, created_at, activates_at, immediate FROM signing_keys WHERE kid <> ${oldKid}`;
    expect(rows).toHaveLength(1);
    expect(rows[0]!.immediate).toBe(false);
    expect(rows[0]!.activates_at.getTime() - rows[0]!.created_at.getTime()).toBe(900_000);
    const [event] = await app.db.sql`SELECT actor_id, details FROM audit_events WHERE type = 'keys.rotated'`;
    expect(event).toMatchObject({ actor_id: admin.id, details: { kid: rows[0]!.kid, retired: oldKid, immediate: false } });
  }, 90_000);
});
