/**
 * `custos decisions query|export` as a child process against a real
 * database: same filters and results as the API, readable table and JSON,
 * NDJSON and CSV to a file, invalid options refused, each use audited.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendLogRows, createTestDatabase, type TestDatabase } from '../support/db.ts';
import { runCustos } from '../support/cli.ts';

let db: TestDatabase;
let dir: string;
const P1 = randomUUID();
const P2 = randomUUID();
const rows: { id: string; at: string; principal_id: string; effect: string }[] = [];

const cli = (args: string[]) => runCustos(args, { DATABASE_URL: db.url, CUSTOS_ENCRYPTION_KEY: randomBytes(32).toString('base64'), CUSTOS_DATA_DIR: dir });

beforeAll(async () => {
  db = await createTestDatabase();
  dir = await mkdtemp(path.join(os.tmpdir(), 'custos-cli-'));
  for (let i = 0; i < 12; i++) {
    const r = { id: randomUUID(), at: new Date(Date.UTC(2026, 4, 1, i)).toISOString(), principal_id: i % 3 ? P1 : P2, effect: i % 4 ? 'allow' : 'deny' };
    await appendLogRows(db.sql, 'decision_log', [
      {
        id: r.id, at: r.at, principal_id: r.principal_id, dataset_id: 'onc-notes', project_id: 'onc', action: 'dataset:read', purpose: i === 5 ? '=cmd()' : 'research',
        effect: r.effect, rules: ['rule-a'], reasons: [], granted_columns: ['a'], denied_columns: [], obligations: [], grant_ids: [], break_glass: false,
        policy_version: 'v1', latency_us: 7, input: {},
      },
    ]);
    rows.push(r);
  }
});
afterAll(async () => {
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const newestFirst = (pred: (r: (typeof rows)[number]) => boolean) => rows.filter(pred).sort((a, b) => b.at.localeCompare(a.at)).map((r) => r.id);

describe('custos decisions', () => {
  it('query --json: the API page for the same filters, with a cursor to the next page', async () => {
    const first = await cli(['decisions', 'query', '--principal', P1, '--effect', 'allow', '--limit', '3', '--json']);
    expect(first.code, first.stderr).toBe(0);
    const page = JSON.parse(first.stdout);
    const want = newestFirst((r) => r.principal_id === P1 && r.effect === 'allow');
    expect(page.items.map((i: { id: string }) => i.id)).toEqual(want.slice(0, 3));
    const second = await cli(['decisions', 'query', '--principal', P1, '--effect', 'allow', '--limit', '3', '--json', '--cursor', page.next_cursor]);
    expect(JSON.parse(second.stdout).items.map((i: { id: string }) => i.id)).toEqual(want.slice(3, 6));
  });

  it('query prints a readable table by default', async () => {
    const r = await cli(['decisions', 'query', '--principal', P2]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^at\s+id\s+principal\s+dataset\s+purpose\s+effect\s+rules\s+grants\s+bg$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[1])).toEqual(newestFirst((x) => x.principal_id === P2));
  });

  it('export writes NDJSON and CSV files of every matching record, formulas neutralised', async () => {
    const nd = path.join(dir, 'out.ndjson');
    const a = await cli(['decisions', 'export', '--format', 'ndjson', '--order', 'asc', '--out', nd]);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stderr).toContain('12 record(s) exported');
    const lines = (await readFile(nd, 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.id)).toEqual(newestFirst(() => true).reverse());
    const csvPath = path.join(dir, 'out.csv');
    const b = await cli(['decisions', 'export', '--format', 'csv', '--principal', P1, '--out', csvPath]);
    expect(b.code, b.stderr).toBe(0);
    const csv = (await readFile(csvPath, 'utf8')).split('\r\n').filter(Boolean);
    expect(csv[0]!.startsWith('id,at,request_id,caller_id,principal_id')).toBe(true);
    expect(csv.length - 1).toBe(newestFirst((r) => r.principal_id === P1).length);
    expect(csv.some((l) => l.includes(",'=cmd(),"))).toBe(true);
  });

  it('refuses invalid filters (the API schema) and records every use as an audit event', async () => {
    const bad = await cli(['decisions', 'query', '--principal', "' OR 1=1 --"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--principal');
    expect((await cli(['decisions', 'export', '--format', 'xml'])).code).toBe(1);
    const events = await db.sql`SELECT type, actor_id, details FROM audit_events WHERE type LIKE 'audit.%' ORDER BY at`;
    expect(events.filter((e: any) => e.type === 'audit.query').length).toBe(3);
    expect(events.filter((e: any) => e.type === 'audit.export').length).toBe(2);
    const done = events.filter((e: any) => e.type === 'audit.export.completed');
    expect(done.map((e: any) => e.details.rows).sort()).toEqual([newestFirst((r) => r.principal_id === P1).length, 12].sort());
    for (const e of events) expect(e).toMatchObject({ actor_id: null, details: { via: 'cli', log: 'decision_log' } });
  });
});
