/**
 * /openapi.json passes a maintained OpenAPI linter (@redocly/cli, its
 * recommended rules) with no error and no warning: every operation documents
 * its 4xx answers, the document names its licence and a real server. The
 * document is the one a server with a public address serves.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';

const REDOCLY = fileURLToPath(new URL('../../node_modules/@redocly/cli/bin/cli.js', import.meta.url));
let app: TestApp;
let dir: string;

beforeAll(async () => {
  app = await startTestApp({ CUSTOS_PUBLIC_URL: 'https://pdp.st-elsewhere.org' });
  dir = await mkdtemp(path.join(os.tmpdir(), 'custos-openapi-'));
});
afterAll(async () => {
  await app?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Lints a document with the recommended rules; the problems it reports. */
async function lint(doc: unknown): Promise<{ ruleId: string; severity: string; message: string }[]> {
  const file = path.join(dir, `openapi-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(file, JSON.stringify(doc));
  const r = await promisify(execFile)(process.execPath, [REDOCLY, 'lint', file, '--format=json', '--extends=recommended'], { env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' } }).catch(
    (e: { stdout: string }) => ({ stdout: e.stdout }),
  );
  const report = JSON.parse(r.stdout) as { problems: { ruleId: string; severity: string; message: string }[] };
  return report.problems;
}

describe('/openapi.json', () => {
  it('lints clean', async () => {
    const doc = (await app.call('GET', '/openapi.json')).body;
    expect(doc.servers).toEqual([{ url: 'https://pdp.st-elsewhere.org' }]);
    expect(await lint(doc)).toEqual([]);
  }, 60_000);

  it('the linter does report an operation without its 4xx answers (so a clean result means something)', async () => {
    const doc = (await app.call('GET', '/openapi.json')).body;
    const op = doc.paths['/healthz'].get;
    for (const status of Object.keys(op.responses)) if (status.startsWith('4')) delete op.responses[status];
    const problems = await lint(doc);
    expect(problems.map((p) => p.ruleId)).toEqual(['operation-4xx-response']);
  }, 60_000);
});
