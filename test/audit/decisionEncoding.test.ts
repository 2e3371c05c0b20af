/**
 * Decision records linked in process: the encoding computed here is, byte
 * for byte, what the database's custos_decision_enc gives for the row the
 * writer sends (over values chosen to find the differences: numbers jsonb
 * prints otherwise than JavaScript, keys jsonb orders otherwise, escapes,
 * characters beyond the BMP); the stored links verify; the database refuses
 * a batch not linked from the chain's head; what cannot be rendered here is
 * linked by the database; and a writer whose links the database encodes
 * otherwise notices and hands linking back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecisionRecord } from '../../src/audit/decisionLog.ts';
import { compareKeys, jsonbNumber, jsonbText, NotRenderableError } from '../../src/audit/jsonbText.ts';
import { decisionEncoding, link } from '../../src/audit/postgres/decisionEncoding.ts';
import { ChainedWriter } from '../../src/audit/postgres/chainedWriter.ts';
import { createDecisionLogWriter, decisionRowText } from '../../src/audit/postgres/decisionLogWriter.ts';
import { uuidv7Generator } from '../../src/clock.ts';
import type { PrincipalFacts } from '../../src/engine/types.ts';
import { dataset, service, sponsor } from '../support/decisionFacts.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => db?.drop());

const ids = uuidv7Generator();

function record(o: { principal?: PrincipalFacts; context?: Record<string, unknown>; token?: DecisionRecord['token']; callerId?: string | null; requestId?: string; columns?: string[] | '*'; obligations?: DecisionRecord['decision']['obligations']; latencyUs?: number; now?: number; project?: string | null; source?: string } = {}): DecisionRecord {
  const at = new Date();
  return {
    id: ids(),
    at,
    requestId: o.requestId,
    callerId: o.callerId === undefined ? null : o.callerId,
    input: { now: o.now ?? at.getTime(), action: 'dataset:read', purpose: 'research', columns: o.columns ?? ['icd10', 'x\u2028"\\'], principal: o.principal ?? sponsor, dataset: o.project === undefined ? dataset : { ...dataset, project: o.project as string }, context: o.context },
    decision: { effect: 'allow', rules: ['r1', 'r 2'], reasons: [], grantedColumns: ['icd10'], deniedColumns: ['ssn'], obligations: o.obligations ?? [{ type: 'dp', epsilon: 0.5 }, { type: 'no-export' }], grantIds: ['g1'], grantsExpireAt: 10, breakGlass: false, policyVersion: 'v1:abc' },
    latencyUs: o.latencyUs ?? 123.456,
    token: o.token,
    release: true,
    ...(o.source === undefined ? {} : { source: o.source }),
  };
}

const awkward: [string, DecisionRecord][] = [
  ['a person, nothing optional', record()],
  ['a service with a sponsor, a caller and a request id', record({ principal: service, callerId: service.id, requestId: 'req-"1"' })],
  ['numbers jsonb prints in plain notation', record({ context: { big: 1e21, bigger: 1.5e300, small: 1.5e-7, tiny: 5e-324, third: 1 / 3, negative: -2.5e-9, zero: -0, wide: 2 ** 60, n: -12 } })],
  ['keys jsonb orders by length, then bytewise', record({ context: { bb: 1, a: 2, B: 3, é: 4, z: 5, '😀': 6, ab: 7, aé: 8, 'a\u0001': 9, '': 10 } })],
  ['escapes, control and wide characters', record({ context: { s: 'tab\there "q" \\ \u0001\u001f\u007f \u2028 😀 é /', nested: { deep: [[], {}, [1, 'x', null, true, { k: [false] }]] } } })],
  ['JSON.stringify semantics: toJSON, undefined and functions', record({ context: { when: new Date(0), gone: undefined, list: [undefined, () => 1], f: () => 1 } })],
  ['a token with its job', record({ token: { jti: 'j-1', expiresAt: new Date(1_800_000_000_123), job: { name: 'train', n: 1, params: { lr: 1e-4 } } } })],
  ['all columns, no project, a time apart, a rounded latency', record({ columns: '*', project: null, now: 5, latencyUs: 0.4 })],
  // `source` sorts beside `action` (same length, bytewise after it): the key order jsonb gives must be the one written here.
  ['a caller address (IPv4)', record({ source: '10.1.2.3', context: { a: 1 } })],
  ['a caller address (IPv6, escapes)', record({ principal: service, callerId: service.id, source: '::ffff:127.0.0.1"\\' })],
  ['obligations with keys in any order', record({ obligations: [{ type: 'dp', zeta: 1, alpha: [2, { y: 1, x: 2 }] }] })],
];

const CHAIN = '0190a0f0-0000-7000-8000-00000000c4a1';

/** The database's encoding of the row the writer sends, as the `seq`-th of CHAIN. */
async function databaseEncoding(r: DecisionRecord, seq: number): Promise<string> {
  const row = `${decisionRowText(r).slice(0, -1)},"chain_id":"${CHAIN}","seq":${seq}}`;
  const [x] = await db.sql<{ enc: string }[]>`SELECT custos_decision_enc(r) AS enc FROM json_populate_record(NULL::decision_log, ${row}::text::json) r`;
  return x!.enc;
}

