/**
 * docs/rate-limits.md's shell example, executed with bash and curl against a
 * real server started as the document says (`CUSTOS_RATE_LIMIT_ADDRESS=1:3`):
 * it must exit 0 and print the output the document shows.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { runBash } from './runShell.ts';
import { expectedOutputs, shellBlocks } from './shellBlocks.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

let app: TestApp;

beforeAll(async () => {
  app = await startTestApp({ CUSTOS_RATE_LIMIT_ADDRESS: '1:3' });
});
afterAll(async () => {
  await app?.close();
});

describe('docs/rate-limits.md', () => {
  it('its example runs as shown', async () => {
    const blocks = shellBlocks(await readFile(new URL('docs/rate-limits.md', `file://${ROOT}`), 'utf8'));
    expect(blocks).toHaveLength(1);
    const typed = blocks[0]!.text.replaceAll('localhost:8080', app.url.replace(/^http:\/\//, ''));
    const r = await runBash(`set -eo pipefail\n${typed}`, { cwd: ROOT, env: { PATH: process.env.PATH } });
    const where = `${typed}\n--- stdout:\n${r.stdout}\n--- stderr:\n${r.stderr}`;
    expect(r.code, where).toBe(0);
    let from = 0;
    for (const shown of expectedOutputs(typed)) {
      const m = shown.pattern.exec(r.stdout.slice(from));
      expect(m, `"${shown.line}" not printed by ${where}`).not.toBeNull();
      from += m!.index + m![0].length;
    }
  });
});
