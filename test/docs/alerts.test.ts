/**
 * docs/alerts.md's walk-through, executed: its `sh` blocks run with bash,
 * in order, against a real instance, each one exiting 0 and printing what
 * the document shows (`# …` lines; see shellBlocks.ts). The document's
 * prerequisites are made here: two security reviewers with sessions (REV1,
 * REV2, REV2_ID) and one open, high-severity alert raised as a detector
 * raises it, with a decision record as evidence. Shell variables carry from
 * one block to the next, as in the reader's terminal.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { personDirect, startTestApp, type Person, type TestApp } from '../support/app.ts';
import { appendLogRows } from '../support/db.ts';
import { raiseAlert } from '../monitoring/alerts.ts';
import { runBash, statefulScript, type ShellResult } from './runShell.ts';
import { expectedOutputs, shellBlocks } from './shellBlocks.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

let app: TestApp;
let rev1: Person;
let rev2: Person;
let work: string;

beforeAll(async () => {
  app = await startTestApp();
  rev1 = await personDirect(app, 'rev1', [{ role: 'security-reviewer' }]);
  rev2 = await personDirect(app, 'rev2', [{ role: 'security-reviewer' }]);
  const subject = randomUUID();
  const decisionId = randomUUID();
  const at = new Date(app.clock.now().getTime() - 60_000).toISOString();
  await appendLogRows(app.db.sql, 'decision_log', [
    {
      id: decisionId, at, request_id: null, caller_id: null, principal_id: subject, sponsor_id: null, dataset_id: 'notes', project_id: 'onc', action: 'dataset:read',
      purpose: 'model-training', effect: 'deny', rules: [], reasons: ['no active grant'], granted_columns: [], denied_columns: ['patient_name'], obligations: [], grant_ids: [],
      break_glass: false, policy_version: 'v1', latency_us: 10, input: {}, token_jti: null, token_expires_at: null, job: null,
    },
  ]);
  await raiseAlert(app.db.appSql, { subject, severity: 'high', detector: 'denied-burst', at: app.clock.now(), evidence: [{ log: 'decision_log', record_id: decisionId, at }] });
  work = await mkdtemp(path.join(os.tmpdir(), 'custos-alerts-doc-'));
  await writeFile(path.join(work, 'state.sh'), '');
  await writeFile(path.join(work, 'baseline'), (await bash('compgen -v')).stdout);
});

afterAll(async () => {
  await app?.wired.alertFeed.close();
  await app?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

function bash(script: string): Promise<ShellResult> {
  const env = { PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`, HOME: process.env.HOME ?? '/tmp', REV1: rev1?.token ?? '', REV2: rev2?.token ?? '', REV2_ID: rev2?.id ?? '' };
  return runBash(script, { cwd: ROOT, env, timeoutMs: 30_000 });
}

/** One block in a shell that restores what earlier blocks left (variables, functions) and saves it again. */
function runBlock(block: string) {
  return bash(statefulScript(block, work));
}

describe('docs/alerts.md', () => {
  it('the walk-through runs: list, read, acknowledge, assign, resolve, stream', async () => {
    const blocks = shellBlocks(await readFile(path.join(ROOT, 'docs/alerts.md'), 'utf8'));
    expect(blocks.length).toBeGreaterThanOrEqual(7);
    const address = new URL(app.url).host;
    for (const [i, block] of blocks.entries()) {
      const typed = block.text.replaceAll('localhost:8080', address);
      const r = await runBlock(typed);
      const where = `block ${i + 1} (line ${block.line}):\n${block.text}\n--- stdout:\n${r.stdout}\n--- stderr:\n${r.stderr}`;
      expect(r.code, `exit status of ${where}`).toBe(0);
      let from = 0;
      for (const shown of expectedOutputs(typed)) {
        const m = shown.pattern.exec(r.stdout.slice(from));
        expect(m, `output "${shown.line}" not printed (in order) by ${where}`).not.toBeNull();
        from += m!.index + m![0].length;
      }
    }
    // What the walk-through did is what the database holds.
    const [alert] = await app.db.sql`SELECT status, assignee_id, resolved_by, finding FROM alerts`;
    expect(alert).toMatchObject({ status: 'resolved', assignee_id: rev2.id, resolved_by: rev2.id });
  }, 90_000);
});