describe('jsonb text in process', () => {
  it('prints numbers as numeric does, without exponents', () => {
    expect(jsonbNumber(1e21)).toBe('1000000000000000000000');
    expect(jsonbNumber(1.5e-7)).toBe('0.00000015');
    expect(jsonbNumber(-2.5e-9)).toBe('-0.0000000025');
    expect(jsonbNumber(1.25e22)).toBe('12500000000000000000000');
    expect(jsonbNumber(0.5)).toBe('0.5');
    expect(jsonbNumber(-0)).toBe('0');
  });

  it('orders keys by byte length, then bytewise', () => {
    expect(['bb', 'a', 'é', 'B', 'ab'].sort(compareKeys)).toEqual(['B', 'a', 'ab', 'bb', 'é']);
  });

  it('refuses what jsonb cannot hold: NUL, lone surrogates, bigints, a top-level undefined', () => {
    expect(() => jsonbText('a\u0000')).toThrow(NotRenderableError);
    expect(() => jsonbText({ k: '\ud800x' })).toThrow(NotRenderableError);
    expect(() => jsonbText(['\udc00'])).toThrow(NotRenderableError);
    expect(() => jsonbText(1n)).toThrow(NotRenderableError);
    expect(() => jsonbText(undefined)).toThrow(NotRenderableError);
    expect(jsonbText('pair 😀')).toBe('"pair 😀"');
  });

  for (const [name, r] of awkward) {
    it(`matches custos_decision_enc: ${name}`, async () => {
      expect(decisionEncoding(r, CHAIN, 7)).toBe(await databaseEncoding(r, 7));
    });
  }

  it('matches jsonb for arbitrary values (100 random documents)', async () => {
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const chars = ['a', 'Z', 'é', '😀', '"', '\\', '\n', '\u0002', ' ', '\u2028', '字'];
    const str = () => Array.from({ length: Math.floor(rnd() * 6) }, () => chars[Math.floor(rnd() * chars.length)]).join('');
    const num = () => [Math.floor(rnd() * 1000) - 500, rnd() * 10 ** Math.floor(rnd() * 50 - 25), -rnd() * 1e22, 0.1 + 0.2][Math.floor(rnd() * 4)]!;
    const value = (d: number): unknown => {
      const k = Math.floor(rnd() * (d > 2 ? 4 : 6));
      if (k === 0) return str();
      if (k === 1) return num();
      if (k === 2) return rnd() < 0.5 ? null : rnd() < 0.5;
      if (k === 3) return d > 2 ? str() : Array.from({ length: Math.floor(rnd() * 4) }, () => value(d + 1));
      return Object.fromEntries(Array.from({ length: Math.floor(rnd() * 5) }, () => [str(), value(d + 1)]));
    };
    const docs = Array.from({ length: 100 }, () => value(0));
    const texts = docs.map((d) => JSON.stringify(d));
    const rows = await db.sql<{ t: string }[]>`SELECT t::jsonb::text AS t FROM unnest(${texts}::text[]) WITH ORDINALITY AS u(t, o) ORDER BY o`;
    expect(docs.map((d) => jsonbText(d))).toEqual(rows.map((r) => r.t));
  });
});

