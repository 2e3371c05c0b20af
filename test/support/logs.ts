/**
 * Logs to tamper with: a world whose enforcement point asks for decisions one
 * at a time (so they land in one chain, in order), with checkpoints where the
 * test wants them, and the superuser's way around the append-only triggers.
 */
import { expect } from 'vitest';
import { createClientCredential } from '../../src/auth/clients/clientCredentials.ts';
import type { Sql, Tx } from '../../src/db/client.ts';
import { personDirect, type Person, type TestApp } from './app.ts';

/**
 * Makes a project, a security reviewer, a scientist with a dataset and an
 * enforcement point; asks `decisions` decisions, checkpointing after each
 * index in `checkpointAfter` and at the end. Returns the reviewer and the
 * longest decision chain.
 */
export async function decisionChain(app: TestApp, o: { decisions: number; checkpointAfter: number[] }): Promise<{ reviewer: Person; chain: string }> {
  const c = app.wired.catalog;
  await c.createProject({ id: 'onc', name: 'Oncology' });
  const reviewer = await personDirect(app, 'rev', [{ role: 'security-reviewer' }]);
  const sci = await personDirect(app, 'sci', [{ role: 'data-scientist', project: 'onc' }]);
  await c.createDataset({ id: 'onc-notes', project_id: 'onc', owner_id: sci.id, purposes: ['model-training'], columns: [{ name: 'note_text', type: 'string' }] });
  const pep = await c.createPrincipal({ kind: 'service', name: 'pep', sponsor_id: sci.id, project_id: 'onc' });
  await c.assignRole({ principal_id: pep.id, role_id: 'enforcement-point', project_id: null }, null);
  const cred = await createClientCredential(app.wired.catalogOps, { principalId: pep.id, actorId: sci.id, meta: { ip: undefined, requestId: undefined } });
  const auth = `Basic ${Buffer.from(`${cred.client_id}:${cred.client_secret}`).toString('base64')}`;
  for (let i = 0; i < o.decisions; i++) {
    const r = await app.call('POST', '/v1/decisions', { headers: { authorization: auth }, body: { principal_id: sci.id, dataset: 'onc-notes', purpose: 'model-training', columns: ['note_text'] } });
    expect(r.status).toBe(200);
    if (o.checkpointAfter.includes(i)) await app.wired.checkpointer.run();
  }
  await app.wired.checkpointer.run();
  const [longest] = await app.db.sql`SELECT chain_id FROM decision_log GROUP BY chain_id ORDER BY count(*) DESC LIMIT 1`;
  return { reviewer, chain: longest!.chain_id as string };
}

/** Runs `fn` as a superuser with the append-only triggers (and foreign keys) switched off, as an attacker with full access would. */
export async function tamper(sql: Sql, fn: (tx: Tx) => Promise<unknown>): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`SET LOCAL session_replication_role = replica`;
    await fn(tx);
  });
}
