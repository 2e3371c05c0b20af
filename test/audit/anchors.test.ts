/**
 * Tamper evidence against a database superuser: what the database alone can
 * no longer show — the cut end of a chain with its checkpoints, a checkpoint
 * re-signed with a key of the attacker's own, a chain removed with its
 * registration — is caught through the anchors kept outside it, named by
 * chain and position; and keys count only when the pinned audit root
 * certified them.
 */
import { execFile } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAnchorFiles } from '../../src/audit/anchors.ts';
import { checkpointDigest, checkpointPayload } from '../../src/audit/checkpointFormat.ts';
import { AuditRoot, TrustedRoots } from '../../src/audit/rootKey.ts';
import { verifyLogs, type VerifyReport } from '../../src/audit/postgres/verify.ts';
import { createSql } from '../../src/db/client.ts';
import { loginAs, startTestApp, type Person, type TestApp } from '../support/app.ts';
import { decisionChain, tamper as tamperWith } from '../support/logs.ts';

let app: TestApp;
let rev: Person;
let anchorFile: string;
let chain: string; // the longest decision chain, with two anchored checkpoints
const FROM = new Date('2020-01-01T00:00:00Z');
const TO = new Date('2100-01-01T00:00:00Z');

/** Verification through the API: the configured anchor file is read. */
const verify = async (): Promise<VerifyReport> => {
  const r = await app.call('GET', `/v1/audit/verify?from=${FROM.toISOString()}&to=${TO.toISOString()}`, { token: rev.token });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body;
};
/** Verification with the database alone, as before anchors existed. */
const verifyDatabaseOnly = () => verifyLogs({ sql: app.db.sql, roots: app.wired.app.auditLog.keys.roots }, { from: FROM, to: TO });

const tamper = (fn: (tx: any) => Promise<unknown>) => tamperWith(app.db.sql, fn);

/** Everything of `chainId` as it is now, and a way to put it back. */
async function snapshotChain(chainId: string) {
  const records = await app.db.sql`SELECT to_jsonb(d) AS row FROM decision_log d WHERE chain_id = ${chainId}`;
  const checkpoints = await app.db.sql`SELECT to_jsonb(c) AS row FROM audit_checkpoints c WHERE chain_id = ${chainId}`;
  const [registration] = await app.db.sql`SELECT to_jsonb(c) AS row FROM audit_chains c WHERE id = ${chainId}`;
  return async () =>
    tamper(async (tx) => {
      await tx`DELETE FROM audit_checkpoints WHERE chain_id = ${chainId}`;
      await tx`DELETE FROM decision_log WHERE chain_id = ${chainId}`;
      await tx`DELETE FROM audit_chains WHERE id = ${chainId}`;
      await tx`INSERT INTO audit_chains SELECT * FROM jsonb_populate_record(NULL::audit_chains, ${registration!.row})`;
      for (const r of records) await tx`INSERT INTO decision_log SELECT * FROM jsonb_populate_record(NULL::decision_log, ${r.row})`;
      for (const c of checkpoints) await tx`INSERT INTO audit_checkpoints SELECT * FROM jsonb_populate_record(NULL::audit_checkpoints, ${c.row})`;
    });
}

async function checkpointsOf(chainId: string) {
  return app.db.sql`
    SELECT cp_seq::int, upto_seq::int, head_hash, (extract(epoch FROM at) * 1000)::bigint AS at_ms, prev_digest, kid, signature
    FROM audit_checkpoints WHERE chain_id = ${chainId} ORDER BY cp_seq`;
}

/** Cuts records after `keep` with the checkpoints that signed them, and moves the chain's head back: the database shows an unbroken, shorter chain. */
async function cutEnd(chainId: string, keep: number) {
  await tamper(async (tx) => {
    const [rec] = await tx`SELECT hash FROM decision_log WHERE chain_id = ${chainId} AND seq = ${keep}`;
    await tx`DELETE FROM audit_checkpoints WHERE chain_id = ${chainId} AND upto_seq > ${keep}`;
    await tx`DELETE FROM decision_log WHERE chain_id = ${chainId} AND seq > ${keep}`;
    await tx`UPDATE audit_chains SET head_seq = ${keep}, head_hash = ${rec!.hash} WHERE id = ${chainId}`;
  });
}