describe('the caller address in a record', () => {
  it('sits after `action` where jsonb puts it, and a record without one encodes byte for byte as before', async () => {
    const withSource = record({ source: '192.0.2.10' });
    const { source: _source, ...without } = withSource;
    const enc = decisionEncoding(withSource, CHAIN, 7);
    expect(enc).toBe(decisionEncoding(without, CHAIN, 7).replace('"action": "dataset:read", ', '"action": "dataset:read", "source": "192.0.2.10", '));
    expect(decisionEncoding(without, CHAIN, 7)).not.toContain('"source"');
    // The database agrees on both, so records with and without it verify alike.
    expect(await databaseEncoding(withSource, 7)).toBe(enc);
    expect(await databaseEncoding(without, 7)).toBe(decisionEncoding(without, CHAIN, 7));
  });
});

describe('a writer that links in process', () => {
  /** Re-derives every link of the chain from the stored columns, as verification does; the seqs of records that do not verify. */
  async function badLinks(chain: string): Promise<number[]> {
    const rows = await db.sql<{ seq: string }[]>`
      SELECT seq::text FROM (
        SELECT d.seq, d.hash, d.prev_hash, lag(d.hash, 1, '\\x0000000000000000000000000000000000000000000000000000000000000000'::bytea) OVER (ORDER BY d.seq) AS before,
               sha256(d.prev_hash || sha256(convert_to(custos_decision_enc(d), 'UTF8'))) AS again
        FROM decision_log d WHERE d.chain_id = ${chain}) x
      WHERE x.hash <> x.again OR x.prev_hash <> x.before ORDER BY seq`;
    return rows.map((r) => Number(r.seq));
  }

  it('stores records whose links the database re-derives, falling back to database links where it cannot render a record', async () => {
    const mismatches: unknown[] = [];
    const w = createDecisionLogWriter(db.appSql, { ids, onMismatch: (d) => mismatches.push(d) });
    // Concurrent appends share batches: each batch is linked from the head the previous one left.
    await Promise.all(awkward.map(([, r]) => w.append(r)));
    await Promise.all(awkward.map(([, r]) => w.append({ ...r, id: ids() })));
    // An upper-case uuid is stored in lower case: only the database can encode it, so it links that batch...
    await w.append(record({ callerId: '0190A0F0-0000-7000-8000-00000000000A' }));
    // ...and the next batch starts again from the head it reads back.
    await w.append(record());
    const [chain] = await w.chains();
    const [{ n, head }] = await db.sql<[{ n: number; head: number }]>`SELECT (SELECT count(*)::int FROM decision_log WHERE chain_id = ${chain!}) AS n, (SELECT head_seq::int FROM audit_chains WHERE id = ${chain!}) AS head`;
    expect(n).toBe(2 * awkward.length + 2);
    expect(head).toBe(n);
    expect(await badLinks(chain!)).toEqual([]);
    // The first in-process batch was re-encoded by the database and agreed.
    await new Promise((r) => setTimeout(r, 200));
    expect(mismatches).toEqual([]);
    expect(w.stats.items).toBe(n);
  });

  it('refuses a batch when the head moved behind it (503, nothing written), and links the next one from the head as stored', async () => {
    const w = createDecisionLogWriter(db.appSql, { ids });
    await w.append(record());
    const [chain] = await w.chains();
    // The head moves without this writer: a record appended through the database's own function.
    await db.sql`SELECT custos_append_decisions(${chain!}::uuid, ${`[${decisionRowText(record())}]`}::text::jsonb)`;
    await expect(w.append(record())).rejects.toMatchObject({ code: 'unavailable' });
    const [{ n }] = await db.sql<[{ n: number }]>`SELECT count(*)::int AS n FROM decision_log WHERE chain_id = ${chain!}`;
    expect(n).toBe(2);
    // The refused batch left the head unknown: the next one reads it back and goes in after the foreign record.
    await w.append(record());
    expect(await badLinks(chain!)).toEqual([]);
    const [{ head }] = await db.sql<[{ head: number }]>`SELECT head_seq::int AS head FROM audit_chains WHERE id = ${chain!}`;
    expect(head).toBe(3);
  });

  it('notices links the database encodes otherwise and hands linking back to the database', async () => {
    const mismatches: { chain: string; from: number; to: number }[] = [];
    // An encoder that is off by one microsecond of latency: every link it makes fails verification.
    const w = new ChainedWriter<DecisionRecord>(db.appSql, {
      log: 'decision_log',
      ids,
      rows: (batch) => `[${batch.map(decisionRowText).join(',')}]`,
      inProcess: { encode: (r, chain, seq) => decisionEncoding({ ...r, latencyUs: r.latencyUs + 1 }, chain, seq), row: decisionRowText },
      onMismatch: (d) => mismatches.push(d),
    });
    await w.submit(record());
    const [chain] = await w.chains();
    await expect.poll(() => mismatches, { timeout: 5000 }).toEqual([{ chain, from: 1, to: 1 }]);
    // From then on the database links: the later records verify, from the head as stored.
    await w.submit(record());
    await w.submit(record());
    expect(await badLinks(chain!)).toEqual([1]);
  });
});

