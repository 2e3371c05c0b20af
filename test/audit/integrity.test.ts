/**
 * Tamper evidence, end to end: decisions and audit events are chained and
 * checkpointed; a superuser who edits a field, deletes a row, swaps two rows,
 * rewrites a record with a fresh hash, cuts the end of a chain, or removes or
 * forges a checkpoint is caught by verify, which names the first bad record
 * exactly. The application's own role cannot UPDATE, DELETE or TRUNCATE the logs.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginAs, personDirect, startTestApp, TEST_KEY, type Person, type TestApp } from '../support/app.ts';
import { appendLogRows } from '../support/db.ts';
import { decisionChain, tamper as tamperWith } from '../support/logs.ts';

let app: TestApp;
let rev: Person;
let chain: string; // a decision chain with at least 20 records
const FROM = '2020-01-01T00:00:00Z';
const TO = '2100-01-01T00:00:00Z';

const verify = async () => {
  const r = await app.call('GET', `/v1/audit/verify?from=${FROM}&to=${TO}`, { token: rev.token });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body;
};

const tamper = (fn: (tx: any) => Promise<unknown>) => tamperWith(app.db.sql, fn);

async function rowOf(seq: number) {
  const [r] = await app.db.sql`SELECT id, seq, effect, hash, prev_hash FROM decision_log WHERE chain_id = ${chain} AND seq = ${seq}`;
  return r!;
}

beforeAll(async () => {
  app = await startTestApp();
  // One at a time, so they land in one chain in order.
  ({ reviewer: rev, chain } = await decisionChain(app, { decisions: 30, checkpointAfter: [9] }));
  await loginAs(app, rev);
});
afterAll(async () => app?.close());

describe('an untouched log', () => {
  it('verifies: every record re-hashed, every checkpoint signed and linked', async () => {
    const report = await verify();
    expect(report.ok, JSON.stringify(report.problems)).toBe(true);
    expect(report.records).toBeGreaterThanOrEqual(30);
    expect(report.checkpoints).toBeGreaterThanOrEqual(2);
    const [{ n }]: any[] = await app.db.sql`SELECT count(*)::int AS n FROM decision_log WHERE chain_id = ${chain}`;
    expect(n).toBeGreaterThanOrEqual(20);
    const [{ head }]: any[] = await app.db.sql`SELECT head_seq::int AS head FROM audit_chains WHERE id = ${chain}`;
    expect(head).toBe(n);
  });

  it('publishes the checkpoint keys, and records who verified', async () => {
    const keys = await app.call('GET', '/v1/audit/keys');
    expect(keys.body.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256' });
    expect(keys.body.keys[0].d).toBeUndefined();
    const [ev] = await app.db.sql`SELECT details FROM audit_events WHERE type = 'audit.verified' AND actor_id = ${rev.id} ORDER BY at DESC LIMIT 1`;
    expect(ev).toBeDefined();
  });

  it('is refused to those without access:review', async () => {
    const sci = await personDirect(app, 'nosy');
    expect((await app.call('GET', '/v1/audit/verify', { token: sci.token })).status).toBe(403);
  });
});

describe('the application role', () => {
  it.each([
    ['UPDATE decision_log', (s: any) => s`UPDATE decision_log SET effect = 'allow' WHERE chain_id = ${chain}`],
    ['DELETE FROM decision_log', (s: any) => s`DELETE FROM decision_log WHERE chain_id = ${chain}`],
    ['TRUNCATE decision_log', (s: any) => s`TRUNCATE decision_log`],
    ['UPDATE audit_events', (s: any) => s`UPDATE audit_events SET outcome = 'success'`],
    ['DELETE FROM audit_events', (s: any) => s`DELETE FROM audit_events`],
    ['TRUNCATE audit_events', (s: any) => s`TRUNCATE audit_events`],
    ['DELETE FROM audit_checkpoints', (s: any) => s`DELETE FROM audit_checkpoints`],
    ['UPDATE a partition directly', (s: any) => s`UPDATE decision_log_default SET effect = 'allow'`],
    ['INSERT into a partition directly', (s: any) => s`INSERT INTO decision_log_default SELECT * FROM decision_log LIMIT 1`],
    ['rewrite a chain head', (s: any) => s`UPDATE audit_chains SET head_seq = 0`],
    ['insert a record around the append function', (s: any) => s`INSERT INTO decision_log SELECT * FROM decision_log LIMIT 1`],
    ['register a chain with a head of its own', (s: any) => s`INSERT INTO audit_chains (id, log, instance, started_at, head_seq) VALUES (gen_random_uuid(), 'decision_log', 'x', now(), 5)`],
    ['forge a retention drop', (s: any) => s`INSERT INTO audit_partition_drops VALUES ('x', 'decision_log', '2999-01-01', '2999-02-01', now(), 'x')`],
    ['remove a checkpoint key', (s: any) => s`DELETE FROM audit_keys`],
    ['forge a migration record', (s: any) => s`DELETE FROM schema_migrations`],
  ])('cannot %s', async (_name, q) => {
    const [{ who }]: any[] = await app.db.appSql`SELECT current_user AS who`;
    expect(who).toBe('custos_app');
    await expect(q(app.db.appSql)).rejects.toMatchObject({ code: '42501' });
  });

  it('appends and reads, which is all the server does', async () => {
    const [{ n }]: any[] = await app.db.appSql`SELECT count(*)::int AS n FROM decision_log`;
    expect(n).toBeGreaterThan(0);
  });

  it('even a superuser is stopped by the triggers unless they switch them off', async () => {
    await expect(app.db.sql`UPDATE decision_log SET effect = 'allow' WHERE chain_id = ${chain}`).rejects.toThrow(/append-only/);
    await expect(app.db.sql`DELETE FROM audit_events`).rejects.toThrow(/append-only/);
    await expect(app.db.sql`TRUNCATE decision_log`).rejects.toThrow(/append-only/);
  });
});

describe('tampering through a superuser connection is caught, at the first bad record', () => {
  it('an edited field', async () => {
    const target = await rowOf(7);
    await tamper((tx) => tx`UPDATE decision_log SET effect = 'deny' WHERE chain_id = ${chain} AND seq = 7`);
    try {
      const report = await verify();
      expect(report.ok).toBe(false);
      expect(report.problems).toHaveLength(1);
      expect(report.problems[0]).toMatchObject({ log: 'decision_log', kind: 'altered', chain_id: chain, seq: 7, record_id: target.id });
    } finally {
      await tamper((tx) => tx`UPDATE decision_log SET effect = ${target.effect} WHERE chain_id = ${chain} AND seq = 7`);
    }
    expect((await verify()).ok).toBe(true);
  });

  it('an edited record whose hash was recomputed to match', async () => {
    const target = await rowOf(5);
    await tamper(async (tx) => {
      await tx`UPDATE decision_log SET purpose = 'research' WHERE chain_id = ${chain} AND seq = 5`;
      await tx`UPDATE decision_log d SET hash = sha256(d.prev_hash || sha256(convert_to(custos_decision_enc(d), 'UTF8'))) WHERE chain_id = ${chain} AND seq = 5`;
    });
    try {
      const report = await verify();
      expect(report.problems[0]).toMatchObject({ kind: 'altered', chain_id: chain, seq: 5, record_id: target.id });
    } finally {
      await tamper(async (tx) => {
        await tx`UPDATE decision_log SET purpose = 'model-training', hash = ${target.hash} WHERE chain_id = ${chain} AND seq = 5`;
      });
    }
    expect((await verify()).ok).toBe(true);
  });

  it('a deleted row', async () => {
    const [saved] = await app.db.sql`SELECT to_jsonb(d) AS row FROM decision_log d WHERE chain_id = ${chain} AND seq = 12`;
    await tamper((tx) => tx`DELETE FROM decision_log WHERE chain_id = ${chain} AND seq = 12`);
    try {
      const report = await verify();
      expect(report.problems[0]).toMatchObject({ kind: 'missing', chain_id: chain, seq: 13 });
      expect(report.problems[0].detail).toContain('12–12');
    } finally {
      await tamper((tx) => tx`INSERT INTO decision_log SELECT * FROM jsonb_populate_record(NULL::decision_log, ${saved!.row})`);
    }
    expect((await verify()).ok).toBe(true);
  });

  it('two rows swapped', async () => {
    const a = await rowOf(15);
    const b = await rowOf(16);
    const swap = (x: number, y: number) =>
      tamper(async (tx) => {
        await tx`UPDATE decision_log SET seq = -1 WHERE chain_id = ${chain} AND seq = ${x}`;
        await tx`UPDATE decision_log SET seq = ${x} WHERE chain_id = ${chain} AND seq = ${y}`;
        await tx`UPDATE decision_log SET seq = ${y} WHERE chain_id = ${chain} AND seq = -1`;
      });
    await swap(15, 16);
    try {
      const report = await verify();
      expect(report.problems[0]).toMatchObject({ kind: 'reordered', chain_id: chain, seq: 15, record_id: b.id });
      expect(a.id).not.toBe(b.id);
    } finally {
      await swap(15, 16);
    }
    expect((await verify()).ok).toBe(true);
  });

  it('records cut from the end of a chain (caught by the signed checkpoint)', async () => {
    const [{ head }]: any[] = await app.db.sql`SELECT max(upto_seq)::int AS head FROM audit_checkpoints WHERE chain_id = ${chain}`;
    const [saved] = await app.db.sql`SELECT to_jsonb(d) AS row FROM decision_log d WHERE chain_id = ${chain} AND seq = ${head}`;
    await tamper((tx) => tx`DELETE FROM decision_log WHERE chain_id = ${chain} AND seq = ${head}`);
    try {
      const report = await verify();
      expect(report.problems[0]).toMatchObject({ kind: 'truncated', chain_id: chain, seq: head, last_seq: head });
    } finally {
      await tamper((tx) => tx`INSERT INTO decision_log SELECT * FROM jsonb_populate_record(NULL::decision_log, ${saved!.row})`);
    }
    expect((await verify()).ok).toBe(true);
  });

  it('a dropped checkpoint', async () => {
    const [saved] = await app.db.sql`SELECT to_jsonb(c) AS row FROM audit_checkpoints c WHERE chain_id = ${chain} AND cp_seq = 1`;
    expect(saved).toBeDefined();
    await tamper((tx) => tx`DELETE FROM audit_checkpoints WHERE chain_id = ${chain} AND cp_seq = 1`);
    try {
      const report = await verify();
      expect(report.problems[0]).toMatchObject({ kind: 'checkpoint_missing', chain_id: chain, seq: 1 });
    } finally {
      await tamper((tx) => tx`INSERT INTO audit_checkpoints SELECT * FROM jsonb_populate_record(NULL::audit_checkpoints, ${saved!.row})`);
    }
    expect((await verify()).ok).toBe(true);
  });

  it('a forged checkpoint (head moved without the key)', async () => {
    const [cp] = await app.db.sql`SELECT upto_seq, head_hash FROM audit_checkpoints WHERE chain_id = ${chain} AND cp_seq = 1`;
    const other = await rowOf(Number(cp!.upto_seq) - 1);
    await tamper((tx) => tx`UPDATE audit_checkpoints SET upto_seq = upto_seq - 1, head_hash = ${other.hash} WHERE chain_id = ${chain} AND cp_seq = 1`);
    try {
      const report = await verify();
      expect(report.problems[0]).toMatchObject({ kind: 'checkpoint_signature', chain_id: chain, seq: 1 });
    } finally {
      await tamper((tx) => tx`UPDATE audit_checkpoints SET upto_seq = ${cp!.upto_seq}, head_hash = ${cp!.head_hash} WHERE chain_id = ${chain} AND cp_seq = 1`);
    }
    expect((await verify()).ok).toBe(true);
  });

  it('the same first bad record when verified in 4-record chunks on 3 connections', async () => {
    const { verifyLogs } = await import('../../src/audit/postgres/verify.ts');
    const target = await rowOf(11);
    await tamper(async (tx) => {
      await tx`UPDATE decision_log SET effect = 'deny' WHERE chain_id = ${chain} AND seq IN (11, 18)`;
    });
    try {
      const progress: number[] = [];
      const report = await verifyLogs({ sql: app.db.sql, roots: app.wired.app.auditLog.keys.roots }, { from: new Date(FROM), to: new Date(TO) }, (p) => progress.push(p.records), { chunk: 4, parallel: 3 });
      expect(report.problems[0]).toMatchObject({ kind: 'altered', chain_id: chain, seq: 11, record_id: target.id });
      const whole = await verify();
      expect(report.records).toBe(whole.records);
      expect(progress.length).toBeGreaterThan(5);
    } finally {
      await tamper((tx) => tx`UPDATE decision_log SET effect = 'allow' WHERE chain_id = ${chain} AND seq IN (11, 18)`);
    }
    expect((await verify()).ok).toBe(true);
  });

  it('a whole chain removed, records and checkpoints (caught by its registered head)', async () => {
    const [other] = await app.db.sql`SELECT chain_id FROM decision_log WHERE chain_id <> ${chain} GROUP BY chain_id LIMIT 1`;
    const victim = other ? (other.chain_id as string) : chain;
    const records = await app.db.sql`SELECT to_jsonb(d) AS row FROM decision_log d WHERE chain_id = ${victim}`;
    const checkpoints = await app.db.sql`SELECT to_jsonb(c) AS row FROM audit_checkpoints c WHERE chain_id = ${victim}`;
    const [{ head }]: any[] = await app.db.sql`SELECT head_seq::int AS head FROM audit_chains WHERE id = ${victim}`;
    await tamper(async (tx) => {
      await tx`DELETE FROM audit_checkpoints WHERE chain_id = ${victim}`;
      await tx`DELETE FROM decision_log WHERE chain_id = ${victim}`;
    });
    try {
      const report = await verify();
      // Named by its first missing record, with the range that is gone.
      expect(report.problems.find((p: any) => p.chain_id === victim)).toMatchObject({ kind: 'truncated', seq: 1, last_seq: head });
    } finally {
      await tamper(async (tx) => {
        for (const r of records) await tx`INSERT INTO decision_log SELECT * FROM jsonb_populate_record(NULL::decision_log, ${r.row})`;
        for (const c of checkpoints) await tx`INSERT INTO audit_checkpoints SELECT * FROM jsonb_populate_record(NULL::audit_checkpoints, ${c.row})`;
      });
    }
    expect((await verify()).ok).toBe(true);
  });

  it('an edited audit event', async () => {
    const [ev] = await app.db.sql`SELECT id, chain_id, seq, outcome FROM audit_events WHERE seq = 3 ORDER BY at LIMIT 1`;
    await tamper((tx) => tx`UPDATE audit_events SET outcome = 'info' WHERE id = ${ev!.id}`);
    try {
      const report = await verify();
      expect(report.problems[0]).toMatchObject({ log: 'audit_events', kind: 'altered', chain_id: ev!.chain_id, seq: 3, record_id: ev!.id });
    } finally {
      await tamper((tx) => tx`UPDATE audit_events SET outcome = ${ev!.outcome} WHERE id = ${ev!.id}`);
    }
    expect((await verify()).ok).toBe(true);
  });
});

describe('custos audit', () => {
  const cli = (args: string[]) =>
    promisify(execFile)(process.execPath, ['src/cli/index.ts', 'audit', ...args], {
      env: { ...process.env, DATABASE_URL: app.db.url, CUSTOS_ENCRYPTION_KEY: TEST_KEY.toString('base64'), CUSTOS_LOG_LEVEL: 'silent', CUSTOS_ENV: 'test' },
    }).then(
      (r) => ({ code: 0, stdout: r.stdout }),
      (e: { code: number; stdout: string }) => ({ code: e.code, stdout: e.stdout }),
    );
  const run = (args: string[]) => cli(['verify', '--from', FROM, '--to', TO, ...args]);

  it('drop-partition refuses a month inside the retention period, and drops an older one on the record', async () => {
    await app.db.sql.unsafe(`CREATE TABLE decision_log_201901 PARTITION OF decision_log FOR VALUES FROM ('2019-01-01') TO ('2019-02-01')`);
    const now = new Date();
    const month = `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, '0')}`;
    const recent = await cli(['drop-partition', 'decision_log', month, '--by', 'tester', '--yes']);
    expect(recent.code).toBe(3);
    const dry = await cli(['drop-partition', 'decision_log', '2019-01', '--by', 'tester']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('would drop decision_log_201901');
    const [still] = await app.db.sql`SELECT 1 AS hit FROM pg_class WHERE relname = 'decision_log_201901'`;
    expect(still).toBeDefined();
    // Oldest month first.
    await app.db.sql.unsafe(`CREATE TABLE decision_log_201812 PARTITION OF decision_log FOR VALUES FROM ('2018-12-01') TO ('2019-01-01')`);
    const outOfOrder = await cli(['drop-partition', 'decision_log', '2019-01', '--by', 'tester', '--yes']);
    expect(outOfOrder.code).toBe(3);
    expect((await cli(['drop-partition', 'decision_log', '2018-12', '--by', 'tester, ticket SEC-1', '--yes'])).code).toBe(0);
    const dropped = await cli(['drop-partition', 'decision_log', '2019-01', '--by', 'tester, ticket SEC-1', '--yes']);
    expect(dropped.code, dropped.stdout).toBe(0);
    const [gone] = await app.db.sql`SELECT 1 AS hit FROM pg_class WHERE relname = 'decision_log_201901'`;
    expect(gone).toBeUndefined();
    const [drop] = await app.db.sql`SELECT log, month_start::text AS month_start, dropped_by, kid, signature FROM audit_partition_drops WHERE partition = 'decision_log_201901'`;
    expect(drop).toMatchObject({ log: 'decision_log', month_start: '2019-01-01', dropped_by: 'tester, ticket SEC-1' });
    // Signed with the published audit key, like a checkpoint.
    const keys = await app.call('GET', '/v1/audit/keys');
    expect(keys.body.keys.map((k: { kid: string }) => k.kid)).toContain(drop!.kid);
    expect(drop!.signature).toMatch(/^[A-Za-z0-9_-]{86}$/);
    const [ev] = await app.db.sql`SELECT details FROM audit_events WHERE type = 'audit.partition_dropped' ORDER BY at DESC LIMIT 1`;
    expect(ev!.details).toMatchObject({ log: 'decision_log', month: '2019-01', by: 'tester, ticket SEC-1', retention_months: 72 });
    // The records that remain still verify.
    expect((await verify()).ok).toBe(true);
  }, 60_000);

  it('reports OK, and exits 4 naming the first bad record when a record was edited', async () => {
    const ok = await run([]);
    expect(ok.code, ok.stdout).toBe(0);
    expect(ok.stdout).toMatch(/^OK: /);
    const target = await rowOf(9);
    await tamper((tx) => tx`UPDATE decision_log SET effect = 'deny' WHERE chain_id = ${chain} AND seq = 9`);
    try {
      const bad = await run(['--json']);
      expect(bad.code).toBe(4);
      const report = JSON.parse(bad.stdout);
      expect(report.problems[0]).toMatchObject({ kind: 'altered', seq: 9, record_id: target.id });
    } finally {
      await tamper((tx) => tx`UPDATE decision_log SET effect = ${target.effect} WHERE chain_id = ${chain} AND seq = 9`);
    }
  }, 60_000);
});

// Last in the file: it wipes a chain for good.
describe('retention drop records', () => {
  it('a forged drop record excuses nothing: a chain wiped under an unsigned or wrongly signed drop is reported, and so is the drop', async () => {
    const seeded = '00000000-0000-7000-8000-00000000d0d0';
    const row = (i: number) => ({
      id: crypto.randomUUID(), at: new Date(Date.UTC(2026, 4, 1, i)).toISOString(), principal_id: rev.id, dataset_id: 'onc-notes', project_id: 'onc', action: 'dataset:read', purpose: 'research',
      effect: 'deny', rules: [], reasons: ['no rule allows'], granted_columns: [], denied_columns: ['note_text'], obligations: [], grant_ids: [], break_glass: false, policy_version: 'v1', latency_us: 5, input: {},
    });
    await appendLogRows(app.db.sql, 'decision_log', [row(0), row(1), row(2)]);
    expect((await verify()).ok).toBe(true);
    await tamper((tx) => tx`DELETE FROM decision_log WHERE chain_id = ${seeded}`);
    expect((await verify()).problems).toContainEqual(expect.objectContaining({ kind: 'truncated', chain_id: seeded }));

    // A superuser claims the records went with a retention drop.
    await app.db.sql`INSERT INTO audit_partition_drops (partition, log, month_start, month_end, dropped_at, dropped_by)
                     VALUES ('decision_log_299812', 'decision_log', '2998-12-01', '2999-01-01', now(), 'retention job')`;
    const unsigned = await verify();
    expect(unsigned.ok).toBe(false);
    expect(unsigned.problems).toContainEqual(expect.objectContaining({ kind: 'drop_unsigned', record_id: 'decision_log_299812' }));
    expect(unsigned.problems).toContainEqual(expect.objectContaining({ kind: 'truncated', chain_id: seeded }));

    // A signature lifted from a genuine drop record does not cover another month.
    const [real] = await app.db.sql`SELECT kid, signature FROM audit_partition_drops WHERE partition = 'decision_log_201901'`;
    expect(real!.signature).toBeTruthy();
    await app.db.sql`UPDATE audit_partition_drops SET kid = ${real!.kid}, signature = ${real!.signature} WHERE partition = 'decision_log_299812'`;
    const lifted = await verify();
    expect(lifted.ok).toBe(false);
    expect(lifted.problems).toContainEqual(expect.objectContaining({ kind: 'drop_signature', record_id: 'decision_log_299812' }));
    expect(lifted.problems).toContainEqual(expect.objectContaining({ kind: 'truncated', chain_id: seeded }));
    // The genuine, signed drop is not reported.
    expect(lifted.problems.some((p: { record_id: string | null }) => p.record_id === 'decision_log_201901')).toBe(false);
  });
});