beforeAll(async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'custos-anchors-'));
  anchorFile = path.join(dir, 'anchors.jsonl');
  app = await startTestApp({ CUSTOS_AUDIT_ANCHOR_FILE: anchorFile });
  // A checkpoint after each half; then a registry of every chain.
  ({ reviewer: rev, chain } = await decisionChain(app, { decisions: 60, checkpointAfter: [29] }));
  await app.wired.checkpointer.anchorRegistry();
  await loginAs(app, rev);
}, 120_000);
afterAll(async () => app?.close());

describe('an untouched log', () => {
  it('verifies against its anchors, which hold every checkpoint, the key certificate and the registry', async () => {
    const report = await verify();
    expect(report.ok, JSON.stringify(report.problems)).toBe(true);
    expect(report.anchors).toMatchObject({ malformed: [], unreadable: null });
    expect(report.anchors!.chains).toBeGreaterThanOrEqual(1);
    const { anchors } = await readAnchorFiles([anchorFile]);
    const types = new Set(anchors.map((a) => a.type));
    expect(types).toEqual(new Set(['key', 'checkpoint', 'registry']));
    expect(anchors.filter((a) => a.type === 'checkpoint' && a.chain_id === chain)).toHaveLength((await checkpointsOf(chain)).length);
    expect((await checkpointsOf(chain)).length).toBeGreaterThanOrEqual(2);
  });

  it('publishes each key with its certification and the trusted root', async () => {
    const keys = (await app.call('GET', '/v1/audit/keys')).body;
    const root = app.wired.app.auditLog.keys.root;
    expect(keys.roots).toEqual([{ public_key: root.publicKey, fingerprint: root.fingerprint }]);
    expect(keys.keys).toHaveLength(1);
    expect(keys.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', certified: true, certificate: { kid: keys.keys[0].kid, root: root.publicKey } });
    expect(keys.keys[0].d).toBeUndefined();
  });
});

describe('a database superuser', () => {
  it('cuts the end of a chain with its checkpoints and moves the head back: the anchors name the chain and the first missing record', async () => {
    const restore = await snapshotChain(chain);
    const cps = await checkpointsOf(chain);
    const head = cps[cps.length - 1]!.upto_seq;
    const keep = head - 4;
    expect(keep).toBeGreaterThan(cps[cps.length - 2]!.upto_seq);
    await cutEnd(chain, keep);
    try {
      // The database alone shows a shorter, unbroken, signed chain.
      expect((await verifyDatabaseOnly()).ok).toBe(true);
      const report = await verify();
      expect(report.ok).toBe(false);
      expect(report.problems).toContainEqual(expect.objectContaining({ kind: 'truncated', log: 'decision_log', chain_id: chain, seq: keep + 1, last_seq: head }));
    } finally {
      await restore();
    }
    expect((await verify()).ok).toBe(true);
  });

  it('inserts a key of their own, cuts records and re-signs the last checkpoint: refused as uncertified, and the anchors still show the cut', async () => {
    const restore = await snapshotChain(chain);
    const cps = await checkpointsOf(chain);
    const last = cps[cps.length - 1]!;
    const prev = cps[cps.length - 2]!;
    const keep = last.upto_seq - 3;
    // The attacker's ES256 key, in the key table, and a certificate by a root of their own making.
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' }) as { x: string; y: string };
    const kid = createHash('sha256').update(JSON.stringify({ crv: 'P-256', kty: 'EC', x: jwk.x, y: jwk.y })).digest('base64url');
    const ownRoot = AuditRoot.derive(randomBytes(32));
    const forged = ownRoot.certify({ kid, x: jwk.x, y: jwk.y }, new Date());
    await app.db.sql`INSERT INTO audit_keys (kid, public_jwk, private_enc, created_at) VALUES (${kid}, ${app.db.sql.json({ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, kid, alg: 'ES256', use: 'sig' })}, ${randomBytes(64)}, now() + interval '1 second')`;
    await app.db.sql`INSERT INTO audit_key_certificates (kid, root, certificate, created_at) VALUES (${kid}, ${ownRoot.publicKey}, ${app.db.sql.json(forged as never)}, now())`;
    await cutEnd(chain, keep);
    const [rec] = await app.db.sql`SELECT hash FROM decision_log WHERE chain_id = ${chain} AND seq = ${keep}`;
    const prevFields = { chainId: chain, cpSeq: prev.cp_seq, uptoSeq: prev.upto_seq, headHash: prev.head_hash, atMs: Number(prev.at_ms), prevDigest: prev.prev_digest };
    const fields = { chainId: chain, cpSeq: last.cp_seq, uptoSeq: keep, headHash: rec!.hash as Buffer, atMs: Number(last.at_ms), prevDigest: checkpointDigest(prevFields) };
    const signature = sign('sha256', Buffer.from(checkpointPayload(fields), 'utf8'), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url');
    await tamper(
      (tx) => tx`INSERT INTO audit_checkpoints (chain_id, cp_seq, upto_seq, head_hash, at, prev_digest, kid, signature)
                 VALUES (${chain}, ${fields.cpSeq}, ${keep}, ${fields.headHash}, ${new Date(fields.atMs)}, ${fields.prevDigest}, ${kid}, ${signature})`,
    );
    try {
      // Without anchors too: the key is not certified by the pinned root.
      const db = await verifyDatabaseOnly();
      expect(db.problems).toEqual([expect.objectContaining({ kind: 'checkpoint_uncertified', chain_id: chain, seq: last.cp_seq })]);
      const report = await verify();
      expect(report.problems).toContainEqual(expect.objectContaining({ kind: 'checkpoint_uncertified', chain_id: chain, seq: last.cp_seq }));
      expect(report.problems).toContainEqual(expect.objectContaining({ kind: 'truncated', chain_id: chain, seq: keep + 1, last_seq: last.upto_seq }));
      // Published, but shown as uncertified.
      const keys = (await app.call('GET', '/v1/audit/keys')).body.keys;
      expect(keys.find((k: { kid: string }) => k.kid === kid)).toMatchObject({ certified: false, certificate: null });
      expect(keys.filter((k: { certified: boolean }) => k.certified)).toHaveLength(1);
    } finally {
      await restore();
      await tamper(async (tx) => {
        await tx`DELETE FROM audit_key_certificates WHERE kid = ${kid}`;
        await tx`DELETE FROM audit_keys WHERE kid = ${kid}`;
      });
    }
    expect((await verify()).ok).toBe(true);
  });

  it('removes a whole chain with its registration, records and checkpoints: the registry anchor names it', async () => {
    const restore = await snapshotChain(chain);
    const [{ head }]: any[] = await app.db.sql`SELECT head_seq::int AS head FROM audit_chains WHERE id = ${chain}`;
    await tamper(async (tx) => {
      await tx`DELETE FROM audit_checkpoints WHERE chain_id = ${chain}`;
      await tx`DELETE FROM decision_log WHERE chain_id = ${chain}`;
      await tx`DELETE FROM audit_chains WHERE id = ${chain}`;
    });
    try {
      expect((await verifyDatabaseOnly()).ok).toBe(true);
      const report = await verify();
      expect(report.problems).toContainEqual(expect.objectContaining({ kind: 'chain_missing', log: 'decision_log', chain_id: chain, seq: 1, last_seq: head }));
    } finally {
      await restore();
    }
    expect((await verify()).ok).toBe(true);
  });

  it('rewrites a record and re-hashes the chain after it: reported as the range between the checkpoints, not as the checkpoint record', async () => {
    const restore = await snapshotChain(chain);
    const cps = await checkpointsOf(chain);
    const first = cps[cps.length - 2]!.upto_seq;
    const second = cps[cps.length - 1]!.upto_seq;
    const edited = first + 3;
    const [{ head }]: any[] = await app.db.sql`SELECT head_seq::int AS head FROM audit_chains WHERE id = ${chain}`;
    await tamper(async (tx) => {
      await tx`UPDATE decision_log SET effect = 'deny' WHERE chain_id = ${chain} AND seq = ${edited}`;
      for (let s = edited; s <= head; s++) {
        await tx`UPDATE decision_log d SET prev_hash = (SELECT hash FROM decision_log WHERE chain_id = ${chain} AND seq = ${s - 1}) WHERE chain_id = ${chain} AND seq = ${s}`;
        await tx`UPDATE decision_log d SET hash = sha256(d.prev_hash || sha256(convert_to(custos_decision_enc(d), 'UTF8'))) WHERE chain_id = ${chain} AND seq = ${s}`;
      }
      await tx`UPDATE audit_chains SET head_hash = (SELECT hash FROM decision_log WHERE chain_id = ${chain} AND seq = ${head}) WHERE id = ${chain}`;
    });
    try {
      const db = await verifyDatabaseOnly();
      expect(db.problems).toEqual([expect.objectContaining({ kind: 'altered', chain_id: chain, seq: first + 1, last_seq: second, record_id: null })]);
      const report = await verify();
      expect(report.problems).toContainEqual(expect.objectContaining({ kind: 'altered', chain_id: chain, seq: first + 1, last_seq: second }));
    } finally {
      await restore();
    }
    expect((await verify()).ok).toBe(true);
  });

  it('forges an anchor line, or signs one with an uncertified key: reported, and trusted for nothing', async () => {
    const { anchors } = await readAnchorFiles([anchorFile]);
    const cp = anchors.find((a) => a.type === 'checkpoint' && a.chain_id === chain)!;
    if (cp.type !== 'checkpoint') throw new Error('unreachable');
    const bumped = { ...cp, upto_seq: cp.upto_seq + 1000 };
    const r = await app.call('POST', '/v1/audit/verify', { token: rev.token, body: { from: FROM.toISOString(), to: TO.toISOString(), anchors: [...anchors, bumped, { type: 'nonsense' }] } });
    expect(r.status).toBe(200);
    expect(r.body.problems).toEqual([
      expect.objectContaining({ kind: 'anchor_invalid', chain_id: 'anchors', seq: anchors.length + 2 }),
      expect.objectContaining({ kind: 'anchor_invalid', chain_id: chain, seq: cp.cp_seq }),
    ]);
    // The bumped head is not believed: no truncation is claimed from it.
    expect(r.body.problems.some((p: { kind: string }) => p.kind === 'truncated')).toBe(false);
  });
});

describe('a verifier with a pinned root', () => {
  it('verifies an untouched log with a role that cannot read the key table, from the command line with DATABASE_URL alone', async () => {
    const role = `auditor_${randomBytes(4).toString('hex')}`;
    await app.db.sql.unsafe(`CREATE ROLE ${role} LOGIN PASSWORD 'pw'`);
    await app.db.sql.unsafe(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${role}`);
    await app.db.sql.unsafe(`REVOKE SELECT ON audit_keys FROM ${role}`);
    const url = app.db.url.replace(/\/\/[^@]*@/, `//${role}:pw@`);
    const auditor = createSql({ url, max: 3 });
    try {
      await expect(auditor`SELECT kid FROM audit_keys`).rejects.toMatchObject({ code: '42501' });
      const pinned = new TrustedRoots([app.wired.app.auditLog.keys.root.publicKey]);
      const report = await verifyLogs({ sql: auditor, roots: pinned }, { from: FROM, to: TO }, undefined, { anchors: await readAnchorFiles([anchorFile]) });
      expect(report.ok, JSON.stringify(report.problems)).toBe(true);
      expect(report.checkpoints).toBeGreaterThanOrEqual(2);
      expect(report.anchors!.chains).toBeGreaterThanOrEqual(1);

      // The same, as a reviewer runs it: no encryption key, no server configuration.
      const cli = (rootKey: string) =>
        promisify(execFile)(process.execPath, ['src/cli/index.ts', 'audit', 'verify', '--from', FROM.toISOString(), '--to', TO.toISOString(), '--root-key', rootKey, '--anchors', anchorFile, '--json'], {
          env: { PATH: process.env.PATH, DATABASE_URL: url },
        }).then(
          (r) => ({ code: 0, report: JSON.parse(r.stdout) as VerifyReport }),
          (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, report: e.stdout ? (JSON.parse(e.stdout) as VerifyReport) : null, stderr: e.stderr }),
        );
      const ok = await cli(app.wired.app.auditLog.keys.root.publicKey);
      expect(ok.code, JSON.stringify(ok)).toBe(0);
      expect(ok.report!.ok).toBe(true);
      // Pinning another root: nothing this server signed is accepted.
      const other = await cli(AuditRoot.derive(randomBytes(32)).publicKey);
      expect(other.code).toBe(4);
      expect(other.report!.problems).toContainEqual(expect.objectContaining({ kind: 'checkpoint_uncertified', chain_id: chain, seq: 1 }));
    } finally {
      await auditor.end({ timeout: 5 });
      await app.db.sql.unsafe(`REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${role}`);
      await app.db.sql.unsafe(`DROP ROLE ${role}`);
    }
  }, 60_000);
});

describe('a witness that cannot be written', () => {
  let broken: TestApp;
  let dir: string;
  beforeAll(async () => {
    dir = path.join(await mkdtemp(path.join(tmpdir(), 'custos-witness-')), 'not-yet');
    broken = await startTestApp({ CUSTOS_AUDIT_ANCHOR_FILE: path.join(dir, 'anchors.jsonl') });
  });
  afterAll(async () => broken?.close());

  it('is reported in /readyz and as an audit event, its anchors wait, and are written when it comes back', async () => {
    await broken.wired.audit.record({ type: 'test.event', outcome: 'info', actorId: null, details: {} });
    expect(await broken.wired.checkpointer.run()).toBeGreaterThanOrEqual(1);
    const ready = await broken.call('GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.anchors).toBe('failing');
    const file = ready.body.witnesses.find((w: { name: string }) => w.name === 'file');
    expect(file).toMatchObject({ ok: false, last_error: 'ENOENT', failures: 1 });
    expect(file.pending).toBeGreaterThanOrEqual(2);
    expect(ready.body.witnesses.find((w: { name: string }) => w.name === 'log')).toMatchObject({ ok: true, pending: 0 });
    const [failed] = await broken.db.sql`SELECT outcome, details FROM audit_events WHERE type = 'audit.witness_failed'`;
    expect(failed).toMatchObject({ outcome: 'failure', details: { name: 'file', last_error: 'ENOENT' } });

    const { mkdir } = await import('node:fs/promises');
    await mkdir(dir);
    await broken.wired.checkpointer.run();
    const again = await broken.call('GET', '/readyz');
    expect(again.body.anchors).toBe('ok');
    expect(again.body.witnesses.find((w: { name: string }) => w.name === 'file')).toMatchObject({ ok: true, pending: 0 });
    const written = (await readFile(path.join(dir, 'anchors.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    // The checkpoint that waited is there, after the key certificate.
    expect(written[0].type).toBe('key');
    expect(written.filter((a: { type: string }) => a.type === 'checkpoint').length).toBeGreaterThanOrEqual(1);
    const [recovered] = await broken.db.sql`SELECT outcome FROM audit_events WHERE type = 'audit.witness_recovered'`;
    expect(recovered).toMatchObject({ outcome: 'success' });
  });
});