describe('custos_insert_linked_decisions', () => {
  const chain = '0190a0f0-0000-7000-8000-00000000c4a2';
  const zero = Buffer.alloc(32);

  function linkedRows(records: DecisionRecord[], from: { seq: number; hash: Buffer }, alter?: (i: number, row: { seq: number; prev: Buffer; hash: Buffer }) => void) {
    let hash = from.hash;
    const texts = records.map((r, i) => {
      const seq = from.seq + i + 1;
      const prev = hash;
      hash = link(prev, decisionEncoding(r, chain, seq));
      const row = { seq, prev, hash };
      alter?.(i, row);
      return `${decisionRowText(r).slice(0, -1)},"chain_id":"${chain}","seq":${row.seq},"prev_hash":"\\\\x${row.prev.toString('hex')}","hash":"\\\\x${row.hash.toString('hex')}"}`;
    });
    return { text: `[${texts.join(',')}]`, head: hash };
  }
  const insert = (head: { seq: number; hash: Buffer }, newHash: Buffer, text: string) =>
    db.appSql`SELECT custos_insert_linked_decisions(${chain}::uuid, ${String(head.seq)}::bigint, ${head.hash}::bytea, ${newHash}::bytea, ${text}::text::json) AS seq`;
  const count = async () => (await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM decision_log WHERE chain_id = ${chain}`)[0]!.n;

  beforeAll(async () => {
    await db.sql`INSERT INTO audit_chains (id, log, instance, started_at) VALUES (${chain}, 'decision_log', 'test', now())`;
  });

  it('stores a batch linked from the head and moves the head', async () => {
    const b = linkedRows([record(), record()], { seq: 0, hash: zero });
    const [r] = await insert({ seq: 0, hash: zero }, b.head, b.text);
    expect(Number(r!.seq)).toBe(2);
    const [h] = await db.sql<{ seq: number; hash: Buffer }[]>`SELECT head_seq::int AS seq, head_hash AS hash FROM audit_chains WHERE id = ${chain}`;
    expect(h).toEqual({ seq: 2, hash: b.head });
  });

  it('refuses a batch linked from another head (CU409), writing nothing', async () => {
    const before = await count();
    const b = linkedRows([record()], { seq: 1, hash: zero });
    await expect(insert({ seq: 1, hash: zero }, b.head, b.text)).rejects.toMatchObject({ code: 'CU409' });
    expect(await count()).toBe(before);
  });

  it('refuses a record with a wrong prev_hash, a gap in seq, or a batch ending at another hash (CU422), writing nothing', async () => {
    const [h] = await db.sql<{ seq: number; hash: Buffer }[]>`SELECT head_seq::int AS seq, head_hash AS hash FROM audit_chains WHERE id = ${chain}`;
    const head = { seq: h!.seq, hash: h!.hash };
    const before = await count();
    const brokenPrev = linkedRows([record(), record()], head, (i, row) => i === 1 && (row.prev = zero));
    await expect(insert(head, brokenPrev.head, brokenPrev.text)).rejects.toMatchObject({ code: 'CU422' });
    const gap = linkedRows([record(), record()], head, (i, row) => i === 1 && (row.seq += 1));
    await expect(insert(head, gap.head, gap.text)).rejects.toMatchObject({ code: 'CU422' });
    const good = linkedRows([record()], head);
    await expect(insert(head, zero, good.text)).rejects.toMatchObject({ code: 'CU422' });
    expect(await count()).toBe(before);
    // The same batch, honestly linked, goes in.
    await insert(head, good.head, good.text);
    expect(await count()).toBe(before + 1);
  });
});
