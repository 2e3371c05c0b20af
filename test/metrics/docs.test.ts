/**
 * docs/metrics.md's shell examples, executed with bash and curl against a
 * real server. The first block is run from an allowed address (loopback,
 * the default list); the next from one that is not (the server's list set to
 * `none`), with the credentials of a metrics-reader service in the
 * variables the document names. Each block must exit 0 and print the output
 * the document shows.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBash, type ShellResult } from '../docs/runShell.ts';
import { expectedOutputs, shellBlocks } from '../docs/shellBlocks.ts';
import { adminOf, loginAs, startTestApp, type TestApp } from '../support/app.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

let open: TestApp;
let closed: TestApp;
let scraper: { SCRAPER_CLIENT_ID: string; SCRAPER_SECRET: string };

beforeAll(async () => {
  open = await startTestApp();
  closed = await startTestApp({ CUSTOS_METRICS_ALLOW: 'none' });
  const admin = await adminOf(closed);
  await closed.wired.catalog.createProject({ id: 'ops', name: 'Operations' });
  const p = await closed.wired.catalog.createPrincipal({ kind: 'service', name: 'prometheus', sponsor_id: admin.id, project_id: 'ops' });
  await closed.wired.catalog.assignRole({ principal_id: p.id, role_id: 'metrics-reader', project_id: null }, null);
  await loginAs(closed, admin);
  const c = await closed.call('POST', `/v1/principals/${p.id}/credentials`, { token: admin.token });
  expect(c.status).toBe(201);
  scraper = { SCRAPER_CLIENT_ID: c.body.client_id, SCRAPER_SECRET: c.body.client_secret };
});
afterAll(async () => {
  await open?.close();
  await closed?.close();
});

function bash(script: string, env: Record<string, string>): Promise<ShellResult> {
  return runBash(`set -eo pipefail\n${script}`, { cwd: ROOT, env: { PATH: process.env.PATH, ...env } });
}

describe('docs/metrics.md', () => {
  it('its examples run as shown', async () => {
    const blocks = shellBlocks(await readFile(new URL('docs/metrics.md', `file://${ROOT}`), 'utf8'));
    expect(blocks).toHaveLength(2);
    const servers = [open, closed];
    for (const [i, block] of blocks.entries()) {
      const typed = block.text.replaceAll('localhost:8080', servers[i]!.url.replace(/^http:\/\//, ''));
      const r = await bash(typed, scraper);
      const where = `block ${i + 1} (line ${block.line}):\n${typed}\n--- stdout:\n${r.stdout}\n--- stderr:\n${r.stderr}`;
      expect(r.code, where).toBe(0);
      let from = 0;
      for (const shown of expectedOutputs(typed)) {
        const m = shown.pattern.exec(r.stdout.slice(from));
        expect(m, `"${shown.line}" not printed by ${where}`).not.toBeNull();
        from += m!.index + m![0].length;
      }
    }
  });
});
