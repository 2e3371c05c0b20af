/**
 * docs/incidents.md's walk-through, executed: its `sh` blocks run with bash,
 * in order, against a real instance, as a security reviewer would type them
 * (the address is the only edit; the ids they hold come in as variables),
 * in a scratch folder (the exports land there). Each block must
 * exit 0 and print every output line the document shows (`…`: anything).
 * The instance's clock is set to the day after the walk-through's
 * discovery, so the days left it shows are the ones a reader would see then.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendLogRows } from '../support/db.ts';
import { loginAs, personDirect, startTestApp, type Person, type TestApp } from '../support/app.ts';
import { runBash, type ShellResult } from './runShell.ts';
import { expectedOutputs, shellBlocks } from './shellBlocks.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOC = 'docs/incidents.md';

let app: TestApp;
let rev: Person;
let work: string;
const env: Record<string, string> = {};

function bash(script: string): Promise<ShellResult> {
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CUSTOS_')) clean[k] = v;
  return runBash(script, { cwd: work, env: { ...clean, PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`, ...env }, timeoutMs: 30_000 });
}

beforeAll(async () => {
  app = await startTestApp({ CUSTOS_TIME_ZONE: 'America/New_York' });
  // The day after the walk-through's discovery (2026-11-04T14:00Z), in New York.
  app.clock.set(Date.parse('2026-11-05T15:00:00Z'));
  rev = await personDirect(app, 'rev', [{ role: 'security-reviewer' }]);
  const alice = await app.wired.catalog.createPrincipal({ kind: 'user', name: 'alice' });
  // What the walk-through's scope shows: 9 allows of note_text (one with a token) and 5 denies, on 3 November.
  const rows = Array.from({ length: 14 }, (_, k) => {
    const allow = k < 9;
    const jti = k === 0 ? 'jti-walkthrough' : null;
    return {
      id: randomUUID(), at: new Date(Date.UTC(2026, 10, 3, 11, k)).toISOString(), principal_id: alice.id, dataset_id: 'onc-notes-2025', project_id: 'onc', action: 'dataset:read',
      purpose: 'research', effect: allow ? 'allow' : 'deny', rules: ['r'], reasons: [], granted_columns: allow ? ['note_text'] : [], denied_columns: [], obligations: [], grant_ids: [],
      break_glass: false, policy_version: 'v1', latency_us: 10, input: {}, token_jti: jti, token_expires_at: jti ? '2026-11-03T11:15:00Z' : null, job: jti ? { job_id: 'train-onc-7' } : null,
    };
  });
  await appendLogRows(app.db.sql, 'decision_log', rows);
  const alert = async (first: string, last: string) => {
    const id = randomUUID();
    await app.db.sql`INSERT INTO alerts (id, detector, severity, subject, dedupe_key, title, first_at, last_at)
                     VALUES (${id}, 'purpose-mismatch', 'high', ${alice.id}, ${'w-' + id}, 'reads outside the permitted purposes', ${first}, ${last})`;
    return id;
  };
  env.ALERT_ID = await alert('2026-11-03T10:00:00Z', '2026-11-03T18:00:00Z');
  env.OTHER_ALERT_ID = await alert('2026-11-03T09:00:00Z', '2026-11-03T12:00:00Z');
  work = await mkdtemp(path.join(os.tmpdir(), 'custos-incidents-doc-'));
  // The getting-started guide's `json` helper, as the reader has it.
  const guide = await readFile(path.join(ROOT, 'docs/getting-started.md'), 'utf8');
  const helper = guide.split('\n').find((l) => l.startsWith('json() {'));
  if (!helper) throw new Error('no json helper in docs/getting-started.md');
  await writeFile(path.join(work, 'state.sh'), helper + '\n');
}, 60_000);

afterAll(async () => {
  await app?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe(DOC, () => {
  it('the walk-through runs as written', async () => {
    await loginAs(app, rev);
    env.REVIEWER_TOKEN = rev.token;
    const blocks = shellBlocks(await readFile(path.join(ROOT, DOC), 'utf8'));
    expect(blocks.length).toBeGreaterThanOrEqual(4);
    const state = path.join(work, 'state.sh');
    const address = new URL(app.url).host;
    for (const [i, block] of blocks.entries()) {
      const typed = block.text.replaceAll('localhost:8080', address);
      // Variables and functions carry from one block to the next, as in the reader's terminal.
      const r = await bash([`source ${JSON.stringify(state)}`, 'set -eo pipefail', typed, 'set +eo pipefail', `{ declare -p R INCIDENT 2>/dev/null; declare -f; } > ${JSON.stringify(state + '.new')}`, `mv ${JSON.stringify(state + '.new')} ${JSON.stringify(state)}`].join('\n'));
      const where = `${DOC}, block ${i + 1} (line ${block.line}):\n${block.text}\n--- stdout:\n${r.stdout}\n--- stderr:\n${r.stderr}`;
      expect(r.code, `exit status of ${where}`).toBe(0);
      let from = 0;
      for (const shown of expectedOutputs(typed)) {
        const m = shown.pattern.exec(r.stdout.slice(from));
        expect(m, `output "${shown.line}" not printed (in order) by ${where}`).not.toBeNull();
        from += m!.index + m![0].length;
      }
    }
    // What the walk-through did, as the database has it.
    const [i] = await app.db.sql`SELECT status, determination, deadline_date::text AS deadline_date FROM incidents`;
    expect(i).toEqual({ status: 'closed', determination: 'not_breach', deadline_date: '2027-01-03' });
    const exported = JSON.parse(await readFile(path.join(work, 'incident.json'), 'utf8'));
    expect(exported.decisions).toHaveLength(14);
    expect((await readFile(path.join(work, 'incident.csv'), 'utf8')).split('\r\n')[0]).toMatch(/^record,id,at,/);
  }, 60_000);
});
